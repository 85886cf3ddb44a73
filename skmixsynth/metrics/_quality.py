"""SDMetrics-compatible fidelity scores: column shapes, column pair trends and quality.

The definitions follow SDMetrics 0.32.0 (``sdmetrics.reports.single_table.QualityReport`` and
the metrics it calls) so that our numbers can be put beside published ones; the code is our own
and vectorised (no per-row Python, one ``bincount`` per column pair). Where we depart from
SDMetrics it is said next to the code.
"""

from __future__ import annotations

import itertools
import numbers

import numpy as np
import pandas as pd

from ._common import check_pair, is_numeric_kind, joint_codes, numeric_values

__all__ = [
    "column_pair_trends",
    "column_pair_trends_details",
    "column_shapes",
    "column_shapes_details",
    "quality_score",
]

# SDMetrics' KSComplement rounds values to sys.float_info.dig - 1 decimals before the test.
_KS_DECIMALS = 14
# SDMetrics 0.32 QualityReport defaults (sdmetrics.reports.utils).
_CORRELATION_THRESHOLD = 0.5
_ASSOCIATION_THRESHOLD = 0.3


def _ks_complement(real, synthetic):
    """1 - the two-sample Kolmogorov-Smirnov statistic of two float arrays (NaN dropped)."""
    real = np.sort(np.round(real[~np.isnan(real)], _KS_DECIMALS))
    synthetic = np.sort(np.round(synthetic[~np.isnan(synthetic)], _KS_DECIMALS))
    if real.size == 0 or synthetic.size == 0:
        return np.nan
    points = np.concatenate([real, synthetic])
    cdf_real = np.searchsorted(real, points, side="right") / real.size
    cdf_synthetic = np.searchsorted(synthetic, points, side="right") / synthetic.size
    return float(1.0 - np.max(np.abs(cdf_real - cdf_synthetic)))


def _tv_complement(real_codes, synthetic_codes, n_levels, missing_code):
    """1 - the total variation distance of two categorical columns (missing values dropped).

    As SDMetrics (``get_frequencies``), a level seen only in the synthetic column gets a
    count of 1e-6 on the real side.
    """
    if missing_code is not None:
        real_codes = real_codes[real_codes != missing_code]
        synthetic_codes = synthetic_codes[synthetic_codes != missing_code]
    if real_codes.size == 0 or synthetic_codes.size == 0:
        return np.nan
    real_counts = np.bincount(real_codes, minlength=n_levels).astype(np.float64)
    synthetic_counts = np.bincount(synthetic_codes, minlength=n_levels).astype(np.float64)
    real_counts[(real_counts == 0) & (synthetic_counts > 0)] = 1e-6
    p_real = real_counts / real_counts.sum()
    p_synthetic = synthetic_counts / synthetic_counts.sum()
    return float(1.0 - 0.5 * np.abs(p_real - p_synthetic).sum())


def column_shapes_details(real, synthetic):
    """Per-column shape similarity, as SDMetrics' Column Shapes property.

    Numerical and datetime columns are scored with KSComplement (1 - the two-sample
    Kolmogorov-Smirnov statistic), categorical columns with TVComplement (1 - the total
    variation distance of the category frequencies). As in SDMetrics, missing values are
    dropped on both sides before scoring (use :func:`marginal_agreement` to compare missing
    rates); a column that is empty on either side scores NaN.

    Parameters
    ----------
    real, synthetic : DataFrame
        Tables with the same columns. Column kinds are inferred from ``real``.

    Returns
    -------
    details : DataFrame
        One row per column with ``column``, ``kind``, ``metric`` (``"KSComplement"`` or
        ``"TVComplement"``) and ``score`` in [0, 1] (1 = same distribution).

    See Also
    --------
    column_shapes : The mean score.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth.metrics import column_shapes_details
    >>> real = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "a", "b", "b"]})
    >>> fake = pd.DataFrame({"x": [1.0, 2.0, 3.0, 9.0], "c": ["a", "b", "b", "b"]})
    >>> column_shapes_details(real, fake)
      column         kind        metric  score
    0      x    numerical  KSComplement   0.75
    1      c  categorical  TVComplement   0.75
    """
    real, (synthetic,), kinds = check_pair(real, synthetic)
    rows = []
    for column, kind in kinds.items():
        if is_numeric_kind(kind):
            score = _ks_complement(
                numeric_values(real[column], kind), numeric_values(synthetic[column], kind)
            )
            metric = "KSComplement"
        else:
            (code_r, code_s), levels = joint_codes(real[column], synthetic[column])
            missing_code = len(levels) - 1 if _is_missing(levels[-1]) else None
            score = _tv_complement(code_r, code_s, len(levels), missing_code)
            metric = "TVComplement"
        rows.append((column, kind, metric, score))
    return pd.DataFrame(rows, columns=["column", "kind", "metric", "score"])


