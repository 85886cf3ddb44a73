"""Generate ``benchmarks/results/README.md`` and the figures from the JSON result files.

``python -m benchmarks.report [--results DIR]``. Full runs are reported when the folder holds
any, else the quick ones. For the same model (and overrides), dataset, seed and split size the
latest run wins, so partial re-runs update the tables.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import _figures, _published
from ._paths import RESULTS_DIR, display_path
from ._results import latest_records, load_runs
from ._stats import DASH, cell, dig, group, label_sort_key, mean_std, table

RECORD_KEY = ("model", "overrides", "dataset", "seed", "n_train")
TABLE1_ORDER = (
    "adult",
    "abalone",
    "ionosphere",
    "mushroom",
    "sonar",
    "news",
    "lending_club",
    "mixed",
)
TABLE2_ORDER = ("grid", "gridr", "ring")
PEER_REFERENCES = ("ctgan", "tvae")
#: models with published or ANCHORS.md figures, shown as "(not run here)" rows when absent
PUBLISHED_MODELS = ("identity", "ctgan", "tvae", "gtcoder", "tabularargn", "shallow mixture")


def _ok(records):
    return [r for r in records if r.get("status") == "ok"]


def _select_runs(docs):
    full = [d for d in docs if not d.get("quick")]
    return full or docs


def _datasets(records, order):
    present = {r["dataset"] for r in records}
    return [d for d in order if d in present] + sorted(present - set(order))


def _labels(records):
    return sorted({r["label"] for r in records}, key=label_sort_key)


def _seeds_note(records):
    seeds = sorted({r["seed"] for r in records})
    return f"seeds {', '.join(map(str, seeds))}"


# ------------------------------------------------------------------------------- headers
def _runs_section(docs):
    if not docs:
        return (
            "## Runs included\n\nNone yet: run the commands of `benchmarks/README.md` "
            '("The full run"), which regenerate this file.'
        )
    rows = []
    for doc in docs:
        versions = doc.get("versions", {})
        machine = doc.get("machine", {})
        peers = doc.get("peers") or {}
        rows.append(
            [
                doc["run_id"],
                ("quick" if doc.get("quick") else "full")
                + ("" if doc.get("complete", True) else " (incomplete)"),
                f"`{doc.get('command', '')}`",
                f"{doc.get('duration_seconds', 0) / 60:.1f} min",
                f"{machine.get('cores_available')} cores, {machine.get('cpu')}",
                ", ".join(
                    f"{k} {versions.get(k)}"
                    for k in ("skmixsynth", "torch", "scikit-learn", "pandas")
                ),
                peers.get("ctgan", DASH),
                _commit_cell(doc.get("code") or {}),
            ]
        )
    header = ["run", "mode", "command", "duration", "machine", "versions", "ctgan", "commit"]
    text = "## Runs included\n\n" + table(header, rows)
    if any((doc.get("code") or {}).get("dirty") for doc in docs):
        text += (
            "\n\nA commit marked *+ uncommitted changes* ran on a tree with changes that are "
            "not in that commit: its figures cannot be reproduced from it exactly, and its "
            "timings are not to be compared with clean runs."
        )
    return text


def _commit_cell(code):
    """The run's commit, marked when the tree had uncommitted changes."""
    commit = code.get("commit") or DASH
    return f"{commit} *+ uncommitted changes*" if code.get("dirty") else commit


# ------------------------------------------------------------------------------- Table 1
def _efficacy_text(records, task):
    if task == "regression":
        return "r² " + cell([dig(r, "metrics.efficacy.r2") for r in records])
    macro = cell([dig(r, "metrics.efficacy.macro_f1") for r in records])
    weighted = cell([dig(r, "metrics.efficacy.weighted_f1") for r in records])
    return f"{macro} / {weighted}"


def _table1_rows(dataset, records):
    task = records[0].get("task")
    rows, shown = [], set()
    for (label,), group_records in sorted(
        group(records, "label").items(), key=lambda kv: label_sort_key(kv[0][0])
    ):
        model = group_records[0]["model"]
        first = model not in shown
        shown.add(model)
        rows.append(
            [
                label,
                _efficacy_text(group_records, task),
                (_published.gtcoder_table1(model, dataset) or DASH) if first else "",
                (_published.ANCHORS.get(dataset, {}).get(model, DASH)) if first else "",
            ]
        )
    for model in (m for m in PUBLISHED_MODELS if m not in shown):
        paper = _published.gtcoder_table1(model, dataset)
        anchor = _published.ANCHORS.get(dataset, {}).get(model)
        if paper or anchor:
            rows.append([f"{model} (not run here)", DASH, paper or DASH, anchor or DASH])
    return rows


