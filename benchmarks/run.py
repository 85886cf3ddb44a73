"""Benchmark the synthesizers: ``python -m benchmarks.run [options]`` from the repository root.

For each dataset and seed: split 80/20 (stratified on the target for classification), fit
each model on the train split in a worker process of its own, sample as many rows as the
train split, and score the synthetic rows: GTCoder Table 1 efficacy (or Table 2 likelihood
fitness on the simulators), quality (column shapes, pair trends), detection, privacy (DCR
ratio, exact copies), fit seconds, sampled rows per second and the worker's peak memory.
Writes ``<out>/<run_id>.json`` and regenerates ``<out>/README.md`` and the mixGAN figures.

``--quick`` is the smoke mode (a few minutes on 2 cores): one seed, 2,000-row subsamples,
2-epoch models, a per-job timeout, results in ``benchmarks/results/quick/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import _cli, _data
from ._evaluate import evaluate, references
from ._jobs import interpreter_for, resolve_peer_python, run_in_subprocess
from ._models import MODELS
from ._paths import QUICK_RESULTS_DIR, RESULTS_DIR, default_data_home, display_path
from ._stats import model_label
from ._tables import read_table, table_schema, write_table

DEFAULT_SEEDS = (0, 1, 2)
FIGURE_DATASETS = ("adult", "lending_club")
QUICK = {
    "models": ("independent", "mixgan", "identity"),
    "datasets": ("adult", "grid"),
    "seeds": (0,),
    "max_rows": 2000,
    "timeout": 240,
    "params": {
        "mixgan": {"epochs": 2, "ae_epochs": 2},
        "gtcoder": {"epochs": 2},
        "mixture": {"epochs": 2},
        "ctgan": {"epochs": 2},
        "tvae": {"epochs": 2},
    },
}


def parse_args(argv=None):
    """The command line; ``None`` defaults are filled by :func:`settings`."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--models", nargs="+", choices=MODELS, help=f"default: {' '.join(MODELS)}")
    p.add_argument(
        "--datasets",
        nargs="+",
        choices=(*_data.DATASETS, "all"),
        help="default: all (the 7 real tables, grid, gridr, ring, mixed)",
    )
    p.add_argument("--seeds", nargs="+", type=int, help="default: 0 1 2")
    p.add_argument("--quick", action="store_true", help="smoke mode, see above")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="MODEL.NAME=VALUE",
        help="override a model's parameter, e.g. mixgan.epochs=10 (repeatable)",
    )
    p.add_argument("--max-rows", type=int, help="cap the rows of every table (quick: 2000)")
    p.add_argument(
        "--data-home",
        type=Path,
        help="datasets folder (default: $SKMIXSYNTH_DATA, else ../shared/datasets)",
    )
    p.add_argument(
        "--out",
        type=Path,
        help="results folder (default: benchmarks/results, quick: benchmarks/results/quick)",
    )
    p.add_argument(
        "--figure-datasets",
        nargs="*",
        default=list(FIGURE_DATASETS),
        help="datasets whose mixGAN Fig. 3/4 points are computed and drawn ('all' "
        "for every one; default: adult lending_club)",
    )
    p.add_argument("--timeout", type=float, help="seconds per fit+sample job (quick: 240)")
    p.add_argument("--threads", type=int, help="torch/BLAS threads of each worker")
    p.add_argument(
        "--peer-python",
        help="interpreter with ctgan for CTGAN/TVAE "
        "(default: $SKMIXSYNTH_PEER_PYTHON, else this one)",
    )
    p.add_argument("--keep-tmp", action="store_true", help="keep the scratch tables")
    p.add_argument("--no-report", action="store_true", help="do not regenerate README.md")
    return p.parse_args(argv)


def settings(args):
    """Fill the defaults (the quick ones with ``--quick``) into a plain dict."""
    quick = QUICK if args.quick else {}
    datasets = args.datasets or quick.get("datasets") or _data.DATASETS
    if "all" in datasets:
        datasets = _data.DATASETS
    overrides = _cli.parse_params(args.param)
    return {
        "models": list(args.models or quick.get("models") or MODELS),
        "datasets": list(dict.fromkeys(datasets)),
        "seeds": list(args.seeds if args.seeds is not None else quick.get("seeds", DEFAULT_SEEDS)),
        "params": _cli.merge_params(quick.get("params", {}), overrides),
        "max_rows": args.max_rows if args.max_rows is not None else quick.get("max_rows"),
        "data_home": args.data_home or default_data_home(),
        "out": args.out or (QUICK_RESULTS_DIR if args.quick else RESULTS_DIR),
        "figure_datasets": (
            list(_data.DATASETS) if "all" in args.figure_datasets else list(args.figure_datasets)
        ),
        "timeout": args.timeout if args.timeout is not None else quick.get("timeout"),
        "threads": args.threads,
        "peer_python": resolve_peer_python(args.peer_python),
        "quick": args.quick,
        "keep_tmp": args.keep_tmp,
        "no_report": args.no_report,
    }


