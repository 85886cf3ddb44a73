"""MixtureSynthesizer: exact likelihood, conditionals and imputation against brute force;
the common interface (determinism, persistence, clone, grid search, edge tables)."""

import itertools
import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

import skmixsynth
from skmixsynth import IndependentSynthesizer
from skmixsynth.datasets import make_mixed
from skmixsynth.metrics import column_pair_trends, get_scorer
from skmixsynth.mixture import MixtureSynthesizer

LEVELS = {"a": ["x", "y"], "b": ["p", "q", "r"], "c": ["u", "v", None]}


def tiny(**kwargs):
    params = dict(n_components=3, n_subcomponents=2, n_groups=2, epochs=4, batch_size=64,
                  min_count=None, device="cpu", random_state=0)
    return MixtureSynthesizer(**{**params, **kwargs})


@pytest.fixture(scope="module")
def table():
    """Three categorical columns, c with missing values, b depending on a."""
    rng = np.random.RandomState(0)
    n = 400
    a = rng.choice(["x", "y"], n)
    b = np.where(a == "x", rng.choice(["p", "q", "r"], n, p=[0.7, 0.2, 0.1]),
                 rng.choice(["p", "q", "r"], n))
    c = rng.choice(["u", "v"], n).astype(object)
    c[rng.rand(n) < 0.2] = None
    return pd.DataFrame({"a": a, "b": b, "c": c})


@pytest.fixture(scope="module", params=["tree", "groups"])
def fitted(table, request):
    """Fitted with each structure: every brute-force test runs on both."""
    return tiny(structure=request.param).fit(table)


@pytest.fixture(scope="module")
def brute(fitted):
    """The model's probability of every complete row, as an array indexed (a, b, c)."""
    combos = pd.DataFrame(list(itertools.product(*LEVELS.values())), columns=list(LEVELS))
    ll = fitted.score_samples(combos, missing="value")
    return np.exp(ll).reshape(2, 3, 3)


def test_probabilities_of_all_complete_rows_sum_to_one(brute):
    assert brute.sum() == pytest.approx(1.0, abs=1e-5)


def test_score_samples_marginalises_missing_cells(fitted, brute):
    rows = pd.DataFrame({"a": ["x", "y", None], "b": ["q", None, None],
                         "c": [None, "v", None]})
    ll = fitted.score_samples(rows)
    exact = np.log([brute[0, 1, :].sum(), brute[1, :, 1].sum(), brute.sum()])
    np.testing.assert_allclose(ll, exact, atol=1e-5)
    # marginalised vs "missing" as a value
    valued = fitted.score_samples(rows.iloc[:1], missing="value")
    assert valued[0] == pytest.approx(np.log(brute[0, 1, 2]), abs=1e-5)


def test_score_samples_of_an_unknown_category_is_minus_infinity(fitted):
    ll = fitted.score_samples(pd.DataFrame({"a": ["x", "zz"], "b": ["p", "p"],
                                            "c": ["u", "u"]}))
    assert np.isfinite(ll[0]) and ll[1] == -np.inf


def test_conditional_samples_follow_the_brute_force_conditional(fitted, brute):
    fake = fitted.sample(20_000, conditions={"a": "x"}, random_state=0)
    assert (fake["a"] == "x").all()
    exact = brute[0] / brute[0].sum()  # (b, c)
    c_code = fake["c"].map({"u": 0, "v": 1}).fillna(2).astype(int)
    b_code = fake["b"].map({"p": 0, "q": 1, "r": 2})
    freq = np.zeros((3, 3))
    np.add.at(freq, (b_code, c_code), 1.0)
    assert np.abs(freq / len(fake) - exact).max() < 0.015


def test_per_row_conditions(fitted):
    conditions = pd.DataFrame({"a": ["x", "y", "y"], "c": ["u", None, "v"]})
    fake = fitted.sample(conditions=conditions, random_state=0)
    assert fake["a"].tolist() == ["x", "y", "y"]
    assert fake["c"].iloc[0] == "u" and pd.isna(fake["c"].iloc[1]) and fake["c"].iloc[2] == "v"


