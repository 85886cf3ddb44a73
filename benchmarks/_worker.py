"""One (model, table, seed) measured in a process of its own.

``python -m benchmarks._worker JOB.json`` (from the repository root) reads the training table,
fits the model, samples as many rows as asked, writes them as CSV, and writes a result JSON
next to the job: timings, peak resident memory of this process (so torch's allocations count
and other models' peaks do not mix in) and the effective parameters. Any exception is caught
and reported in that JSON; if the process dies instead (out of memory, a crash in native
code) the parent notices the missing result.

Job keys: ``model``, ``params``, ``seed``, ``train_csv``, ``schema``, ``n_samples``,
``output_csv`` (or null), ``result``, ``threads`` (or null).
"""

from __future__ import annotations

import json
import platform
import resource
import sys
import time
import traceback

from ._models import ModelUnavailable, build_model
from ._tables import read_schema, read_table, write_table


def _proc_status_kib(field):
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def max_rss_mb():
    """Peak resident set size of this process so far, in MiB.

    On Linux this is ``VmHWM`` of ``/proc/self/status``: ``getrusage``'s ``ru_maxrss`` is
    inherited from the parent across fork and exec, so a worker started by a parent holding
    400 MiB would report at least 400 MiB whatever it did. Elsewhere ``ru_maxrss``.
    """
    peak = _proc_status_kib("VmHWM")
    if peak is not None:
        return peak / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _versions():
    versions = {"python": platform.python_version()}
    for module in ("pandas", "numpy", "torch", "sklearn", "ctgan", "skmixsynth"):
        mod = sys.modules.get(module)
        if mod is not None:
            versions[module] = getattr(mod, "__version__", "?")
    return versions


def _set_threads(threads):
    if threads and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(int(threads))


def _threads_in_use():
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else None


def _measure(job, result):
    """Fit and sample; fill ``result`` step by step so a failure keeps what was measured."""
    schema = read_schema(job["schema"])
    frame = read_table(job["train_csv"], schema)
    result["rss_after_load_mb"] = max_rss_mb()
    model = build_model(job["model"], job.get("params", {}), job["seed"], schema)
    _set_threads(job.get("threads"))
    result["rss_after_build_mb"] = max_rss_mb()  # imports of the model's libraries included
    result["effective_params"] = model.effective_params()
    start = time.perf_counter()
    model.fit(frame)
    result["fit_seconds"] = time.perf_counter() - start
    result["dropped_rows"] = getattr(model, "dropped_rows", 0)
    start = time.perf_counter()
    synthetic = model.sample(job["n_samples"], job["seed"])
    result["sample_seconds"] = time.perf_counter() - start
    result["n_synthetic"] = len(synthetic)
    result["sample_rows_per_second"] = len(synthetic) / max(result["sample_seconds"], 1e-9)
    if job.get("output_csv"):
        write_table(synthetic[[c["name"] for c in schema["columns"]]], job["output_csv"])


def run_job(job):
    """Run one job and return its result dict (never raises)."""
    result = {"status": "ok", "rss_start_mb": max_rss_mb()}
    try:
        _measure(job, result)
    except ModelUnavailable as exc:
        result.update(status="skipped", error=str(exc))
    except Exception as exc:  # every failure is a result to report
        result.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc()[-4000:],
        )
    result["peak_rss_mb"] = max_rss_mb()
    if "rss_after_build_mb" in result:
        result["model_rss_mb"] = result["peak_rss_mb"] - result["rss_after_build_mb"]
    result["torch_threads"] = _threads_in_use()
    result["worker_versions"] = _versions()
    return result


def main(argv=None):
    """Read the job file named on the command line, run it, write its result file."""
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0], encoding="utf-8") as fh:
        job = json.load(fh)
    result = run_job(job)
    with open(job["result"], "w", encoding="utf-8") as fh:
        json.dump(result, fh, default=repr)


if __name__ == "__main__":
    main()
