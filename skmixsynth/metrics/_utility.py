"""Utility of synthetic data: the two evaluations of the GTCoder paper.

- Table 1, *machine-learning efficacy*: models trained on synthetic rows, scored on the real
  20 % test split (train-synthetic-test-real).
- Table 2, *likelihood fitness* on simulated Gaussian mixtures: the true log-density of the
  synthetic points (``L_syn``) and the log-likelihood of real test points under a Gaussian
  mixture re-fitted to the synthetic points (``L_test``).
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    AdaBoostClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import f1_score, r2_score
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from .._validation import CATEGORICAL
from ._common import check_pair, is_numeric_kind, joint_codes, numeric_values

__all__ = ["likelihood_fitness", "ml_efficacy"]

_TASKS = ("classification", "regression")
# SDGym's `_evaluate_gmm_likelihood` (the source of the grid/gridr/ring protocol) averages
# diagonal-covariance Gaussian mixtures with 10 and 30 components.
_SDGYM_COMPONENTS = (10, 30)


def _default_estimators(task, random_state):
    # GTCoder, "Evaluation metrics": decision tree, random forest and AdaBoost for
    # classification; Ridge, Linear and GradientBoosting regression. The paper gives no
    # hyper-parameters: scikit-learn defaults (RandomForest with 100 trees), seeded.
    if task == "classification":
        return {
            "decision_tree": DecisionTreeClassifier(random_state=random_state),
            "random_forest": RandomForestClassifier(n_estimators=100, random_state=random_state),
            "adaboost": AdaBoostClassifier(random_state=random_state),
        }
    return {
        "ridge": Ridge(),
        "linear_regression": LinearRegression(),
        "gradient_boosting": GradientBoostingRegressor(random_state=random_state),
    }


def _check_estimators(estimators, task, random_state):
    if estimators is None:
        return _default_estimators(task, random_state)
    if isinstance(estimators, dict):
        items = list(estimators.items())
    else:
        try:
            items = [(type(est).__name__, est) for est in estimators]
        except TypeError:
            raise TypeError(
                "estimators must be None, a dict {name: estimator} or a list of estimators; "
                f"got {type(estimators).__name__}."
            ) from None
    if not items:
        raise ValueError("estimators is empty.")
    out = {}
    for name, est in items:
        if not hasattr(est, "fit") or not hasattr(est, "predict"):
            raise TypeError(f"Estimator {name!r} has no fit/predict methods: {est!r}.")
        out[name if name not in out else f"{name}_{len(out)}"] = est
    return out


def _preprocessor(numerical, categorical):
    """Median imputation (+ missing indicators) and scaling for numericals, one-hot for
    categoricals (given as integer codes with missing values as a code of their own)."""
    transformers = []
    if numerical:
        transformers.append(
            (
                "numerical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                numerical,
            )
        )
    if categorical:
        transformers.append(("categorical", OneHotEncoder(handle_unknown="ignore"), categorical))
    return ColumnTransformer(transformers, remainder="drop")


def _encode_features(frames, kinds, feature_columns):
    """One DataFrame per table: numericals float64 (NaN kept), categoricals as integer codes
    shared by all tables (missing values a code of their own)."""
    encoded = [{} for _ in frames]
    for column in feature_columns:
        kind = kinds[column]
        if is_numeric_kind(kind):
            for out, frame in zip(encoded, frames, strict=True):
                out[column] = numeric_values(frame[column], kind, column=column)
        else:
            codes, _ = joint_codes(*(frame[column] for frame in frames))
            for out, code in zip(encoded, codes, strict=True):
                out[column] = code
    return [pd.DataFrame(out, columns=feature_columns) for out in encoded]


def ml_efficacy(synthetic, test, *, target, task=None, estimators=None, random_state=0):
    """Machine-learning efficacy: train on synthetic rows, score on real test rows.

    GTCoder Table 1 protocol: each estimator is fitted on ``synthetic`` to predict ``target``
    from the other columns and scored on the real ``test`` split (20 % held out from the
    synthesizer's training data). Classification: decision tree, random forest (100 trees)
    and AdaBoost, reporting the mean macro-F1 and mean weighted-F1. Regression: Ridge, linear
    regression and gradient boosting, reporting the mean r². To get the real-data ceiling, pass
    the real training rows as ``synthetic``.

    Each estimator sits in a ``Pipeline`` after a ``ColumnTransformer``: numericals are
    median-imputed (with missing-value indicators) and standardised, categoricals are one-hot
    encoded (missing values a category of their own, categories unseen in the synthetic
    rows ignored). Rows whose target is missing are dropped on both sides. A synthetic table
    whose target has a single class is scored as it is: the models predict that class and
    the F1 scores show it (no error is raised).

    Parameters
    ----------
    synthetic : DataFrame
        Synthetic rows (training rows for the estimators).
    test : DataFrame
        Real test rows, with the same columns.
    target : str
        The column to predict.
    task : {"classification", "regression"}, default=None
        Inferred from the kind of ``target`` in ``test`` when None: categorical ->
        classification, numerical -> regression. Pass it to treat an integer label as classes.
    estimators : dict or list of estimators, default=None
        Replace the paper's estimators; each is cloned and wrapped after the preprocessing.
    random_state : int, default=0
        Seed of the default estimators.

    Returns
    -------
    result : dict
        Classification: ``{"task": "classification", "macro_f1": float, "weighted_f1": float,
        "per_estimator": {name: {"macro_f1": float, "weighted_f1": float}}}``.
        Regression: ``{"task": "regression", "r2": float, "per_estimator": {name: {"r2":
        float}}}``.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skmixsynth.metrics import ml_efficacy
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=400)
    >>> df = pd.DataFrame({"x": x, "c": rng.choice(["u", "v"], size=400),
    ...                    "y": np.where(x > 0, "yes", "no")})
    >>> train, test = df.iloc[:300], df.iloc[300:]
    >>> result = ml_efficacy(train, test, target="y")
    >>> sorted(result["per_estimator"])
    ['adaboost', 'decision_tree', 'random_forest']
    >>> result["macro_f1"] > 0.95
    True
    >>> broken = train.assign(y=rng.permutation(train["y"].to_numpy()))
    >>> ml_efficacy(broken, test, target="y")["macro_f1"] < 0.7
    True
    """
    test, (synthetic,), kinds = check_pair(test, synthetic, names=("test", "synthetic"))
    if target not in kinds:
        raise ValueError(f"target {target!r} is not a column; the columns are {list(kinds)}.")
    if len(kinds) < 2:
        raise ValueError("ml_efficacy needs at least one feature column besides the target.")
    if task is None:
        task = "regression" if is_numeric_kind(kinds[target]) else "classification"
    if task not in _TASKS:
        raise ValueError(f"task must be one of {_TASKS} or None; got {task!r}.")
    estimators = _check_estimators(estimators, task, random_state)

    # target
    if task == "classification":
        (y_syn, y_test), levels = joint_codes(synthetic[target], test[target])
        missing = len(levels) - 1 if _is_nan(levels[-1]) else -1
        keep_syn, keep_test = y_syn != missing, y_test != missing
    else:
        if not is_numeric_kind(kinds[target]):
            raise ValueError(
                f"task='regression' needs a numerical target; {target!r} is categorical."
            )
        y_syn = numeric_values(synthetic[target], kinds[target], column=target)
        y_test = numeric_values(test[target], kinds[target], column=target)
        keep_syn, keep_test = ~np.isnan(y_syn), ~np.isnan(y_test)
    if not keep_syn.any():
        raise ValueError(f"The synthetic rows have no value of the target {target!r}.")
    if not keep_test.any():
        raise ValueError(f"The test rows have no value of the target {target!r}.")

    features = [c for c in kinds if c != target]
    X_syn, X_test = _encode_features([synthetic, test], kinds, features)
    X_syn, y_syn = X_syn[keep_syn], y_syn[keep_syn]
    X_test, y_test = X_test[keep_test], y_test[keep_test]
    numerical = [c for c in features if is_numeric_kind(kinds[c])]
    categorical = [c for c in features if kinds[c] == CATEGORICAL]

    per_estimator = {}
    for name, estimator in estimators.items():
        model = Pipeline(
            [("preprocess", _preprocessor(numerical, categorical)), ("model", clone(estimator))]
        )
        model.fit(X_syn, y_syn)
        pred = model.predict(X_test)
        if task == "classification":
            per_estimator[name] = {
                "macro_f1": float(f1_score(y_test, pred, average="macro", zero_division=0)),
                "weighted_f1": float(f1_score(y_test, pred, average="weighted", zero_division=0)),
            }
        else:
            per_estimator[name] = {"r2": float(r2_score(y_test, pred))}
    result = {"task": task}
    for key in ("macro_f1", "weighted_f1") if task == "classification" else ("r2",):
        result[key] = float(np.mean([scores[key] for scores in per_estimator.values()]))
    result["per_estimator"] = per_estimator
    return result


def _is_nan(value):
    return isinstance(value, float) and np.isnan(value)


def _numeric_matrix(frame, kinds, name):
    bad = [c for c, k in kinds.items() if not is_numeric_kind(k)]
    if bad:
        raise ValueError(
            f"likelihood_fitness needs numerical columns only; {name} has categorical "
            f"columns {bad}."
        )
    if not kinds:
        raise ValueError(f"{name} has no columns.")
    matrix = np.column_stack([numeric_values(frame[c], k, column=c) for c, k in kinds.items()])
    return matrix[~np.isnan(matrix).any(axis=1)]


def likelihood_fitness(synthetic, test, log_density, *, n_components=None, random_state=0):
    """Likelihood fitness on a simulation with a known density (GTCoder Table 2).

    - ``l_syn``: the mean true log-density of the synthetic points,
      ``mean(log_density(synthetic))``. It rewards points where the true density is high,
      so a synthesizer collapsed onto the modes scores *well* here; read it with ``l_test``.
    - ``l_test``: a Gaussian mixture is fitted to the synthetic points and the mean
      log-likelihood of the real ``test`` points under it is reported. It drops when the
      synthetic points miss part of the distribution.

    The Gaussian mixtures follow SDGym's protocol for the grid/gridr/ring simulations
    (``_evaluate_gmm_likelihood``): diagonal covariances, the mean over mixtures with 10 and
    30 components unless ``n_components`` is given. Rows with missing values are dropped.

    Parameters
    ----------
    synthetic : DataFrame
        Synthetic points, numerical columns only.
    test : DataFrame
        Real test points drawn from the simulation, same columns.
    log_density : callable
        ``log_density(points) -> ndarray of shape (n,)``, the true log-density of an
        ``(n, d)`` float array whose columns are in the order of ``test``.
    n_components : int or sequence of int, default=None
        Components of the re-fitted mixture(s); ``None`` means ``(10, 30)``. A number larger
        than the number of synthetic points is reduced to it.
    random_state : int, default=0
        Seed of the Gaussian mixtures.

    Returns
    -------
    result : dict
        ``{"l_syn": float, "l_test": float, "l_test_per_n_components": {k: float}}``.
        Greater is better for both.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from scipy.stats import multivariate_normal
    >>> from skmixsynth.metrics import likelihood_fitness
    >>> rng = np.random.default_rng(0)
    >>> truth = multivariate_normal(mean=[0, 0])
    >>> test = pd.DataFrame(rng.normal(size=(500, 2)), columns=["a", "b"])
    >>> good = pd.DataFrame(rng.normal(size=(500, 2)), columns=["a", "b"])
    >>> narrow = good * 0.1
    >>> fit_good = likelihood_fitness(good, test, truth.logpdf, n_components=1)
    >>> fit_narrow = likelihood_fitness(narrow, test, truth.logpdf, n_components=1)
    >>> round(fit_good["l_syn"], 1), round(fit_good["l_test"], 1)
    (-2.9, -2.8)
    >>> fit_narrow["l_syn"] > fit_good["l_syn"], fit_narrow["l_test"] < fit_good["l_test"]
    (True, True)
    """
    if not callable(log_density):
        raise TypeError(
            f"log_density must be a callable returning log-densities; got {log_density!r}."
        )
    test, (synthetic,), kinds = check_pair(test, synthetic, names=("test", "synthetic"))
    X_syn = _numeric_matrix(synthetic, kinds, "synthetic")
    X_test = _numeric_matrix(test, kinds, "test")
    if len(X_syn) == 0 or len(X_test) == 0:
        raise ValueError("synthetic and test need at least one complete row each.")
    if n_components is None:
        components = _SDGYM_COMPONENTS
    elif isinstance(n_components, numbers.Integral) and not isinstance(n_components, bool):
        components = (int(n_components),)
    else:
        components = tuple(int(k) for k in n_components)
    if not components or any(k < 1 for k in components):
        raise ValueError(f"n_components must be positive integers; got {n_components!r}.")

    log_p = np.asarray(log_density(X_syn), dtype=np.float64).reshape(-1)
    if log_p.shape[0] != len(X_syn):
        raise ValueError(f"log_density returned {log_p.shape[0]} values for {len(X_syn)} points.")
    per_k = {}
    for k in components:
        gmm = GaussianMixture(
            n_components=min(k, len(X_syn)), covariance_type="diag", random_state=random_state
        )
        gmm.fit(X_syn)
        per_k[k] = float(gmm.score(X_test))
    return {
        "l_syn": float(np.mean(log_p)),
        "l_test": float(np.mean(list(per_k.values()))),
        "l_test_per_n_components": per_k,
    }