def test_impute_fills_only_missing_cells_and_mode_is_the_brute_force_argmax(fitted, brute):
    holes = pd.DataFrame({"a": ["x", "y", None, "x"], "b": [None, "q", "r", "p"],
                          "c": ["u", None, None, "v"]})
    before = holes.copy()
    mode = fitted.impute(holes, method="mode")
    pd.testing.assert_frame_equal(holes, before)  # not modified
    assert not mode.isna().any().any()
    observed = holes.notna()
    for col in holes:
        assert (mode[col][observed[col]] == holes[col][observed[col]]).all()
    b_levels, c_levels, a_levels = LEVELS["b"], LEVELS["c"][:2], LEVELS["a"]
    # row 0: b given a=x, c=u
    assert mode.loc[0, "b"] == b_levels[int(np.argmax(brute[0, :, 0]))]
    # row 1: c given a=y, b=q, among non-missing values
    assert mode.loc[1, "c"] == c_levels[int(np.argmax(brute[1, 1, :2]))]
    # row 2: a and c each by its own conditional given b=r (c not missing)
    assert mode.loc[2, "a"] == a_levels[int(np.argmax(brute[:, 2, :2].sum(1)))]
    assert mode.loc[2, "c"] == c_levels[int(np.argmax(brute[:, 2, :2].sum(0)))]
    # row 3: complete, unchanged
    assert mode.loc[3].tolist() == ["x", "p", "v"]


def test_impute_samples_follow_the_brute_force_conditional(fitted, brute):
    holes = pd.DataFrame({"a": ["x"] * 20_000, "b": [None] * 20_000, "c": ["u"] * 20_000})
    filled = fitted.impute(holes, random_state=0)
    freq = filled["b"].value_counts(normalize=True).reindex(LEVELS["b"]).to_numpy()
    exact = brute[0, :, 0] / brute[0, :, 0].sum()
    assert np.abs(freq - exact).max() < 0.015
    small = holes.head(50)
    pd.testing.assert_frame_equal(fitted.impute(small, random_state=1),
                                  fitted.impute(small, random_state=1))


def test_impute_rejects_a_bad_method(fitted, table):
    with pytest.raises(ValueError, match="method"):
        fitted.impute(table, method="mean")


# --------------------------------------------------------------- mixed tables
@pytest.fixture(scope="module")
def mixed():
    return make_mixed(300, missing_rate=0.1, random_state=0)


@pytest.fixture(scope="module")
def mixed_fitted(mixed):
    return tiny(min_count=5).fit(mixed)


def test_sample_keeps_columns_dtypes_and_categories(mixed, mixed_fitted):
    fake = mixed_fitted.sample(200, random_state=0)
    assert fake.columns.tolist() == mixed.columns.tolist()
    assert fake.dtypes.tolist() == mixed.dtypes.tolist()
    assert fake["age"].between(mixed["age"].min(), mixed["age"].max()).all()
    assert mixed_fitted.sample(0).shape == (0, mixed.shape[1])


def test_integer_columns_are_sampled_on_their_frequent_values(mixed):
    binned = tiny(min_count=5, numerical_leaves="bins").fit(mixed)
    fake = binned.sample(2000, random_state=0)
    counts = mixed["age"].value_counts()
    net = binned.modules_["mixture"]
    points = net.points[0, : int(net.n_points[0])].numpy()
    # the model's points, decoded: the values samples may take
    encoder = binned.encoder_
    numerical, codes = encoder.transform_columns(mixed.head(1))
    numerical = np.repeat(numerical, len(points), axis=0)
    numerical[:, 0] = points
    kept = set(encoder.inverse_transform_columns(
        numerical, np.repeat(codes, len(points), axis=0))["age"])
    assert set(fake["age"]) <= kept
    # values of at least 5 rows, but for the bounds of the encoder's rare-value protection
    # (the rows beyond a protected tail are clipped to its bound)
    assert kept - set(counts.index[counts >= 5]) <= {min(kept), max(kept)}
    plain = tiny(min_count=5, discrete_values=False, numerical_leaves="bins").fit(mixed)
    assert int(plain.modules_["mixture"].n_points.sum()) == 0
    assert np.isfinite(plain.score_samples(mixed)).all()


