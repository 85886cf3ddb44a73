"""One call for every evaluation of a synthetic table: scores, tables, figures, HTML report."""

from __future__ import annotations

import base64
import html
import io
import math

import numpy as np
import pandas as pd

from ._common import check_pair
from ._detection import detection_score
from ._mixgan import correlation_maintenance, marginal_agreement, marginal_agreement_summary
from ._privacy import (
    _identifier_columns,
    dcr_ratio,
    exact_copy_rate,
    rare_value_copy_details,
    rare_value_copy_rate,
)
from ._quality import _nanmean, column_pair_trends_details, column_shapes_details
from ._utility import ml_efficacy

__all__ = ["EvaluationReport", "evaluate"]

# name -> (range, explanation). Every score is oriented so that greater is better.
SCORE_INFO = {
    "quality": (
        "[0, 1]",
        "Overall quality: the mean of column_shapes and column_pair_trends (SDMetrics 0.32 "
        "QualityReport score).",
    ),
    "column_shapes": (
        "[0, 1]",
        "Mean similarity of each column's marginal distribution: 1 - Kolmogorov-Smirnov "
        "statistic for numerical and datetime columns, 1 - total variation distance for "
        "categorical ones (missing values dropped).",
    ),
    "column_pair_trends": (
        "[0, 1]",
        "Mean similarity of the pairwise trends: 1 - |r_real - r_synthetic| / 2 for two "
        "numerical columns, 1 - total variation distance of the two-way frequency tables "
        "otherwise; over the pairs that show a trend in the real data (|r| > 0.5 or "
        "Cramer's V > 0.3), NaN when none does.",
    ),
    "marginal_agreement": (
        "<= 1",
        "mixGAN section 5.1 (Fig. 3): 1 - mean |P_real - P_fake| over the histogram bins "
        "(10 bins of the real range) and categories of each column, averaged over columns. "
        "Compressed towards 1: compare differences between synthesizers.",
    ),
    "marginal_agreement_r2": (
        "<= 1",
        "R^2 of the (P_real, P_fake) points of Fig. 3 to the diagonal; 1 when every point is "
        "on it, negative when they are further from it than from their mean.",
    ),
    "detection": (
        "[0, 1]",
        "1 - (2 AUC - 1) of a gradient-boosting classifier telling synthetic rows from real "
        "ones (3-fold cross-validation); 1 = indistinguishable, 0 = perfectly separated.",
    ),
    "correlation_maintenance": (
        "<= 1",
        "mixGAN section 5.2 (Fig. 4): 1 - mean |E_real - E_fake|, where E is the hold-out "
        "error of a model predicting each column from the others, trained on the real or on "
        "the synthetic rows (MSE on the real min-max scale for numerical columns, error rate "
        "for categorical ones).",
    ),
    "ml_efficacy_macro_f1": (
        "[0, 1]",
        "Machine-learning efficacy (GTCoder Table 1): mean macro-F1 on the real hold-out of "
        "a decision tree, a random forest and AdaBoost trained on the synthetic rows to "
        "predict the target. The same models trained on the real rows give the ceiling (in "
        "the ml_efficacy table).",
    ),
    "ml_efficacy_weighted_f1": (
        "[0, 1]",
        "As ml_efficacy_macro_f1, with F1 weighted by class frequency.",
    ),
    "ml_efficacy_r2": (
        "<= 1",
        "Machine-learning efficacy (GTCoder Table 1): mean R^2 on the real hold-out of Ridge, "
        "linear regression and gradient boosting trained on the synthetic rows to predict "
        "the target. The same models trained on the real rows give the ceiling (in the "
        "ml_efficacy table).",
    ),
    "privacy_exact_copies": (
        "[0, 1]",
        "1 - the share of synthetic rows that are exact copies of a training row: equal on "
        "every column but the identifiers, or carrying a training identifier (an e-mail, "
        "a row id). A real hold-out gives the baseline (in the privacy table): tables with "
        "few distinct rows repeat rows by nature.",
    ),
    "privacy_rare_values": (
        "[0, 1]",
        "1 - the share of synthetic rows that carry, in some column, a value held by fewer "
        "than 5 training rows (an identifier, a rare category, an exact rare number), "
        "which points at those rows. A real hold-out gives the baseline (privacy table); "
        "the privacy_columns table says which columns.",
    ),
    "privacy_dcr": (
        "[0, 1]",
        "min(1, DCR ratio): median distance from the synthetic rows to their closest "
        "training row, over the same median for real hold-out rows (identifier columns left "
        "out, a row carrying a training identifier at distance 0). 1 = synthetic rows are "
        "no closer to the training rows than unseen real rows; near 0 = (near) copies. The "
        "raw ratio is in the privacy table.",
    ),
}

