"""Cost as the table grows: ``python -m benchmarks.scaling [options]`` from the repository root.

Each model is fitted (for the fixed, small number of epochs shown in its label) on
:func:`~skmixsynth.datasets.make_mixed` tables of growing rows (10k, 100k, 1M by default,
8 columns) and of growing columns (1, 2, 4, 8 independent copies of the 8 columns placed side
by side, 10k rows), then samples as many rows as it was fitted on. Each fit runs in a worker
process of its own; its wall time, sampling rate and peak resident memory are recorded in
``<out>/<run_id>.json`` and the report's Scaling tables. With epochs fixed, fit seconds per
row should stay flat as rows grow. After a failure (or timeout) the larger sizes of that model
on that axis are skipped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from . import _cli
from ._jobs import interpreter_for, resolve_peer_python, run_in_subprocess
from ._models import MODELS
from ._paths import QUICK_RESULTS_DIR, RESULTS_DIR
from ._stats import model_label
from ._tables import write_table

DEFAULTS = {
    "models": ("independent", "mixgan", "ctgan", "tvae"),
    "rows": (10_000, 100_000, 1_000_000),
    "copies": (1, 2, 4, 8),
    "column_rows": 10_000,
    "params": {
        "mixgan": {"epochs": 1, "ae_epochs": 1},
        "ctgan": {"epochs": 1},
        "tvae": {"epochs": 1},
    },
}
QUICK = {
    "models": ("independent", "mixgan"),
    "rows": (1_000, 4_000),
    "copies": (1, 2),
    "column_rows": 1_000,
    "timeout": 240,
}


def wide_mixed(n_rows, copies, seed):
    """``copies`` independent ``make_mixed`` tables side by side (columns suffixed ``_i``)."""
    from skmixsynth.datasets import make_mixed

    if copies == 1:
        return make_mixed(n_rows, random_state=seed)
    parts = [make_mixed(n_rows, random_state=seed + i).add_suffix(f"_{i}") for i in range(copies)]
    return pd.concat(parts, axis=1)


def parse_args(argv=None):
    """The command line; ``None`` defaults are filled by :func:`settings`."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.scaling",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--models", nargs="+", choices=MODELS, help=f"default: {' '.join(DEFAULTS['models'])}"
    )
    p.add_argument("--rows", nargs="+", type=int, help="row counts (default: 10000 100000 1000000)")
    p.add_argument(
        "--column-copies",
        nargs="+",
        type=int,
        help="copies of make_mixed's 8 columns (default: 1 2 4 8)",
    )
    p.add_argument("--column-rows", type=int, help="rows of the column axis (default: 10000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="MODEL.NAME=VALUE",
        help="override a model's parameter (default: 1 epoch for the trained models)",
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes, for smoke tests")
    p.add_argument(
        "--out",
        type=Path,
        help="results folder (default: benchmarks/results, quick: benchmarks/results/quick)",
    )
    p.add_argument("--timeout", type=float, help="seconds per fit+sample job (quick: 240)")
    p.add_argument("--threads", type=int, help="torch/BLAS threads of each worker")
    p.add_argument("--peer-python", help="interpreter with ctgan for CTGAN/TVAE")
    p.add_argument("--keep-tmp", action="store_true", help="keep the scratch tables")
    p.add_argument("--no-report", action="store_true", help="do not regenerate README.md")
    return p.parse_args(argv)


def settings(args):
    """Fill the defaults (the quick ones with ``--quick``) into a plain dict."""
    base = {**DEFAULTS, **(QUICK if args.quick else {})}
    return {
        "models": list(args.models or base["models"]),
        "rows": list(args.rows or base["rows"]),
        "copies": list(args.column_copies or base["copies"]),
        "column_rows": args.column_rows or base["column_rows"],
        "seed": args.seed,
        "params": _cli.merge_params(base["params"], _cli.parse_params(args.param)),
        "out": args.out or (QUICK_RESULTS_DIR if args.quick else RESULTS_DIR),
        "timeout": args.timeout if args.timeout is not None else base.get("timeout"),
        "threads": args.threads,
        "peer_python": resolve_peer_python(args.peer_python),
        "quick": args.quick,
        "keep_tmp": args.keep_tmp,
        "no_report": args.no_report,
    }


def _points(cfg):
    """``(axis, n_rows, copies)`` in growing order, rows axis first."""
    rows = [("rows", n, 1) for n in sorted(cfg["rows"])]
    columns = [("columns", cfg["column_rows"], k) for k in sorted(cfg["copies"])]
    return rows + columns


def _measure(model, frame, scratch, axis, n_rows, copies, cfg, doc):
    params = cfg["params"].get(model, {})
    record = {
        "model": model,
        "label": model_label(model, params),
        "overrides": params,
        "axis": axis,
        "n_rows": n_rows,
        "n_columns": frame.shape[1],
        "copies": copies,
        "seed": cfg["seed"],
    }
    reason = _cli.peer_skip_reason(model, doc)
    if reason:
        return {**record, "status": "skipped", "error": reason}
    job = {
        "model": model,
        "params": params,
        "seed": cfg["seed"],
        "train_csv": str(scratch / "train.csv"),
        "schema": str(scratch / "schema.json"),
        "n_samples": n_rows,
        "output_csv": None,
        "threads": cfg["threads"],
    }
    result = run_in_subprocess(
        job,
        scratch / f"job-{model}",
        python=interpreter_for(model, cfg["peer_python"]),
        timeout=cfg["timeout"],
    )
    record.update(result)
    if record["status"] == "ok":
        record["fit_us_per_row"] = record["fit_seconds"] / n_rows * 1e6
    return record


def run_point(axis, n_rows, copies, cfg, doc, scratch, failed):
    """Every model at one size; ``failed`` holds the (model, axis) pairs to skip from now."""
    frame = wide_mixed(n_rows, copies, cfg["seed"])
    scratch = scratch / f"{axis}-{n_rows}-{copies}"
    scratch.mkdir(parents=True, exist_ok=True)
    write_table(frame, scratch / "train.csv", scratch / "schema.json")
    for model in cfg["models"]:
        if (model, axis) in failed:
            continue
        _cli.log(f"{axis}: {model} on {n_rows:,} rows x {frame.shape[1]} columns")
        record = _measure(model, frame, scratch, axis, n_rows, copies, cfg, doc)
        _cli.log(
            f"  -> {record['status']}"
            + (
                f", fit {record['fit_seconds']:.1f} s, peak {record['peak_rss_mb']:.0f} MiB"
                if record["status"] == "ok"
                else f": {record.get('error')}"
            )
        )
        if record["status"] != "ok":
            failed.add((model, axis))
        doc["records"].append(record)
        _cli.checkpoint(doc, cfg["out"])


def main(argv=None):
    """Run the scaling benchmark; return the path of the result JSON."""
    cfg = settings(parse_args(argv))
    config = {
        k: cfg[k]
        for k in ("models", "rows", "copies", "column_rows", "seed", "params", "timeout", "threads")
    }
    doc = _cli.start_run("scaling", config, cfg["models"], cfg["peer_python"], cfg["quick"], argv)
    scratch = _cli.scratch_dir(cfg["out"], doc["run_id"])
    failed = set()
    try:
        for axis, n_rows, copies in _points(cfg):
            run_point(axis, n_rows, copies, cfg, doc, scratch, failed)
    finally:
        _cli.remove_scratch(scratch, cfg["keep_tmp"])
    return _cli.write_and_report(doc, cfg["out"], report=not cfg["no_report"])


if __name__ == "__main__":
    main()
