"""Sampling at scale: ``python -m benchmarks.sample_scale [options]`` from the repository root.

A synthesizer is fitted on adult (the train split of seed 0, from ``$SKMIXSYNTH_DATA`` or
``../shared/datasets``; ``--dataset mixed`` or a missing adult uses
:func:`~skmixsynth.datasets.make_mixed` instead) for a few epochs (sampling speed depends on
the network's size, not on how long it trained) and saved. Then, for each ``--jobs`` value, a
fresh process loads the model and writes ``--rows`` rows of its schema with
``sample_to_parquet(rows, folder, chunk_rows=..., random_state=seed, n_jobs=jobs)``,
measuring the wall time (rows/s), the peak resident memory of that process and of each
joblib worker, and the size on disk; the dataset is deleted after each measurement.

The records go to ``<out>/<run_id>.json`` (kind ``sample_scale``), rewritten after every
measurement. The rows written are the same for every ``--jobs``, which the run checks on
the first part file (its bytes).

Examples::

    python -m benchmarks.sample_scale --rows 100000000 --jobs 1 2       # the issue's figure
    python -m benchmarks.sample_scale --quick                           # 70,000 rows, smoke
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import _cli
from ._jobs import _tail, _thread_env
from ._models import OURS
from ._paths import QUICK_RESULTS_DIR, REPO_ROOT, RESULTS_DIR, default_data_home

DEFAULTS = {
    "rows": 100_000_000,
    "jobs": (1, 2),
    "model": "mixgan",
    "dataset": "adult",
    "chunk_rows": 1_000_000,
    "params": {"mixgan": {"epochs": 1, "ae_epochs": 1}, "gtcoder": {"epochs": 1},
               "mixture": {"epochs": 1}},
    "timeout": None,
}
QUICK = {"rows": 70_000, "chunk_rows": 32_768, "timeout": 600}


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.sample_scale", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, help="rows written per measurement (default 100M)")
    p.add_argument("--jobs", nargs="+", type=int, help="n_jobs values (default: 1 2)")
    p.add_argument("--chunk-rows", type=int, help="rows per part file (default 1,000,000)")
    p.add_argument("--model", choices=sorted(OURS), help="default: mixgan")
    p.add_argument("--dataset", choices=("adult", "mixed"), help="default: adult")
    p.add_argument("--param", action="append", default=[], metavar="MODEL.NAME=VALUE",
                   help="override a model parameter (default: 1 epoch)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int,
                   help="torch/BLAS threads of the sampling process (default: torch's)")
    p.add_argument("--data-home", type=Path, help="default: $SKMIXSYNTH_DATA or "
                                                  "../shared/datasets")
    p.add_argument("--scratch", type=Path,
                   help="where the datasets are written (default: <out>/tmp/<run_id>)")
    p.add_argument("--timeout", type=float, help="seconds per measurement")
    p.add_argument("--quick", action="store_true", help="70,000 rows in 3 parts, for smoke tests")
    p.add_argument("--out", type=Path,
                   help="results folder (default: benchmarks/results, quick: results/quick)")
    p.add_argument("--keep-tmp", action="store_true", help="keep the model and the datasets")
    p.add_argument("--job", type=Path, help=argparse.SUPPRESS)  # internal: one measurement
    return p.parse_args(argv)


def settings(args):
    base = {**DEFAULTS, **(QUICK if args.quick else {})}
    return {
        "rows": args.rows or base["rows"],
        "jobs": list(args.jobs or base["jobs"]),
        "chunk_rows": args.chunk_rows or base["chunk_rows"],
        "model": args.model or base["model"],
        "dataset": args.dataset or base["dataset"],
        "params": _cli.merge_params(base["params"], _cli.parse_params(args.param)),
        "seed": args.seed,
        "threads": args.threads,
        "data_home": args.data_home or default_data_home(),
        "timeout": args.timeout if args.timeout is not None else base["timeout"],
        "quick": args.quick,
        "out": args.out or (QUICK_RESULTS_DIR if args.quick else RESULTS_DIR),
        "scratch": args.scratch,
        "keep_tmp": args.keep_tmp,
    }


# ----------------------------------------------------------------------------- the model
def training_table(cfg):
    """The train split of adult (seed ``cfg["seed"]``), or make_mixed when asked or absent."""
    from ._data import prepare

    notes = []
    if cfg["dataset"] == "adult":
        try:
            split = prepare("adult", cfg["seed"], data_home=cfg["data_home"])
            return "adult", split.train, notes
        except (FileNotFoundError, OSError, ValueError) as exc:
            notes.append(f"adult unavailable ({type(exc).__name__}: {exc}); make_mixed used")
    split = prepare("mixed", cfg["seed"])
    return "mixed", split.train, notes


def fit_and_save(cfg, scratch):
    """Fit the model, save it to ``scratch/model.pt``; its record (without the timings of
    sampling)."""
    import skmixsynth

    dataset, train, notes = training_table(cfg)
    params = cfg["params"].get(cfg["model"], {})
    klass = getattr(skmixsynth, OURS[cfg["model"]])
    model = klass(**{"device": "cpu", "random_state": cfg["seed"], **params})
    start = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - start
    path = scratch / "model.pt"
    model.save(path)
    schema = model.sample(0, random_state=0)
    return path, {
        "dataset": dataset, "notes": notes, "train_rows": len(train),
        "n_columns": schema.shape[1], "model": cfg["model"], "overrides": params,
        "fit_seconds": fit_seconds, "model_bytes": path.stat().st_size,
    }


# ---------------------------------------------------------------------- one measurement
def measure(job):
    """In a fresh process: load the model, write the dataset, return the measurement."""
    import torch

    import skmixsynth
    from skmixsynth import _scale

    start = time.perf_counter()
    model = skmixsynth.load(job["model_path"], device="cpu")
    load_seconds = time.perf_counter() - start
    rss_loaded = _scale._peak_rss_mb()
    # start the worker processes (and their import of torch) outside the timed call: a
    # fixed cost, recorded apart, that 100M rows amortise but 70,000 do not
    start = time.perf_counter()
    warm_pids = _warm_up(job["n_jobs"])
    startup_seconds = time.perf_counter() - start
    start = time.perf_counter()
    path, records = _scale.sample_to_parquet(
        model, job["rows"], job["dataset_path"], chunk_rows=job["chunk_rows"],
        random_state=job["seed"], n_jobs=job["n_jobs"])
    seconds = time.perf_counter() - start
    workers = {}
    for record in records:
        if record["pid"] != os.getpid() and record["peak_rss_mb"] is not None:
            workers[record["pid"]] = max(workers.get(record["pid"], 0), record["peak_rss_mb"])
    files = sorted(os.listdir(path))
    parent = _scale._peak_rss_mb()
    return {
        "status": "ok",
        "n_jobs": job["n_jobs"],
        "rows": job["rows"],
        "chunk_rows": job["chunk_rows"],
        "n_files": len(files),
        "seconds": seconds,
        "rows_per_second": job["rows"] / seconds if seconds > 0 else None,
        "load_seconds": load_seconds,
        "startup_seconds": startup_seconds,
        "warm_workers": len(warm_pids),
        "bytes_on_disk": sum(os.path.getsize(os.path.join(path, f)) for f in files),
        "first_part_sha256": hashlib.sha256(
            Path(path, files[0]).read_bytes()).hexdigest(),
        "peak_rss_mb": parent,
        "rss_after_load_mb": rss_loaded,
        "worker_peak_rss_mb": sorted(workers.values()),
        "total_peak_rss_mb": parent + sum(workers.values()),
        "torch_threads": torch.get_num_threads(),
    }


def _warm_up(n_jobs):
    """Start joblib's worker processes and import skmixsynth in them; their pids."""
    from joblib import Parallel, delayed, effective_n_jobs

    n = effective_n_jobs(n_jobs)
    if n == 1:
        return set()
    return set(Parallel(n_jobs=n_jobs)(delayed(_import_in_worker)(0.5) for _ in range(2 * n)))


