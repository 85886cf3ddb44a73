"""The evaluation report: every score, table and figure of one synthetic table, and its HTML.

The report is a surface, not a metric: :func:`evaluate` computes the scores with the public
functions of :mod:`skmixsynth.metrics`, draws the figures with those of
:mod:`skmixsynth.plotting`, and :class:`EvaluationReport` renders the result as text
(``print(report)``), JSON (``report.to_dict()``) or one self-contained HTML page
(``report.to_html(path)``, from the Jinja2 template ``skmixsynth/templates/report.html``:
``pip install "skmixsynth[report]"``).

``skmixsynth.metrics.evaluate`` and ``skmixsynth.metrics.EvaluationReport`` are these same
objects.
"""

from __future__ import annotations

import base64
import datetime
import io
import math
import numbers

import numpy as np
import pandas as pd

from ._protection import IdentifierColumn, identifier_columns
from ._validation import check_tables
from .metrics import (
    column_pair_trends_details,
    column_shapes_details,
    correlation_maintenance,
    correlation_maintenance_baseline,
    dcr_ratio,
    detection_score,
    exact_copy_rate,
    marginal_agreement,
    marginal_agreement_summary,
    ml_efficacy,
    rare_value_copy_details,
    rare_value_copy_rate,
)

__all__ = ["EvaluationReport", "evaluate", "format_number"]

_REPORT_HINT = 'pip install "skmixsynth[report]"'
# Rows of one table shown in the HTML page (all of them stay in report.tables).
MAX_HTML_ROWS = 50

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
    "history": (
        "The synthesizer's losses epoch by epoch (history_), one panel per training phase."
    ),
    "association_difference": (
        "|association_real - association_synthetic| for every pair of columns (Pearson's r "
        "or Cramer's V): 0 (light) means the pair's association is kept."
    ),
}

# Subplots of the distributions figure.
_MAX_COLUMNS = 24
_GREATER_IS_BETTER = "Greater is better for every score; 1 is perfect where bounded."
# correlation_maintenance: a column is weakly predicted when e_real >= _WEAK * e_null, and the
# report flags the score as compressed when the independence floor is at least _COMPRESSED.
_WEAK = 0.9
_COMPRESSED = 0.9


def _is_missing(value):
    return value is None or (isinstance(value, (float, np.floating)) and np.isnan(value))


