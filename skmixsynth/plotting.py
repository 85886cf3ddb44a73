"""Diagrams comparing a synthetic table with the real one (matplotlib, optional).

- :func:`plot_marginal_agreement`: the mixGAN paper's Fig. 3, paired histogram points
  ``(P_real, P_fake)`` of every numerical bin and category, on the diagonal when every
  single-column distribution is kept (§5.1).
- :func:`plot_correlation_maintenance`: the mixGAN paper's Fig. 4, paired hold-out errors
  ``(E_real, E_fake)`` of models predicting each column from the others, on the diagonal when
  the dependencies between columns are kept (§5.2).
- :func:`plot_distributions`: per-column overlays of the real and synthetic marginals.
- :func:`plot_association_difference`: a heat map of how much each pairwise association
  (Pearson's r or Cramér's V) changes from the real to the synthetic table.
- :func:`plot_feature_contributions`: the GTCoder paper's Fig. 4, each feature's share of the
  [CLS] attention of a fitted :class:`~skmixsynth.GTCoderSynthesizer`.
- :func:`plot_history`: the losses of a fit, epoch by epoch (``history_``), one panel per
  training phase.

matplotlib is an optional dependency: ``pip install "skmixsynth[plot]"``. Every function
returns a :class:`matplotlib.figure.Figure` and never calls ``plt.show()``. New figures are
created without :mod:`matplotlib.pyplot` (they are not registered with it, so nothing needs
closing): display one by returning it in a notebook or save it with ``fig.savefig(path)``.
Pass ``ax=`` (for instance from ``plt.subplots()``) to draw into a figure of your own.

Every function accepts a dict ``{name: synthetic table}`` in place of one synthetic table and
then draws one panel per table with shared scales, so that, for instance, "MixGAN versus the
best peer" fits one figure.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._validation import check_tables, is_numeric_kind, joint_codes
from ._validation import kind_values as numeric_values
from .metrics import column_pair_trends_details, correlation_maintenance, marginal_agreement

__all__ = [
    "heatmap_cells",
    "plot_association_difference",
    "plot_correlation_maintenance",
    "plot_distributions",
    "plot_feature_contributions",
    "plot_history",
    "plot_marginal_agreement",
]

_INSTALL_HINT = 'pip install "skmixsynth[plot]"'
# (marker, colour, size, legend label) of each group of points in the mixGAN diagrams.
_CATEGORICAL_STYLE = ("o", "tab:blue", 30, "categorical level")
_NUMERICAL_STYLE = ("*", "tab:orange", 90, "numerical bin")
_MISSING_STYLE = ("D", "tab:green", 26, "numerical missing rate")
_REAL_COLOUR = "0.45"
_SYNTHETIC_COLOURS = ("tab:orange", "tab:blue", "tab:green", "tab:red", "tab:purple", "tab:brown")
_PANEL_SIZE = 4.4
# Legibility at any number of columns: no text below _MIN_FONT points; a heat-map cell is at
# least _MIN_CELL inches (one 7-point label per row and column) until the map would pass
# _MAX_MAP inches, past which only every k-th label is written; the correlation-maintenance
# diagram names at most _MAX_POINT_LABELS columns, those furthest from its diagonal.
_MIN_FONT = 7
_MIN_CELL = 0.14
_MAX_MAP = 20.0
_MAX_POINT_LABELS = 12


def _require_matplotlib():
    """Import matplotlib's ``Figure`` or raise an ImportError that says how to install it."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "skmixsynth.plotting needs matplotlib, an optional dependency; install it with "
            f"{_INSTALL_HINT} (or pip install matplotlib)."
        ) from exc
    return Figure


def _named_tables(synthetic, name="synthetic"):
    """``[(name, table)]`` from one table or a dict ``{name: table}``."""
    if isinstance(synthetic, Mapping):
        if not synthetic:
            raise ValueError(f"{name} is an empty dict; give at least one table.")
        return [(str(key), value) for key, value in synthetic.items()]
    return [(name, synthetic)]


def _panel_axes(ax, n_panels, *, width=_PANEL_SIZE, height=_PANEL_SIZE):
    """The figure and one Axes per panel: new ones in a row, or the caller's ``ax``."""
    Figure = _require_matplotlib()
    if ax is None:
        fig = Figure(figsize=(width * n_panels, height), layout="constrained")
        axes = list(fig.subplots(1, n_panels, squeeze=False)[0])
        return fig, axes
    axes = list(np.ravel(ax)) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
    if len(axes) != n_panels:
        raise ValueError(
            f"ax must hold one Axes per synthetic table: {n_panels} needed, got {len(axes)}."
        )
    return axes[0].figure, axes


def _check_table(table, required, name):
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{name} must be a DataFrame; got {type(table).__name__}.")
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise ValueError(f"{name} lacks the columns {missing}; its columns are {list(table)}.")
    return table


def _precomputed_or_computed(precomputed, arg_name, required, real, synthetic, compute):
    """``[(name, table)]`` from the precomputed table(s), or computed from the data."""
    if precomputed is not None:
        if synthetic is not None:
            raise ValueError(
                f"Pass either the data (real, synthetic, ...) or {arg_name}=, not both."
            )
        return [
            (name, _check_table(table, required, arg_name))
            for name, table in _named_tables(precomputed)
        ]
    if real is None or synthetic is None:
        raise ValueError(f"Pass the real and synthetic tables, or {arg_name}=.")
    return [(name, compute(frame)) for name, frame in _named_tables(synthetic)]