def _table1_section(records):
    parts = [
        "## GTCoder Table 1: machine-learning efficacy",
        "Train DecisionTree, RandomForest(100) and AdaBoost on the synthetic rows, score "
        "on the real 20 % test split: mean macro-F1 / weighted-F1 (r² of Ridge, "
        "LinearRegression and GradientBoosting for news). `identity` trains on the real "
        "train split: the ceiling. The published columns were measured elsewhere, under "
        "their own protocol: compare orders of magnitude, not digits.",
    ]
    for dataset in _datasets(records, TABLE1_ORDER):
        rows_in = [r for r in records if r["dataset"] == dataset and r.get("target")]
        if not rows_in:
            continue
        header = [
            "model",
            f"this benchmark ({_seeds_note(rows_in)})",
            "GTCoder Table 1 (published)",
            "ANCHORS.md (measured here, seed 0: efficacy · fit · quality)",
        ]
        parts.append(f"### {dataset}\n\n{table(header, _table1_rows(dataset, rows_in))}")
    if len(parts) == 2:  # the heading and the introduction only
        return ""
    return "\n\n".join(parts)


# ------------------------------------------------------------------------------- Table 2
def _table2_rows(dataset, records):
    rows = []
    for (label,), group_records in sorted(
        group(records, "label").items(), key=lambda kv: label_sort_key(kv[0][0])
    ):
        model = group_records[0]["model"]
        paper = _published.gtcoder_table2(model, dataset)
        rows.append(
            [
                label,
                cell([dig(r, "metrics.likelihood.l_syn") for r in group_records], 2),
                cell([dig(r, "metrics.likelihood.l_test") for r in group_records], 2),
                f"{paper[0]:.2f}" if paper else DASH,
                f"{paper[1]:.2f}" if paper else DASH,
            ]
        )
    shown = {r["model"] for r in records}
    for model in (m for m in PUBLISHED_MODELS if m not in shown):
        paper = _published.gtcoder_table2(model, dataset)
        if paper:
            rows.append(
                [f"{model} (not run here)", DASH, DASH, f"{paper[0]:.2f}", f"{paper[1]:.2f}"]
            )
    return rows


def _table2_section(records):
    parts = [
        "## GTCoder Table 2: likelihood fitness on the simulations",
        "`L_syn`: mean true log-density of the synthetic points (collapsing onto the modes "
        "scores *well*); `L_test`: mean log-likelihood of real test points under Gaussian "
        "mixtures (10 and 30 diagonal components, SDGym's protocol) fitted to the "
        "synthetic points. Greater is better for both; read them together.",
    ]
    for dataset in _datasets(records, TABLE2_ORDER):
        rows_in = [
            r
            for r in records
            if r["dataset"] == dataset and dig(r, "metrics.likelihood.l_syn") is not None
        ]
        if not rows_in:
            continue
        header = [
            "model",
            f"L_syn ({_seeds_note(rows_in)})",
            "L_test",
            "L_syn GTCoder Table 2 (published)",
            "L_test GTCoder Table 2 (published)",
        ]
        parts.append(f"### {dataset}\n\n{table(header, _table2_rows(dataset, rows_in))}")
    if len(parts) == 2:  # the heading and the introduction only
        return ""
    return "\n\n".join(parts)


# ------------------------------------------------------------------------- all metrics
METRIC_COLUMNS = (
    ("quality", "metrics.quality", 3),
    ("column shapes", "metrics.column_shapes", 3),
    ("pair trends", "metrics.column_pair_trends", 3),
    ("detection", "metrics.detection", 3),
    ("XGB detection", "metrics.detection_xgb", 3),
    ("DCR ratio", "metrics.dcr_ratio", 3),
    ("exact copies", "metrics.exact_copy_rate", 4),
    ("hold-out copies", "metrics.holdout_copy_rate", 4),
    ("fit s", "fit_seconds", None),
    ("sampled rows/s", "sample_rows_per_second", None),
    ("peak RSS MiB", "peak_rss_mb", None),
)
PAPER_COLUMNS = (
    ("Fig. 3 mean gap", "metrics.marginal_agreement.mean_abs_gap", 4),
    ("Fig. 3 R²", "metrics.marginal_agreement.r2_diagonal", 3),
    ("Fig. 4 mean gap", "metrics.correlation_maintenance.mean_abs_gap", 4),
)


