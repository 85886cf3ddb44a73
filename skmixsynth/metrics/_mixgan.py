"""The two evaluations of the mixGAN paper (§5.1 and §5.2).

- *Distribution approximation for single features* (§5.1): paired histogram points
  ``(P_real, P_fake)`` per numerical bin and per category, which should lie on the diagonal.
- *Correlation maintenance between features* (§5.2): for each feature, a model predicting it
  from the others is trained on real and on synthetic rows and scored on real hold-out rows;
  the paired errors ``(E_real, E_fake)`` should lie on the diagonal.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from .._validation import CATEGORICAL, NUMERICAL
from ._common import (
    check_pair,
    codes_by_frequency,
    is_numeric_kind,
    joint_codes,
    numeric_values,
    tree_threads,
)

__all__ = [
    "correlation_maintenance",
    "correlation_maintenance_gap",
    "marginal_agreement",
    "marginal_agreement_score",
    "marginal_agreement_summary",
]

_COLUMNS = ["column", "kind", "level", "p_real", "p_fake"]


def _check_n_bins(n_bins):
    if isinstance(n_bins, bool) or not isinstance(n_bins, numbers.Integral) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer; got {n_bins!r}.")
    return int(n_bins)


def _bin_labels(n_bins):
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    labels = [f"[{edges[i]:.3g}, {edges[i + 1]:.3g})" for i in range(n_bins)]
    labels[-1] = labels[-1][:-1] + "]"
    return labels


def _numerical_rows(column, real, fake, n_bins):
    """Histogram of 10 bins on (0, 1) after min-max scaling with the real range (§5.1).

    Synthetic values outside the real range are clipped into it (the paper's generator
    outputs (0, 1) through a sigmoid, so it never meets them). Missing values are dropped
    from the histograms; when either side has any, a separate ``NaN`` level compares the
    missing rates. A constant real column puts all its mass in the first bin; synthetic values
    equal to that constant go there too and the others to the last bin.
    """
    miss_r, miss_f = np.isnan(real), np.isnan(fake)
    present_r, present_f = real[~miss_r], fake[~miss_f]
    rows = []
    if present_r.size == 0:
        p_real = np.full(n_bins, np.nan)
        p_fake = np.full(n_bins, np.nan)
    else:
        low, high = present_r.min(), present_r.max()
        if high > low:
            scale = lambda v: (np.clip(v, low, high) - low) / (high - low)  # noqa: E731
        else:
            scale = lambda v: (v != low).astype(np.float64)  # noqa: E731
        p_real = _histogram(scale(present_r), n_bins)
        p_fake = _histogram(scale(present_f), n_bins)
    for label, pr, pf in zip(_bin_labels(n_bins), p_real, p_fake, strict=True):
        rows.append((column, NUMERICAL, label, pr, pf))
    if miss_r.any() or miss_f.any():
        rows.append((column, NUMERICAL, np.nan, miss_r.mean(), miss_f.mean()))
    return rows


def _histogram(unit_values, n_bins):
    if unit_values.size == 0:
        return np.full(n_bins, np.nan)
    idx = np.minimum((unit_values * n_bins).astype(np.int64), n_bins - 1)
    return np.bincount(idx, minlength=n_bins) / unit_values.size


def _categorical_rows(column, real, fake):
    """Category frequencies; missing values are a category (``NaN``) of their own."""
    (code_r, code_f), levels = joint_codes(real, fake)
    p_real = np.bincount(code_r, minlength=len(levels)) / code_r.size
    p_fake = np.bincount(code_f, minlength=len(levels)) / code_f.size
    return [
        (column, CATEGORICAL, level, pr, pf)
        for level, pr, pf in zip(levels, p_real, p_fake, strict=True)
    ]


def marginal_agreement(real, synthetic, *, n_bins=10):
    """Paired histogram points ``(p_real, p_fake)`` of every column (mixGAN §5.1).

    A numerical (or datetime) column is min-max scaled with the range of the *real* column
    (synthetic values clipped into it) and cut into ``n_bins`` equal bins on [0, 1]; a
    categorical column gives one point per category (categories absent from one side have
    probability 0 there). If the synthetic data follow the real marginals, the points lie on
    the diagonal ``p_fake = p_real`` (the paper's Fig. 3).

    Missing values: a categorical column treats them as a category of its own; a numerical
    column drops them from its histogram and, if either side has any, adds one point (level
    ``NaN``) comparing the missing rates.

    Parameters
    ----------
    real, synthetic : DataFrame
        Tables with the same columns. Column kinds are inferred from ``real``.
    n_bins : int, default=10
        Number of bins for numerical columns (10 in the paper).

    Returns
    -------
    points : DataFrame
        One row per (column, level) with ``column``, ``kind`` (``"numerical"`` or
        ``"categorical"``), ``level`` (a bin label such as ``"[0.1, 0.2)"``, a category, or
        NaN for missing values), ``p_real`` and ``p_fake``. Within a column and side the
        probabilities sum to 1 (numerical bins sum to 1 over the present values).

    See Also
    --------
    marginal_agreement_score : One number from these points.
    marginal_agreement_summary : Mean absolute gap and R² to the diagonal.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth.metrics import marginal_agreement
    >>> real = pd.DataFrame({"x": [0.0, 1.0, 2.0, 4.0], "c": ["a", "a", "b", None]})
    >>> fake = pd.DataFrame({"x": [0.0, 0.5, 3.9, 9.0], "c": ["a", "b", "b", "z"]})
    >>> points = marginal_agreement(real, fake, n_bins=2)
    >>> points
      column         kind     level  p_real  p_fake
    0      x    numerical  [0, 0.5)    0.50    0.50
    1      x    numerical  [0.5, 1]    0.50    0.50
    2      c  categorical         a    0.50    0.25
    3      c  categorical         b    0.25    0.50
    4      c  categorical         z    0.00    0.25
    5      c  categorical       NaN    0.25    0.00
    """
    n_bins = _check_n_bins(n_bins)
    real, (synthetic,), kinds = check_pair(real, synthetic)
    rows = []
    for column, kind in kinds.items():
        if is_numeric_kind(kind):
            rows.extend(
                _numerical_rows(
                    column,
                    numeric_values(real[column], kind),
                    numeric_values(synthetic[column], kind),
                    n_bins,
                )
            )
        else:
            rows.extend(_categorical_rows(column, real[column], synthetic[column]))
    points = pd.DataFrame(rows, columns=_COLUMNS)
    points["level"] = points["level"].astype(object)
    points["p_real"] = points["p_real"].astype(np.float64)
    points["p_fake"] = points["p_fake"].astype(np.float64)
    return points


def marginal_agreement_summary(real, synthetic, *, n_bins=10):
    """Summaries of the mixGAN §5.1 points: mean gap and R² to the diagonal.

    Parameters
    ----------
    real, synthetic : DataFrame
        Tables with the same columns.
    n_bins : int, default=10
        Number of bins for numerical columns.

    Returns
    -------
    summary : dict
        - ``"score"``: ``1 - mean_abs_diff`` (greater is better, 1 = perfect), the value of
          :func:`marginal_agreement_score`.
        - ``"mean_abs_diff"``: the mean over columns of the mean ``|p_real - p_fake|`` over
          that column's points (each column weighs the same, whatever its number of levels).
        - ``"r2_diagonal"``: the coefficient of determination of the points to the diagonal,
          ``1 - sum((p_fake - p_real)**2) / sum((p_real - mean(p_real))**2)`` over all points;
          1 when every point is on the diagonal, it can be negative.
        - ``"n_points"``: the number of points.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth.metrics import marginal_agreement_summary
    >>> real = pd.DataFrame({"c": ["a", "a", "a", "b"]})
    >>> summary = marginal_agreement_summary(real, real.iloc[[0, 3, 0, 3]])
    >>> summary["mean_abs_diff"], summary["r2_diagonal"], summary["n_points"]
    (0.25, 0.0, 2)
    """
    points = marginal_agreement(real, synthetic, n_bins=n_bins)
    points = points.dropna(subset=["p_real", "p_fake"])
    if points.empty:
        return {"score": np.nan, "mean_abs_diff": np.nan, "r2_diagonal": np.nan, "n_points": 0}
    gap = (points["p_real"] - points["p_fake"]).abs()
    mean_abs_diff = float(gap.groupby(points["column"], sort=False).mean().mean())
    p_real = points["p_real"].to_numpy()
    p_fake = points["p_fake"].to_numpy()
    total = float(((p_real - p_real.mean()) ** 2).sum())
    residual = float(((p_fake - p_real) ** 2).sum())
    if total > 0:
        r2 = 1.0 - residual / total
    else:
        r2 = 1.0 if residual == 0 else -np.inf
    return {
        "score": 1.0 - mean_abs_diff,
        "mean_abs_diff": mean_abs_diff,
        "r2_diagonal": float(r2),
        "n_points": len(points),
    }


def marginal_agreement_score(real, synthetic, *, n_bins=10):
    """One number for mixGAN §5.1: ``1 - mean |p_real - p_fake|``, averaged per column.

    For each column the mean absolute gap between the paired points of
    :func:`marginal_agreement` is taken, then the mean over columns. 1 means identical
    histograms. The score is compressed towards 1 (a column with k levels has a mean gap of
    at most 2/k), so compare differences rather than levels; :func:`marginal_agreement_summary`
    also gives the R² of the points to the diagonal.

    Parameters
    ----------
    real, synthetic : DataFrame
        Tables with the same columns.
    n_bins : int, default=10
        Number of bins for numerical columns.

    Returns
    -------
    score : float
        Greater is better, at most 1.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth.metrics import marginal_agreement_score
    >>> real = pd.DataFrame({"c": ["a", "a", "a", "b"]})
    >>> marginal_agreement_score(real, real)
    1.0
    >>> marginal_agreement_score(real, real.iloc[[0, 3, 0, 3]])
    0.75
    """
    return marginal_agreement_summary(real, synthetic, n_bins=n_bins)["score"]


# --------------------------------------------------------------------------------------------
# §5.2 correlation maintenance


def _default_estimator(kind, random_state):
    # The paper used small fully connected nets for every feature (§5.2); a few boosting
    # iterations with native categorical support give a comparable signal in a fraction of
    # the time and need no scaling or one-hot encoding.
    params = dict(
        max_iter=30,
        learning_rate=0.2,
        max_leaf_nodes=15,
        early_stopping=False,
        categorical_features="from_dtype",
        random_state=random_state,
    )
    if kind == NUMERICAL:
        return HistGradientBoostingRegressor(**params)
    return HistGradientBoostingClassifier(**params)


def _resolve_estimator(estimator, column, kind, random_state):
    if estimator is None:
        return _default_estimator(kind, random_state)
    if isinstance(estimator, (tuple, list)):
        if len(estimator) != 2:
            raise ValueError(
                "estimator must be None, a (regressor, classifier) pair or a callable "
                f"(column, kind) -> estimator; got a sequence of length {len(estimator)}."
            )
        return clone(estimator[0] if kind == NUMERICAL else estimator[1])
    if callable(estimator):
        return estimator(column, kind)
    raise TypeError(
        "estimator must be None, a (regressor, classifier) pair or a callable "
        f"(column, kind) -> estimator; got {type(estimator).__name__}."
    )


def _feature_frames(frames, kinds):
    """Encode the tables once: numericals as float64 (NaN kept), categoricals as pandas
    ``category`` columns of integer codes shared by all tables (by decreasing frequency in
    the first table, the 254 most frequent levels kept and the rest pooled, missing values a
    level of their own) and, for the targets, the full codes."""
    sizes = [len(f) for f in frames]
    features = {}
    targets = {}
    for column, kind in kinds.items():
        if is_numeric_kind(kind):
            parts = [numeric_values(f[column], kind, column=column) for f in frames]
            features[column] = np.concatenate(parts)
            targets[column] = parts
        else:
            codes, levels = joint_codes(*(f[column] for f in frames))
            targets[column] = codes
            stacked = np.concatenate(codes)
            pooled = codes_by_frequency(stacked, len(levels), reference_size=sizes[0])
            n_cat = int(pooled.max()) + 1
            features[column] = pd.Categorical.from_codes(pooled, categories=np.arange(n_cat))
    table = pd.DataFrame(features)
    bounds = np.cumsum([0, *sizes])
    encoded = [
        table.iloc[bounds[i] : bounds[i + 1]].reset_index(drop=True) for i in range(len(frames))
    ]
    return encoded, targets


def _fit_predict(model, X, y, X_test, kind):
    if len(np.unique(y)) < 2:
        # one target value in the training rows: every model would predict it.
        model = DummyRegressor() if kind == NUMERICAL else DummyClassifier()
    model.fit(X, y)
    return np.asarray(model.predict(X_test))


def correlation_maintenance(real, synthetic, holdout, *, estimator=None, random_state=0):
    """Paired prediction errors ``(e_real, e_fake)`` of every feature (mixGAN §5.2).

    For each column, a model predicting it from all the other columns is trained once on
    ``real`` and once on ``synthetic``, and both are scored on ``holdout`` (real rows that
    neither the synthesizer nor the real model saw). If the synthetic data keep the
    dependencies between features, ``e_fake`` is close to ``e_real`` (the diagonal of the
    paper's Fig. 4).

    Errors: for a numerical target, the mean squared error on values min-max scaled with the
    range of ``real`` (rows whose target is missing are dropped); for a categorical target,
    the error rate, missing values being a class of their own. The paper writes the
    categorical loss as ``1/N sum I(y = y_hat)``; we use its complement, the error rate, so
    that both kinds are losses (lower is better).

    Parameters
    ----------
    real : DataFrame
        Real training rows (those the synthesizer was trained on).
    synthetic : DataFrame
        Synthetic rows, ideally as many as ``real``.
    holdout : DataFrame
        Real rows held out from training, used to score both models.
    estimator : None, (regressor, classifier) or callable, default=None
        The models. ``None``: a small ``HistGradientBoostingRegressor`` /
        ``HistGradientBoostingClassifier`` (30 iterations, 15 leaves, native categorical
        support) — fast stand-ins for the small fully connected nets of the paper. A pair
        ``(regressor, classifier)``: cloned for numerical and categorical targets. A callable
        ``estimator(column, kind)`` returning an unfitted estimator. Models receive a
        DataFrame of the other columns in which numericals are float64 (missing values as
        NaN, datetimes as nanoseconds) and categoricals are pandas ``category`` columns of
        integer codes (use a ``Pipeline`` with a ``ColumnTransformer`` when your model needs
        one-hot inputs or no NaN). Numerical targets are min-max scaled with the real range,
        categorical targets are integer codes.
    random_state : int, RandomState or None, default=0
        Seed of the default models.

    Returns
    -------
    errors : DataFrame
        One row per column with ``column``, ``kind`` (``"numerical"`` or ``"categorical"``),
        ``e_real`` and ``e_fake`` (NaN when the hold-out has no value of that column).

    See Also
    --------
    correlation_maintenance_gap : The mean ``|e_real - e_fake|``.

    Notes
    -----
    Two models per column: expect a few seconds per 10,000 rows and 15 columns with the
    default models. Below 20,000 training rows they run on one OpenMP thread (faster on
    small tables, and safe on machines shared with other jobs).

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skmixsynth.metrics import correlation_maintenance
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=600)
    >>> df = pd.DataFrame({"x": x, "y": 2 * x + rng.normal(scale=0.1, size=600),
    ...                    "c": np.where(x > 0, "pos", "neg")})
    >>> real, holdout = df.iloc[:300], df.iloc[300:]
    >>> shuffled = real.apply(lambda s: rng.permutation(s.to_numpy()))  # columns apart
    >>> errors = correlation_maintenance(real, shuffled, holdout)
    >>> errors["column"].tolist(), errors["kind"].tolist()
    (['x', 'y', 'c'], ['numerical', 'numerical', 'categorical'])
    >>> bool((errors["e_fake"] > 2 * errors["e_real"]).all())
    True
    """
    real, (synthetic, holdout), kinds = check_pair(
        real, synthetic, names=("real", "synthetic"), extra=[(holdout, "holdout")]
    )
    if len(kinds) < 2:
        raise ValueError(
            "correlation_maintenance needs at least two columns (each is predicted from the "
            f"others); got {list(kinds)}."
        )
    (enc_real, enc_fake, enc_hold), targets = _feature_frames([real, synthetic, holdout], kinds)
    with tree_threads(max(len(real), len(synthetic))):
        rows = [
            _errors_of_column(
                column, kind, enc_real, enc_fake, enc_hold, targets[column], estimator, random_state
            )
            for column, kind in kinds.items()
        ]
    return pd.DataFrame(rows, columns=["column", "kind", "e_real", "e_fake"])


def _errors_of_column(
    column, raw_kind, enc_real, enc_fake, enc_hold, target, estimator, random_state
):
    """(column, kind, e_real, e_fake) for one target column."""
    kind = NUMERICAL if is_numeric_kind(raw_kind) else CATEGORICAL
    y_real, y_fake, y_hold = target
    X_real = enc_real.drop(columns=column)
    X_fake = enc_fake.drop(columns=column)
    X_hold = enc_hold.drop(columns=column)
    if kind == NUMERICAL:
        present = y_real[~np.isnan(y_real)]
        low = present.min() if present.size else 0.0
        span = present.max() - low if present.size else 0.0
        span = span if span > 0 else 1.0
        y_real, y_fake, y_hold = ((y - low) / span for y in (y_real, y_fake, y_hold))
    errors = []
    keep_hold = ~np.isnan(y_hold) if kind == NUMERICAL else slice(None)
    y_test = y_hold[keep_hold]
    X_test = X_hold[keep_hold]
    for X_train, y_train in ((X_real, y_real), (X_fake, y_fake)):
        keep = ~np.isnan(y_train) if kind == NUMERICAL else slice(None)
        X_train, y_train = X_train[keep], y_train[keep]
        if len(y_test) == 0 or len(y_train) == 0:
            errors.append(np.nan)
            continue
        model = _resolve_estimator(estimator, column, kind, random_state)
        pred = _fit_predict(model, X_train, y_train, X_test, kind)
        if kind == NUMERICAL:
            errors.append(float(np.mean((pred.astype(np.float64) - y_test) ** 2)))
        else:
            errors.append(float(np.mean(pred != y_test)))
    return (column, kind, errors[0], errors[1])


def correlation_maintenance_gap(real, synthetic, holdout, *, estimator=None, random_state=0):
    """Mean ``|e_real - e_fake|`` over the columns of :func:`correlation_maintenance`.

    0 means that models trained on synthetic rows predict every feature from the others as
    well as models trained on real rows; lower is better (the scorer
    ``"neg_correlation_maintenance_gap"`` negates it). Numerical errors are MSEs on [0, 1]
    scaled values and categorical ones are error rates, so both lie roughly in [0, 1].

    Parameters
    ----------
    real, synthetic, holdout : DataFrame
        See :func:`correlation_maintenance`.
    estimator : None, (regressor, classifier) or callable, default=None
        See :func:`correlation_maintenance`.
    random_state : int, RandomState or None, default=0
        Seed of the default models.

    Returns
    -------
    gap : float
        Non-negative, lower is better.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skmixsynth.metrics import correlation_maintenance_gap
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=600)
    >>> df = pd.DataFrame({"x": x, "c": np.where(x > 0, "pos", "neg")})
    >>> real, holdout = df.iloc[:300], df.iloc[300:]
    >>> shuffled = real.apply(lambda s: rng.permutation(s.to_numpy()))  # columns apart
    >>> correlation_maintenance_gap(real, real, holdout)
    0.0
    >>> correlation_maintenance_gap(real, shuffled, holdout) > 0.1
    True
    """
    errors = correlation_maintenance(
        real, synthetic, holdout, estimator=estimator, random_state=random_state
    )
    gaps = (errors["e_real"] - errors["e_fake"]).abs().to_numpy(dtype=np.float64)
    if np.all(np.isnan(gaps)):
        return np.nan
    return float(np.nanmean(gaps))