def _diagonal_panel(ax, groups, low, high, x_label, y_label):
    """Scatter the groups ``[(x, y, style)]``, draw the diagonal, equal axes, legend."""
    ax.plot(
        [low, high],
        [low, high],
        ls="--",
        lw=1.0,
        color="0.35",
        zorder=1,
        label="diagonal (real = synthetic)",
        gid="diagonal",
    )
    for x, y, (marker, colour, size, label) in groups:
        if len(x):
            ax.scatter(
                x,
                y,
                marker=marker,
                s=size,
                c=colour,
                alpha=0.75,
                edgecolors="none",
                label=f"{label} ({len(x)})",
                zorder=2,
            )
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.grid(True, lw=0.4, alpha=0.4)
    ax.legend(loc="upper left", fontsize=_MIN_FONT, framealpha=0.85)


def _summary_box(ax, text):
    ax.text(
        0.97,
        0.03,
        text,
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize="small",
        bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "edgecolor": "0.7"},
    )


def _limits(values):
    """Shared square limits for non-negative values, with a small margin."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    high = float(values.max()) if values.size else 0.0
    high = high * 1.05 if high > 0 else 1.0
    return -0.02 * high, high


def _titles(fig, axes, names, title, default):
    if len(axes) == 1:
        axes[0].set_title(default if title is None else title, fontsize="medium")
        return
    for ax, name in zip(axes, names, strict=True):
        ax.set_title(name, fontsize="medium")
    fig.suptitle(default if title is None else title)


# ------------------------------------------------------------------------------------------
# mixGAN Fig. 3


def _agreement_summary(points):
    """Mean over columns of the mean |p_real - p_fake|, and R² of the points to the diagonal.

    The definitions of :func:`skmixsynth.metrics.marginal_agreement_summary`, from points.
    """
    points = points.dropna(subset=["p_real", "p_fake"])
    if points.empty:
        return np.nan, np.nan
    gap = (points["p_real"] - points["p_fake"]).abs()
    mean_abs_diff = float(gap.groupby(points["column"], sort=False).mean().mean())
    p_real = points["p_real"].to_numpy(dtype=np.float64)
    p_fake = points["p_fake"].to_numpy(dtype=np.float64)
    total = float(((p_real - p_real.mean()) ** 2).sum())
    residual = float(((p_fake - p_real) ** 2).sum())
    if total > 0:
        r2 = 1.0 - residual / total
    else:
        r2 = 1.0 if residual == 0 else -np.inf
    return mean_abs_diff, float(r2)


def _agreement_groups(points):
    points = points.dropna(subset=["p_real", "p_fake"])
    categorical = points["kind"] != "numerical"
    missing = ~categorical & points["level"].isna()
    numerical = ~categorical & ~missing
    return [
        (points.loc[mask, "p_real"].to_numpy(), points.loc[mask, "p_fake"].to_numpy(), style)
        for mask, style in (
            (categorical, _CATEGORICAL_STYLE),
            (numerical, _NUMERICAL_STYLE),
            (missing, _MISSING_STYLE),
        )
    ]


def plot_marginal_agreement(
    real=None, synthetic=None, *, points=None, n_bins=10, ax=None, title=None
):
    """Paired histogram points ``(P_real, P_fake)`` of every column (mixGAN Fig. 3).

    One point per category of each categorical column (circles) and per bin of each
    numerical or datetime column (stars; ``n_bins`` equal bins of the real min-max range, see
    :func:`skmixsynth.metrics.marginal_agreement`); a numerical column with missing values
    adds a point comparing the missing rates (diamonds). The points lie on the dashed
    diagonal when the synthetic table keeps every single-column distribution. A box gives
    the mean ``|P_real - P_fake|`` (averaged per column, lower is better) and the R² of the
    points to the diagonal (1 = on it); see :func:`skmixsynth.metrics.marginal_agreement_summary`.

    Parameters
    ----------
    real : DataFrame, default=None
        The real table. Not needed with ``points``.
    synthetic : DataFrame or dict of {str: DataFrame}, default=None
        The synthetic table, or several by name (one panel each, same scales).
    points : DataFrame or dict of {str: DataFrame}, default=None
        The output of :func:`~skmixsynth.metrics.marginal_agreement` (or a dict of them), to
        draw without recomputing. Pass either ``points`` or ``real`` and ``synthetic``.
    n_bins : int, default=10
        Bins of each numerical column (10 in the paper); ignored with ``points``.
    ax : Axes or sequence of Axes, default=None
        Where to draw, one Axes per synthetic table; a new figure when None.
    title : str, default=None
        Title of the panel (of the figure with several panels).

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from skmixsynth.datasets import make_mixed
    >>> from skmixsynth.plotting import plot_marginal_agreement
    >>> real = make_mixed(300, random_state=0)
    >>> fake = make_mixed(300, random_state=1)
    >>> fig = plot_marginal_agreement(real, fake)
    >>> type(fig).__name__
    'Figure'
    >>> fig = plot_marginal_agreement(real, {"other draw": fake, "copy": real})
    >>> len(fig.axes)
    2
    """
    _require_matplotlib()  # before any computation
    panels = _precomputed_or_computed(
        points,
        "points",
        ["column", "kind", "level", "p_real", "p_fake"],
        real,
        synthetic,
        lambda frame: marginal_agreement(real, frame, n_bins=n_bins),
    )
    fig, axes = _panel_axes(ax, len(panels))
    low, high = _limits(np.concatenate([np.r_[t["p_real"], t["p_fake"]] for _, t in panels]))
    for axis, (_, table) in zip(axes, panels, strict=True):
        _diagonal_panel(axis, _agreement_groups(table), low, high, "P_real", "P_fake")
        mean_abs_diff, r2 = _agreement_summary(table)
        _summary_box(
            axis, f"mean |P_real - P_fake| = {mean_abs_diff:.4f}\nR² to diagonal = {r2:.3f}"
        )
    _titles(fig, axes, [name for name, _ in panels], title, "Marginal agreement (mixGAN Fig. 3)")
    return fig


# ------------------------------------------------------------------------------------------
# mixGAN Fig. 4


def _spaced_labels(axis, x, y, priority):
    """Indices of the points to name: all of them up to _MAX_POINT_LABELS points, else at
    most that many, by decreasing priority, whose labels (about 7 points high and 50 wide, up
    and right of the point) do not overlap."""
    if len(x) <= _MAX_POINT_LABELS:
        return list(range(len(x)))
    points = axis.transData.transform(np.column_stack([x, y])) * 72.0 / axis.figure.dpi
    placed = []
    for i in np.argsort(-priority, kind="stable"):
        if len(placed) == _MAX_POINT_LABELS:
            break
        if not np.all(np.isfinite(points[i])):
            continue
        if all(abs(points[i, 0] - points[j, 0]) > 50 or abs(points[i, 1] - points[j, 1]) > 9
               for j in placed):
            placed.append(i)
    return sorted(placed)


def plot_correlation_maintenance(
    real=None,
    synthetic=None,
    holdout=None,
    *,
    errors=None,
    estimator=None,
    random_state=0,
    annotate=True,
    scale="auto",
    ax=None,
    title=None,
):
    """Paired hold-out errors ``(E_real, E_fake)`` of every column (mixGAN Fig. 4).

    For each column, a model predicting it from the other columns is trained on the real
    rows (``E_real``) and on the synthetic rows (``E_fake``), both scored on the real hold-out
    (see :func:`skmixsynth.metrics.correlation_maintenance`): mean squared error on the real
    min-max scale for numerical columns (stars), error rate for categorical ones (circles).
    The points lie on the dashed diagonal when the synthetic table keeps the dependencies
    between columns; above it, the synthetic rows teach less about that column than real
    ones. A box gives the mean ``|E_real - E_fake|`` (lower is better).

    When ``errors`` has an ``e_null`` column (from
    :func:`~skmixsynth.metrics.correlation_maintenance_baseline`, as in the evaluation
    report), grey crosses ``(E_real, E_null)`` show where a table keeping every column's
    distribution and no dependence would sit, and the box gives its mean gap and the share
    of columns the others hardly predict (``E_real >= 0.9 E_null``): when the crosses hug
    the diagonal, the score is compressed towards 1 whatever the synthesizer keeps.

    Parameters
    ----------
    real, holdout : DataFrame, default=None
        The synthesizer's real training rows and real rows held out from it. Not needed with
        ``errors``.
    synthetic : DataFrame or dict of {str: DataFrame}, default=None
        The synthetic table, or several by name (one panel each, same scales).
    errors : DataFrame or dict of {str: DataFrame}, default=None
        The output of :func:`~skmixsynth.metrics.correlation_maintenance` (or a dict of
        them), to draw without refitting the models.
    estimator : None, (regressor, classifier) or callable, default=None
        Passed to :func:`~skmixsynth.metrics.correlation_maintenance`.
    random_state : int, RandomState or None, default=0
        Passed to :func:`~skmixsynth.metrics.correlation_maintenance`.
    annotate : bool, default=True
        Write the column name next to the points: every one up to 12 columns, else at most
        12, those furthest from the diagonal whose labels do not overlap (the box says how
        many are named).
    scale : {"auto", "linear", "log"}, default="auto"
        Scale of both axes. ``"auto"`` is logarithmic when the largest error is more than 30
        times the tenth percentile of the errors (error rates of categorical columns beside
        the small scaled MSEs of numerical ones, which a linear scale piles up at the
        origin), else linear.
        Errors of 0 are drawn at the lower limit of a logarithmic scale.
    ax : Axes or sequence of Axes, default=None
        Where to draw, one Axes per synthetic table; a new figure when None.
    title : str, default=None
        Title of the panel (of the figure with several panels).

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from skmixsynth.datasets import make_mixed
    >>> from skmixsynth.metrics import correlation_maintenance
    >>> from skmixsynth.plotting import plot_correlation_maintenance
    >>> data = make_mixed(600, random_state=0)
    >>> real, holdout = data.iloc[:300], data.iloc[300:]
    >>> fake = make_mixed(300, random_state=1)
    >>> errors = correlation_maintenance(real, fake, holdout)
    >>> fig = plot_correlation_maintenance(errors=errors)
    >>> type(fig).__name__
    'Figure'
    """
    _require_matplotlib()  # before any computation
    if errors is None and synthetic is not None and holdout is None:
        raise ValueError("plot_correlation_maintenance needs the holdout table (or errors=).")
    panels = _precomputed_or_computed(
        errors,
        "errors",
        ["column", "kind", "e_real", "e_fake"],
        real,
        synthetic,
        lambda frame: correlation_maintenance(
            real, frame, holdout, estimator=estimator, random_state=random_state
        ),
    )
    fig, axes = _panel_axes(ax, len(panels))
    if scale not in ("auto", "linear", "log"):
        raise ValueError(f"scale must be 'auto', 'linear' or 'log'; got {scale!r}.")
    values = np.concatenate(
        [np.r_[t["e_real"], t["e_fake"], t["e_null"] if "e_null" in t else []] for _, t in panels]
    ).astype(np.float64)
    positive = values[np.isfinite(values) & (values > 0)]
    if scale == "auto":
        spread = positive.size and positive.max() > 30 * np.quantile(positive, 0.1)
        scale = "log" if spread else "linear"
    if scale == "log" and positive.size:
        low, high = positive.min() / 1.5, positive.max() * 1.5
    else:
        scale = "linear"
        low, high = _limits(values)
    for axis, (_, table) in zip(axes, panels, strict=True):
        table = raw = table.dropna(subset=["e_real", "e_fake"])
        if scale == "log":
            axis.set_xscale("log")
            axis.set_yscale("log")
            axis.tick_params(which="minor", labelsize=_MIN_FONT)
            clipped = {c: table[c].clip(lower=low) for c in ("e_real", "e_fake", "e_null")
                       if c in table}
            table = table.assign(**clipped)
        numerical = (table["kind"] == "numerical").to_numpy()
        groups = [
            (
                table.loc[mask, "e_real"].to_numpy(),
                table.loc[mask, "e_fake"].to_numpy(),
                (style[0], style[1], style[2], label),
            )
            for mask, style, label in (
                (~numerical, _CATEGORICAL_STYLE, "categorical (error rate)"),
                (numerical, _NUMERICAL_STYLE, "numerical (scaled MSE)"),
            )
        ]
        _diagonal_panel(
            axis,
            groups,
            low,
            high,
            "E_real (trained on real rows)",
            "E_fake (trained on synthetic rows)",
        )
        if "e_null" in table.columns:
            # where a table keeping every column but no dependence would sit
            floor = table.dropna(subset=["e_null"])
            axis.scatter(floor["e_real"], floor["e_null"], marker="x", s=22, c="0.55",
                         linewidths=0.8, zorder=1.5,
                         label=f"independent columns ({len(floor)})")
            axis.legend(loc="upper left", fontsize=_MIN_FONT, framealpha=0.85)
        gaps = (raw["e_real"] - raw["e_fake"]).abs().to_numpy(dtype=np.float64)
        if annotate:
            # at most _MAX_POINT_LABELS names, those furthest from the diagonal
            named = _spaced_labels(axis, table["e_real"].to_numpy(dtype=np.float64),
                                   table["e_fake"].to_numpy(dtype=np.float64), gaps)
            for i in named:
                axis.annotate(
                    str(table["column"].iloc[i]),
                    (table["e_real"].iloc[i], table["e_fake"].iloc[i]),
                    xytext=(3, 3),
                    textcoords="offset points",
                    fontsize=_MIN_FONT,
                    color="0.2",
                )
        gap = float(gaps.mean()) if gaps.size else np.nan
        text = f"mean |E_real - E_fake| = {gap:.4f}"
        if "e_null" in raw.columns and raw["e_null"].notna().any():
            floor_gap = float((raw["e_real"] - raw["e_null"]).abs().mean())
            weak = float((raw["e_real"] >= 0.9 * raw["e_null"]).mean())
            text += (f"\nindependent columns: mean |E_real - E_null| = {floor_gap:.4f}"
                     f"\n{weak:.0%} of columns weakly predicted")
        if annotate and len(named) < len(table):
            text += f"\n{len(named)} of {len(table)} columns named"
        _summary_box(axis, text)
    _titles(
        fig, axes, [name for name, _ in panels], title, "Correlation maintenance (mixGAN Fig. 4)"
    )
    return fig


# ------------------------------------------------------------------------------------------
# Per-column distributions


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def _level_label(level, width=18):
    if isinstance(level, float) and np.isnan(level):
        return "(missing)"
    text = str(level)
    return text if len(text) <= width else text[: width - 1] + "…"


def _draw_numerical(ax, column, kind, frames, names, n_bins):
    """Step histograms on bins of the real range, as shares of each table's present rows."""
    values = [numeric_values(frame[column], kind, column=column) for frame in frames]
    present = [v[~np.isnan(v)] for v in values]
    if present[0].size == 0:
        ax.text(0.5, 0.5, "no real values", ha="center", va="center", transform=ax.transAxes)
        return
    low, high = present[0].min(), present[0].max()
    if kind != "datetime" and np.array_equal(present[0], np.round(present[0])) and high > low:
        # integer values (counts, ages): bins of whole units centred on the integers, or the
        # histogram aliases into alternating tall and short bars.
        width = max(1.0, math.ceil((high - low + 1) / n_bins))
        edges = low - 0.5 + width * np.arange(math.ceil((high - low + 1) / width) + 1)
    else:
        edges = np.histogram_bin_edges(present[0], bins=n_bins)
    x_edges = edges
    if kind == "datetime":
        from matplotlib import dates

        x_edges = dates.date2num(np.round(edges).astype(np.int64).astype("datetime64[ns]"))
        locator = dates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))
    outside = []
    for i, (name, vals) in enumerate(zip(names, present, strict=True)):
        if vals.size == 0:
            continue
        inside = (vals >= edges[0]) & (vals <= edges[-1])
        counts = np.histogram(vals[inside], bins=edges)[0] / vals.size
        if i == 0:
            ax.stairs(counts, x_edges, fill=True, color=_REAL_COLOUR, alpha=0.35, label=name)
        else:
            colour = _SYNTHETIC_COLOURS[(i - 1) % len(_SYNTHETIC_COLOURS)]
            ax.stairs(counts, x_edges, color=colour, lw=1.5, label=name)
            if not inside.all():
                outside.append(f"{name}: {1 - inside.mean():.1%}")
    if outside:
        ax.text(
            0.98,
            0.97,
            "outside real range\n" + "\n".join(outside),
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=_MIN_FONT,
            color="0.25",
        )
    ax.set_ylabel("share of rows", fontsize="small")


