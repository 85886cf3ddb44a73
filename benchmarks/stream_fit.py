"""Out-of-core fit: ``python -m benchmarks.stream_fit [options]`` from the repository root.

Two measurements, recorded in ``<out>/<run_id>.json`` (kind ``"stream"``):

``big``
    A simulated mixed table of ``--rows`` rows (10 million by default) and 30 columns (four
    :func:`~skmixsynth.datasets.make_mixed` tables side by side, independent seeds, the first 30
    columns) is written to one Parquet file chunk by chunk (``--chunk-rows`` rows per chunk
    and row group; the table is never whole in memory), then a model (MixGAN, one epoch of each
    phase, by default) is fitted from the file in a fresh worker process. Recorded: the time
    to write, the encoder pass and the training epochs, rows per second, and the worker's peak
    resident memory (``resource.getrusage``), which the issue bounds by 2 GB: the model and one
    shuffle buffer, not the table.
``adult``
    adult's training split (:mod:`benchmarks._data`, seeds ``--seeds``) written to Parquet
    (row groups of ``--adult-row-group`` rows) and fitted twice with the same parameters and
    seed: from the file (a stream) and from the DataFrame (in memory). Both are sampled and
    scored by :mod:`benchmarks._evaluate` (quality, detection, machine-learning efficacy, ...):
    the stream's figures should match the in-memory ones within their seed-to-seed spread.

Each fit runs in a worker process of its own (``python -m benchmarks.stream_fit worker``), so
the peak memory is that fit's. ``--quick`` shrinks everything (20,000 rows, 2 epochs on adult)
and writes to ``benchmarks/results/quick``. The Parquet files live in a scratch folder that is
removed at the end (``--keep-tmp`` keeps it); no data is committed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from . import _cli
from ._paths import QUICK_RESULTS_DIR, REPO_ROOT, RESULTS_DIR, default_data_home

N_COLUMNS = 30
DEFAULTS = {
    "rows": 10_000_000,
    "chunk_rows": 250_000,
    "buffer_rows": 100_000,
    "model": "mixgan",
    "params": {"ae_epochs": 1, "epochs": 1},
    "seeds": [0, 1, 2],
    "adult_row_group": 4096,
    "adult_params": {},
    "timeout": None,
}
QUICK = {
    "rows": 20_000,
    "chunk_rows": 5_000,
    "buffer_rows": 4_000,
    "seeds": [0],
    "adult_params": {"ae_epochs": 2, "epochs": 2},
    "adult_max_rows": 4_000,
    "timeout": 600,
}
MODELS = ("mixgan", "gtcoder", "independent")


def make_chunk(n_rows, seed):
    """``n_rows`` rows of the 30-column mixed table, drawn from ``seed``."""
    import pandas as pd

    from skmixsynth.datasets import make_mixed

    parts = [make_mixed(n_rows, random_state=seed * 4 + i).add_suffix(f"_{i}") for i in range(4)]
    return pd.concat(parts, axis=1).iloc[:, :N_COLUMNS]


def write_big(path, n_rows, chunk_rows, seed):
    """Write the simulated table to ``path`` chunk by chunk; return the seconds it took."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    start = time.perf_counter()
    writer = None
    try:
        for i, lo in enumerate(range(0, n_rows, chunk_rows)):
            chunk = make_chunk(min(chunk_rows, n_rows - lo), seed * 1_000_003 + i)
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table.cast(writer.schema), row_group_size=chunk_rows)
    finally:
        if writer is not None:
            writer.close()
    return time.perf_counter() - start


def _model(name, params, seed):
    from skmixsynth import GTCoderSynthesizer, IndependentSynthesizer, MixGANSynthesizer

    klass = {"mixgan": MixGANSynthesizer, "gtcoder": GTCoderSynthesizer,
             "independent": IndependentSynthesizer}[name]
    return klass(**params, random_state=seed, device="cpu")