def _config_record(cfg):
    """The settings as stored in the result file (no machine paths)."""
    keep = (
        "models",
        "datasets",
        "seeds",
        "params",
        "max_rows",
        "figure_datasets",
        "timeout",
        "threads",
    )
    return {**{k: cfg[k] for k in keep}, "data_home": display_path(cfg["data_home"])}


def _base_record(model, params, split, seed):
    return {
        "model": model,
        "label": model_label(model, params),
        "overrides": params,
        "dataset": split.name,
        "seed": seed,
        "target": split.target,
        "task": split.task,
        "n_train": len(split.train),
        "n_test": len(split.test),
    }


def _measure_model(model, split, seed, cfg, doc, scratch):
    """Fit, sample and score one model on one split; return its record."""
    params = cfg["params"].get(model, {})
    record = _base_record(model, params, split, seed)
    reason = _cli.peer_skip_reason(model, doc)
    if reason:
        return {**record, "status": "skipped", "error": reason}
    job = {
        "model": model,
        "params": params,
        "seed": seed,
        "train_csv": str(scratch / "train.csv"),
        "schema": str(scratch / "schema.json"),
        "n_samples": len(split.train),
        "output_csv": str(scratch / f"{model}.csv"),
        "threads": cfg["threads"],
    }
    python = interpreter_for(model, cfg["peer_python"])
    result = run_in_subprocess(job, scratch / f"job-{model}", python=python, timeout=cfg["timeout"])
    record.update(result)
    if record["status"] != "ok":
        return record
    synthetic = read_table(job["output_csv"], table_schema(split.train))
    Path(job["output_csv"]).unlink(missing_ok=True)
    scores = evaluate(
        split, synthetic, seed=seed, paper_figures=split.name in cfg["figure_datasets"]
    )
    record.update(metrics=scores.values, metric_errors=scores.errors, metric_seconds=scores.seconds)
    return record


def _unavailable_records(dataset, seed, cfg, exc):
    status = "skipped" if isinstance(exc, FileNotFoundError) else "failed"
    error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return [
        {
            "model": m,
            "label": model_label(m, cfg["params"].get(m, {})),
            "overrides": cfg["params"].get(m, {}),
            "dataset": dataset,
            "seed": seed,
            "status": status,
            "error": error,
        }
        for m in cfg["models"]
    ]


def _reference_record(split, seed):
    scores = references(split, seed=seed)
    return {
        "dataset": split.name,
        "seed": seed,
        "n_train": len(split.train),
        "n_test": len(split.test),
        "notes": split.notes,
        "metrics": scores.values,
        "metric_errors": scores.errors,
    }


def run_dataset(dataset, seed, cfg, doc, scratch):
    """All models on one dataset and seed; appends to ``doc``'s records and references."""
    try:
        split = _data.prepare(dataset, seed, data_home=cfg["data_home"], max_rows=cfg["max_rows"])
    except Exception as exc:  # a missing dataset must not stop the run
        _cli.log(f"{dataset} seed {seed}: unavailable ({type(exc).__name__})")
        doc["records"].extend(_unavailable_records(dataset, seed, cfg, exc))
        return
    scratch = scratch / f"{dataset}-{seed}"
    scratch.mkdir(parents=True, exist_ok=True)
    write_table(split.train, scratch / "train.csv", scratch / "schema.json")
    doc.setdefault("references", []).append(_reference_record(split, seed))
    for model in cfg["models"]:
        _cli.log(f"{dataset} seed {seed}: {model} ({len(split.train):,} train rows)")
        record = _measure_model(model, split, seed, cfg, doc, scratch)
        _cli.log(
            f"  -> {record['status']}"
            + (
                f": {record.get('error')}"
                if record["status"] != "ok"
                else f", fit {record['fit_seconds']:.1f} s"
            )
        )
        doc["records"].append(record)
        _cli.checkpoint(doc, cfg["out"])


def main(argv=None):
    """Run the benchmark; return the path of the result JSON."""
    cfg = settings(parse_args(argv))
    doc = _cli.start_run(
        "run", _config_record(cfg), cfg["models"], cfg["peer_python"], cfg["quick"], argv
    )
    scratch = _cli.scratch_dir(cfg["out"], doc["run_id"])
    try:
        for dataset in cfg["datasets"]:
            for seed in cfg["seeds"]:
                run_dataset(dataset, seed, cfg, doc, scratch)
    finally:
        _cli.remove_scratch(scratch, cfg["keep_tmp"])
    return _cli.write_and_report(doc, cfg["out"], report=not cfg["no_report"])


if __name__ == "__main__":
    main()