def _draw_categorical(ax, column, frames, names, max_levels):
    """Grouped horizontal bars of the level frequencies; rare levels pooled as "other"."""
    codes, levels = joint_codes(*(frame[column] for frame in frames))
    shares = np.array([np.bincount(c, minlength=len(levels)) / max(c.size, 1) for c in codes])
    order = np.lexsort((np.arange(len(levels)), -shares.max(axis=0)))
    shown = order[:max_levels]
    labels = [_level_label(levels[i]) for i in shown]
    heights = shares[:, shown]
    if len(order) > max_levels:
        labels.append(f"(other {len(order) - max_levels})")
        heights = np.column_stack([heights, shares[:, order[max_levels:]].sum(axis=1)])
    n_tables = len(frames)
    width = 0.8 / n_tables
    positions = np.arange(len(labels))
    for i, name in enumerate(names):
        colour = _REAL_COLOUR if i == 0 else _SYNTHETIC_COLOURS[(i - 1) % len(_SYNTHETIC_COLOURS)]
        ax.barh(
            positions - 0.4 + width * (i + 0.5),
            heights[i],
            height=width,
            color=colour,
            alpha=0.6 if i == 0 else 0.85,
            label=name,
        )
    ax.set_yticks(positions, labels, fontsize=_MIN_FONT)
    ax.invert_yaxis()
    ax.set_xlabel("share of rows", fontsize="small")


