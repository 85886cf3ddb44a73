"""How well conditional samples match the real rows of their condition (issue 16).

``python -m benchmarks.conditional [--dataset adult] [--seeds 0] [--threads 1]`` from the
repository root. For each seed: the dataset's 80 % train split; each model fitted once on it;
for each condition (a categorical column = a value), as many conditional rows as the train
split holds rows of that condition, scored against those real rows: column shapes and pair
trends of the other columns (SDMetrics' definitions, ``skmixsynth.metrics``), and the share
of synthetic rows that honour the condition (1 by construction here). Paths compared:

- ``gtcoder``: GTCoder's native path (the learnt prior conditioned on the levels,
  importance-resampled);
- ``gtcoder (rejection)``: the template's exact rejection fallback on the same model (its
  native hook switched off);
- ``mixture``: the hidden tree's exact conditional;
- ``mixgan``: MixGAN (the template's fallback);
- ``ctgan`` (with ``--ctgan``): CTGAN's ``sample(condition_column=..., condition_value=...)``,
  which draws its conditional vector and keeps what the generator makes of it (not exact).

Writes ``benchmarks/results/<run_id>.json`` (kind ``"conditional"``) and prints a Markdown
table; the models are fitted at their defaults, one at a time, on ``--threads`` threads.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

#: conditions on adult: common and rare levels of several columns
CONDITIONS = {
    "adult": [
        {"sex": "Female"},
        {"income": ">50K"},
        {"race": "Black"},
        {"marital_status": "Never-married"},
        {"education": "Doctorate"},
        {"workclass": "Self-emp-inc"},
    ],
}


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.conditional",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="adult", choices=sorted(CONDITIONS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", nargs="+",
                        default=["gtcoder", "gtcoder (rejection)", "mixture", "mixgan"])
    parser.add_argument("--ctgan", action="store_true", help="also CTGAN (slow: ~20 min)")
    parser.add_argument("--max-rows", type=int, default=None,
                        help="subsample the train split (smoke runs)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="override every model's epochs (smoke runs)")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--out", default=None)
    return parser.parse_args(argv)


def _fit(name, train, seed, epochs):
    import skmixsynth

    cls = {"gtcoder": skmixsynth.GTCoderSynthesizer, "mixture": skmixsynth.MixtureSynthesizer,
           "mixgan": skmixsynth.MixGANSynthesizer}[name.split(" ")[0]]
    params = {"random_state": seed, "device": "cpu"}
    if epochs is not None:
        params["epochs"] = epochs
    return cls(**params).fit(train)


def _score(real_rows, synthetic, column):
    from skmixsynth.metrics import column_pair_trends, column_shapes

    others = [c for c in real_rows.columns if c != column]
    return {
        "column_shapes": column_shapes(real_rows[others], synthetic[others]),
        "pair_trends": column_pair_trends(real_rows[others], synthetic[others]),
        "honoured": float((synthetic[column].astype(str) == str(real_rows[column].iloc[0])).mean()),
    }


def main(argv=None):
    args = _parse(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    from benchmarks._cli import command_line
    from benchmarks._data import prepare
    from benchmarks._environment import code_version, machine_info, package_versions
    from benchmarks._paths import RESULTS_DIR, display_path
    from benchmarks._results import jsonable, new_run_id, utc_now, write_run

    run_id = new_run_id("conditional")
    doc = {"schema": "skmixsynth-benchmark/1", "kind": "conditional", "run_id": run_id,
           "command": command_line("conditional"),
           "started_at": utc_now(),
           # no absolute path of the machine is recorded (as in the other benchmarks)
           "config": {k: display_path(v) if k in ("out", "data_home") and v else v
                      for k, v in vars(args).items()},
           "versions": package_versions(),
           "machine": machine_info(), "code": code_version(), "records": []}
    from pathlib import Path

    out = Path(args.out) if args.out else RESULTS_DIR
    for seed in args.seeds:
        split = prepare(args.dataset, seed=seed, data_home=args.data_home,
                        max_rows=args.max_rows)
        train = split.train
        fitted = {}
        names = list(args.models) + (["ctgan"] if args.ctgan else [])
        for name in names:
            start = time.perf_counter()
            if name == "ctgan":
                model = _fit_ctgan(train, seed, args.epochs)
            elif name.endswith("(rejection)"):
                base = name.replace(" (rejection)", "")
                if base not in fitted:
                    fitted[base] = _fit(base, train, seed, args.epochs)
                model = _without_native(fitted[base])
            else:
                model = fitted.get(name) or _fit(name, train, seed, args.epochs)
                fitted[name] = model
            fit_seconds = time.perf_counter() - start
            for condition in CONDITIONS[args.dataset]:
                (column, value), = condition.items()
                real_rows = train[train[column].astype(str) == value]
                n = min(len(real_rows), 5000)
                start = time.perf_counter()
                if name == "ctgan":
                    synthetic = model.sample(n, condition_column=column, condition_value=value)
                else:
                    synthetic = model.sample(n, conditions=condition, random_state=seed)
                record = {"model": name, "seed": seed, "condition": f"{column}={value}",
                          "n_real": len(real_rows), "n_synthetic": n,
                          "fit_seconds": round(fit_seconds, 1),
                          "sample_seconds": round(time.perf_counter() - start, 2),
                          **_score(real_rows, synthetic, column)}
                doc["records"].append(record)
                print(f"{name:22s} {record['condition']:32s} shapes "
                      f"{record['column_shapes']:.3f} trends {record['pair_trends']:.3f} "
                      f"honoured {record['honoured']:.3f} ({record['sample_seconds']} s)",
                      flush=True)
            doc["finished_at"] = utc_now()
            write_run(jsonable(doc), out)
    _print_table(doc["records"])
    return 0


def _without_native(model):
    """A shallow copy of a fitted model whose native conditional hook is off."""
    import copy

    clone = copy.copy(model)
    clone._generate_conditional = lambda *args: None
    return clone


def _fit_ctgan(train, seed, epochs):
    import ctgan
    import numpy as np
    import torch

    np.random.seed(seed)  # noqa: NPY002 -- CTGAN draws from the global generators
    torch.manual_seed(seed)
    discrete = [c for c in train.columns if train[c].dtype.kind not in "if"]
    frame = train.copy()
    frame[discrete] = frame[discrete].astype(str)
    model = ctgan.CTGAN(epochs=epochs or 300)
    model.fit(frame, discrete)
    return model


def _print_table(records):
    import pandas as pd

    if not records:
        return
    frame = pd.DataFrame(records)
    table = frame.pivot_table(index="condition", columns="model", values="column_shapes",
                              aggfunc="mean")
    print("\ncolumn shapes within the condition's real rows (mean over seeds)\n")
    print("| condition | " + " | ".join(table.columns) + " |")
    print("|---|" + "---|" * len(table.columns))
    for condition, row in table.iterrows():
        print(f"| {condition} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    print("\nmean over conditions:", frame.groupby("model")[["column_shapes",
                                                           "pair_trends"]].mean().round(3)
          .to_dict())


if __name__ == "__main__":
    sys.exit(main())
