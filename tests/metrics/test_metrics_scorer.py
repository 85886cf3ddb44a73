"""Scorers: registry, sampling seed, sign conventions, and scikit-learn model selection."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.model_selection import GridSearchCV, cross_validate

from skmixsynth import IndependentSynthesizer
from skmixsynth.metrics import (
    column_shapes,
    exact_copy_rate,
    get_scorer,
    get_scorer_names,
    make_synthesis_scorer,
    ml_efficacy,
    quality_score,
    rare_value_copy_rate,
)

REQUIRED = {
    "quality",
    "column_shapes",
    "column_pair_trends",
    "marginal_agreement",
    "detection",
    "neg_correlation_maintenance_gap",
    "neg_exact_copy_rate",
    "neg_rare_value_copy_rate",
    "ml_efficacy_macro_f1",
    "ml_efficacy_weighted_f1",
    "ml_efficacy_r2",
}
NEEDS_TARGET = {"ml_efficacy_macro_f1": "c", "ml_efficacy_weighted_f1": "c", "ml_efficacy_r2": "y"}


def _scorer(name):
    kwargs = {"target": NEEDS_TARGET[name]} if name in NEEDS_TARGET else {}
    return get_scorer(name, **kwargs)


def test_registry_names():
    names = get_scorer_names()
    assert REQUIRED <= set(names)
    assert names == sorted(names)


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_copying_beats_column_shuffling(name, real, doubles):
    """Every registered scorer ranks a synthesizer that keeps the dependencies above one
    that samples each column on its own -- except column shapes and marginal agreement,
    which only see marginals, and the copy rates, privacy losses the copier must lose on."""
    train = real.iloc[:300]
    copier = doubles["copying"]().fit(train)
    shuffler = doubles["shuffle"]().fit(train)
    scorer = _scorer(name)
    X = train if name in {"neg_exact_copy_rate", "neg_rare_value_copy_rate"} else real.iloc[300:]
    copy_score, shuffle_score = scorer(copier, X), scorer(shuffler, X)
    assert np.isfinite(copy_score) and np.isfinite(shuffle_score)
    if name.startswith("neg_"):
        assert copy_score <= 0 and shuffle_score <= 0
    if name in {"column_shapes", "marginal_agreement"}:
        assert copy_score == pytest.approx(shuffle_score, abs=0.03)
    elif name == "neg_exact_copy_rate":
        assert copy_score == -1.0  # every sampled row is a training row
        assert shuffle_score > -0.1
    elif name == "neg_rare_value_copy_rate":
        # both carry the training rows' floats exactly, each held by one row
        assert copy_score == -1.0
        assert shuffle_score == -1.0
    else:
        assert copy_score > shuffle_score + 0.05, (copy_score, shuffle_score)


class _RecordingSynthesizer(BaseEstimator):
    """Returns a fixed table and records the arguments of each sample call."""

    def __init__(self, table=None, as_array=False):
        self.table = table
        self.as_array = as_array

    def fit(self, X, y=None):
        return self

    def sample(self, n_samples, random_state=None):
        self.calls_ = [*getattr(self, "calls_", []), (n_samples, random_state)]
        out = self.table.iloc[:n_samples].reset_index(drop=True)
        return out.to_numpy() if self.as_array else out


def test_scorer_samples_len_X_rows_with_its_seed(real):
    synth = _RecordingSynthesizer(real)
    get_scorer("column_shapes")(synth, real.iloc[:50])
    get_scorer("column_shapes", random_state=7)(synth, real.iloc[:40])
    assert synth.calls_ == [(50, 0), (40, 7)]


def test_scorer_equals_the_metric_on_the_sampled_rows(real, doubles):
    synth = doubles["copying"](noise=0.3).fit(real.iloc[:300])
    X = real.iloc[300:]
    sampled = synth.sample(len(X), random_state=0)
    assert get_scorer("quality")(synth, X) == quality_score(X, sampled)
    assert get_scorer("quality")(synth, X) == get_scorer("quality")(synth, X)
    assert get_scorer("quality", random_state=1)(synth, X) != get_scorer("quality")(synth, X)


def test_sampled_arrays_get_the_columns_of_X(real):
    numbers = real[["x", "y"]]
    synth = _RecordingSynthesizer(numbers, as_array=True)
    assert get_scorer("column_shapes")(synth, numbers) == 1.0


def test_ml_efficacy_scorers(real, doubles):
    synth = doubles["copying"]().fit(real.iloc[:150])
    X = real.iloc[450:]
    sampled = synth.sample(len(X), random_state=0)
    expected = ml_efficacy(sampled, X, target="c")
    assert make_synthesis_scorer(ml_efficacy, target="c")(synth, X) == expected["macro_f1"]
    assert get_scorer("ml_efficacy_weighted_f1", target="c")(synth, X) == expected["weighted_f1"]
    r2 = ml_efficacy(sampled, X, target="y")["r2"]
    assert get_scorer("ml_efficacy_r2", target="y")(synth, X) == r2
    with pytest.raises(ValueError, match=r"needs \['target'\]"):
        get_scorer("ml_efficacy_macro_f1")


def test_rare_value_scorer_tells_fresh_rows_from_copied_values(real, holdout, doubles):
    train = real.iloc[:300]
    scorer = get_scorer("neg_rare_value_copy_rate")
    fresh = _RecordingSynthesizer(holdout)  # new rows: no training float comes back
    assert scorer(fresh, train) == -rare_value_copy_rate(train, holdout.iloc[:300])
    assert scorer(fresh, train) > -0.05
    assert scorer(doubles["shuffle"]().fit(train), train) == -1.0
    loose = get_scorer("neg_rare_value_copy_rate", min_count=1)  # nothing is rare
    assert loose(doubles["copying"]().fit(train), train) == 0.0
    assert repr(loose) == "get_scorer('neg_rare_value_copy_rate', min_count=1)"


def test_make_synthesis_scorer_sign_and_repr(real, doubles):
    synth = doubles["copying"]().fit(real)
    loss = make_synthesis_scorer(exact_copy_rate, greater_is_better=False)
    assert loss(synth, real) == -exact_copy_rate(real, synth.sample(len(real), random_state=0))
    assert repr(loss) == "make_synthesis_scorer(exact_copy_rate, greater_is_better=False)"
    assert repr(get_scorer("quality")) == "get_scorer('quality')"
    with pytest.raises(TypeError, match="callable"):
        make_synthesis_scorer("quality")


def test_unknown_name_lists_the_names():
    with pytest.raises(ValueError, match=r"not a synthesis scorer.*'quality'"):
        get_scorer("accuracy")
    scorer = get_scorer("quality")
    assert get_scorer(scorer) is scorer


def test_scorers_pickle(real, doubles):
    synth = doubles["copying"]().fit(real)
    for name in ("quality", "ml_efficacy_r2"):
        scorer = pickle.loads(pickle.dumps(_scorer(name)))
        assert scorer(synth, real.iloc[:100]) == _scorer(name)(synth, real.iloc[:100])


def test_grid_search_with_a_scorer_object(real, doubles):
    search = GridSearchCV(
        doubles["copying"](),
        {"noise": [0.0, 0.5, 2.0]},
        scoring=get_scorer("quality"),
        cv=3,
        error_score="raise",
    ).fit(real)
    assert search.best_params_ == {"noise": 0.0}
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] > scores[1] > scores[2]


def test_grid_search_with_a_dict_of_scorers_and_refit(real, doubles):
    scoring = {name: get_scorer(name) for name in ("quality", "column_shapes", "detection")}
    search = GridSearchCV(
        doubles["copying"](),
        {"noise": [0.0, 2.0]},
        scoring=scoring,
        refit="quality",
        cv=2,
        error_score="raise",
    ).fit(real.iloc[:300])
    assert search.best_params_ == {"noise": 0.0}
    for name in scoring:
        assert np.isfinite(search.cv_results_[f"mean_test_{name}"]).all()
    assert search.best_estimator_.noise == 0.0


def test_grid_search_without_scoring_uses_the_score_method(real, doubles):
    search = GridSearchCV(
        doubles["copying"](), {"noise": [0.0, 2.0]}, cv=3, error_score="raise"
    ).fit(real)
    assert search.best_params_ == {"noise": 0.0}


def test_cross_validate_with_scorers(real, doubles):
    result = cross_validate(
        doubles["shuffle"](),
        real,
        cv=2,
        scoring={"trends": get_scorer("column_pair_trends"), "shapes": get_scorer("column_shapes")},
        error_score="raise",
    )
    assert (result["test_shapes"] > 0.9).all()
    assert (result["test_trends"] < 0.8).all()


def test_grid_search_independent_synthesizer(make_frame):
    """The real baseline: with a min-max scale, one histogram bin is a uniform over the range
    (poor shapes); more bins follow the marginal."""
    data = make_frame(450, seed=4)
    search = GridSearchCV(
        IndependentSynthesizer(numerical_encoding="minmax", random_state=0),
        {"n_bins": [1, 50]},
        scoring={"quality": get_scorer("quality"), "shapes": get_scorer("column_shapes")},
        refit="quality",
        cv=3,
        error_score="raise",
    ).fit(data)
    assert search.best_params_ == {"n_bins": 50}
    shapes = search.cv_results_["mean_test_shapes"]
    assert shapes[1] > shapes[0] + 0.05
    # the baseline keeps marginals only: pair trends are far below a copy of the data
    fitted = search.best_estimator_
    assert get_scorer("column_pair_trends")(fitted, data) < 0.8
    assert isinstance(fitted.sample(5, random_state=0), pd.DataFrame)


def test_independent_synthesizer_score_is_quality(make_frame):
    data = make_frame(300, seed=4)
    model = IndependentSynthesizer(random_state=0).fit(data)
    assert model.score(data) == pytest.approx(get_scorer("quality")(model, data))
    assert column_shapes(data, model.sample(300, random_state=0)) > 0.85