def plot_distributions(
    real, synthetic, *, columns=None, max_columns=12, n_bins=30, max_levels=10, n_cols=4
):
    """Per-column overlays of the real and the synthetic marginal distributions.

    A grid with one subplot per column. Numerical (and datetime) columns: step histograms on
    ``n_bins`` equal bins of the *real* range (the real one filled in grey), as shares of each
    table's present values; the share of synthetic values outside the real range is written
    in the corner. Categorical columns: grouped horizontal bars of the level frequencies
    (missing values a level of their own), the ``max_levels`` most frequent levels (on either
    side) shown and the rest pooled as "other".

    Parameters
    ----------
    real : DataFrame
        The real table; column kinds are inferred from it.
    synthetic : DataFrame or dict of {str: DataFrame}
        The synthetic table, or several by name (overlaid in each subplot).
    columns : list of str, default=None
        The columns to draw, in this order; all of them when None.
    max_columns : int, default=12
        At most this many subplots (the first columns); the figure title says when some
        were left out.
    n_bins : int, default=30
        Histogram bins of numerical columns.
    max_levels : int, default=10
        Levels shown per categorical column.
    n_cols : int, default=4
        Subplots per row.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One Axes per drawn column.

    Examples
    --------
    >>> from skmixsynth.datasets import make_mixed
    >>> from skmixsynth.plotting import plot_distributions
    >>> real = make_mixed(300, random_state=0)
    >>> fig = plot_distributions(real, make_mixed(300, random_state=1), columns=["age", "plan"])
    >>> len(fig.axes)
    2
    """
    Figure = _require_matplotlib()
    named = _named_tables(synthetic)
    n_bins = _check_positive_int(n_bins, "n_bins")
    max_levels = _check_positive_int(max_levels, "max_levels")
    max_columns = _check_positive_int(max_columns, "max_columns")
    n_cols = _check_positive_int(n_cols, "n_cols")
    extra = [(frame, name) for name, frame in named[1:]]
    real, others, kinds = check_tables(real, named[0][1], names=("real", named[0][0]), extra=extra)
    if columns is None:
        columns = list(kinds)
    else:
        columns = [columns] if isinstance(columns, str) else list(columns)
        unknown = [c for c in columns if c not in kinds]
        if unknown:
            raise ValueError(f"columns {unknown} are not in real; its columns are {list(kinds)}.")
        if not columns:
            raise ValueError("columns is empty.")
    shown = columns[:max_columns]
    frames = [real, *others]
    names = ["real", *(name for name, _ in named)]

    n_cols = min(n_cols, len(shown))
    n_rows = math.ceil(len(shown) / n_cols)
    fig = Figure(figsize=(3.6 * n_cols, 2.9 * n_rows + 0.6), layout="constrained")
    grid = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for axis in grid[len(shown) :]:
        fig.delaxes(axis)
    for axis, column in zip(grid, shown, strict=False):
        kind = kinds[column]
        if is_numeric_kind(kind):
            _draw_numerical(axis, column, kind, frames, names, n_bins)
        else:
            _draw_categorical(axis, column, frames, names, max_levels)
        axis.set_title(f"{column} ({kind})", fontsize="small")
        axis.tick_params(labelsize=_MIN_FONT)
    handles, labels = grid[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=len(names), fontsize="small")
    if len(shown) < len(columns):
        fig.suptitle(
            f"First {len(shown)} of {len(columns)} columns (max_columns={max_columns})",
            fontsize="small",
        )
    return fig


