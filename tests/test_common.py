"""scikit-learn's estimator checks over every estimator of the package.

Each expected failure carries the reason it is expected, next to it.
"""

import ast
import inspect
import re

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


def _package_synthesizers():
    """Every concrete BaseSynthesizer subclass defined in the package, however deep."""
    found, todo = set(), [BaseSynthesizer]
    while todo:
        klass = todo.pop()
        for sub in klass.__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("skmixsynth.") and not inspect.isabstract(sub):
                found.add(sub)
    return found


def test_every_synthesizer_is_checked():
    # A synthesizer defined in the package but not exported would escape the checks above.
    checked = {type(e) for e in ESTIMATORS if isinstance(e, BaseSynthesizer)}
    assert IndependentSynthesizer in checked
    assert checked == _package_synthesizers()


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_init_only_stores_parameters(estimator):
    # Every parameter is an attribute of the same name and nothing else is set.
    params = estimator.get_params(deep=False)
    public = {k for k in vars(estimator) if not k.startswith("_")}
    assert public == set(params)
    signature = inspect.signature(type(estimator).__init__).parameters
    assert set(params) == set(signature) - {"self"}


def _documented_defaults(klass):
    """``{parameter: default text}`` from the numpydoc Parameters section of ``klass``."""
    doc = inspect.getdoc(klass)
    section = doc.split("Parameters\n----------\n", 1)[1]
    section = re.split(r"\n(?:Attributes|Returns|See Also|Notes|Examples)\n-+\n", section)[0]
    found = {}
    for line in section.splitlines():
        match = re.match(r"^(\w+(?:, \w+)*) : .*?default=(.+)$", line)
        if match:
            found.update(dict.fromkeys(match.group(1).split(", "), match.group(2)))
    return found


@pytest.mark.parametrize("klass", sorted(_package_synthesizers(), key=lambda k: k.__name__),
                         ids=lambda k: k.__name__)
def test_documented_defaults_are_the_defaults(klass):
    signature = inspect.signature(klass.__init__).parameters
    documented = _documented_defaults(klass)
    assert set(documented) == set(signature) - {"self"}, "every parameter documented"
    for name, text in documented.items():
        assert ast.literal_eval(text) == signature[name].default, name
