"""Behaviour users trip on (issue 18): the synthesis scorers score a Pipeline whose last step
is a synthesizer."""


import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skmixsynth import IndependentSynthesizer
from skmixsynth.datasets import make_mixed
from skmixsynth.metrics import get_scorer


@pytest.fixture(scope="module")
def table():
    return make_mixed(400, random_state=0)


@pytest.fixture(scope="module")
def X_y(table):
    return table.drop(columns="plan"), table["plan"]


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