# ------------------------------------------------------------------------------------------
# Association differences


def heatmap_cells(n_columns):
    """Size of one heat-map cell (inches) and the step between named columns, for legibility.

    A cell is 0.45 inches for up to 13 columns, then shrinks so that the map stays about 6
    inches wide, down to 0.14 inches (one 7-point label per cell: the smallest legible
    text); past that the map grows with the columns up to 20 inches, after which cells
    shrink again and only every ``step``-th column is named, so that labels never overlap
    and no text is below 7 points.

    Parameters
    ----------
    n_columns : int
        Rows (and columns) of the heat map.

    Returns
    -------
    cell : float
        Side of one cell in inches.
    step : int
        Name every ``step``-th column (1: all of them).

    Examples
    --------
    >>> from skmixsynth.plotting import heatmap_cells
    >>> heatmap_cells(8), heatmap_cells(60), heatmap_cells(400)
    ((0.45, 1), (0.14, 1), (0.05, 3))
    """
    n = max(int(n_columns), 1)
    cell = max(_MIN_CELL, min(0.45, 6.0 / n))
    if cell * n <= _MAX_MAP:
        return cell, 1
    cell = _MAX_MAP / n
    return cell, math.ceil(_MIN_CELL / cell)


def _difference_matrix(details, columns):
    index = {column: i for i, column in enumerate(columns)}
    matrix = np.full((len(columns), len(columns)), np.nan)
    diff = (details["real_association"] - details["synthetic_association"]).abs().to_numpy()
    for col_1, col_2, value in zip(details["column_1"], details["column_2"], diff, strict=True):
        if col_1 in index and col_2 in index:
            i, j = index[col_1], index[col_2]
            matrix[i, j] = matrix[j, i] = value
    return matrix


