"""Scorers: callables ``scorer(synthesizer, X, y=None) -> float`` for model selection.

A scorer samples ``len(X)`` rows from a fitted synthesizer (with its own fixed seed) and
compares them with ``X``; greater is better, losses are negated and named ``neg_*``. They plug
into scikit-learn's model selection as callables::

    from sklearn.model_selection import GridSearchCV
    from skmixsynth.metrics import get_scorer

    search = GridSearchCV(synth, param_grid, scoring=get_scorer("quality"), cv=3).fit(df)
    search = GridSearchCV(
        synth, param_grid, cv=3, refit="quality",
        scoring={"quality": get_scorer("quality"), "detection": get_scorer("detection")},
    ).fit(df)

In a :class:`~sklearn.pipeline.Pipeline` whose last step is a synthesizer, a scorer samples
from that step and compares with ``X`` transformed by the steps before it (the table the
synthesizer learned); anything that cannot sample is a ``TypeError``, not a NaN score.

Strings do not work (``scoring="quality"``): scikit-learn checks a string against its own
registry of names, frozen when ``sklearn.model_selection`` is imported, and adding to it
would mean patching private scikit-learn objects. Pass scorer objects; ``scoring=None`` uses
the synthesizer's own ``score`` method, which is the quality score.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state

from .._validation import check_frame
from ._detection import detection_score
from ._mixgan import correlation_maintenance_gap, marginal_agreement_score
from ._privacy import exact_copy_rate, rare_value_copy_rate
from ._quality import column_pair_trends, column_shapes, quality_score
from ._utility import ml_efficacy

__all__ = ["get_scorer", "get_scorer_names", "make_synthesis_scorer"]


class _SynthesisScorer:
    """Sample ``len(X)`` rows from a fitted synthesizer and score them against ``X``."""

    def __init__(self, metric, *, sign, kwargs, random_state, description):
        self._metric = metric
        self._sign = sign
        self._kwargs = dict(kwargs)
        self._random_state = random_state
        self._description = description

    def __call__(self, estimator, X, y=None, **kwargs):
        """Score a fitted synthesizer on the real rows ``X`` (and ``y``, for a target).

        Parameters
        ----------
        estimator : fitted synthesizer, or a fitted Pipeline whose last step is one
            The synthesizer must have ``sample(n_samples, random_state=...)`` returning a
            DataFrame (an array is given the columns of ``X``). A :class:`~sklearn.pipeline.
            Pipeline` is scored on its last step, against ``X`` transformed by the steps
            before it: the synthesizer learned (and samples) the transformed table.
        X : DataFrame
            Real rows to compare with.
        y : array-like or None, default=None
            The target of a synthesizer fitted with ``fit(X, y)`` (which learned it as a
            column, ``target_names_``), joined to ``X`` so that the whole table is compared;
            without it the features are. Ignored for a synthesizer fitted without a target.
        **kwargs : ignored
            Metadata passed by scikit-learn (none is used).

        Returns
        -------
        score : float
            Greater is better.

        Raises
        ------
        TypeError
            When ``estimator`` is neither a synthesizer nor a Pipeline ending in one (an
            error, not a NaN score: see :func:`make_synthesis_scorer`).
        """
        estimator, X = _synthesizer_and_rows(estimator, X)
        X = check_frame(X, name="X")
        targets = [t for t in getattr(estimator, "target_names_", None) or () if t not in X]
        if targets and y is not None:  # fitted with fit(X, y): compare the whole table
            values = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
            X = X.assign(**{str(targets[0]): np.ravel(values)}) if len(targets) == 1 else X
        synthetic = estimator.sample(len(X), random_state=self._random_state)
        if isinstance(synthetic, pd.DataFrame) and targets:
            # without y, the features only: the target X lacks is not compared
            synthetic = synthetic[[c for c in synthetic.columns if c in X.columns]]
        if not isinstance(synthetic, pd.DataFrame):
            synthetic = check_frame(synthetic, name="the sampled rows")
            if synthetic.shape[1] != X.shape[1]:
                raise ValueError(
                    f"The synthesizer sampled {synthetic.shape[1]} columns; X has {X.shape[1]}."
                )
            synthetic.columns = X.columns
        value = self._metric(X, synthetic, **self._kwargs)
        return self._sign * float(value)

    def __repr__(self):
        return self._description


def _synthesizer_and_rows(estimator, X):
    """The synthesizer to sample from and the real rows in the space it learned.

    A Pipeline ending in a synthesizer is scored on that step, against ``X`` transformed by
    the steps before it. Anything without ``sample`` is a TypeError naming it: inside
    ``GridSearchCV`` a scorer that fails becomes a NaN score and the search silently keeps
    the first candidate, so the message says what to pass instead.
    """
    if isinstance(estimator, Pipeline):
        final = estimator.steps[-1][1]
        if not hasattr(final, "sample"):
            raise TypeError(
                "A synthesis scorer samples from the synthesizer it scores, but the last step "
                f"of this Pipeline, {estimator.steps[-1][0]!r} ({type(final).__name__}), has "
                "no sample method; make a synthesizer the last step."
            )
        if len(estimator.steps) > 1:
            X = estimator[:-1].transform(X)
        return final, X
    if not hasattr(estimator, "sample"):
        raise TypeError(
            "A synthesis scorer samples from the synthesizer it scores, but "
            f"{type(estimator).__name__} has no sample method; pass a fitted synthesizer or a "
            "Pipeline whose last step is one."
        )
    return estimator, X


def _call_repr(func_name, first, pairs):
    args = [first, *(f"{k}={v!r}" for k, v in pairs)]
    return f"{func_name}({', '.join(args)})"


# --- adapters: metrics whose signature is not metric(real, synthetic) -> float -------------


def _split_halves(X, random_state):
    rng = check_random_state(random_state)
    order = rng.permutation(len(X))
    half = len(X) // 2
    return X.iloc[np.sort(order[:half])], X.iloc[np.sort(order[half:])]


def _correlation_maintenance_gap_on_halves(real, synthetic, *, random_state=0, **kwargs):
    """X is split at random in two halves, one trains the "real" models and the other is the
    hold-out; the "fake" models train on as many synthetic rows as the real half has."""
    if len(real) < 4:
        raise ValueError(
            "neg_correlation_maintenance_gap needs at least 4 rows in X to split it into a "
            f"training half and a hold-out half; got {len(real)}."
        )
    train, holdout = _split_halves(real, random_state)
    return correlation_maintenance_gap(
        train, synthetic.iloc[: len(train)], holdout, random_state=random_state, **kwargs
    )


def _ml_efficacy_entry(real, synthetic, *, key=None, **kwargs):
    """ml_efficacy(synthetic, test=X)[key]; key defaults to macro_f1 / r2 by task."""
    result = ml_efficacy(synthetic, real, **kwargs)
    if key is None:
        key = "macro_f1" if result["task"] == "classification" else "r2"
    if key not in result:
        raise ValueError(
            f"ml_efficacy returned no {key!r} for task {result['task']!r}; its entries are "
            f"{[k for k in result if k not in ('task', 'per_estimator')]}."
        )
    return result[key]


_ADAPTERS = {
    correlation_maintenance_gap: _correlation_maintenance_gap_on_halves,
    ml_efficacy: _ml_efficacy_entry,
}


def make_synthesis_scorer(metric, *, greater_is_better=True, random_state=0, **kwargs):
    """Make a scorer for synthesizers from a metric of two DataFrames.

    The scorer is a callable ``scorer(synthesizer, X, y=None) -> float`` that samples
    ``len(X)`` rows with ``synthesizer.sample(len(X), random_state=random_state)`` and returns
    ``metric(X, synthetic, **kwargs)``, negated when ``greater_is_better=False``. Use it as
    ``scoring=`` in ``GridSearchCV``, ``cross_validate`` and friends.

    Two library metrics with another signature are adapted:

    - :func:`ml_efficacy`: ``X`` is the real test set; ``target`` is required, and ``key``
      (default ``"macro_f1"`` for classification, ``"r2"`` for regression) selects the entry
      of its result, e.g. ``make_synthesis_scorer(ml_efficacy, target="income",
      key="weighted_f1")``.
    - :func:`correlation_maintenance_gap`: ``X`` is split at random in two halves, a training
      half for the real models and a hold-out half; pass ``greater_is_better=False``.

    Privacy: in cross-validation the scorer only sees the validation fold, not the rows the
    synthesizer was trained on, so it cannot measure memorisation of the training rows.
    ``make_synthesis_scorer(exact_copy_rate, greater_is_better=False)`` (and
    :func:`rare_value_copy_rate` likewise) compares the samples with whatever ``X`` it is
    given: call it yourself on the training rows, ``scorer(fitted, X_train)``, to count
    copies of them. :func:`dcr_ratio` needs the training rows and a hold-out and has no
    scorer.

    Parameters
    ----------
    metric : callable
        ``metric(real, synthetic, **kwargs) -> float``, or one of the adapted metrics above.
    greater_is_better : bool, default=True
        ``False`` for losses: the scorer returns ``-metric(...)``.
    random_state : int, default=0
        Seed of the sampling, fixed so that every candidate is scored on equally drawn
        samples. It is also passed to the metric when the metric takes a ``random_state``
        and none is given in ``kwargs``.
    **kwargs
        Passed to the metric.

    Returns
    -------
    scorer : callable
        ``scorer(synthesizer, X, y=None) -> float``.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skmixsynth.metrics import column_shapes, make_synthesis_scorer
    >>> class Resampler:
    ...     def __init__(self, df):
    ...         self.df = df
    ...     def sample(self, n, random_state=None):
    ...         return self.df.sample(n, replace=True, random_state=random_state)
    >>> df = pd.DataFrame({"x": np.arange(100.0), "c": ["a", "b"] * 50})
    >>> scorer = make_synthesis_scorer(column_shapes)
    >>> scorer
    make_synthesis_scorer(column_shapes)
    >>> scorer(Resampler(df), df) > 0.9
    True
    >>> float(scorer(Resampler(df.assign(c="a")), df))
    0.7...
    """
    if not callable(metric):
        raise TypeError(f"metric must be a callable; got {metric!r}.")
    if not isinstance(greater_is_better, (bool, np.bool_)):
        raise TypeError(f"greater_is_better must be a bool; got {greater_is_better!r}.")
    func = _ADAPTERS.get(metric, metric)
    shown = [("greater_is_better", False)] if not greater_is_better else []
    if random_state != 0:
        shown.append(("random_state", random_state))
    shown.extend(kwargs.items())
    description = _call_repr(
        "make_synthesis_scorer", getattr(metric, "__name__", repr(metric)), shown
    )
    if "random_state" not in kwargs and _accepts(func, "random_state"):
        kwargs["random_state"] = random_state
    return _SynthesisScorer(
        func,
        sign=1 if greater_is_better else -1,
        kwargs=kwargs,
        random_state=random_state,
        description=description,
    )


def _accepts(func, name):
    try:
        return name in inspect.signature(func).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without signature
        return False


# name -> (metric, greater_is_better, required keyword arguments, fixed keyword arguments)
_REGISTRY = {
    "quality": (quality_score, True, (), {}),
    "column_shapes": (column_shapes, True, (), {}),
    "column_pair_trends": (column_pair_trends, True, (), {}),
    "marginal_agreement": (marginal_agreement_score, True, (), {}),
    "detection": (detection_score, True, (), {}),
    "neg_correlation_maintenance_gap": (correlation_maintenance_gap, False, (), {}),
    "neg_exact_copy_rate": (exact_copy_rate, False, (), {}),
    "neg_rare_value_copy_rate": (rare_value_copy_rate, False, (), {}),
    "ml_efficacy_macro_f1": (ml_efficacy, True, ("target",), {"key": "macro_f1"}),
    "ml_efficacy_weighted_f1": (ml_efficacy, True, ("target",), {"key": "weighted_f1"}),
    "ml_efficacy_r2": (ml_efficacy, True, ("target",), {"key": "r2", "task": "regression"}),
}


def get_scorer_names():
    """Names accepted by :func:`get_scorer`.

    Returns
    -------
    names : list of str
        Sorted.

    Examples
    --------
    >>> from skmixsynth.metrics import get_scorer_names
    >>> get_scorer_names()[:4]
    ['column_pair_trends', 'column_shapes', 'detection', 'marginal_agreement']
    >>> "quality" in get_scorer_names()
    True
    """
    return sorted(_REGISTRY)


def get_scorer(scoring, *, random_state=0, **kwargs):
    """Get a synthesis scorer by name.

    ======================================  ====================================================
    name                                    metric (scored against ``X``)
    ======================================  ====================================================
    ``"quality"``                           :func:`quality_score`
    ``"column_shapes"``                     :func:`column_shapes`
    ``"column_pair_trends"``                :func:`column_pair_trends`
    ``"marginal_agreement"``                :func:`marginal_agreement_score`
    ``"detection"``                         :func:`detection_score`
    ``"neg_correlation_maintenance_gap"``   ``-`` :func:`correlation_maintenance_gap`, ``X``
                                            split in a training half and a hold-out half
    ``"neg_exact_copy_rate"``               ``-`` :func:`exact_copy_rate` of the samples in
                                            ``X`` (see the privacy note of
                                            :func:`make_synthesis_scorer`)
    ``"neg_rare_value_copy_rate"``          ``-`` :func:`rare_value_copy_rate`: samples
                                            carrying a value held by fewer than
                                            ``min_count=5`` rows of ``X`` (an identifier, a
                                            rare category), same note
    ``"ml_efficacy_macro_f1"``              :func:`ml_efficacy` with ``X`` as test set;
    ``"ml_efficacy_weighted_f1"``           needs ``target=...``
    ``"ml_efficacy_r2"``
    ======================================  ====================================================

    Parameters
    ----------
    scoring : str or callable
        A name from :func:`get_scorer_names`; a callable is returned as it is.
    random_state : int, default=0
        Seed of the sampling (and of the metric, when it takes one).
    **kwargs
        Passed to the metric, e.g. ``target="income"`` for the ``ml_efficacy_*`` scorers.

    Returns
    -------
    scorer : callable
        ``scorer(synthesizer, X, y=None) -> float``, greater is better. Use it (or a dict of
        them) as ``scoring=`` in ``GridSearchCV``; a string such as ``scoring="quality"`` is
        not understood by scikit-learn.

    Examples
    --------
    >>> from skmixsynth.metrics import get_scorer
    >>> get_scorer("quality")
    get_scorer('quality')
    >>> get_scorer("ml_efficacy_macro_f1", target="income")
    get_scorer('ml_efficacy_macro_f1', target='income')
    """
    if callable(scoring):
        return scoring
    if scoring not in _REGISTRY:
        raise ValueError(
            f"{scoring!r} is not a synthesis scorer; the names are {get_scorer_names()}. "
            "Use make_synthesis_scorer to build one from any metric(real, synthetic)."
        )
    metric, greater, required, fixed = _REGISTRY[scoring]
    missing = [k for k in required if k not in kwargs]
    if missing:
        raise ValueError(
            f"The scorer {scoring!r} needs {missing}: get_scorer({scoring!r}, "
            + ", ".join(f"{k}=..." for k in missing)
            + ")."
        )
    scorer = make_synthesis_scorer(
        metric, greater_is_better=greater, random_state=random_state, **fixed, **kwargs
    )
    shown = ([("random_state", random_state)] if random_state != 0 else []) + list(kwargs.items())
    scorer._description = _call_repr("get_scorer", repr(scoring), shown)
    return scorer