def test_numerical_conditions_and_impute_on_a_mixed_table(mixed, mixed_fitted):
    fake = mixed_fitted.sample(50, conditions={"age": 40, "plan": "basic"}, random_state=0)
    assert (fake["age"] == 40).all() and (fake["plan"] == "basic").all()
    filled = mixed_fitted.impute(mixed, random_state=0)
    assert not filled.isna().any().any()
    observed = mixed.notna()
    for col in mixed:
        assert filled[col][observed[col]].equals(mixed[col][observed[col]])
    mode = mixed_fitted.impute(mixed.head(30), method="mode")
    assert not mode.isna().any().any()
    ll = mixed_fitted.score_samples(mixed)
    assert ll.shape == (len(mixed),) and np.isfinite(ll).all()


def test_determinism_and_refit(mixed, mixed_fitted):
    a = mixed_fitted.sample(100, random_state=3)
    assert a.equals(mixed_fitted.sample(100, random_state=3))
    twin = clone(mixed_fitted).fit(mixed)
    assert twin.sample(100, random_state=3).equals(a)
    np.testing.assert_array_equal(twin.score_samples(mixed), mixed_fitted.score_samples(mixed))


def test_save_load_gives_identical_samples_and_scores(tmp_path, mixed, mixed_fitted):
    path = tmp_path / "mixture.pt"
    mixed_fitted.save(path)
    twin = skmixsynth.load(path)
    assert type(twin) is MixtureSynthesizer
    assert twin.sample(80, random_state=1).equals(mixed_fitted.sample(80, random_state=1))
    np.testing.assert_array_equal(twin.score_samples(mixed), mixed_fitted.score_samples(mixed))
    cond = {"region": "north"}
    assert twin.sample(20, conditions=cond, random_state=2).equals(
        mixed_fitted.sample(20, conditions=cond, random_state=2))


def test_history_early_stopping_and_verbose(mixed, caplog):
    with caplog.at_level(logging.INFO, logger="skmixsynth"):
        model = tiny(epochs=8, patience=1, verbose=1).fit(mixed)
    assert 1 <= model.n_iter_ <= 8 and len(model.history_) == model.n_iter_
    assert all({"nll", "val_nll", "seconds"} <= set(h) for h in model.history_)
    best = int(model.modules_["mixture"].best_epoch)
    assert model.history_[best]["val_nll"] == min(h["val_nll"] for h in model.history_)
    assert "validation nll" in caplog.text


def test_tol_ends_a_tail_of_small_gains_but_keeps_the_best_epoch(mixed):
    full = tiny(epochs=12, patience=2).fit(mixed)
    # every gain after the first epoch is below the tolerance: two epochs count as bad
    short = tiny(epochs=12, patience=2, tol=1e6).fit(mixed)
    assert short.n_iter_ == 3 < full.n_iter_
    best = int(short.modules_["mixture"].best_epoch)
    assert short.history_[best]["val_nll"] == min(h["val_nll"] for h in short.history_)
    # the first epochs are the same fit: only the stopping rule differs
    assert short.history_[0]["val_nll"] == full.history_[0]["val_nll"]
    with pytest.raises(ValueError, match="tol"):
        tiny(tol=-1.0).fit(mixed)


@pytest.mark.parametrize("structure", ["tree", "groups"])
@pytest.mark.parametrize("solver, rate", [("em", 0.7), ("adam", 0.05)])
def test_both_solvers_learn(mixed, solver, rate, structure):
    leaves = "bins" if solver == "em" else "gaussian"
    model = tiny(solver=solver, learning_rate=rate, epochs=3, patience=3,
                 structure=structure, numerical_leaves=leaves).fit(mixed)
    train = [h["nll"] for h in model.history_]
    assert np.isfinite([h["val_nll"] for h in model.history_]).all()
    assert train[-1] < train[0]


def test_em_needs_histogram_leaves(mixed):
    with pytest.raises(ValueError, match="solver='em' needs numerical_leaves='bins'"):
        tiny(solver="em", learning_rate=0.7).fit(mixed)