def plot_association_difference(
    real=None, synthetic=None, *, details=None, annotate=None, ax=None, title=None
):
    """Heat map of ``|association_real - association_synthetic|`` over pairs of columns.

    The associations are those of :func:`skmixsynth.metrics.column_pair_trends_details`:
    Pearson's r for two numerical columns (a difference up to 2) and Cramér's V otherwise (a
    difference up to 1). 0 (light) means the synthetic table keeps that pair's association.
    The colour scale runs from 0 to 1, or to the largest difference when above 1, and is
    shared by all panels; undefined pairs (a constant column) and the diagonal are blank.

    Parameters
    ----------
    real : DataFrame, default=None
        The real table. Not needed with ``details``.
    synthetic : DataFrame or dict of {str: DataFrame}, default=None
        The synthetic table, or several by name (one panel each).
    details : DataFrame or dict of {str: DataFrame}, default=None
        The output of :func:`~skmixsynth.metrics.column_pair_trends_details` (or a dict of
        them), to draw without recomputing.
    annotate : bool, default=None
        Write the value in each cell; by default when there are at most 12 columns.
    ax : Axes or sequence of Axes, default=None
        Where to draw, one Axes per synthetic table; a new figure when None. The colour bar
        takes room from them.
    title : str, default=None
        Title of the panel (of the figure with several panels).

    Returns
    -------
    fig : matplotlib.figure.Figure
        The heat map Axes, then the colour bar's.

    Examples
    --------
    >>> from skmixsynth.datasets import make_mixed
    >>> from skmixsynth.plotting import plot_association_difference
    >>> real = make_mixed(300, random_state=0)
    >>> fig = plot_association_difference(real, make_mixed(300, random_state=1))
    >>> len(fig.axes)  # the heat map and its colour bar
    2
    """
    _require_matplotlib()  # before any computation
    panels = _precomputed_or_computed(
        details,
        "details",
        ["column_1", "column_2", "real_association", "synthetic_association"],
        real,
        synthetic,
        lambda frame: column_pair_trends_details(real, frame),
    )
    # combinations() order: the pairs, read row by row, name the columns in table order.
    columns = list(
        dict.fromkeys(
            column
            for _, table in panels
            for pair in zip(table["column_1"], table["column_2"], strict=True)
            for column in pair
        )
    )
    if len(columns) < 2:
        raise ValueError("plot_association_difference needs at least two columns.")
    matrices = [_difference_matrix(table, columns) for _, table in panels]
    finite = np.concatenate([m[np.isfinite(m)] for m in matrices])
    vmax = max(1.0, float(finite.max())) if finite.size else 1.0
    if annotate is None:
        annotate = len(columns) <= 12
    cell, step = heatmap_cells(len(columns))
    size = max(_PANEL_SIZE, cell * len(columns) + 2.2)  # + room for 16-character labels
    fig, axes = _panel_axes(ax, len(panels), width=size + 0.9, height=size)

    from matplotlib import colormaps

    cmap = colormaps["Reds"].with_extremes(bad="0.93")
    image = None
    labels = [_level_label(c, width=16) for c in columns]
    for axis, matrix in zip(axes, matrices, strict=True):
        image = axis.imshow(
            np.ma.masked_invalid(matrix), cmap=cmap, vmin=0.0, vmax=vmax, aspect="equal"
        )
        positions = np.arange(0, len(columns), step)
        shown = [labels[i] for i in positions]
        font = max(_MIN_FONT, min(9, 72 * cell * step * 0.8))
        axis.set_xticks(positions, shown, rotation=90, fontsize=font)
        axis.set_yticks(positions, shown, fontsize=font)
        if step > 1:
            axis.set_xlabel(f"every {step}th column named ({len(columns)} columns)",
                            fontsize=_MIN_FONT)
        if annotate:
            for i, j in zip(*np.nonzero(np.isfinite(matrix)), strict=True):
                value = matrix[i, j]
                axis.text(
                    j,
                    i,
                    f"{value:.2f}",
                    ha="center",
                    va="center",
                    fontsize=_MIN_FONT,
                    color="white" if value > 0.6 * vmax else "0.15",
                )
    fig.colorbar(image, ax=axes, shrink=0.8, label="|association real - synthetic|")
    _titles(
        fig, axes, [name for name, _ in panels], title, "Association difference (|r| or Cramér's V)"
    )
    return fig


