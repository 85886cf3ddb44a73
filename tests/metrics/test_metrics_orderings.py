"""The orderings that make the metrics trustworthy.

A real hold-out scores near the top; deliberately broken synthetic data score clearly worse:
shuffling columns independently keeps the marginals (column shapes and marginal agreement do
not move) but destroys the dependencies (pair trends, correlation maintenance, detection, ML
efficacy drop); one constant row repeated hurts everything; gaussian noise on the numericals
hurts everything that looks at them.
"""

import pytest

from skmixsynth.metrics import (
    column_pair_trends,
    column_shapes,
    correlation_maintenance_gap,
    detection_score,
    marginal_agreement_score,
    marginal_agreement_summary,
    ml_efficacy,
    quality_score,
)


def _gap(real, synthetic, evaluation):
    return correlation_maintenance_gap(real, synthetic, evaluation)


def _ml(real, synthetic, evaluation):
    return ml_efficacy(synthetic, evaluation, target="c")["macro_f1"]


# name -> (metric(real, synthetic, evaluation) -> float, greater_is_better, top threshold)
METRICS = {
    "quality": (lambda r, s, e: quality_score(r, s), True, 0.88),
    "column_shapes": (lambda r, s, e: column_shapes(r, s), True, 0.94),
    "column_pair_trends": (lambda r, s, e: column_pair_trends(r, s), True, 0.80),
    "marginal_agreement": (lambda r, s, e: marginal_agreement_score(r, s), True, 0.98),
    "marginal_r2": (lambda r, s, e: marginal_agreement_summary(r, s)["r2_diagonal"], True, 0.97),
    "detection": (lambda r, s, e: detection_score(r, s), True, 0.8),
    "correlation_maintenance_gap": (_gap, False, 0.02),
    "ml_efficacy": (_ml, True, 0.95),
}
# the metrics that only look at one column at a time
MARGINAL_ONLY = {"column_shapes", "marginal_agreement", "marginal_r2"}


def _deficit(value, greater_is_better):
    """Distance from perfect: 1 - score for scores, the value itself for losses."""
    return 1.0 - value if greater_is_better else value


@pytest.fixture(scope="module")
def evaluation(make_frame):
    """Real rows for the hold-out of correlation maintenance and the test of ML efficacy."""
    return make_frame(600, seed=5)


@pytest.fixture(scope="module")
def reference_scores(real, holdout, evaluation):
    return {name: metric(real, holdout, evaluation) for name, (metric, _, _) in METRICS.items()}


@pytest.mark.parametrize("name", list(METRICS))
def test_real_holdout_scores_near_the_top(name, reference_scores):
    _, greater, top = METRICS[name]
    value = reference_scores[name]
    if greater:
        assert value >= top, f"{name}: real hold-out scores {value:.3f} < {top}"
    else:
        assert value <= top, f"{name}: real hold-out loss {value:.3f} > {top}"


@pytest.mark.parametrize("variant", ["shuffled", "constant", "noisy"])
@pytest.mark.parametrize("name", list(METRICS))
def test_broken_data_scores_worse(name, variant, real, variants, evaluation, reference_scores):
    metric, greater, _ = METRICS[name]
    broken = metric(real, variants[variant], evaluation)
    ref = _deficit(reference_scores[name], greater)
    got = _deficit(broken, greater)
    if variant == "shuffled" and name in MARGINAL_ONLY:
        # a permutation of each hold-out column has exactly the hold-out's marginals
        assert broken == pytest.approx(reference_scores[name], abs=1e-12)
        return
    if variant == "noisy" and name == "ml_efficacy":
        # noise of one standard deviation blurs the x -> c rule: clearly worse, less than 1.5x
        assert broken < reference_scores[name] - 0.1
        return
    assert got >= 1.5 * ref and got >= ref + 0.005, (
        f"{name}: {variant} data ({broken:.4f}) not clearly worse than a real hold-out "
        f"({reference_scores[name]:.4f})"
    )


def test_constant_row_is_the_worst_on_shapes(real, variants):
    scores = {k: column_shapes(real, v) for k, v in variants.items()}
    assert scores["constant"] == min(scores.values())
    assert scores["constant"] < 0.6