def _jsonable(value):
    """A plain Python value for JSON: NaN -> None, numpy scalars unwrapped, containers
    converted element by element, others str."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if _is_missing(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        return None
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def format_number(value):
    """The one number format of the report (text, HTML scores and tables alike).

    Integers as they are (with thousands separators); other real numbers with four decimals,
    in scientific notation when their magnitude is below 0.0001 or at least 1e7; missing
    values (None, NaN) as ``"nan"``, infinities as ``"inf"``/``"-inf"``; anything else as
    ``str(value)``.

    Parameters
    ----------
    value : object

    Returns
    -------
    text : str

    Examples
    --------
    >>> from skmixsynth.report import format_number
    >>> format_number(0.912345), format_number(12000), format_number(3.2e-7)
    ('0.9123', '12,000', '3.2000e-07')
    >>> format_number(float("nan")), format_number(True), format_number("north")
    ('nan', 'True', 'north')
    """
    if isinstance(value, (bool, np.bool_)) or isinstance(value, str):
        return str(value)
    if _is_missing(value):
        return "nan"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value != 0 and (abs(value) < 1e-4 or abs(value) >= 1e7):
            return f"{value:.4e}"
        return f"{value:.4f}"
    return str(value)


def _nanmean(values):
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or np.all(np.isnan(values)):
        return np.nan
    return float(np.nanmean(values))


def _references(scores, info):
    """Per score, the number to read it beside (the ceiling, the raw ratio, the floor)."""
    out = {}
    for name in scores:
        if name.startswith("ml_efficacy_"):
            ceiling = info.get(f"{name}_ceiling")
            if ceiling is not None:
                out[name] = f"ceiling {format_number(ceiling)} (trained on real rows)"
        elif name == "privacy_dcr" and info.get("dcr_ratio") is not None:
            out[name] = f"raw DCR ratio {format_number(info['dcr_ratio'])}"
        elif name == "correlation_maintenance":
            floor = info.get("correlation_maintenance_floor")
            kept = info.get("correlation_maintenance_kept")
            if floor is not None:
                out[name] = f"independent columns about {format_number(floor)}"
            if floor is not None and kept is not None:
                out[name] += f", {kept:.0%} of the way from there to 1"
    return out


class EvaluationReport:
    """Scores, tables and figures of one synthetic table, as returned by :func:`evaluate`.

    Every score is oriented so that greater is better, and 1 is perfect where the score is
    bounded (see :data:`SCORE_INFO` in this module for each definition). Numbers are
    written with :func:`format_number` everywhere.

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
        Context: the sizes of the tables (``n_real``, ``n_columns``...), the target and task,
        the synthesizer and its parameters, the date, the identifier columns left out, and
        the numbers to read some scores beside (``ml_efficacy_*_ceiling``, ``dcr_ratio``,
        ``correlation_maintenance_floor``); see :func:`evaluate`.

    Attributes
    ----------
    scores, tables, figures, notes, info
        As given (copied into new dicts and lists).

    Examples
    --------
    >>> from skmixsynth.report import EvaluationReport
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
    def _sizes(self):
        """``[(table, rows, columns)]`` of the tables the report was computed on."""
        n_columns = self.info.get("n_columns")
        return [
            (name, self.info[f"n_{name}"], n_columns)
            for name in ("real", "synthetic", "holdout", "train")
            if self.info.get(f"n_{name}") is not None
        ]

    def _sizes_line(self):
        parts = [f"{name}: {format_number(rows)} rows" for name, rows, _ in self._sizes()]
        if self.info.get("n_columns") is not None:
            parts.append(f"{self.info['n_columns']} columns")
        if self.info.get("target") is not None:
            parts.append(f"target {self.info['target']!r} ({self.info.get('task')})")
        return ", ".join(parts)

    def __str__(self):
        lines = ["EvaluationReport"]
        if self.info.get("synthesizer"):
            lines.append(f"  synthesizer: {self.info['synthesizer']}")
        sizes = self._sizes_line()
        if sizes:
            lines.append(f"  {sizes}")
        lines.append(f"  {_GREATER_IS_BETTER}")
        if self.scores:
            references = _references(self.scores, self.info)
            width = max(len("score"), *(len(str(name)) for name in self.scores)) + 2
            lines += ["", f"  {'score':<{width}}{'value':<8}range"]
            for name, value in self.scores.items():
                bound = SCORE_INFO.get(name, ("",))[0]
                line = f"  {name!s:<{width}}{format_number(value):<8}{bound:<8}"
                lines.append(f"{line}{references.get(name, '')}".rstrip())
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
        >>> from skmixsynth.report import EvaluationReport
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
    def _context(self, title):
        """What the template shows, every number already formatted."""
        references = _references(self.scores, self.info)
        scores = [
            {
                "name": str(name),
                "value": format_number(value),
                "reference": references.get(name, ""),
                "range": SCORE_INFO.get(name, ("", ""))[0],
                "meaning": SCORE_INFO.get(name, ("", ""))[1],
            }
            for name, value in self.scores.items()
        ]
        sizes = [
            {"name": name, "rows": format_number(rows),
             "columns": "" if columns is None else format_number(columns)}
            for name, rows, columns in self._sizes()
        ]
        parameters = self.info.get("parameters") or {}
        figures = [_figure_context(name, fig) for name, fig in self.figures.items()]
        tables = [_table_context(name, table) for name, table in self.tables.items()]
        return {
            "title": title,
            "greater_is_better": _GREATER_IS_BETTER,
            "synthesizer": self.info.get("synthesizer"),
            "parameters": [(str(k), repr(v)) for k, v in parameters.items()],
            "date": self.info.get("date"),
            "sizes": sizes,
            "target": self.info.get("target"),
            "task": self.info.get("task"),
            "identifiers": list(self.info.get("identifier_columns") or []),
            "scores": scores,
            "notes": list(self.notes),
            "figures": figures,
            "tables": tables,
        }

    def _render(self, template, title):
        try:
            import jinja2
        except ImportError as exc:
            raise ImportError(
                "The HTML report needs Jinja2, an optional dependency; install it with "
                f"{_REPORT_HINT} (or pip install jinja2)."
            ) from exc
        env = jinja2.Environment(
            loader=jinja2.PackageLoader("skmixsynth", "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        return env.get_template(template).render(self._context(title))

    def _repr_html_(self):
        try:
            return self._render("report_body.html", "skmixsynth evaluation report")
        except ImportError:
            return None  # the notebook shows the text form instead

    def to_html(self, path=None, *, title="skmixsynth evaluation report"):
        """The report as one self-contained HTML document, written to ``path`` if given.

        A header (the synthesizer and its parameters, the date, the tables' sizes, the
        identifier columns left out), the scores with their meaning and the number to read
        them beside (the ML-efficacy ceiling, the raw DCR ratio, the correlation-maintenance
        floor), notes, figures embedded as base64 PNG images at their natural size (wide ones
        scroll rather than shrink) and tables (the first 50 rows of long ones); no script,
        style sheet or image is loaded from elsewhere. Rendered from the Jinja2 template
        ``skmixsynth/templates/report.html``.

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

        Raises
        ------
        ImportError
            When Jinja2 is not installed (``pip install "skmixsynth[report]"``).

        Examples
        --------
        >>> from skmixsynth.report import EvaluationReport
        >>> page = EvaluationReport(scores={"quality": 0.9}).to_html()
        >>> page.startswith("<!DOCTYPE html>"), "quality" in page
        (True, True)
        """
        document = self._render("report.html", title)
        if path is not None:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(document)
        return document


def _figure_context(name, fig):
    """The PNG of a figure (at 2x for sharp text on dense screens) and its CSS size: shown at
    the figure's own size in inches, so that its text keeps its point size."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=144, metadata={"Software": None})
    width, height = fig.get_size_inches()
    return {
        "name": str(name),
        "caption": FIGURE_INFO.get(name, ""),
        "src": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"),
        "width": round(float(width) * 96),
        "height": round(float(height) * 96),
    }


def _table_context(name, table):
    if name == "marginal_agreement" and len(table) > MAX_HTML_ROWS:
        # the bins and levels furthest from the diagonal, not the first columns' levels
        gap = (table["p_real"] - table["p_fake"]).abs()
        table = table.loc[gap.sort_values(ascending=False, kind="stable").index]
        order = "largest |p_real - p_fake| first"
    else:
        order = None
    shown = table.head(MAX_HTML_ROWS)
    rows = [[format_number(value) for value in row] for row in shown.itertuples(index=False)]
    numeric = [pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
               for dtype in shown.dtypes]
    return {
        "name": str(name),
        "caption": TABLE_INFO.get(name, ""),
        "columns": [str(c) for c in table.columns],
        "numeric": numeric,
        "rows": rows,
        "n_rows": len(table),
        "n_shown": len(shown),
        "order": order,
        "open": len(table) <= 30,
    }


def evaluate(
    real,
    synthetic,
    *,
    holdout=None,
    target=None,
    task=None,
    train=None,
    figures=True,
    synthesizer=None,
    identifiers="auto",
    random_state=0,
):
    """Evaluate a synthetic table against the real one: scores, tables and figures.

    Always computed: the SDMetrics-style quality (column shapes, column pair trends and
    their mean), the mixGAN marginal agreement (§5.1) and the detection score. With
    ``holdout`` (real rows the synthesizer did not see): the mixGAN correlation maintenance
    (§5.2), with its floor (:func:`~skmixsynth.metrics.correlation_maintenance_baseline`).
    With ``target`` and ``holdout``: machine-learning efficacy, models trained on the
    synthetic rows and scored on the hold-out, beside its ceiling (the same models trained on
    ``real``). With ``train`` (the synthesizer's training rows): the exact copy rate and the
    rare value copy rate (values held by fewer than 5 training rows: identifiers, rare
    categories), and with ``holdout`` too the distance-to-closest-record ratio.

    Identifier columns (an e-mail, a customer number) are left out of every fidelity score,
    figure and of the ML-efficacy features, with a note: a synthesizer gives them fresh
    values, meant not to look like the real ones, and as categorical columns of thousands of
    levels they would only slow the scores down. They stay in the privacy checks, where they
    count as the people they name: a copied training e-mail is a copied row.

    Every score is oriented so that greater is better and 1 is perfect where it is bounded:
    ``correlation_maintenance`` is ``1 - mean |E_real - E_fake|``, ``privacy_exact_copies``
    is ``1 - exact_copy_rate``, ``privacy_rare_values`` is ``1 - rare_value_copy_rate`` and
    ``privacy_dcr`` is ``min(1, dcr_ratio)``; the raw numbers are in the tables and in
    ``info``.

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
    synthesizer : fitted synthesizer, default=None
        The model that made ``synthetic``: the report's header names its class and
        parameters, its encoder says which columns are identifiers, and the figures add its
        training losses (:func:`~skmixsynth.plotting.plot_history`) when it records any.
    identifiers : "auto", list of str or None, default="auto"
        The identifier columns: ``"auto"`` takes those of ``synthesizer``'s encoder, or
        without one those that look like identifiers in ``real`` (almost every value
        distinct, see ``skmixsynth._protection.looks_like_identifier``); a list names them;
        ``None`` treats no column as an identifier.
    random_state : int, RandomState or None, default=0
        Seed of the models and of the subsampling.

    Returns
    -------
    report : EvaluationReport
        ``report.scores`` (name -> float), ``report.tables`` (name -> DataFrame),
        ``report.figures`` (name -> Figure), ``report.notes`` and ``report.info`` (the
        sizes, ``synthesizer`` and ``parameters``, ``date``, ``identifier_columns``,
        ``ml_efficacy_*_ceiling``, ``dcr_ratio``, ``correlation_maintenance_floor``,
        ``correlation_maintenance_kept`` and ``correlation_maintenance_weak_share``);
        ``print(report)``, ``report.to_html(path)`` and ``report.to_dict()`` render it.

    Notes
    -----
    ``correlation_maintenance`` is compressed towards 1 on tables whose columns hardly
    predict each other or whose numerical errors (MSEs on a min-max scale) are small numbers:
    independent marginals score about 0.95 on sonar's 60 columns. The report gives its
    floor, ``info["correlation_maintenance_floor"]`` (``1 - mean |e_real - e_null|``, about
    what a table keeping every column's distribution and no dependence scores; see
    :func:`~skmixsynth.metrics.correlation_maintenance_baseline`), and
    ``info["correlation_maintenance_kept"]``, ``(score - floor) / (1 - floor)``: 0 for
    independent columns, 1 for a table whose models predict as well as the real ones; a note
    flags the score when the floor is 0.9 or more.

    Examples
    --------
    >>> from skmixsynth.datasets import make_mixed
    >>> from skmixsynth.report import evaluate
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
    >>> report.info["ml_efficacy_macro_f1_ceiling"] > 0.4  # trained on the real rows
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
    real, others, kinds = check_tables(real, synthetic, extra=extra)
    synthetic = others[0]
    rest = iter(others[1:])
    holdout = next(rest) if holdout is not None else None
    train = next(rest) if train is not None else None
    if target is not None and target not in kinds:
        raise ValueError(f"target {target!r} is not a column; the columns are {list(kinds)}.")
    if task is not None and target is None:
        raise ValueError("task is given without a target.")
    id_columns = _identifiers(identifiers, synthesizer, real)

    scores, tables, notes = {}, {}, []
    info = {
        "n_real": len(real),
        "n_synthetic": len(synthetic),
        "n_holdout": None if holdout is None else len(holdout),
        "n_train": None if train is None else len(train),
        "n_columns": len(kinds),
        "target": target,
        "task": None,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "identifier_columns": list(id_columns),
    }
    if synthesizer is not None:
        info["synthesizer"] = type(synthesizer).__name__
        if hasattr(synthesizer, "get_params"):
            info["parameters"] = dict(synthesizer.get_params(deep=False))

    # fidelity is measured on the columns a synthesizer models: identifiers left out
    kept = [c for c in kinds if c not in set(id_columns) or c == target]
    if len(kept) < len(kinds):
        left_out = [c for c in kinds if c not in kept]
        notes.append(
            f"identifier columns {left_out} left out of the fidelity scores, the figures and "
            "the ML-efficacy features (fresh values by design); they count in the privacy "
            "checks"
        )
        real_f, synthetic_f = real[kept], synthetic[kept]
        holdout_f = None if holdout is None else holdout[kept]
    else:
        real_f, synthetic_f, holdout_f = real, synthetic, holdout
    n_kept = len(kept)

    # fidelity: quality (the SDMetrics definitions, from the details computed once)
    shapes = column_shapes_details(real_f, synthetic_f)
    pairs = column_pair_trends_details(real_f, synthetic_f)
    shapes_score = _nanmean(shapes["score"].to_numpy())
    trends_score = _nanmean(pairs.loc[pairs["meets_threshold"], "score"].to_numpy())
    scores["quality"] = _nanmean([shapes_score, trends_score])
    scores["column_shapes"] = shapes_score
    scores["column_pair_trends"] = trends_score
    tables["column_shapes"] = shapes
    tables["column_pair_trends"] = pairs
    if n_kept < 2:
        notes.append("one column only: no column pairs, quality is the column shapes score")

    # fidelity: mixGAN §5.1 and detection
    points = marginal_agreement(real_f, synthetic_f)
    summary = marginal_agreement_summary(real_f, synthetic_f)
    scores["marginal_agreement"] = float(summary["score"])
    scores["marginal_agreement_r2"] = float(summary["r2_diagonal"])
    tables["marginal_agreement"] = points
    scores["detection"] = detection_score(real_f, synthetic_f, random_state=random_state)

    # fidelity: mixGAN §5.2, with its floor
    errors = None
    if holdout is None:
        notes.append("no holdout: correlation_maintenance skipped")
    elif n_kept < 2:
        notes.append("correlation_maintenance skipped: it needs at least two columns")
    else:
        errors = correlation_maintenance(real_f, synthetic_f, holdout_f, random_state=random_state)
        gaps = (errors["e_real"] - errors["e_fake"]).abs().to_numpy(dtype=np.float64)
        scores["correlation_maintenance"] = (
            np.nan if np.all(np.isnan(gaps)) else 1.0 - float(np.nanmean(gaps))
        )
        baseline = correlation_maintenance_baseline(real_f, holdout_f)
        errors = errors.assign(e_null=baseline["e_null"].to_numpy())
        tables["correlation_maintenance"] = errors
        _compression(errors, scores["correlation_maintenance"], info, notes)

    # utility
    if target is not None and holdout is None:
        notes.append("ml_efficacy skipped: it needs holdout (the real rows to test on)")
    elif target is not None and n_kept < 2:
        notes.append("ml_efficacy skipped: no feature column besides the target")
    elif target is not None:
        _efficacy(real_f, synthetic_f, holdout_f, target, task, random_state, scores, tables, info)
    elif holdout is not None:
        notes.append("no target: ml_efficacy skipped")

    # privacy: on every column, identifiers included
    if train is None:
        notes.append("no train: privacy checks skipped")
    else:
        verdict = _privacy(train, synthetic, holdout, random_state, scores, tables, notes,
                           id_columns, info)
        info["privacy_verdict"] = verdict

    report_figures = {}
    if figures:
        report_figures = _figures(real_f, synthetic_f, points, pairs, errors, n_kept, notes)
    if report_figures and getattr(synthesizer, "history_", None):
        from .plotting import plot_history

        try:
            report_figures["history"] = plot_history(synthesizer)
        except ValueError:  # a model that records no loss (IndependentSynthesizer)
            pass
    return EvaluationReport(scores, tables, report_figures, notes, info)


def _identifiers(identifiers, synthesizer, real):
    """The identifier columns of the evaluation, as a list in ``real``'s column order: with
    ``"auto"``, those the synthesizer's encoder treated as identifiers when it has one."""
    encoder = getattr(synthesizer, "encoder_", None)
    if (isinstance(identifiers, str) and identifiers == "auto" and encoder is not None
            and hasattr(encoder, "column_encoders_")):
        named = {col.name_ for col in encoder.column_encoders_
                 if isinstance(col, IdentifierColumn)}
        return [c for c in real.columns if c in named]
    return identifier_columns(real, identifiers, table="real")


def _compression(errors, score, info, notes):
    """The independence floor of correlation_maintenance, how far the score is from it to 1,
    and the share of columns the others hardly predict."""
    valid = errors.dropna(subset=["e_real", "e_null"])
    if valid.empty:
        return
    floor = 1.0 - float((valid["e_real"] - valid["e_null"]).abs().mean())
    weak = valid["e_real"] >= _WEAK * valid["e_null"]
    info["correlation_maintenance_floor"] = floor
    info["correlation_maintenance_weak_share"] = float(weak.mean())
    if floor < 1 and np.isfinite(score):
        info["correlation_maintenance_kept"] = (score - floor) / (1.0 - floor)
    if floor >= _COMPRESSED:
        kept = info.get("correlation_maintenance_kept")
        where = "" if kept is None else f"; this table is {kept:.0%} of the way from it to 1"
        notes.append(
            f"correlation_maintenance is compressed on this table: a table keeping every "
            f"column's distribution and no dependence would score about {format_number(floor)}"
            f"{where} ({int(weak.sum())} of {len(valid)} columns are hardly predicted by the "
            "others, and the scaled errors of numerical columns are small numbers)"
        )


def _rate_verdict(rate, n, baseline, n_baseline):
    """Leak when the rate exceeds the hold-out's by more than max(0.01, 3 standard errors)."""
    if baseline is None or np.isnan(baseline):
        return "safe" if rate == 0 else "no baseline"
    se = math.sqrt(rate * (1 - rate) / max(n, 1) + baseline * (1 - baseline) / max(n_baseline, 1))
    return "leak" if rate - baseline > max(_MIN_EXCESS, 3 * se) else "safe"


def _privacy(train, synthetic, holdout, random_state, scores, tables, notes, identifiers,
             info):
    """Exact copies, rare values (per column) and DCR, each with its verdict; returns the
    overall verdict ("leak", "safe" or "no baseline")."""
    n_syn = len(synthetic)
    n_hold = None if holdout is None else len(holdout)
    copies = exact_copy_rate(train, synthetic, identifiers=identifiers)
    copies_hold = (np.nan if holdout is None
                   else exact_copy_rate(train, holdout, identifiers=identifiers))
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
        ratio = dcr_ratio(train, synthetic, holdout, random_state=random_state,
                          identifiers=identifiers)
        scores["privacy_dcr"] = min(1.0, ratio)
        info["dcr_ratio"] = float(ratio)
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
    notes.append(_privacy_note(verdict, rows, columns, ratio, identifiers))
    return verdict


def _privacy_note(verdict, rows, columns, ratio, identifiers):
    """One line: the verdict and the raw numbers behind it."""

    def share(value):
        return "n/a" if value is None or np.isnan(value) else f"{value:.1%}"


    parts = []
    for metric, value, baseline, check in rows:
        if metric == "dcr_ratio":
            parts.append(
                f"dcr_ratio {format_number(value)} (privacy_dcr is min(1, ratio)): {check}"
            )
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
    """Train on synthetic and, for the ceiling, on real; test on the hold-out."""
    fake = ml_efficacy(synthetic, holdout, target=target, task=task, random_state=random_state)
    ceiling = ml_efficacy(real, holdout, target=target, task=task, random_state=random_state)
    info["task"] = fake["task"]
    keys = ("macro_f1", "weighted_f1") if fake["task"] == "classification" else ("r2",)
    for key in keys:
        scores[f"ml_efficacy_{key}"] = fake[key]
        info[f"ml_efficacy_{key}_ceiling"] = ceiling[key]
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
    from . import plotting

    try:
        out = {"marginal_agreement": plotting.plot_marginal_agreement(points=points)}
    except ImportError as exc:
        notes.append(f"figures skipped: {exc}")
        return {}
    if errors is not None:
        out["correlation_maintenance"] = plotting.plot_correlation_maintenance(errors=errors)
    out["distributions"] = plotting.plot_distributions(real, synthetic, max_columns=_MAX_COLUMNS)
    if n_columns > _MAX_COLUMNS:
        notes.append(f"the distributions figure shows the first {_MAX_COLUMNS} columns")
    if n_columns >= 2:
        out["association_difference"] = plotting.plot_association_difference(details=pairs)
    return out
