"""fit(X, y) learns y as a column (issue 18): what a scikit-learn user calling
``model.fit(*load_dataset(..., return_X_y=True))`` gets, and what stays as scikit-learn says
(n_features_in_ and feature_names_in_ describe X; score_samples(X) works on the features)."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV

import skmixsynth
from skmixsynth import IndependentSynthesizer, MixtureSynthesizer
from skmixsynth.datasets import load_dataset, make_mixed
from skmixsynth.gtcoder import GTCoderSynthesizer
from skmixsynth.metrics import get_scorer


@pytest.fixture(scope="module")
def table():
    return make_mixed(300, random_state=0)


@pytest.fixture(scope="module")
def X_y(table):
    return table.drop(columns="plan"), table["plan"]


@pytest.fixture
def data_home(tmp_path, table):
    """A dataset folder as load_dataset reads it: data.csv.gz and meta.json with a target."""
    folder = tmp_path / "toy"
    folder.mkdir()
    frame = table[["age", "income", "region", "plan"]].dropna()
    frame.to_csv(folder / "data.csv.gz", index=False, compression="gzip")
    kinds = {"age": "numerical", "income": "numerical", "region": "categorical",
             "plan": "categorical"}
    meta = {"name": "toy", "columns": [{"name": c, "type": t} for c, t in kinds.items()],
            "target": "plan", "task": "classification"}
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return tmp_path


def test_load_dataset_return_X_y_then_fit_learns_the_target(data_home):
    X, y = load_dataset("toy", data_home=data_home, return_X_y=True)
    model = IndependentSynthesizer(random_state=0).fit(X, y)
    fake = model.sample(400, random_state=0)
    assert list(fake.columns) == [*X.columns, "plan"]
    assert model.target_names_ == ["plan"]
    assert fake["plan"].dtype == y.dtype  # the category dtype comes back
    shares = fake["plan"].value_counts(normalize=True)
    assert np.allclose(shares.sort_index(), y.value_counts(normalize=True).sort_index(),
                       atol=0.08)
    # scikit-learn's attributes describe X: y is learned, but is no feature
    assert model.n_features_in_ == X.shape[1] == 3
    assert list(model.feature_names_in_) == list(X.columns)


def test_names_of_the_joined_column(X_y):
    X, y = X_y
    named = IndependentSynthesizer(random_state=0).fit(X, y.rename("label"))
    assert named.target_names_ == ["label"]
    for unnamed in (y.rename(None), y.to_numpy(), list(y), y.to_numpy()[:, None],
                    y.to_frame("target")):
        model = IndependentSynthesizer(random_state=0).fit(X, unnamed)
        assert model.target_names_ == ["target"]
        assert list(model.sample(2, random_state=0).columns)[-1] == "target"
    # a numpy X: the target joins the internal names x0, x1, ... (not feature names)
    numbers = X[["age", "income"]].to_numpy()
    model = IndependentSynthesizer(random_state=0).fit(numbers, y.to_numpy())
    assert model.n_features_in_ == 2 and not hasattr(model, "feature_names_in_")
    assert list(model.sample(2, random_state=0).columns) == ["x0", "x1", "target"]
    assert IndependentSynthesizer(random_state=0).fit(X).target_names_ == []


def test_rows_are_matched_by_position_and_nothing_is_mutated(X_y):
    X, y = X_y
    before_X, before_y = X.copy(), y.copy()
    shifted = y.set_axis(y.index + 1000)  # another index: position decides, as in sklearn
    model = IndependentSynthesizer(random_state=0).fit(X, shifted)
    pd.testing.assert_frame_equal(X, before_X)
    pd.testing.assert_series_equal(y, before_y)
    same = IndependentSynthesizer(random_state=0).fit(X, y)
    expected = same.sample(50, random_state=1)
    pd.testing.assert_frame_equal(model.sample(50, random_state=1), expected)
    joined = IndependentSynthesizer(random_state=0).fit(X.assign(plan=y))
    pd.testing.assert_frame_equal(joined.sample(50, random_state=1), expected)


def test_bad_targets_are_clear_errors(X_y):
    X, y = X_y
    model = IndependentSynthesizer(random_state=0)
    with pytest.raises(ValueError, match="y has 10 rows but X has 300"):
        model.fit(X, y.iloc[:10])
    with pytest.raises(ValueError, match="joined to X as column 'age', which X already has"):
        model.fit(X, y.rename("age"))
    with pytest.raises(ValueError, match="y has 2 columns"):
        model.fit(X, pd.DataFrame({"a": y, "b": y}))
    with pytest.raises(ValueError, match="y must be one column"):
        model.fit(X, np.zeros((300, 2)))
    plain = IndependentSynthesizer(random_state=0).fit(X)
    with pytest.raises(ValueError, match="fitted without a target"):
        plain.score(X, y)


def test_score_joins_y_or_compares_the_features(X_y, table):
    X, y = X_y
    model = IndependentSynthesizer(random_state=0).fit(X, y)
    assert 0.5 < model.score(X) <= 1
    with_target = model.score(X, y)
    assert with_target == pytest.approx(model.score(X.assign(plan=y)))
    with pytest.raises(ValueError, match="X has 3 features, but IndependentSynthesizer is "
                                         "expecting 7 features as input"):
        model.score(X.iloc[:, :3].to_numpy())
    with pytest.raises(ValueError, match=r"columns \['extra'\] were not seen at fit"):
        model.score(X.assign(extra=1.0))


def test_save_and_load_keep_the_target(X_y, tmp_path):
    X, y = X_y
    model = IndependentSynthesizer(random_state=0).fit(X, y)
    path = tmp_path / "model.pt"
    model.save(path)
    twin = skmixsynth.load(path)
    assert twin.target_names_ == ["plan"] and twin.n_features_in_ == 7
    assert list(twin.feature_names_in_) == list(X.columns)
    pd.testing.assert_frame_equal(twin.sample(20, random_state=3), model.sample(20, random_state=3))


@pytest.mark.slow
def test_score_samples_with_or_without_the_target(X_y, table):
    X, y = X_y
    full = X.assign(plan=y)
    mixture = MixtureSynthesizer(n_components=3, n_subcomponents=2, epochs=3,
                                 random_state=0).fit(X, y)
    gtcoder = GTCoderSynthesizer(d_token=8, n_layers=1, latent_dim=4, decoder_dims=(16,),
                                 n_components=2, epochs=2, random_state=0).fit(X, y)
    rows = X.head(20)
    for model in (mixture, gtcoder):
        joint = model.score_samples(full.head(20))
        features = model.score_samples(rows)
        assert np.isfinite(features).all()
        # p(x) = sum_y p(x, y) >= p(x, y) (GTCoder: the same for its lower bounds)
        assert (features >= joint - 1e-9).all(), type(model).__name__
        # the same rows as arrays: the features alone, or the features and the target
        np.testing.assert_allclose(model.score_samples(rows.to_numpy()), features)
        np.testing.assert_allclose(model.score_samples(full.head(20).to_numpy()), joint)
        # a row's score is its own (subset invariance, as scikit-learn checks it)
        np.testing.assert_allclose(model.score_samples(rows.iloc[5:8]), features[5:8])
        with pytest.raises(ValueError, match="expecting 7 features"):
            model.score_samples(rows.to_numpy()[:, :3])
    # the mixture's marginal is exact: the levels' joint densities sum to it
    levels = y.cat.categories
    by_level = np.stack([mixture.score_samples(rows.assign(plan=pd.Categorical(
        [level] * len(rows), categories=levels))) for level in levels])
    np.testing.assert_allclose(np.logaddexp.reduce(by_level, axis=0),
                               mixture.score_samples(rows), rtol=1e-4)
    # impute: a table without its target comes back without it
    holes = rows.copy()
    holes.loc[holes.index[:3], "region"] = np.nan
    filled = mixture.impute(holes, random_state=0)
    assert list(filled.columns) == list(X.columns) and filled["region"].notna().all()


def test_a_grid_search_with_y_scores_the_whole_table(X_y):
    X, y = X_y
    # one bin samples uniformly, 200 bins follow each column: NaN scores and a silent pick
    # of the first candidate would fail here
    search = GridSearchCV(IndependentSynthesizer(numerical_encoding="minmax", random_state=0),
                          {"n_bins": [1, 200]}, cv=2,
                          scoring=get_scorer("column_shapes")).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all() and scores[1] > scores[0]
    assert search.best_params_ == {"n_bins": 200}
    best = search.best_estimator_
    assert best.target_names_ == ["plan"]
    scorer = get_scorer("column_shapes")
    # with y the target column is compared too; without it, the features
    assert scorer(best, X, y) != scorer(best, X)


def test_a_streamed_refit_forgets_the_previous_target(tmp_path):
    pytest.importorskip("pyarrow", reason="Parquet streams need pyarrow (the parquet extra)")
    table = make_mixed(300, random_state=0)
    X, y = table.drop(columns="plan"), table["plan"]
    model = IndependentSynthesizer(random_state=0).fit(X, y)
    assert model.target_names_ == ["plan"]
    path = tmp_path / "table.parquet"
    table.to_parquet(path)
    model.fit(path)
    assert model.target_names_ == [] and model.n_features_in_ == table.shape[1]
