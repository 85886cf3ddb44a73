"""Behaviour users trip on (issue 18): one max_categories rule for every synthesizer, and a
warning where a column's kind is a guess against its values."""

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest

import skmixsynth
from skmixsynth import (
    BaseSynthesizer,
    IndependentSynthesizer,
    MixedTypeEncoder,
    MixtureSynthesizer,
)
from skmixsynth.datasets import make_mixed

SYNTHESIZERS = [
    getattr(skmixsynth, name) for name in skmixsynth.__all__
    if isinstance(getattr(skmixsynth, name), type)
    and issubclass(getattr(skmixsynth, name), BaseSynthesizer)
    and getattr(skmixsynth, name) is not BaseSynthesizer
]


@pytest.mark.parametrize("klass", [k for k in SYNTHESIZERS if k is not MixtureSynthesizer],
                         ids=lambda k: k.__name__)
def test_every_one_hot_synthesizer_groups_beyond_50_levels_by_default(klass):
    assert klass().max_categories == 50
    doc = inspect.getdoc(klass)
    assert "max_categories : int or None, default=50" in doc
    assert "costs at most 50 outputs" in doc


def test_the_mixture_keeps_a_wide_column_whole_and_says_why():
    # a level costs the mixture a leaf's K numbers, not an output: it groups beyond 1000
    assert MixtureSynthesizer().max_categories == 1000
    doc = inspect.getdoc(MixtureSynthesizer)
    assert "max_categories : int or None, default=1000" in doc
    assert "lending_club" in doc
    rng = np.random.default_rng(0)
    real = make_mixed(600, random_state=0).assign(
        zip=rng.choice([f"z{i:03d}" for i in range(80)], 600))
    model = MixtureSynthesizer(random_state=0, min_count=None, epochs=1).fit(real)
    (span,) = model.encoder_.layout_.column_spans("zip")
    assert span.dim == real["zip"].nunique() == 80


def test_the_encoder_is_exact_by_default_and_says_the_rule():
    assert MixedTypeEncoder().max_categories is None
    doc = inspect.getdoc(MixedTypeEncoder)
    assert "every synthesizer passes ``max_categories=50`` by default" in doc


@pytest.mark.slow
@pytest.mark.parametrize("klass, params", [
    (IndependentSynthesizer, {}),
    (MixtureSynthesizer, {"epochs": 2, "n_components": 3, "n_subcomponents": 2}),
])
def test_the_new_default_changes_nothing_below_50_levels(klass, params):
    # the benchmark tables (adult: at most 41 levels per column) sample as before
    real = make_mixed(400, missing_rate=0.05, random_state=0)
    old = klass(random_state=0, max_categories=None, **params).fit(real)
    new = klass(random_state=0, **params).fit(real)
    pd.testing.assert_frame_equal(old.sample(200, random_state=1), new.sample(200, random_state=1))


def test_a_wide_column_costs_50_outputs():
    rng = np.random.default_rng(0)
    real = make_mixed(600, random_state=0).assign(
        zip=rng.choice([f"z{i:03d}" for i in range(200)], 600))
    model = IndependentSynthesizer(random_state=0, min_count=None).fit(real)
    (span,) = model.encoder_.layout_.column_spans("zip")
    assert span.dim == 50  # 49 levels and "infrequent"
    every = IndependentSynthesizer(random_state=0, min_count=None, max_categories=None).fit(real)
    (span,) = every.encoder_.layout_.column_spans("zip")
    assert span.dim == real["zip"].nunique() > 150


# ------------------------------------------------------------------ kinds guessed from dtypes
def _object_array(n=120):
    rng = np.random.default_rng(0)
    return np.column_stack([
        rng.normal(size=n).round(3),
        rng.choice(["a", "b", "c"], n),
        rng.integers(0, 5, n),
    ]).astype(object)


def test_numbers_in_an_object_array_are_a_warned_guess():
    X = _object_array()
    X[:, 0] = X[:, 0].astype(float)
    X[:, 2] = X[:, 2].astype(int)
    with pytest.warns(UserWarning) as caught:
        model = IndependentSynthesizer(random_state=0).fit(X)
    messages = [str(w.message) for w in caught if "holds numbers" in str(w.message)]
    assert len(messages) == 2
    assert messages[0].startswith("Column 'x0' holds numbers in an object column")
    assert "numerical_columns=['x0']" in messages[0]
    assert messages[1].startswith("Column 'x2' holds numbers")
    kinds = {col.name_: type(col).__name__ for col in model.encoder_.column_encoders_}
    assert kinds["x0"] == "CategoricalColumn"  # the dtype rule is kept, and said
    # naming the kind silences the warning and models the numbers as numbers
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixed = IndependentSynthesizer(random_state=0, numerical_columns=["x0", "x2"]).fit(X)
        IndependentSynthesizer(random_state=0, categorical_columns=["x0", "x2"]).fit(X)
    kinds = {col.name_: type(col).__name__ for col in fixed.encoder_.column_encoders_}
    assert kinds["x0"] == kinds["x2"] == "NumericalColumn"


def test_no_warning_where_the_dtype_says_it():
    real = make_mixed(200, random_state=0)
    frame = pd.DataFrame({"x": np.arange(100.0), "s": np.array(["a", "b"] * 50, dtype=object)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MixedTypeEncoder().fit(real)
        MixedTypeEncoder().fit(frame)