def _reference_row(references, columns):
    row = ["real hold-out (test split vs train)"]
    for _, path, digits in columns:
        key = path.removeprefix("metrics.")
        if key in ("quality", "detection", "detection_xgb", "exact_copy_rate"):
            row.append(cell([dig(r, path) for r in references], digits))
        else:
            row.append(DASH)
    return row


def _metrics_rows(records, columns):
    rows = []
    for (label,), group_records in sorted(
        group(records, "label").items(), key=lambda kv: label_sort_key(kv[0][0])
    ):
        dropped = max((r.get("dropped_rows") or 0) for r in group_records)
        name = label + (f" ‡ {dropped} rows dropped" if dropped else "")
        rows.append([name] + [cell([dig(r, p) for r in group_records], d) for _, p, d in columns])
    return rows


def _metrics_section(records, references):
    parts = [
        "## All metrics per dataset",
        "Mean ± std over seeds. quality = mean of column shapes and pair trends "
        "(SDMetrics 0.32 QualityReport definitions); detection = 1 - (2·max(AUC, 0.5) - 1) "
        "of a HistGradientBoostingClassifier telling synthetic from real train rows "
        "(3-fold, 1 = indistinguishable); XGB detection = the same with TabPC's classifier, "
        "SDMetrics' one-hot preprocessing and `XGBClassifier(enable_categorical=True, "
        "random_state=0)` (the figure the TabPC paper and ANCHORS.md quote); DCR ratio = "
        "median distance of synthetic rows "
        "to their closest train row over the same for real test rows (≈1 good, ≈0 "
        "copies); exact copies = share of synthetic rows equal to a train row; peak RSS "
        "is the worker process's max resident memory (interpreter, data and model). "
        "‡: the peers cannot take missing numerical values; those training rows were "
        "dropped for them only.",
    ]
    for dataset in _datasets(records, TABLE1_ORDER + TABLE2_ORDER):
        rows_in = [r for r in records if r["dataset"] == dataset]
        columns = list(METRIC_COLUMNS)
        if any(dig(r, PAPER_COLUMNS[0][1]) is not None for r in rows_in):
            columns += PAPER_COLUMNS
        rows = _metrics_rows(rows_in, columns)
        refs = [r for r in references if r["dataset"] == dataset]
        if refs:
            rows.append(_reference_row(refs, columns))
        notes = "; ".join(refs[0].get("notes", [])) if refs else ""
        n_train = rows_in[0].get("n_train")
        head = f"### {dataset}\n\n{n_train:,} train rows; {_seeds_note(rows_in)}. {notes}"
        parts.append(head + "\n\n" + table(["model"] + [c[0] for c in columns], rows))
    if len(parts) == 2:  # the heading and the introduction only
        return ""
    return "\n\n".join(parts)


# ------------------------------------------------------------------------------ ratios
def _paired(model_records, peer_records, path, combine):
    """``combine(model value, peer value)`` per (dataset, seed), pairing within a run first.

    Returns the values and whether any pair had to cross runs.
    """
    same_run = {(r["run_id"], r["dataset"], r["seed"]): r for r in peer_records}
    any_run = {(r["dataset"], r["seed"]): r for r in peer_records}
    values, cross_run = [], False
    for record in model_records:
        partner = same_run.get((record["run_id"], record["dataset"], record["seed"]))
        if partner is None:
            partner = any_run.get((record["dataset"], record["seed"]))
            cross_run = cross_run or partner is not None
        a, b = dig(record, path), dig(partner, path) if partner else None
        if a is not None and b is not None:
            values.append(combine(a, b))
    return values, cross_run


def _ratio_cells(model_records, peer_records):
    times, cross_t = _paired(
        model_records, peer_records, "fit_seconds", lambda a, b: a / b if b else None
    )
    quality, cross_q = _paired(model_records, peer_records, "metrics.quality", lambda a, b: a - b)
    mark = " *" if cross_t or cross_q else ""
    return [cell(times, None) + mark, cell(quality, 3) + mark]


def _ratio_section(records):
    peers = [p for p in PEER_REFERENCES if any(r["model"] == p for r in records)]
    if not peers:
        return ""
    parts = [
        "## Ratios to the peers",
        "Per dataset and seed, the model's fit time divided by the peer's and its quality "
        "minus the peer's, from the same run (`*`: the peer was measured in another run "
        "of this folder), then mean ± std over seeds.",
    ]
    for dataset in _datasets(records, TABLE1_ORDER + TABLE2_ORDER):
        rows_in = [r for r in records if r["dataset"] == dataset]
        rows = []
        for (label,), group_records in sorted(
            group(rows_in, "label").items(), key=lambda kv: label_sort_key(kv[0][0])
        ):
            row = [label]
            for peer in peers:
                peer_rows = [r for r in rows_in if r["model"] == peer]
                row += _ratio_cells(group_records, peer_rows)
            rows.append(row)
        header = ["model"] + [h for p in peers for h in (f"fit time ÷ {p}", f"quality - {p}")]
        parts.append(f"### {dataset}\n\n{table(header, rows)}")
    return "\n\n".join(parts)