def _peak_rss_mib():
    # ru_maxrss is in KiB on Linux (bytes on macOS)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def worker(job):
    """Fit one model as ``job`` says (in its own process); return the measurements."""
    import torch

    from skmixsynth import ParquetStream

    torch.set_num_threads(job.get("threads") or torch.get_num_threads())
    model = _model(job["model"], job["params"], job["seed"])
    start = time.perf_counter()
    if job["source"] == "parquet":
        data = ParquetStream(job["path"], buffer_rows=job["buffer_rows"])
    else:
        import pandas as pd

        data = pd.read_parquet(job["path"])
        categorical = data.select_dtypes("category").columns
        data[categorical] = data[categorical].astype(object)  # as the stream reads them
    read_seconds = time.perf_counter() - start
    rss_before_fit = _peak_rss_mib()
    start = time.perf_counter()
    model.fit(data)
    fit_seconds = time.perf_counter() - start
    train_seconds = sum(r["seconds"] for r in model.history_)
    result = {
        "status": "ok",
        "read_seconds": read_seconds,
        "fit_seconds": fit_seconds,
        "train_seconds": train_seconds,
        "encoder_seconds": fit_seconds - train_seconds,
        "epochs": [(r["phase"], r["epoch"]) for r in model.history_],
        "peak_rss_mb": _peak_rss_mib(),
        "peak_rss_before_fit_mb": rss_before_fit,
    }
    if job.get("sample_path"):
        start = time.perf_counter()
        model.sample(job["n_samples"], random_state=job["seed"]).to_parquet(job["sample_path"])
        result["sample_seconds"] = time.perf_counter() - start
    return result


def run_worker(job, scratch, timeout):
    """``worker(job)`` in a fresh process; its JSON result, or a failure record."""
    job_path = scratch / f"job-{job['name']}.json"
    out_path = scratch / f"result-{job['name']}.json"
    job_path.write_text(json.dumps(job))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get(
        "PYTHONPATH", "")}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.stream_fit", "worker", str(job_path),
             str(out_path)], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
            timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "error": f"no result after {timeout} s"}
    if done.returncode != 0 or not out_path.exists():
        return {"status": "failed", "error": (done.stderr or done.stdout)[-2000:]}
    return json.loads(out_path.read_text())


def measure_big(cfg, doc, scratch):
    path = scratch / "big.parquet"
    _cli.log(f"big: writing {cfg['rows']:,} rows x {N_COLUMNS} columns to Parquet")
    write_seconds = write_big(path, cfg["rows"], cfg["chunk_rows"], cfg["seed"])
    record = {
        "measure": "big", "model": cfg["model"], "params": cfg["params"],
        "n_rows": cfg["rows"], "n_columns": N_COLUMNS, "chunk_rows": cfg["chunk_rows"],
        "buffer_rows": cfg["buffer_rows"], "seed": cfg["seed"],
        "write_seconds": write_seconds, "file_mb": path.stat().st_size / 2**20,
    }
    _cli.log(f"  written in {write_seconds:.0f} s ({record['file_mb']:.0f} MiB); fitting "
             f"{cfg['model']} from the stream")
    job = {"name": "big", "model": cfg["model"], "params": cfg["params"], "seed": cfg["seed"],
           "source": "parquet", "path": str(path), "buffer_rows": cfg["buffer_rows"],
           "threads": cfg["threads"]}
    record.update(run_worker(job, scratch, cfg["timeout"]))
    if record["status"] == "ok":
        passes = len(record["epochs"])
        record["train_rows_per_second"] = passes * cfg["rows"] / record["train_seconds"]
        record["encoder_rows_per_second"] = cfg["rows"] / record["encoder_seconds"]
        _cli.log(f"  fit {record['fit_seconds']:.0f} s (encoder pass "
                 f"{record['encoder_seconds']:.0f} s, {passes} epochs), peak "
                 f"{record['peak_rss_mb']:.0f} MiB")
    else:
        _cli.log(f"  -> {record['status']}: {record.get('error')}")
    path.unlink()
    doc["records"].append(record)
    _cli.checkpoint(doc, cfg["out"])