# Privacy verdicts (see evaluate): a rate is a leak when it exceeds the real hold-out's by more
# than max(_MIN_EXCESS, 3 standard errors of the difference); a copied identifier is a leak
# when unseen real rows carry none; a DCR ratio below _DCR_LEAK is a leak.
PRIVACY_MIN_COUNT = 5
_MIN_EXCESS = 0.01
_DCR_LEAK = 0.5

TABLE_INFO = {
    "column_shapes": "Per-column score of column_shapes (KSComplement or TVComplement).",
    "column_pair_trends": (
        "Per-pair score of column_pair_trends, with the real and synthetic associations "
        "(Pearson's r for two numerical columns, Cramer's V otherwise); meets_threshold says "
        "whether the pair counts in the mean."
    ),
    "marginal_agreement": (
        "The (p_real, p_fake) points of mixGAN Fig. 3: one per numerical bin and category."
    ),
    "correlation_maintenance": (
        "The (e_real, e_fake) hold-out errors of mixGAN Fig. 4, one per column: errors, so "
        "lower is better, and e_fake close to e_real is the goal."
    ),
    "ml_efficacy": (
        "Per-estimator scores on the real hold-out of models trained on the synthetic rows "
        "and, for reference, on the real rows."
    ),
    "privacy": (
        "Raw privacy numbers of the synthetic rows and, for reference, of the real hold-out "
        "rows against the training rows (exact_copy_rate and rare_value_copy_rate: lower is "
        "more private; dcr_ratio: about 1 is the goal, near 0 flags copies), with a verdict: "
        "leak when a rate exceeds the hold-out's by more than max(0.01, 3 standard errors), "
        "when a training identifier is copied and unseen rows carry none, or when dcr_ratio "
        "is below 0.5; 'no baseline' when a rate is above 0 and there is no hold-out."
    ),
    "privacy_columns": (
        "Per column: the distinct training values held by fewer than 5 rows (n_rare_values) "
        "and the share of synthetic and of hold-out rows that carry one, with the verdict; "
        "identifier says whether the column looks like an identifier. No value is shown."
    ),
}

FIGURE_INFO = {
    "marginal_agreement": (
        "mixGAN Fig. 3: one point (P_real, P_fake) per numerical bin (stars) and per category "
        "(circles); on the diagonal when every single-column distribution is kept."
    ),
    "correlation_maintenance": (
        "mixGAN Fig. 4: one point (E_real, E_fake) per column; on the diagonal when the "
        "dependencies between columns are kept, above it when the synthetic rows teach less."
    ),
    "distributions": "Real (grey) and synthetic marginal distributions, column by column.",
    "association_difference": (
        "|association_real - association_synthetic| for every pair of columns (Pearson's r "
        "or Cramer's V): 0 (light) means the pair's association is kept."
    ),
}

# Subplots of the distributions figure.
_MAX_COLUMNS = 24
_GREATER_IS_BETTER = "Greater is better for every score; 1 is perfect where bounded."


def _is_missing(value):
    return value is None or (isinstance(value, (float, np.floating)) and np.isnan(value))


