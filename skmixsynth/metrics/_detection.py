"""Detection: can a classifier tell synthetic rows from real ones?"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import RobustScaler
from sklearn.utils import check_random_state

from ._common import (
    check_pair,
    codes_by_frequency,
    is_numeric_kind,
    joint_codes,
    numeric_values,
    tree_threads,
)

__all__ = ["detection_score"]


def _native_frame(real, synthetic, kinds):
    """Both tables stacked: numericals as float64 with NaN, categoricals as ``category``
    columns of integer codes (missing a level of its own, at most 255 levels)."""
    columns = {}
    for column, kind in kinds.items():
        if is_numeric_kind(kind):
            columns[column] = np.concatenate(
                [
                    numeric_values(real[column], kind, column=column),
                    numeric_values(synthetic[column], kind, column=column),
                ]
            )
        else:
            (code_r, code_s), levels = joint_codes(real[column], synthetic[column])
            pooled = codes_by_frequency(
                np.concatenate([code_r, code_s]), len(levels), reference_size=len(code_r)
            )
            columns[column] = pd.Categorical.from_codes(
                pooled, categories=np.arange(int(pooled.max()) + 1)
            )
    return pd.DataFrame(columns)


def _one_hot_matrix(real, synthetic, kinds):
    """SDMetrics' ``HyperTransformer`` encoding: numericals as they are (missing values are
    imputed in the pipeline), categoricals one-hot with missing values a category of their
    own. Categories seen only in the synthetic rows get their own column (SDMetrics fails
    on them); beyond the 254 most frequent real categories the rest share one column."""
    blocks = []
    for column, kind in kinds.items():
        if is_numeric_kind(kind):
            values = np.concatenate(
                [
                    numeric_values(real[column], kind, column=column),
                    numeric_values(synthetic[column], kind, column=column),
                ]
            )
            blocks.append(values[:, None])
        else:
            (code_r, code_s), levels = joint_codes(real[column], synthetic[column])
            codes = codes_by_frequency(
                np.concatenate([code_r, code_s]), len(levels), reference_size=len(code_r)
            )
            blocks.append(np.eye(int(codes.max()) + 1, dtype=np.float64)[codes])
    return np.hstack(blocks)


def detection_score(real, synthetic, *, classifier=None, n_splits=3, random_state=0):
    """Detection score: 1 minus how well a classifier tells synthetic rows from real ones.

    Real rows are labelled 1 and synthetic rows 0; a classifier is cross-validated on the
    stacked table (stratified ``n_splits``-fold, shuffled) and the score is
    ``1 - mean over folds of (2 * max(AUC, 0.5) - 1)``, SDMetrics' ``DetectionMetric``
    definition (as in its ``LogisticDetection``). 1 means the classifier does no better than
    chance (indistinguishable), 0 means it separates the two perfectly.

    The default classifier is scikit-learn's ``HistGradientBoostingClassifier`` with native
    categorical support (defaults, seeded), a dependency-free stand-in for the
    ``XGBClassifier(enable_categorical=True)`` of the TabPC paper's detection figure: numbers
    are comparable in spirit, not digit for digit. It sees numericals as floats (missing
    values handled natively) and categoricals as categories (missing values a category).
    Any other ``classifier`` is cloned and placed after SDMetrics' preprocessing: one-hot
    categoricals, mean imputation and ``RobustScaler``; ``LogisticRegression()`` then gives
    SDMetrics' ``LogisticDetection`` (up to the fold shuffling).

    Parameters
    ----------
    real, synthetic : DataFrame
        Tables with the same columns. Column kinds are inferred from ``real``.
    classifier : classifier with ``predict_proba``, default=None
        See above. ``None`` uses ``HistGradientBoostingClassifier``.
    n_splits : int, default=3
        Number of cross-validation folds (3 in SDMetrics).
    random_state : int, RandomState or None, default=0
        Seed of the fold shuffling and of the default classifier.

    Returns
    -------
    score : float
        In [0, 1], greater is better (1 = indistinguishable).

    Notes
    -----
    On fewer than 20,000 stacked rows the classifier runs on one OpenMP thread (faster on
    small tables, and safe on machines shared with other jobs).

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skmixsynth.metrics import detection_score
    >>> rng = np.random.default_rng(0)
    >>> real = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(["a", "b"], 300)})
    >>> same = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(["a", "b"], 300)})
    >>> shifted = same.assign(x=same["x"] + 3)
    >>> detection_score(real, same) > 0.7
    True
    >>> detection_score(real, shifted) < 0.05
    True
    """
    real, (synthetic,), kinds = check_pair(real, synthetic)
    if isinstance(n_splits, bool) or not isinstance(n_splits, numbers.Integral) or n_splits < 2:
        raise ValueError(f"n_splits must be an integer >= 2; got {n_splits!r}.")
    if min(len(real), len(synthetic)) < n_splits:
        raise ValueError(
            f"detection_score needs at least n_splits={n_splits} rows in each table; got "
            f"{len(real)} real and {len(synthetic)} synthetic rows."
        )
    rng = check_random_state(random_state)
    seed = int(rng.randint(np.iinfo(np.int32).max))
    if classifier is None:
        X = _native_frame(real, synthetic, kinds)
        model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
    else:
        X = _one_hot_matrix(real, synthetic, kinds)
        X[np.isinf(X)] = np.nan
        model = Pipeline(
            [
                ("impute", SimpleImputer(keep_empty_features=True)),
                ("scale", RobustScaler()),
                ("classifier", clone(classifier)),
            ]
        )
    y = np.concatenate([np.ones(len(real)), np.zeros(len(synthetic))])
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    scores = []
    with tree_threads(len(y)):
        for train, test in folds.split(np.zeros(len(y)), y):
            fitted = clone(model).fit(_take(X, train), y[train])
            proba = fitted.predict_proba(_take(X, test))[:, 1]
            auc = roc_auc_score(y[test], proba)
            scores.append(2.0 * max(auc, 0.5) - 1.0)
    return float(1.0 - np.mean(scores))


def _take(X, rows):
    return X.iloc[rows] if isinstance(X, pd.DataFrame) else X[rows]