# ------------------------------------------------------------------------------------------
# GTCoder Fig. 4


def plot_feature_contributions(model_or_series, X=None, *, ax=None, title=None):
    """Horizontal bar chart of each feature's contribution to GTCoder's fused representation.

    The GTCoder paper's Fig. 4: the share of the [CLS] token's attention that each column
    receives, from :meth:`GTCoderSynthesizer.feature_contributions
    <skmixsynth.GTCoderSynthesizer.feature_contributions>`. One bar per entry, the largest
    at the top, coloured from green (least) to red (most) as in the paper, the value written
    at the end of each bar.

    Parameters
    ----------
    model_or_series : GTCoderSynthesizer or Series
        A fitted model (then ``X`` is needed) or the Series ``feature_contributions``
        returned (one value per column, or per ``(column, kind)`` token).
    X : DataFrame, default=None
        The rows to average the attention over, with a model; not allowed with a Series.
    ax : Axes, default=None
        Where to draw; a new figure when None.
    title : str, default=None
        Title of the panel.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One Axes holding one bar per column (per token).

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth.plotting import plot_feature_contributions
    >>> share = pd.Series({"age": 0.5, "income": 0.3, "region": 0.2})
    >>> fig = plot_feature_contributions(share)
    >>> len(fig.axes[0].patches)
    3
    """
    _require_matplotlib()
    if isinstance(model_or_series, pd.Series):
        if X is not None:
            raise ValueError("X is only used with a model; got a Series of contributions and "
                             "X (pass one or the other).")
        share = model_or_series
    else:
        if not hasattr(model_or_series, "feature_contributions"):
            raise TypeError(
                "model_or_series must be a fitted GTCoderSynthesizer or a Series of "
                f"contributions; got {type(model_or_series).__name__}.")
        if X is None:
            raise ValueError("X is needed with a model: the contributions are averaged over "
                             "its rows.")
        share = model_or_series.feature_contributions(X)
    if len(share) == 0:
        raise ValueError("The Series of contributions is empty.")
    try:
        values = share.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"The contributions must be numbers; got dtype {share.dtype}.") from exc
    if not np.isfinite(values).all():
        raise ValueError("The contributions must be finite numbers.")
    if isinstance(share.index, pd.MultiIndex):
        labels = [" ".join(str(part) for part in key) for key in share.index]
    else:
        labels = [str(key) for key in share.index]
    order = np.argsort(values, kind="stable")  # ascending: the largest bar on top
    values = values[order]
    labels = [_level_label(labels[i], width=28) for i in order]
    height = max(_PANEL_SIZE * 0.6, 0.28 * len(values) + 1.0)
    fig, axes = _panel_axes(ax, 1, width=_PANEL_SIZE * 1.3, height=height)
    axis = axes[0]

    from matplotlib import colormaps

    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.full(len(values), 0.5)
    colours = colormaps["RdYlGn_r"](0.1 + 0.8 * scaled)
    positions = np.arange(len(values))
    axis.barh(positions, values, color=colours, edgecolor="0.3", linewidth=0.4)
    axis.set_yticks(positions, labels, fontsize="small")
    for y, value in zip(positions, values, strict=True):
        axis.text(value, y, f" {value:.3f}", va="center", ha="left", fontsize=_MIN_FONT)
    axis.set_xlim(0, max(high, 0) * 1.18 or 1.0)
    axis.set_xlabel("share of the [CLS] attention")
    _titles(fig, axes, ["contributions"], title,
            "Feature contributions to the fused representation")
    return fig


# ------------------------------------------------------------------------------------------
# Training history

_HISTORY_KEYS = ("phase", "epoch", "seconds")


