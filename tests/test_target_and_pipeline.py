"""Behaviour users trip on (issue 18): ``fit(X, y)`` learns ``y`` instead of dropping it, and
the synthesis scorers score a Pipeline whose last step is a synthesizer."""

import os

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import skmixsynth
from skmixsynth import IndependentSynthesizer
from skmixsynth.datasets import make_mixed
from skmixsynth.metrics import get_scorer


@pytest.fixture(scope="module")
def table():
    return make_mixed(400, random_state=0)


@pytest.fixture(scope="module")
def X_y(table):
    return table.drop(columns="plan"), table["plan"]


# ------------------------------------------------------------------------------ fit(X, y)
def test_fit_joins_a_named_series_as_a_column(X_y):
    X, y = X_y
    X_before, y_before = X.copy(), y.copy()
    model = IndependentSynthesizer(random_state=0).fit(X, y)
    fake = model.sample(300, random_state=0)
    assert list(fake.columns) == [*X.columns, "plan"]
    assert model.n_features_in_ == X.shape[1] + 1
    assert set(fake["plan"]) == set(y)  # learned: every level of y comes back
    assert fake["plan"].value_counts(normalize=True)["plus"] == pytest.approx(
        y.value_counts(normalize=True)["plus"], abs=0.1)
    pd.testing.assert_frame_equal(X, X_before)  # the caller's data is untouched
    pd.testing.assert_series_equal(y, y_before)


@pytest.mark.parametrize("kind", ["unnamed series", "array", "list", "column array"])
def test_an_unnamed_target_is_called_target(X_y, kind):
    X, y = X_y
    given = {
        "unnamed series": y.rename(None),
        "array": y.to_numpy(),
        "list": y.tolist(),
        "column array": y.to_numpy().reshape(-1, 1),
    }[kind]
    fake = IndependentSynthesizer(random_state=0).fit(X, given).sample(5, random_state=0)
    assert list(fake.columns) == [*X.columns, "target"]


def test_a_dataframe_target_keeps_its_columns(table):
    X, Y = table.drop(columns=["plan", "income"]), table[["plan", "income"]]
    fake = IndependentSynthesizer(random_state=0).fit(X, Y).sample(5, random_state=0)
    assert list(fake.columns) == [*X.columns, "plan", "income"]


def test_array_X_with_y(table):
    X = table[["age", "income"]].to_numpy()
    y = table["plan"].to_numpy()
    model = IndependentSynthesizer(random_state=0).fit(X, y)
    fake = model.sample(5, random_state=0)
    assert fake.shape == (5, 3) and fake.columns[-1] == "target"
    assert not hasattr(model, "feature_names_in_")


@pytest.mark.parametrize("case, match", [
    ("short", "y has 399 rows but X has 400"),
    ("clash", r"already has them"),
    ("2-D", r"shape \(400, 2\)"),
    ("index", "different indexes"),
])
def test_bad_targets_are_clear_errors(X_y, case, match):
    X, y = X_y
    bad = {
        "short": y.iloc[:-1],
        "clash": y.rename("age"),
        "2-D": np.column_stack([y, y]),
        "index": y.set_axis(y.index[::-1]),
    }[case]
    with pytest.raises(ValueError, match=match):
        IndependentSynthesizer(random_state=0).fit(X, bad)


def test_score_and_save_with_a_target(X_y, tmp_path):
    X, y = X_y
    model = IndependentSynthesizer(random_state=0).fit(X, y)
    assert 0.5 < model.score(X, y) <= 1
    with pytest.raises(ValueError, match="features"):
        model.score(X)  # the model learned y too: score needs it
    path = os.fspath(tmp_path / "model.pt")
    twin = skmixsynth.load(model.save(path))
    assert twin.n_features_in_ == model.n_features_in_
    assert twin.score(X, y) == model.score(X, y)


def test_scorers_join_y_in_a_search(X_y):
    X, y = X_y
    search = GridSearchCV(
        IndependentSynthesizer(random_state=0), {"n_bins": [1, 200]}, cv=2,
        scoring={"quality": get_scorer("quality"),
                 "efficacy": get_scorer("ml_efficacy_macro_f1", target="plan")},
        refit="quality", error_score="raise",
    ).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_efficacy"]).all()
    assert list(search.best_estimator_.sample(2, random_state=0).columns)[-1] == "plan"


# ------------------------------------------------------------------------------ pipelines
def _drop_contact(frame):
    return frame.drop(columns="contact")


def _pipeline():
    return Pipeline([
        ("select", FunctionTransformer(_drop_contact)),
        ("synth", IndependentSynthesizer(numerical_encoding="minmax", random_state=0)),
    ])


def test_a_scorer_scores_the_last_step_of_a_pipeline(table):
    pipe = _pipeline().fit(table)
    scorer = get_scorer("quality")
    score = scorer(pipe, table)
    assert np.isfinite(score) and 0.5 < score <= 1
    assert score == scorer(pipe[-1], _drop_contact(table))


def test_grid_search_over_a_pipeline_picks_the_best_candidate(table):
    # One bin samples min-max columns uniformly, 200 bins follow them: the second candidate
    # is better, so a NaN score and a silent pick of the first would fail here.
    search = GridSearchCV(_pipeline(), {"synth__n_bins": [1, 200]}, cv=2,
                          scoring=get_scorer("column_shapes")).fit(table)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all() and scores[1] > scores[0]
    assert search.best_params_ == {"synth__n_bins": 200}


def test_a_pipeline_with_an_array_step(table):
    numbers = table[["age", "income", "spending"]]
    pipe = Pipeline([("scale", StandardScaler()),
                     ("synth", IndependentSynthesizer(random_state=0))]).fit(numbers)
    assert 0.5 < get_scorer("column_shapes")(pipe, numbers) <= 1


def test_scoring_what_cannot_sample_is_a_type_error(table):
    numbers = table[["age", "income"]]
    scaler = Pipeline([("scale", StandardScaler())]).fit(numbers)
    with pytest.raises(TypeError, match="'scale' \\(StandardScaler\\), has no sample method"):
        get_scorer("quality")(scaler, numbers)
    with pytest.raises(TypeError, match="StandardScaler has no sample method"):
        get_scorer("quality")(StandardScaler().fit(numbers), numbers)