def test_gaussian_leaves_learn_each_scalar_and_bins_stay_available(mixed):
    gauss = tiny(epochs=6, structure="tree", n_components=4).fit(mixed)
    net = gauss.modules_["mixture"]
    assert net.gaussian and gauss.numerical_leaves_ == "gaussian"
    assert int(net.n_points.sum()) == 0  # discrete_values is for the histograms only
    assert float(net.numerical_scale().detach().min()) >= net.SCALE_MIN
    bins = tiny(epochs=6, structure="tree", n_components=4, numerical_leaves="bins").fit(mixed)
    assert not bins.modules_["mixture"].gaussian and not hasattr(bins.modules_["mixture"],
                                                                 "num_loc")
    # on a numerical column that is a near-copy of another, Gaussian leaves follow the
    # relation closer than 32 bins (the reason they are the default)
    rng = np.random.RandomState(0)
    x = rng.normal(size=3000)
    frame = pd.DataFrame({"x": x, "y": x + 0.05 * rng.normal(size=3000),
                          "c": np.where(x > 0, "pos", "neg")})
    errors = {}
    for leaves in ("gaussian", "bins"):
        fake = MixtureSynthesizer(numerical_leaves=leaves, random_state=0).fit(frame).sample(
            3000, random_state=0)
        errors[leaves] = float(np.mean(np.abs(fake["y"] - fake["x"])))
    assert errors["gaussian"] < 0.8 * errors["bins"]  # measured: 0.076 against 0.109


def test_numerical_ranges_are_native_with_gaussian_leaves(mixed, monkeypatch):
    import skmixsynth._conditions as conditions

    model = tiny(structure="tree", n_components=4, epochs=6).fit(mixed)

    def no_rejection(*args):
        raise AssertionError("ranges should be native with Gaussian leaves")

    monkeypatch.setattr(conditions, "_rejection", no_rejection)
    asked = {"income": pd.Interval(30_000.0, 50_000.0), "region": "north"}
    fake = model.sample(300, conditions=asked, random_state=0)
    assert fake["income"].between(30_000.0, 50_000.0).all() and fake["income"].std() > 1000
    assert (fake["region"] == "north").all()
    pd.testing.assert_frame_equal(fake, model.sample(300, conditions=asked, random_state=0))
    monkeypatch.undo()
    # histogram leaves: the template's rejection path, same guarantee
    binned = tiny(structure="tree", n_components=4, epochs=6, numerical_leaves="bins").fit(mixed)
    fake = binned.sample(100, conditions={"age": pd.Interval(40, 50)}, random_state=0)
    assert fake["age"].between(41, 50).all()


def test_tables_without_categorical_or_numerical_columns():
    rng = np.random.RandomState(0)
    numbers = pd.DataFrame({"x": rng.normal(size=200), "y": rng.exponential(size=200)})
    model = tiny(n_groups=2).fit(numbers)
    assert model.sample(30, random_state=0).shape == (30, 2)
    assert np.isfinite(model.score_samples(numbers)).all()
    holes = numbers.head(5).copy()
    holes.loc[0, "x"] = np.nan
    assert not model.impute(holes, random_state=0).isna().any().any()
    cats = pd.DataFrame({"a": rng.choice(["p", "q"], 200), "b": rng.choice(["u", "v"], 200)})
    model = tiny().fit(cats)
    assert set(model.sample(30, random_state=0)["a"]) <= {"p", "q"}
    assert np.exp(model.score_samples(pd.DataFrame(
        list(itertools.product("pq", "uv")), columns=["a", "b"]))).sum() == pytest.approx(1.0)


def test_clone_and_grid_search_with_the_package_scorers(mixed):
    search = GridSearchCV(tiny(epochs=2), {"n_components": [2, 4]}, cv=2,
                          scoring=get_scorer("quality")).fit(mixed)
    assert search.best_params_["n_components"] in (2, 4)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    params = tiny().get_params()
    assert clone(tiny()).get_params() == params


@pytest.mark.parametrize("bad, match", [
    (dict(n_components=0), "n_components"),
    (dict(solver="lbfgs"), "solver"),
    (dict(structure="forest"), "structure"),
    (dict(weight_floor=1.0), "weight_floor"),
    (dict(validation_fraction=1.0), "validation_fraction"),
])
def test_bad_parameters_are_named(table, bad, match):
    with pytest.raises(ValueError, match=match):
        tiny(**bad).fit(table)


def test_score_samples_needs_the_columns(fitted):
    with pytest.raises(ValueError, match="missing from X"):
        fitted.score_samples(pd.DataFrame({"a": ["x"]}))