def plot_history(model_or_history, *, losses=None, logy=False, n_cols=3, title=None):
    """The losses recorded in a fitted synthesizer's ``history_``, one panel per phase.

    Every synthesizer appends one record per finished epoch to ``history_``: its ``phase``,
    its ``epoch`` within the phase, the mean of each loss over the epoch, and ``seconds``.
    Phases have their own losses and scales (MixGAN: ``autoencoder`` with ``ae_loss``,
    ``ae_numerical``, ``ae_categorical``, then ``gan`` with ``d_loss``, ``g_loss``,
    ``recon_loss``; GTCoder: ``train`` with ``loss``, ``kl``, ``cl``, ``re``;
    MixtureSynthesizer: ``adam`` with the training ``nll`` and, with a validation split,
    ``val_nll``, whose best epoch is marked), so each phase with a loss gets a panel: one line
    per loss against the epoch (markers when the phase is short). Phases that record no loss
    (GTCoder's ``latent``, IndependentSynthesizer's ``statistics``) are left out, and named
    in the figure title.

    Parameters
    ----------
    model_or_history : fitted synthesizer or list of dict
        A model with ``history_``, or the list of records itself.
    losses : list of str, default=None
        The losses to draw; all of them when None.
    logy : bool, default=False
        Logarithmic loss axis (for positive losses that fall over decades).
    n_cols : int, default=3
        Panels per row.
    title : str, default=None
        Title of the figure; by default the model's class name.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One Axes per phase with a loss.

    Raises
    ------
    ValueError
        When the history is empty or records no loss (for instance that of
        IndependentSynthesizer, which counts rather than trains), or a name of ``losses``
        is not in it.

    Examples
    --------
    >>> from skmixsynth import MixtureSynthesizer
    >>> from skmixsynth.datasets import make_mixed
    >>> from skmixsynth.plotting import plot_history
    >>> model = MixtureSynthesizer(n_components=4, n_subcomponents=2, epochs=3,
    ...                            random_state=0).fit(make_mixed(300, random_state=0))
    >>> fig = plot_history(model)
    >>> [ax.get_title() for ax in fig.axes]
    ['adam (3 epochs)']
    >>> [line.get_label() for line in fig.axes[0].lines]  # doctest: +NORMALIZE_WHITESPACE
    ['nll', 'val_nll', 'best val_nll (epoch ...)']
    """
    Figure = _require_matplotlib()
    if isinstance(model_or_history, (list, tuple)):
        history, name = list(model_or_history), "history"
    elif hasattr(model_or_history, "history_"):
        history, name = list(model_or_history.history_), type(model_or_history).__name__
    else:
        raise TypeError(
            "model_or_history must be a fitted synthesizer (with history_) or a list of "
            f"epoch records; got {type(model_or_history).__name__}."
        )
    if not history:
        raise ValueError(f"The history of {name} is empty: nothing to plot.")
    if not all(isinstance(record, Mapping) and "phase" in record for record in history):
        raise ValueError("Every history record must be a dict with a 'phase' key.")
    n_cols = _check_positive_int(n_cols, "n_cols")
    phases = {}
    for record in history:
        phases.setdefault(record["phase"], []).append(record)
    recorded = {k for record in history for k in record if k not in _HISTORY_KEYS}
    if losses is not None:
        losses = [losses] if isinstance(losses, str) else list(losses)
        unknown = [k for k in losses if k not in recorded]
        if unknown:
            raise ValueError(f"losses {unknown} are not in the history; it records "
                             f"{sorted(recorded)}.")
    drawn = {}
    for phase, records in phases.items():
        keys = list(dict.fromkeys(k for r in records for k in r if k not in _HISTORY_KEYS))
        keys = [k for k in keys if losses is None or k in losses]
        if keys:
            drawn[phase] = (records, keys)
    if not drawn:
        raise ValueError(
            f"The history of {name} records no loss (phases {list(phases)}): nothing to plot."
        )
    n_cols = min(n_cols, len(drawn))
    n_rows = math.ceil(len(drawn) / n_cols)
    fig = Figure(figsize=(_PANEL_SIZE * 1.25 * n_cols, 3.4 * n_rows + 0.4), layout="constrained")
    grid = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for axis in grid[len(drawn):]:
        fig.delaxes(axis)
    for axis, (phase, (records, keys)) in zip(grid, drawn.items(), strict=False):
        epochs = np.array([r.get("epoch", i) for i, r in enumerate(records)], dtype=np.float64)
        marker = "o" if len(records) <= 20 else None
        for key in keys:
            values = np.array([r.get(key, np.nan) for r in records], dtype=np.float64)
            axis.plot(epochs, values, marker=marker, ms=3, lw=1.3, label=key)
            if key == "val_nll" and np.isfinite(values).any():
                best = int(np.nanargmin(values))
                axis.axvline(epochs[best], ls=":", lw=1, color="0.4",
                             label=f"best val_nll (epoch {int(epochs[best])})")
        if logy:
            axis.set_yscale("log")
        axis.set_title(f"{phase} ({len(records)} epoch{'s' if len(records) != 1 else ''})",
                       fontsize="medium")
        axis.set_xlabel("epoch")
        axis.set_ylabel("loss (epoch mean)")
        axis.grid(True, lw=0.4, alpha=0.4)
        axis.legend(fontsize=_MIN_FONT, framealpha=0.85)
    heading = name if title is None else title
    skipped = [p for p in phases if p not in drawn]
    if skipped and title is None:
        heading += f" (no loss recorded in {', '.join(map(str, skipped))})"
    fig.suptitle(heading)
    return fig