# ----------------------------------------------------------------------------- scaling
def _scaling_cell(records):
    fit, _, n = mean_std([dig(r, "fit_seconds") for r in records])
    if n == 0:
        return records[0].get("status", DASH) if records else DASH
    per_row = fit / records[0]["n_rows"] * 1e6
    peak, _, _ = mean_std([dig(r, "peak_rss_mb") for r in records])
    growth, _, _ = mean_std([dig(r, "model_rss_mb") for r in records])
    rate, _, _ = mean_std([dig(r, "sample_rows_per_second") for r in records])
    growth_text = f" (+{cell([growth], None)})" if growth is not None else ""
    return (
        f"{cell([fit], None)} s · {cell([per_row], None)} µs/row · "
        f"{cell([peak], None)}{growth_text} MiB · {cell([rate], None)} rows/s"
    )


def _scaling_section(docs):
    records = latest_records(docs, ("model", "overrides", "axis", "n_rows", "n_columns", "seed"))
    if not records:
        return ""
    parts = [
        "## Scaling",
        "Fit seconds · fit µs per row · peak RSS of the worker (in brackets: its growth "
        "during fit and sampling, after the data was read and the libraries imported) · "
        "sampled rows/s, for the fixed epochs given in the label (so µs per row should "
        "stay flat as rows grow). Tables from `make_mixed`; the column axis places "
        "independent copies of it side by side.",
    ]
    for axis, size_key in (("rows", "n_rows"), ("columns", "n_columns")):
        rows_in = [r for r in records if r.get("axis") == axis]
        if not rows_in:
            continue
        sizes = sorted({r[size_key] for r in rows_in})
        rows = []
        for (label,), group_records in sorted(
            group(rows_in, "label").items(), key=lambda kv: label_sort_key(kv[0][0])
        ):
            by_size = group(group_records, size_key)
            rows.append([label] + [_scaling_cell(by_size.get((s,), [])) for s in sizes])
        other = "columns" if axis == "rows" else "rows"
        fixed = rows_in[0]["n_columns" if axis == "rows" else "n_rows"]
        header = ["model"] + [f"{s:,} {axis}" for s in sizes]
        parts.append(f"### Growing {axis} ({fixed:,} {other})\n\n{table(header, rows)}")
    return "\n\n".join(parts)


def _at_scale_section(streams, samplings):
    """The out-of-core fits (kind ``stream``) and the sampling runs to Parquet (kind
    ``sample_scale``), one row per record, newest run first."""
    parts = []
    big = [(d, r) for d in streams for r in d["records"]
           if r.get("measure") == "big" and r.get("status") == "ok"]
    if big:
        rows = [[d["run_id"], r["model"], f"{r['n_rows']:,} x {r['n_columns']}",
                 f"{r['file_mb']:,.0f} MiB", f"{r['encoder_seconds']:,.0f} s",
                 f"{r['train_seconds']:,.0f} s", f"{r['train_rows_per_second']:,.0f}",
                 f"{r['peak_rss_mb']:,.0f} MiB"] for d, r in big]
        parts.append(
            "### Fit from a Parquet stream\n\nOne epoch of each training phase; peak RSS of "
            "the fitting process (the issue's bound: 2 GB).\n\n"
            + table(["run", "model", "rows x columns", "file", "encoder pass", "training",
                     "training rows/s", "peak RSS"], rows))
    adult = [r for d in streams for r in d["records"]
             if r.get("measure") == "adult" and r.get("status") == "ok"]
    if adult:
        rows = []
        for (source,), recs in sorted(group(adult, "source").items()):
            metrics = [r.get("metrics", {}) for r in recs]
            rows.append([source, str(len(recs))]
                        + [cell([m.get(k) for m in metrics], 3)
                           for k in ("quality", "detection_xgb")]
                        + [cell([(m.get("efficacy") or {}).get("macro_f1") for m in metrics], 3),
                           cell([r["fit_seconds"] for r in recs], None)])
        parts.append(
            "### adult from Parquet and from memory\n\nThe same model, parameters and seeds; "
            "mean ± std over the seeds.\n\n"
            + table(["source", "seeds", "quality", "XGB detection", "macro-F1", "fit s"], rows))
    rows = [[d["run_id"], r["model"], f"{r['rows']:,}", str(r["n_jobs"]),
             f"{r['rows_per_second']:,.0f}", f"{r['total_peak_rss_mb']:,.0f} MiB",
             f"{r['bytes_on_disk'] / 2**20:,.0f} MiB"]
            for d in samplings for r in d["records"] if r.get("status") == "ok"]
    if rows:
        parts.append(
            "### Sampling to Parquet\n\n`sample_to_parquet`; peak RSS summed over the "
            "processes.\n\n"
            + table(["run", "model", "rows", "n_jobs", "rows/s", "peak RSS", "on disk"], rows))
    if not parts:
        return ""
    return "\n\n".join(["## Out of core and at scale", *parts])


