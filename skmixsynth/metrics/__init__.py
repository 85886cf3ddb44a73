"""Metrics for synthetic tables: pure functions of DataFrames, and scorers.

Every metric takes the real and the synthetic table (same columns; kinds inferred from the
real one with :func:`skmixsynth._validation.infer_column_kinds`, datetimes compared as
nanoseconds) and never modifies them.

Fidelity
    :func:`quality_score`, :func:`column_shapes`, :func:`column_pair_trends` (and their
    ``*_details``): SDMetrics 0.32 ``QualityReport`` definitions.
    :func:`marginal_agreement` / :func:`marginal_agreement_score` /
    :func:`marginal_agreement_summary`: mixGAN §5.1.
    :func:`correlation_maintenance` / :func:`correlation_maintenance_gap`: mixGAN §5.2;
    :func:`correlation_maintenance_baseline`: its floor, the errors of no dependence.
    :func:`detection_score`: a classifier two-sample test (SDMetrics' detection definition).
Utility
    :func:`ml_efficacy`: GTCoder Table 1 (train on synthetic, test on real).
    :func:`likelihood_fitness`: GTCoder Table 2 (simulations with a known density).
Privacy
    :func:`exact_copy_rate`, :func:`rare_value_copy_rate` (and its ``*_details``),
    :func:`dcr_ratio`: copies of training rows, of rare values and identifiers, and
    distances to the closest training record; identifier columns count as the people they
    name (see :mod:`skmixsynth.metrics._privacy`).
Model selection
    :func:`get_scorer`, :func:`get_scorer_names`, :func:`make_synthesis_scorer`: callables
    ``scorer(synthesizer, X, y=None)`` for ``GridSearchCV(..., scoring=get_scorer("quality"))``.

:func:`evaluate` and :class:`EvaluationReport` (every score, table and figure at once, and
the HTML report) live in :mod:`skmixsynth.report`, which composes the metrics and the plots;
they are importable from here too.
"""

from ._baseline import correlation_maintenance_baseline
from ._detection import detection_score
from ._mixgan import (
    correlation_maintenance,
    correlation_maintenance_gap,
    marginal_agreement,
    marginal_agreement_score,
    marginal_agreement_summary,
)
from ._privacy import (
    dcr_ratio,
    exact_copy_rate,
    rare_value_copy_details,
    rare_value_copy_rate,
)
from ._quality import (
    column_pair_trends,
    column_pair_trends_details,
    column_shapes,
    column_shapes_details,
    quality_score,
)
from ._scorer import get_scorer, get_scorer_names, make_synthesis_scorer
from ._utility import likelihood_fitness, ml_efficacy

__all__ = [
    "EvaluationReport",
    "column_pair_trends",
    "column_pair_trends_details",
    "column_shapes",
    "column_shapes_details",
    "correlation_maintenance",
    "correlation_maintenance_baseline",
    "correlation_maintenance_gap",
    "dcr_ratio",
    "detection_score",
    "evaluate",
    "exact_copy_rate",
    "get_scorer",
    "get_scorer_names",
    "likelihood_fitness",
    "make_synthesis_scorer",
    "marginal_agreement",
    "marginal_agreement_score",
    "marginal_agreement_summary",
    "ml_efficacy",
    "quality_score",
    "rare_value_copy_details",
    "rare_value_copy_rate",
]


def __getattr__(name):
    # The report composes metrics and plots (skmixsynth.report imports this package), so its
    # two names are looked up there on first use rather than imported at the top.
    if name in ("EvaluationReport", "evaluate"):
        from .. import report

        return getattr(report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
