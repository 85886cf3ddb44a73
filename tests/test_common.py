"""scikit-learn's estimator checks over every estimator of the package.

Each expected failure carries the reason it is expected, next to it.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import skmixsynth
from skmixsynth import BaseSynthesizer, IndependentSynthesizer, MixedTypeEncoder


def _synthesizers():
    """One small instance of every synthesizer class the package exports."""
    out = []
    for name in skmixsynth.__all__:
        obj = getattr(skmixsynth, name)
        is_class = isinstance(obj, type)
        if is_class and issubclass(obj, BaseSynthesizer) and obj is not BaseSynthesizer:
            params = {"random_state": 0, "device": "cpu"}
            for key in ("epochs", "ae_epochs"):
                if key in obj().get_params():
                    params[key] = 1
            out.append(obj(**params))
    return out


ESTIMATORS = [MixedTypeEncoder(), *_synthesizers()]

# Non-2-D input and complex numbers are refused with a TypeError that names the problem (a
# wrong kind of input, like a timedelta column), where these checks expect a ValueError.
_INPUT_TYPE_FAILURES = {
    "check_complex_data": (
        "complex columns raise a TypeError naming the column (a dtype problem, like timedelta "
        "columns), not the ValueError('Complex data not supported') the check expects"
    ),
    "check_fit1d": (
        "non-2-D input (1-D arrays, Series, scalars) raises a TypeError saying a 2-D table is "
        "needed, by design; the check expects a ValueError"
    ),
}

ENCODER_EXPECTED_FAILURES = {
    **_INPUT_TYPE_FAILURES,
    "check_fit2d_predict1d": (
        "transform on a 1-D array raises a TypeError (not a 2-D table), by design; the check "
        "expects a ValueError"
    ),
}

SYNTHESIZER_EXPECTED_FAILURES = dict(_INPUT_TYPE_FAILURES)


def _expected_failed_checks(estimator):
    if isinstance(estimator, MixedTypeEncoder):
        return ENCODER_EXPECTED_FAILURES
    return SYNTHESIZER_EXPECTED_FAILURES


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_every_synthesizer_is_checked():
    names = {type(e).__name__ for e in ESTIMATORS}
    assert "IndependentSynthesizer" in names


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_init_only_stores_parameters(estimator):
    # Every parameter is an attribute of the same name and nothing else is set.
    params = estimator.get_params(deep=False)
    public = {k for k in vars(estimator) if not k.startswith("_")}
    assert public == set(params)
    assert isinstance(IndependentSynthesizer().get_params(), dict)