def _import_in_worker(pause):
    import skmixsynth.base  # noqa: F401  (torch and the package)

    time.sleep(pause)  # keep this worker busy so that the next task goes to another
    return os.getpid()


def run_measurement(job, job_dir, *, threads, timeout):
    """:func:`measure` in a subprocess (so that its peak memory is its own)."""
    job_dir.mkdir(parents=True, exist_ok=True)
    job_path, result_path = job_dir / "job.json", job_dir / "result.json"
    job_path.write_text(json.dumps(job), encoding="utf-8")
    result_path.unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.sample_scale", "--job", str(job_path)],
            cwd=REPO_ROOT, env=_thread_env(threads), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "error": f"timed out after {timeout} s"}
    finally:
        shutil.rmtree(job["dataset_path"], ignore_errors=True)
    if proc.returncode != 0 or not result_path.exists():
        return {"status": "failed", "error": f"exit code {proc.returncode}",
                "stderr_tail": _tail(proc.stderr)}
    result = json.loads(result_path.read_text(encoding="utf-8"))
    result["job_seconds"] = time.perf_counter() - start
    return result


def _job_main(job_path):
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    result = measure(job)
    Path(job_path).with_name("result.json").write_text(json.dumps(result), encoding="utf-8")


# ---------------------------------------------------------------------------- the run
def main(argv=None):
    """Run the benchmark; return the path of the result JSON."""
    args = parse_args(argv)
    if args.job is not None:
        return _job_main(args.job)
    cfg = settings(args)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in cfg.items()
              if k in ("rows", "jobs", "chunk_rows", "model", "dataset", "params", "seed",
                       "threads", "timeout")}
    doc = _cli.start_run("sample_scale", config, [cfg["model"]], None, cfg["quick"], argv)
    if cfg["scratch"] is None:
        scratch = _cli.scratch_dir(cfg["out"], doc["run_id"])
    else:
        scratch = Path(cfg["scratch"]) / doc["run_id"]
        scratch.mkdir(parents=True)
    try:
        _cli.log(f"fitting {cfg['model']} on {cfg['dataset']}")
        model_path, fitted = fit_and_save(cfg, scratch)
        doc["fit"] = fitted
        _cli.log(f"  -> {fitted['dataset']}, {fitted['train_rows']:,} rows x "
                 f"{fitted['n_columns']} columns, fit {fitted['fit_seconds']:.1f} s")
        for n_jobs in cfg["jobs"]:
            _cli.log(f"writing {cfg['rows']:,} rows with n_jobs={n_jobs}")
            job = {"model_path": str(model_path), "rows": cfg["rows"],
                   "chunk_rows": cfg["chunk_rows"], "seed": cfg["seed"], "n_jobs": n_jobs,
                   "dataset_path": str(scratch / f"sample-{n_jobs}.parquet")}
            record = {"model": cfg["model"], "dataset": fitted["dataset"], "n_jobs": n_jobs,
                      **run_measurement(job, scratch / f"job-{n_jobs}",
                                        threads=cfg["threads"], timeout=cfg["timeout"])}
            if record["status"] == "ok":
                _cli.log(f"  -> {record['rows_per_second']:,.0f} rows/s, peak "
                         f"{record['total_peak_rss_mb']:.0f} MiB (all processes), "
                         f"{record['bytes_on_disk'] / 2**20:,.1f} MiB on disk")
            else:
                _cli.log(f"  -> failed: {record.get('error')}")
            doc["records"].append(record)
            _cli.checkpoint(doc, cfg["out"])
        hashes = {r["first_part_sha256"] for r in doc["records"] if r["status"] == "ok"}
        doc["same_rows_for_every_n_jobs"] = len(hashes) == 1 if hashes else None
    finally:
        if cfg["scratch"] is None:
            _cli.remove_scratch(scratch, cfg["keep_tmp"])
        elif not cfg["keep_tmp"]:
            shutil.rmtree(scratch, ignore_errors=True)
    return _cli.write_and_report(doc, cfg["out"], report=False)


if __name__ == "__main__":
    main()