def _jsonable(value):
    """A plain Python value for JSON: NaN -> None, numpy scalars unwrapped, others str."""
    if isinstance(value, np.generic):
        value = value.item()
    if _is_missing(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        return None
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _format_value(value):
    if _is_missing(value):
        return "nan"
    return f"{value:.4f}"


class EvaluationReport:
    """Scores, tables and figures of one synthetic table, as returned by :func:`evaluate`.

    Every score is oriented so that greater is better, and 1 is perfect where the score is
    bounded (see :data:`SCORE_INFO` in this module for each definition).

    Parameters
    ----------
    scores : dict of {str: float}, default=None
        Flat mapping from score name to value.
    tables : dict of {str: DataFrame}, default=None
        The detailed tables behind the scores.
    figures : dict of {str: matplotlib.figure.Figure}, default=None
        The diagrams.
    notes : list of str, default=None
        What was skipped and why.
    info : dict, default=None
        Sizes of the tables and other context (row counts, target, task).

    Attributes
    ----------
    scores, tables, figures, notes, info
        As given (copied into new dicts and lists).

    Examples
    --------
    >>> from skmixsynth.metrics import EvaluationReport
    >>> report = EvaluationReport(scores={"quality": 0.91234, "detection": 0.5},
    ...                           notes=["no hold-out: correlation_maintenance skipped"])
    >>> print(report)
    EvaluationReport
      Greater is better for every score; 1 is perfect where bounded.
    <BLANKLINE>
      score       value   range
      quality     0.9123  [0, 1]
      detection   0.5000  [0, 1]
    <BLANKLINE>
      notes:
        - no hold-out: correlation_maintenance skipped
    >>> report.to_dict()["scores"]
    {'quality': 0.91234, 'detection': 0.5}
    """

    def __init__(self, scores=None, tables=None, figures=None, notes=None, info=None):
        self.scores = dict(scores or {})
        self.tables = dict(tables or {})
        self.figures = dict(figures or {})
        self.notes = list(notes or [])
        self.info = dict(info or {})

    # -- text -----------------------------------------------------------------------------
    def _sizes_line(self):
        parts = [
            f"{name}: {self.info[f'n_{name}']} rows"
            for name in ("real", "synthetic", "holdout", "train")
            if self.info.get(f"n_{name}") is not None
        ]
        if self.info.get("n_columns") is not None:
            parts.append(f"{self.info['n_columns']} columns")
        if self.info.get("target") is not None:
            parts.append(f"target {self.info['target']!r} ({self.info.get('task')})")
        return ", ".join(parts)

    def __str__(self):
        lines = ["EvaluationReport"]
        sizes = self._sizes_line()
        if sizes:
            lines.append(f"  {sizes}")
        lines.append(f"  {_GREATER_IS_BETTER}")
        if self.scores:
            width = max(len("score"), *(len(str(name)) for name in self.scores)) + 2
            lines += ["", f"  {'score':<{width}}{'value':<8}range"]
            for name, value in self.scores.items():
                bound = SCORE_INFO.get(name, ("",))[0]
                lines.append(f"  {name!s:<{width}}{_format_value(value):<8}{bound}".rstrip())
        if self.tables:
            listed = ", ".join(f"{name} ({len(table)} rows)" for name, table in self.tables.items())
            lines += ["", f"  tables: {listed}"]
        if self.figures:
            lines.append(f"  figures: {', '.join(self.figures)}")
        if self.notes:
            lines += ["", "  notes:", *(f"    - {note}" for note in self.notes)]
        return "\n".join(lines)

    def __repr__(self):
        return str(self)

    # -- JSON -----------------------------------------------------------------------------
    def to_dict(self):
        """The report as plain Python objects, ready for :func:`json.dumps`.

        Returns
        -------
        report : dict
            ``{"scores": {name: float or None}, "tables": {name: list of row dicts},
            "figures": [names], "notes": [str], "info": dict}``; NaN and infinite values
            become ``None`` and figures are listed by name only.

        Examples
        --------
        >>> import json
        >>> import pandas as pd
        >>> from skmixsynth.metrics import EvaluationReport
        >>> report = EvaluationReport(scores={"quality": float("nan")},
        ...                           tables={"t": pd.DataFrame({"a": [1, 2]})})
        >>> json.dumps(report.to_dict()["scores"]), report.to_dict()["tables"]
        ('{"quality": null}', {'t': [{'a': 1}, {'a': 2}]})
        """
        tables = {}
        for name, table in self.tables.items():
            records = table.to_dict(orient="records")
            tables[name] = [
                {str(key): _jsonable(value) for key, value in row.items()} for row in records
            ]
        return {
            "scores": {str(name): _jsonable(value) for name, value in self.scores.items()},
            "tables": tables,
            "figures": list(self.figures),
            "notes": list(self.notes),
            "info": {str(key): _jsonable(value) for key, value in self.info.items()},
        }

    # -- HTML -----------------------------------------------------------------------------
    def _html_body(self):
        esc = html.escape
        parts = ["<h1>Evaluation report</h1>"]
        sizes = self._sizes_line()
        if sizes:
            parts.append(f"<p>{esc(sizes)}</p>")
        parts.append(f"<p class='note'>{esc(_GREATER_IS_BETTER)}</p>")
        if self.scores:
            rows = []
            for name, value in self.scores.items():
                bound, text = SCORE_INFO.get(name, ("", ""))
                rows.append(
                    f"<tr><td class='name'>{esc(str(name))}</td>"
                    f"<td class='num'>{esc(_format_value(value))}</td>"
                    f"<td>{esc(bound)}</td><td>{esc(text)}</td></tr>"
                )
            parts.append(
                "<h2>Scores</h2><table class='scores'><thead><tr><th>score</th><th>value</th>"
                "<th>range</th><th>meaning</th></tr></thead><tbody>"
                + "".join(rows)
                + "</tbody></table>"
            )
        if self.notes:
            items = "".join(f"<li>{esc(note)}</li>" for note in self.notes)
            parts.append(f"<h2>Notes</h2><ul>{items}</ul>")
        if self.figures:
            parts.append("<h2>Figures</h2>")
            for name, fig in self.figures.items():
                buffer = io.BytesIO()
                fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
                encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
                parts.append(
                    f"<figure><figcaption><b>{esc(str(name))}</b>: "
                    f"{esc(FIGURE_INFO.get(name, ''))}</figcaption>"
                    f'<img src="data:image/png;base64,{encoded}" alt="{esc(str(name))}">'
                    "</figure>"
                )
        if self.tables:
            parts.append("<h2>Tables</h2>")
            for name, table in self.tables.items():
                body = table.to_html(
                    index=False,
                    border=0,
                    na_rep="NaN",
                    float_format=lambda v: f"{v:.4g}",
                    classes="data",
                )
                parts.append(
                    f"<details{' open' if len(table) <= 30 else ''}><summary><b>{esc(str(name))}"
                    f"</b> ({len(table)} rows): {esc(TABLE_INFO.get(name, ''))}</summary>"
                    f"{body}</details>"
                )
        return "\n".join(parts)

    def _repr_html_(self):
        return self._html_body()

    def to_html(self, path=None, *, title="skmixsynth evaluation report"):
        """The report as one self-contained HTML document, written to ``path`` if given.

        Scores with their meaning, notes, figures embedded as base64 PNG images and tables;
        no script, style sheet or image is loaded from elsewhere.

        Parameters
        ----------
        path : str or path-like, default=None
            Where to write the document (UTF-8).
        title : str, default="skmixsynth evaluation report"
            The document title.

        Returns
        -------
        html : str
            The document.

        Examples
        --------
        >>> from skmixsynth.metrics import EvaluationReport
        >>> page = EvaluationReport(scores={"quality": 0.9}).to_html()
        >>> page.startswith("<!DOCTYPE html>"), "quality" in page
        (True, True)
        """
        document = (
            "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
            f"<body>\n{self._html_body()}\n</body></html>\n"
        )
        if path is not None:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(document)
        return document


_CSS = (
    "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.9em}"
    "th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
    "td.num,table.data td{text-align:right;font-variant-numeric:tabular-nums}"
    "td.name{font-family:monospace}.note{color:#555}"
    "figure{margin:1em 0}img{max-width:100%}"
    "details{margin:0.6em 0}summary{cursor:pointer}"
)


def evaluate(
    real,
    synthetic,
    *,
    holdout=None,
    target=None,
    task=None,
    train=None,
    figures=True,
    random_state=0,
):
    """Evaluate a synthetic table against the real one: scores, tables and figures.

    Always computed: the SDMetrics-style quality (column shapes, column pair trends and
    their mean), the mixGAN marginal agreement (§5.1) and the detection score. With
    ``holdout`` (real rows the synthesizer did not see): the mixGAN correlation maintenance
    (§5.2). With ``target`` and ``holdout``: machine-learning efficacy, models trained on the
    synthetic rows and scored on the hold-out (and, for reference, trained on ``real``).
    With ``train`` (the synthesizer's training rows): the exact copy rate and the rare value
    copy rate (values held by fewer than 5 training rows: identifiers, rare categories), and
    with ``holdout`` too the distance-to-closest-record ratio. Identifier columns (see
    :func:`~skmixsynth._protection.looks_like_identifier`) count as the people they name: a
    copied training e-mail is a copied row.

    Every score is oriented so that greater is better and 1 is perfect where it is bounded:
    ``correlation_maintenance`` is ``1 - mean |E_real - E_fake|``, ``privacy_exact_copies``
    is ``1 - exact_copy_rate``, ``privacy_rare_values`` is ``1 - rare_value_copy_rate`` and
    ``privacy_dcr`` is ``min(1, dcr_ratio)``; the raw numbers are in the tables.

    The privacy checks end in a verdict (``info["privacy_verdict"]`` and a note, with the
    raw numbers): ``"leak"`` when the synthetic rows copy rows or rare values more often
    than the real hold-out rows do (by more than max(0.01, 3 standard errors of the
    difference)), when they carry a training identifier that unseen rows never carry, or
    when ``dcr_ratio < 0.5``; ``"safe"`` when no check finds a leak; ``"no baseline"`` when
    a rate is above 0 and there is no hold-out to compare it with. The ``privacy`` table
    holds each check's numbers and verdict, ``privacy_columns`` the rare values per column.

    Parameters
    ----------
    real : DataFrame
        The real table, usually the synthesizer's training rows. Column kinds are inferred
        from it.
    synthetic : DataFrame
        The synthetic table, same columns.
    holdout : DataFrame, default=None
        Real rows held out from the synthesizer's training, same columns.
    target : str, default=None
        Column predicted for the machine-learning efficacy (needs ``holdout``).
    task : {"classification", "regression"}, default=None
        Inferred from the kind of ``target`` when None.
    train : DataFrame, default=None
        The synthesizer's training rows, for the privacy checks (often ``real`` itself).
    figures : bool, default=True
        Draw the figures (skipped with a note when matplotlib is not installed).
    random_state : int, RandomState or None, default=0
        Seed of the models and of the subsampling.

    Returns
    -------
    report : EvaluationReport
        ``report.scores`` (name -> float), ``report.tables`` (name -> DataFrame),
        ``report.figures`` (name -> Figure) and ``report.notes``; ``print(report)``,
        ``report.to_html(path)`` and ``report.to_dict()`` render it.

    Examples
    --------
    >>> from skmixsynth.datasets import make_mixed
    >>> from skmixsynth.metrics import evaluate
    >>> data = make_mixed(300, random_state=0)
    >>> real, holdout = data.iloc[:200], data.iloc[200:]
    >>> fake = make_mixed(200, random_state=1)  # stands for a synthesizer's sample
    >>> report = evaluate(real, fake, holdout=holdout, target="plan", train=real)
    >>> list(report.scores)  # doctest: +NORMALIZE_WHITESPACE
    ['quality', 'column_shapes', 'column_pair_trends', 'marginal_agreement',
     'marginal_agreement_r2', 'detection', 'correlation_maintenance',
     'ml_efficacy_macro_f1', 'ml_efficacy_weighted_f1', 'privacy_exact_copies',
     'privacy_rare_values', 'privacy_dcr']
    >>> report.info["privacy_verdict"]
    'safe'
    >>> sorted(report.figures)  # doctest: +NORMALIZE_WHITESPACE
    ['association_difference', 'correlation_maintenance', 'distributions',
     'marginal_agreement']
    >>> report.scores["quality"] > 0.8
    True
    >>> evaluate(real, fake, figures=False).notes[0]
    'no holdout: correlation_maintenance skipped'
    """
    if not isinstance(figures, (bool, np.bool_)):
        raise TypeError(f"figures must be True or False; got {figures!r}.")
    extra = [
        (frame, name)
        for frame, name in ((holdout, "holdout"), (train, "train"))
        if frame is not None
    ]
    real, others, kinds = check_pair(real, synthetic, extra=extra)
    synthetic = others[0]
    rest = iter(others[1:])
    holdout = next(rest) if holdout is not None else None
    train = next(rest) if train is not None else None
    if target is not None and target not in kinds:
        raise ValueError(f"target {target!r} is not a column; the columns are {list(kinds)}.")
    if task is not None and target is None:
        raise ValueError("task is given without a target.")

    scores, tables, notes = {}, {}, []
    info = {
        "n_real": len(real),
        "n_synthetic": len(synthetic),
        "n_holdout": None if holdout is None else len(holdout),
        "n_train": None if train is None else len(train),
        "n_columns": len(kinds),
        "target": target,
        "task": None,
    }

    # fidelity: quality (the SDMetrics definitions, from the details computed once)
    shapes = column_shapes_details(real, synthetic)
    pairs = column_pair_trends_details(real, synthetic)
    shapes_score = _nanmean(shapes["score"].to_numpy())
    trends_score = _nanmean(pairs.loc[pairs["meets_threshold"], "score"].to_numpy())
    scores["quality"] = _nanmean([shapes_score, trends_score])
    scores["column_shapes"] = shapes_score
    scores["column_pair_trends"] = trends_score
    tables["column_shapes"] = shapes
    tables["column_pair_trends"] = pairs
    if len(kinds) < 2:
        notes.append("one column only: no column pairs, quality is the column shapes score")

    # fidelity: mixGAN §5.1 and detection
    points = marginal_agreement(real, synthetic)
    summary = marginal_agreement_summary(real, synthetic)
    scores["marginal_agreement"] = float(summary["score"])
    scores["marginal_agreement_r2"] = float(summary["r2_diagonal"])
    tables["marginal_agreement"] = points
    scores["detection"] = detection_score(real, synthetic, random_state=random_state)

    # fidelity: mixGAN §5.2
    errors = None
    if holdout is None:
        notes.append("no holdout: correlation_maintenance skipped")
    elif len(kinds) < 2:
        notes.append("correlation_maintenance skipped: it needs at least two columns")
    else:
        errors = correlation_maintenance(real, synthetic, holdout, random_state=random_state)
        gaps = (errors["e_real"] - errors["e_fake"]).abs().to_numpy(dtype=np.float64)
        scores["correlation_maintenance"] = (
            np.nan if np.all(np.isnan(gaps)) else 1.0 - float(np.nanmean(gaps))
        )
        tables["correlation_maintenance"] = errors

    # utility
    if target is not None and holdout is None:
        notes.append("ml_efficacy skipped: it needs holdout (the real rows to test on)")
    elif target is not None and len(kinds) < 2:
        notes.append("ml_efficacy skipped: no feature column besides the target")
    elif target is not None:
        _efficacy(real, synthetic, holdout, target, task, random_state, scores, tables, info)
    elif holdout is not None:
        notes.append("no target: ml_efficacy skipped")

    # privacy
    if train is None:
        notes.append("no train: privacy checks skipped")
    else:
        verdict = _privacy(train, synthetic, holdout, random_state, scores, tables, notes)
        info["privacy_verdict"] = verdict

    report_figures = {}
    if figures:
        report_figures = _figures(real, synthetic, points, pairs, errors, len(kinds), notes)
    return EvaluationReport(scores, tables, report_figures, notes, info)


def _rate_verdict(rate, n, baseline, n_baseline):
    """Leak when the rate exceeds the hold-out's by more than max(0.01, 3 standard errors)."""
    if baseline is None or np.isnan(baseline):
        return "safe" if rate == 0 else "no baseline"
    se = math.sqrt(rate * (1 - rate) / max(n, 1) + baseline * (1 - baseline) / max(n_baseline, 1))
    return "leak" if rate - baseline > max(_MIN_EXCESS, 3 * se) else "safe"


def _privacy(train, synthetic, holdout, random_state, scores, tables, notes):
    """Exact copies, rare values (per column) and DCR, each with its verdict; returns the
    overall verdict ("leak", "safe" or "no baseline")."""
    n_syn = len(synthetic)
    n_hold = None if holdout is None else len(holdout)
    copies = exact_copy_rate(train, synthetic)
    copies_hold = np.nan if holdout is None else exact_copy_rate(train, holdout)
    rare = rare_value_copy_rate(train, synthetic, min_count=PRIVACY_MIN_COUNT)
    columns = rare_value_copy_details(train, synthetic, min_count=PRIVACY_MIN_COUNT)
    columns = columns.drop(columns="n_values_copied").rename(columns={"copy_rate": "synthetic"})
    if holdout is None:
        rare_hold = np.nan
        columns["holdout"] = np.nan
    else:
        rare_hold = rare_value_copy_rate(train, holdout, min_count=PRIVACY_MIN_COUNT)
        hold_columns = rare_value_copy_details(train, holdout, min_count=PRIVACY_MIN_COUNT)
        columns["holdout"] = hold_columns["copy_rate"].to_numpy()
    column_verdicts = []
    for row in columns.itertuples(index=False):
        baseline = None if holdout is None else row.holdout
        if row.identifier and row.synthetic > 0 and not (baseline or 0) > 0:
            column_verdicts.append("leak")  # unseen real rows never carry these
        else:
            column_verdicts.append(_rate_verdict(row.synthetic, n_syn, baseline, n_hold))
    columns["verdict"] = column_verdicts
    verdicts = {
        "exact_copy_rate": _rate_verdict(copies, n_syn, copies_hold, n_hold),
        "rare_value_copy_rate": _rate_verdict(rare, n_syn, rare_hold, n_hold),
    }
    if "leak" in column_verdicts:
        verdicts["rare_value_copy_rate"] = "leak"
    scores["privacy_exact_copies"] = 1.0 - copies
    scores["privacy_rare_values"] = 1.0 - rare
    rows = [
        ("exact_copy_rate", copies, copies_hold, verdicts["exact_copy_rate"]),
        ("rare_value_copy_rate", rare, rare_hold, verdicts["rare_value_copy_rate"]),
    ]
    ratio = None
    if holdout is None:
        notes.append("privacy_dcr skipped: it needs holdout")
    else:
        ratio = dcr_ratio(train, synthetic, holdout, random_state=random_state)
        scores["privacy_dcr"] = min(1.0, ratio)
        verdicts["dcr_ratio"] = "leak" if ratio < _DCR_LEAK else "safe"
        rows.append(("dcr_ratio", ratio, 1.0, verdicts["dcr_ratio"]))
    tables["privacy"] = pd.DataFrame(rows, columns=["metric", "synthetic", "holdout", "verdict"])
    tables["privacy_columns"] = columns
    if "leak" in verdicts.values():
        verdict = "leak"
    elif all(v == "safe" for v in verdicts.values()):
        verdict = "safe"
    else:
        verdict = "no baseline"
    notes.append(_privacy_note(verdict, rows, columns, ratio, _identifier_columns(train, "auto")))
    return verdict


def _privacy_note(verdict, rows, columns, ratio, identifiers):
    """One line: the verdict and the raw numbers behind it."""

    def share(value):
        return "n/a" if value is None or np.isnan(value) else f"{value:.1%}"

    parts = []
    for metric, value, baseline, check in rows:
        if metric == "dcr_ratio":
            parts.append(f"dcr_ratio {value:.3f} (privacy_dcr is min(1, ratio)): {check}")
        else:
            label = "exact copies" if metric == "exact_copy_rate" else "rare values"
            parts.append(f"{label} {share(value)} of synthetic rows, hold-out "
                         f"{share(baseline)}: {check}")
    worst = columns.sort_values("synthetic", ascending=False, kind="stable").iloc[0]
    if worst["synthetic"] > 0:
        parts.append(f"most rare values in column {worst['column']!r} "
                     f"({share(worst['synthetic'])} of synthetic rows)")
    if identifiers:
        parts.append(f"identifier columns {identifiers}")
    return f"privacy verdict: {verdict.upper()} - " + "; ".join(parts)


def _efficacy(real, synthetic, holdout, target, task, random_state, scores, tables, info):
    """Train on synthetic (and, for reference, on real), test on the hold-out."""
    fake = ml_efficacy(synthetic, holdout, target=target, task=task, random_state=random_state)
    ceiling = ml_efficacy(real, holdout, target=target, task=task, random_state=random_state)
    info["task"] = fake["task"]
    keys = ("macro_f1", "weighted_f1") if fake["task"] == "classification" else ("r2",)
    for key in keys:
        scores[f"ml_efficacy_{key}"] = fake[key]
    rows = [
        (name, key, fake["per_estimator"][name][key], ceiling["per_estimator"][name][key])
        for name in fake["per_estimator"]
        for key in keys
    ]
    rows += [("mean", key, fake[key], ceiling[key]) for key in keys]
    tables["ml_efficacy"] = pd.DataFrame(
        rows, columns=["estimator", "metric", "trained_on_synthetic", "trained_on_real"]
    )


def _figures(real, synthetic, points, pairs, errors, n_columns, notes):
    """The figures, or none and a note when matplotlib is missing."""
    from .. import plotting

    try:
        plotting._require_matplotlib()
    except ImportError:
        notes.append(f"figures skipped: matplotlib is not installed ({plotting._INSTALL_HINT})")
        return {}
    out = {"marginal_agreement": plotting.plot_marginal_agreement(points=points)}
    if errors is not None:
        out["correlation_maintenance"] = plotting.plot_correlation_maintenance(errors=errors)
    out["distributions"] = plotting.plot_distributions(real, synthetic, max_columns=_MAX_COLUMNS)
    if n_columns > _MAX_COLUMNS:
        notes.append(f"the distributions figure shows the first {_MAX_COLUMNS} columns")
    if n_columns >= 2:
        out["association_difference"] = plotting.plot_association_difference(details=pairs)
    return out