def measure_adult(cfg, doc, scratch):
    import pandas as pd

    from ._data import prepare
    from ._evaluate import evaluate

    for seed in cfg["seeds"]:
        try:
            split = prepare("adult", seed, data_home=cfg["data_home"],
                            max_rows=cfg.get("adult_max_rows"))
        except (OSError, ValueError) as exc:
            _cli.log(f"adult: skipped ({exc})")
            doc["records"].append({"measure": "adult", "seed": seed, "status": "skipped",
                                   "error": str(exc)})
            return
        path = scratch / f"adult-{seed}.parquet"
        split.train.to_parquet(path, row_group_size=cfg["adult_row_group"])
        for source in ("parquet", "memory"):
            _cli.log(f"adult seed {seed}: {cfg['model']} from {source}")
            sample_path = scratch / f"sample-{seed}-{source}.parquet"
            job = {"name": f"adult-{seed}-{source}", "model": cfg["model"],
                   "params": cfg["adult_params"], "seed": seed, "source": source,
                   "path": str(path), "buffer_rows": cfg["buffer_rows"],
                   "threads": cfg["threads"], "sample_path": str(sample_path),
                   "n_samples": len(split.train)}
            record = {"measure": "adult", "source": source, "seed": seed,
                      "model": cfg["model"], "params": cfg["adult_params"],
                      "n_rows": len(split.train), "row_group_rows": cfg["adult_row_group"]}
            record.update(run_worker(job, scratch, cfg["timeout"]))
            if record["status"] == "ok":
                synthetic = pd.read_parquet(sample_path)
                for column in split.train.columns:  # the training dtypes (categories)
                    if isinstance(split.train[column].dtype, pd.CategoricalDtype):
                        synthetic[column] = synthetic[column].astype(split.train[column].dtype)
                scores = evaluate(split, synthetic, seed=seed)
                record["metrics"] = scores.values
                record["metric_errors"] = scores.errors
                _cli.log(f"  quality {record['metrics'].get('quality')}, detection "
                         f"{record['metrics'].get('detection')}")
            doc["records"].append(record)
            _cli.checkpoint(doc, cfg["out"])
        path.unlink()


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.stream_fit", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--measures", nargs="+", choices=("big", "adult"), default=["big", "adult"])
    p.add_argument("--rows", type=int, help="rows of the simulated table (default 10,000,000)")
    p.add_argument("--chunk-rows", type=int, help="rows per written chunk and row group")
    p.add_argument("--buffer-rows", type=int, help="ParquetStream(buffer_rows=...)")
    p.add_argument("--model", choices=MODELS, help="default: mixgan")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a parameter of the big fit (default ae_epochs=1 epochs=1)")
    p.add_argument("--adult-param", action="append", default=[], metavar="NAME=VALUE",
                   help="a parameter of the adult fits (default: the model's defaults)")
    p.add_argument("--seeds", nargs="+", type=int, help="adult seeds (default 0 1 2)")
    p.add_argument("--adult-rows", type=int, default=None,
                   help="cap adult's rows before the split (default: all; 4,000 with --quick)")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated table and fit")
    p.add_argument("--threads", type=int, default=None, help="torch threads per worker")
    p.add_argument("--timeout", type=float, default=None, help="seconds per worker")
    p.add_argument("--data-home", default=None, help="datasets (default ../shared/datasets)")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--quick", action="store_true", help="tiny sizes, results/quick")
    p.add_argument("--keep-tmp", action="store_true")
    return p.parse_args(argv)


def settings(args):
    base = {**DEFAULTS, **(QUICK if args.quick else {})}

    def pick(name):
        value = getattr(args, name)
        return base[name] if value is None else value

    model = pick("model")

    def overrides(items):
        return _cli.parse_params([f"{model}.{item}" for item in items]).get(model, {})

    params = {**base["params"], **overrides(args.param)}
    adult_params = {**base["adult_params"], **overrides(args.adult_param)}
    return {
        "measures": list(args.measures), "rows": pick("rows"), "chunk_rows": pick("chunk_rows"),
        "buffer_rows": pick("buffer_rows"), "model": model, "params": params,
        "adult_params": adult_params, "seeds": pick("seeds"), "seed": args.seed,
        "adult_row_group": base["adult_row_group"],
        "adult_max_rows": args.adult_rows or base.get("adult_max_rows"),
        "threads": args.threads, "timeout": args.timeout or base["timeout"],
        "data_home": args.data_home or str(default_data_home()),
        "out": args.out or (QUICK_RESULTS_DIR if args.quick else RESULTS_DIR),
        "quick": args.quick, "keep_tmp": args.keep_tmp,
    }


def main(argv=None):
    """Run the benchmark; return the path of the result JSON."""
    args = parse_args(argv)
    cfg = settings(args)
    config = {k: v for k, v in cfg.items() if k not in ("out", "keep_tmp", "data_home")}
    doc = _cli.start_run("stream", config, [cfg["model"]], None, cfg["quick"], argv)
    scratch = _cli.scratch_dir(cfg["out"], doc["run_id"])
    try:
        if "big" in cfg["measures"]:
            measure_big(cfg, doc, scratch)
        if "adult" in cfg["measures"]:
            measure_adult(cfg, doc, scratch)
    finally:
        _cli.remove_scratch(scratch, cfg["keep_tmp"])
    return _cli.write_and_report(doc, cfg["out"], report=False)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "worker":
        result = worker(json.loads(Path(sys.argv[2]).read_text()))
        Path(sys.argv[3]).write_text(json.dumps(result))
    else:
        main()