# ----------------------------------------------------------------------------- figures
def _figure_panels(records, dataset, key):
    panels = []
    for (label,), group_records in sorted(
        group(records, "label").items(), key=lambda kv: label_sort_key(kv[0][0])
    ):
        with_points = [
            r
            for r in group_records
            if r["dataset"] == dataset and (r.get("metrics") or {}).get(key)
        ]
        if with_points:
            chosen = min(with_points, key=lambda r: r["seed"])
            payload = chosen["metrics"][key]
            panels.append(
                (f"{label} (seed {chosen['seed']})", payload["points"], payload["mean_abs_gap"])
            )
    return panels


def _figures_section(records, results_dir):
    links = []
    for dataset in _datasets(records, TABLE1_ORDER):
        for key, (stem, *_rest) in _figures.FIGURES.items():
            panels = _figure_panels(records, dataset, key)
            if panels:
                path = Path(results_dir) / f"{stem}_{dataset}.png"
                _figures.draw(key, dataset, panels, path)
                links.append(f"- {dataset}: [{stem}]({path.name})")
    if not links:
        return ""
    intro = (
        "## mixGAN figures\n\nFig. 3: per-column histograms, points (P_real, P_fake), "
        "stars numerical bins, circles categories. Fig. 4: per column, hold-out error of "
        "a model predicting it from the others trained on real (E_real) or synthetic "
        "(E_fake) rows. On the diagonal is best; `identity` shows the sampling noise."
    )
    return intro + "\n\n" + "\n".join(links)


def _failures_section(records):
    bad = [r for r in records if r.get("status") != "ok" or r.get("metric_errors")]
    if not bad:
        return ""
    rows = []
    for r in bad:
        error = r.get("error") or "; ".join(f"{k}: {v}" for k, v in r["metric_errors"].items())
        rows.append(
            [
                r["label"],
                r["dataset"],
                r["seed"],
                r.get("status"),
                error.splitlines()[0][:200] if error else DASH,
            ]
        )
    return "## Failures and skipped cells\n\n" + table(
        ["model", "dataset", "seed", "status", "error"], rows
    )


def build_report(results_dir=RESULTS_DIR):
    """Write ``README.md`` and the figures in ``results_dir``; return the README's path."""
    results_dir = Path(results_dir)
    runs = _select_runs(load_runs(results_dir, "run"))
    scaling = _select_runs(load_runs(results_dir, "scaling"))
    streams = sorted(load_runs(results_dir, "stream"), key=lambda d: d["run_id"], reverse=True)
    samplings = sorted(load_runs(results_dir, "sample_scale"), key=lambda d: d["run_id"],
                       reverse=True)
    all_records = latest_records(runs, RECORD_KEY)
    records = _ok(all_records)
    references = [ref for doc in runs for ref in doc.get("references", [])]
    sections = [
        "# Benchmark results\n\nGenerated by `python -m benchmarks.report` from the JSON files "
        "of this folder; do not edit by hand. Protocol: `benchmarks/README.md`.",
        _runs_section(runs + scaling),
        _table1_section(records),
        _table2_section(records),
        _metrics_section(records, references),
        _ratio_section(records),
        _scaling_section(scaling),
        _at_scale_section(streams, samplings),
        _figures_section(records, results_dir),
        _failures_section(all_records),
    ]
    path = results_dir / "README.md"
    path.write_text("\n\n".join(s for s in sections if s) + "\n", encoding="utf-8")
    return path


def main(argv=None):
    """Command line: ``python -m benchmarks.report [--results DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__)
    parser.add_argument(
        "--results",
        default=RESULTS_DIR,
        type=Path,
        help="folder of the JSON results (default: benchmarks/results)",
    )
    args = parser.parse_args(argv)
    path = build_report(args.results)
    print(f"wrote {display_path(path)}")
    return path


if __name__ == "__main__":
    main()