def test_beats_independent_marginals_on_pair_trends():
    # measured: 0.84 against 0.71 (under a second)
    real = make_mixed(2000, random_state=0)
    mix = MixtureSynthesizer(n_components=40, epochs=20, random_state=0).fit(real)
    ind = IndependentSynthesizer(random_state=0).fit(real)
    ours = column_pair_trends(real, mix.sample(2000, random_state=0))
    floor = column_pair_trends(real, ind.sample(2000, random_state=0))
    assert ours > floor + 0.05


def test_a_continuous_column_of_few_unique_values_is_not_collapsed():
    # 300 distinct incomes, each held by one row: too rare to be modelled on their values
    # (min_count=5), they are binned; they used to collapse onto one value
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"income": rng.lognormal(10, 0.5, 300),
                         "city": rng.choice(["a", "b"], 300)})
    fake = MixtureSynthesizer(random_state=0, device="cpu").fit(real).sample(300, random_state=0)
    assert fake["income"].nunique() > 100
    assert fake["income"].std() > 0.5 * real["income"].std()


# --------------------------------------------------------------- the small-table rule
def test_sizes_follow_the_table_unless_given():
    small = make_mixed(300, random_state=0)
    auto = MixtureSynthesizer(epochs=1, random_state=0).fit(small)
    # a tenth of the rows in states, a 25th in bins, a quarter in a batch
    assert (auto.n_components_, auto.n_bins_, auto.batch_size_) == (30, 12, 75)
    net = auto.modules_["mixture"]
    assert net.k1 == 30 and net.n_bins == 12
    given = MixtureSynthesizer(n_components=5, n_bins=7, batch_size=50, epochs=1,
                               random_state=0).fit(small)
    assert (given.n_components_, given.n_bins_, given.batch_size_) == (5, 7, 50)
    tiny_table = make_mixed(40, random_state=0)
    floor = MixtureSynthesizer(epochs=1, random_state=0).fit(tiny_table)
    assert (floor.n_components_, floor.n_bins_, floor.batch_size_) == (4, 4, 32)
    groups = MixtureSynthesizer(structure="groups", epochs=1, random_state=0).fit(small)
    assert groups.n_components_ == 1000


def test_default_batch_rule():
    from skmixsynth.mixture import _default_batch
    # a quarter of the rows within [32, 512] below 16,384 rows, then 4,096
    assert [_default_batch(n) for n in (40, 300, 2048, 3000, 6343, 16383, 16384, 30000)] == [
        32, 75, 512, 512, 512, 512, 4096, 4096]


def test_resolved_sizes_survive_save_and_load(tmp_path):
    small = make_mixed(300, random_state=0)
    model = MixtureSynthesizer(epochs=2, random_state=0).fit(small)
    path = model.save(tmp_path / "m.skm")
    back = MixtureSynthesizer.load(path)
    assert (back.n_components_, back.n_bins_, back.batch_size_) == (30, 12, 75)
    pd.testing.assert_frame_equal(back.sample(50, random_state=1),
                                  model.sample(50, random_state=1))


def test_a_file_saved_before_the_rule_loads_with_the_sizes_of_its_time(tmp_path):
    import json

    import torch

    small = make_mixed(300, random_state=0)
    # a version before Gaussian leaves: histogram leaves, no numerical_leaves parameter
    model = MixtureSynthesizer(n_bins=32, epochs=2, random_state=0,
                               numerical_leaves="bins").fit(small)
    model.n_components = None  # as stored by a version whose default was 64 states
    model.n_components_ = 64
    model.modules_ = model._make_modules(0)
    path = model.save(tmp_path / "old.skm")
    payload = torch.load(path, weights_only=True)
    config = json.loads(payload["config"])
    del config["data_params"]
    del config["params"]["numerical_leaves"]
    payload["config"] = json.dumps(config)
    torch.save(payload, path)
    back = MixtureSynthesizer.load(path)
    assert back.modules_["mixture"].k1 == 64 and back.modules_["mixture"].n_bins == 32
    assert not back.modules_["mixture"].gaussian
    assert back.sample(10, random_state=0).shape == (10, small.shape[1])