def column_shapes(real, synthetic):
    """Mean column shape similarity (SDMetrics 0.32 Column Shapes score).

    The mean over columns of KSComplement (numerical, datetime) and TVComplement
    (categorical); see :func:`column_shapes_details` for the definition. Columns scoring NaN
    (empty on one side) are left out of the mean.

    Parameters
    ----------
    real, synthetic : DataFrame
        Tables with the same columns. Column kinds are inferred from ``real``.

    Returns
    -------
    score : float
        In [0, 1], greater is better; 1 means every column has the same marginal distribution.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth.metrics import column_shapes
    >>> real = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "a", "b", "b"]})
    >>> column_shapes(real, real)
    1.0
    >>> column_shapes(real, real.assign(c="a"))
    0.75
    """
    return _nanmean(column_shapes_details(real, synthetic)["score"].to_numpy())


def _is_missing(value):
    return isinstance(value, float) and np.isnan(value)


def _nanmean(values):
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or np.all(np.isnan(values)):
        return np.nan
    return float(np.nanmean(values))


def _check_threshold(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= float(value) <= 1:
        raise ValueError(f"{name} must be a number in [0, 1]; got {value!r}.")
    return float(value)


def _digitize_own_range(values):
    """SDMetrics' discretisation for mixed pairs: 10 equal-width bins on each table's own
    range (``np.histogram_bin_edges`` of its non-missing values), then ``np.digitize``.

    Labels run from 0 to 11; missing values and the maximum get label 11, as in SDMetrics.
    The real and the synthetic column are binned on their *own* ranges and bins are matched
    by label: this is SDMetrics 0.32's behaviour (``ColumnPairTrends._discretize_column``),
    kept for comparability.
    """
    present = values[~np.isnan(values)]
    edges = np.histogram_bin_edges(present)
    return np.digitize(values, bins=edges).astype(np.int64)


def _cramers_v(table):
    """Cramér's V of a contingency table (no continuity correction), NaN if degenerate."""
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return np.nan
    n = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = ((table - expected) ** 2 / expected).sum()
    return float(np.sqrt(chi2 / n / (min(table.shape) - 1)))


def _pearson(x, y):
    mask = ~(np.isnan(x) | np.isnan(y))
    x, y = x[mask], y[mask]
    if x.size < 2:
        return np.nan
    x = x - x.mean()
    y = y - y.mean()
    denom = np.sqrt((x * x).sum() * (y * y).sum())
    if denom == 0:
        return np.nan
    return float(np.clip((x * y).sum() / denom, -1.0, 1.0))


def _n_unique(values):
    present = values[~np.isnan(values)]
    return np.unique(present).size


def column_pair_trends_details(
    real,
    synthetic,
    *,
    real_correlation_threshold=_CORRELATION_THRESHOLD,
    real_association_threshold=_ASSOCIATION_THRESHOLD,
):
    """Per-pair trend similarity, as SDMetrics' Column Pair Trends property.

    For every pair of columns:

    - two numerical (or datetime) columns: **CorrelationSimilarity**,
      ``1 - |r_real - r_synthetic| / 2`` with Pearson's r on the rows where both values are
      present. A column that is constant on either side makes the score NaN.
    - otherwise: **ContingencySimilarity**, ``1 - TV`` where TV is the total variation distance
      of the two-way frequency tables, missing values being a level of their own. A numerical
      column of a mixed pair is first cut into 10 equal-width bins *on each table's own range*
      (SDMetrics' discretisation; missing values share the top label with the maximum).

    A pair *counts* in :func:`column_pair_trends` (``meets_threshold``) when the real data
    show a trend: ``|r_real| > real_correlation_threshold`` for numerical pairs, Cramér's V of
    the real contingency table ``> real_association_threshold`` otherwise. These are the
    defaults of the SDMetrics 0.32 QualityReport (0.5 and 0.3); set both to 0 for the
    pre-0.27 definition (every pair counts). Unlike SDMetrics, which blanks the score of a pair
    below its threshold, we report it anyway for plotting.

    Parameters
    ----------
    real, synthetic : DataFrame
        Tables with the same columns. Column kinds are inferred from ``real``.
    real_correlation_threshold : float, default=0.5
        Minimum absolute real Pearson correlation for a numerical pair to count.
    real_association_threshold : float, default=0.3
        Minimum real Cramér's V for a categorical or mixed pair to count.

    Returns
    -------
    details : DataFrame
        One row per pair with ``column_1``, ``column_2``, ``metric``
        (``"CorrelationSimilarity"`` or ``"ContingencySimilarity"``), ``score`` in [0, 1],
        ``real_association`` and ``synthetic_association`` (Pearson's r for numerical pairs,
        Cramér's V otherwise) and ``meets_threshold`` (bool).

    Notes
    -----
    SDMetrics subsamples 50,000 rows at random (unseeded) for contingency pairs of bigger
    tables; we always use every row, so results are deterministic and differ from SDMetrics
    only by its sampling noise on such tables.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth.metrics import column_pair_trends_details
    >>> real = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [1.0, 2.0, 3.0, 5.0],
    ...                      "c": ["a", "a", "b", "b"]})
    >>> fake = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [5.0, 3.0, 2.0, 1.0],
    ...                      "c": ["a", "b", "a", "b"]})
    >>> details = column_pair_trends_details(real, fake)
    >>> details[["column_1", "column_2", "metric", "score"]].round(3)
      column_1 column_2                 metric  score
    0        x        y  CorrelationSimilarity  0.017
    1        x        c  ContingencySimilarity  0.500
    2        y        c  ContingencySimilarity  0.500
    """
    real_correlation_threshold = _check_threshold(
        real_correlation_threshold, "real_correlation_threshold"
    )
    real_association_threshold = _check_threshold(
        real_association_threshold, "real_association_threshold"
    )
    real, (synthetic,), kinds = check_pair(real, synthetic)
    columns = list(kinds)
    numeric, discrete, n_levels = {}, {}, {}
    for column in columns:
        kind = kinds[column]
        if is_numeric_kind(kind):
            values_r = numeric_values(real[column], kind)
            values_s = numeric_values(synthetic[column], kind)
            numeric[column] = (values_r, values_s)
            discrete[column] = (_digitize_own_range(values_r), _digitize_own_range(values_s))
            n_levels[column] = 12  # np.digitize labels 0..11 for 10 bins
        else:
            (code_r, code_s), levels = joint_codes(real[column], synthetic[column])
            discrete[column] = (code_r, code_s)
            n_levels[column] = len(levels)

    rows = []
    n_real, n_synthetic = len(real), len(synthetic)
    for col_1, col_2 in itertools.combinations(columns, 2):
        if col_1 in numeric and col_2 in numeric:
            (x_r, x_s), (y_r, y_s) = numeric[col_1], numeric[col_2]
            constant = any(_n_unique(v) == 1 for v in (x_r, x_s, y_r, y_s))
            r_real = _pearson(x_r, y_r)
            r_synthetic = _pearson(x_s, y_s)
            if constant or np.isnan(r_real) or np.isnan(r_synthetic):
                score = np.nan
            else:
                score = 1.0 - abs(r_real - r_synthetic) / 2.0
            if constant or np.isnan(r_real):
                meets = False
            else:
                meets = real_correlation_threshold <= 0 or abs(r_real) > (
                    real_correlation_threshold
                )
            rows.append((col_1, col_2, "CorrelationSimilarity", score, r_real, r_synthetic, meets))
            continue
        (a_r, a_s), (b_r, b_s) = discrete[col_1], discrete[col_2]
        k_a, k_b = n_levels[col_1], n_levels[col_2]
        counts_r = np.bincount(a_r * k_b + b_r, minlength=k_a * k_b).astype(np.float64)
        counts_s = np.bincount(a_s * k_b + b_s, minlength=k_a * k_b).astype(np.float64)
        score = 1.0 - 0.5 * np.abs(counts_r / n_real - counts_s / n_synthetic).sum()
        v_real = _cramers_v(counts_r.reshape(k_a, k_b))
        v_synthetic = _cramers_v(counts_s.reshape(k_a, k_b))
        if real_association_threshold <= 0:
            meets = True
        else:
            meets = bool(not np.isnan(v_real) and v_real > real_association_threshold)
        rows.append(
            (col_1, col_2, "ContingencySimilarity", float(score), v_real, v_synthetic, meets)
        )
    details = pd.DataFrame(
        rows,
        columns=[
            "column_1",
            "column_2",
            "metric",
            "score",
            "real_association",
            "synthetic_association",
            "meets_threshold",
        ],
    )
    details["score"] = details["score"].astype(np.float64)
    details["real_association"] = details["real_association"].astype(np.float64)
    details["synthetic_association"] = details["synthetic_association"].astype(np.float64)
    details["meets_threshold"] = details["meets_threshold"].astype(bool)
    return details


def column_pair_trends(
    real,
    synthetic,
    *,
    real_correlation_threshold=_CORRELATION_THRESHOLD,
    real_association_threshold=_ASSOCIATION_THRESHOLD,
):
    """Mean pair trend similarity (SDMetrics 0.32 Column Pair Trends score).

    The mean score of the column pairs whose real data show a trend (see
    :func:`column_pair_trends_details` for the per-pair definitions and the thresholds).
    NaN when no pair counts, as in SDMetrics (:func:`quality_score` then falls back on the
    column shapes alone).

    Parameters
    ----------
    real, synthetic : DataFrame
        Tables with the same columns. Column kinds are inferred from ``real``.
    real_correlation_threshold : float, default=0.5
        Minimum absolute real Pearson correlation for a numerical pair to count.
    real_association_threshold : float, default=0.3
        Minimum real Cramér's V for a categorical or mixed pair to count. Set both thresholds
        to 0 to average over every pair (SDMetrics before 0.27, and ``QualityReport`` objects
        whose thresholds were reset).

    Returns
    -------
    score : float
        In [0, 1], greater is better.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skmixsynth.metrics import column_pair_trends
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=500)
    >>> real = pd.DataFrame({"x": x, "y": x + rng.normal(scale=0.5, size=500)})
    >>> column_pair_trends(real, real)
    1.0
    >>> shuffled = real.assign(y=rng.permutation(real["y"].to_numpy()))
    >>> column_pair_trends(real, shuffled) < 0.65
    True
    """
    details = column_pair_trends_details(
        real,
        synthetic,
        real_correlation_threshold=real_correlation_threshold,
        real_association_threshold=real_association_threshold,
    )
    return _nanmean(details.loc[details["meets_threshold"], "score"].to_numpy())


def quality_score(
    real,
    synthetic,
    *,
    real_correlation_threshold=_CORRELATION_THRESHOLD,
    real_association_threshold=_ASSOCIATION_THRESHOLD,
):
    """Overall quality, as SDMetrics 0.32 ``QualityReport.get_score()``.

    The mean of :func:`column_shapes` and :func:`column_pair_trends` (NaN ignored: a table in
    which no pair of columns shows a trend is scored on its column shapes alone). This is what
    a synthesizer's ``score(X)`` returns.

    Parameters
    ----------
    real, synthetic : DataFrame
        Tables with the same columns. Column kinds are inferred from ``real``.
    real_correlation_threshold, real_association_threshold : float, default=0.5, 0.3
        Passed to :func:`column_pair_trends`.

    Returns
    -------
    score : float
        In [0, 1], greater is better.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skmixsynth.metrics import quality_score
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=400)
    >>> real = pd.DataFrame({"x": x, "c": np.where(x > 0, "pos", "neg")})
    >>> quality_score(real, real)
    1.0
    >>> broken = real.assign(c=rng.permutation(real["c"].to_numpy()))
    >>> quality_score(real, broken) < 0.85
    True
    """
    shapes = column_shapes(real, synthetic)
    trends = column_pair_trends(
        real,
        synthetic,
        real_correlation_threshold=real_correlation_threshold,
        real_association_threshold=real_association_threshold,
    )
    return _nanmean([shapes, trends])
