"""sample(conditions=...): fixed values, per-row values, the rejection fallback, its budget."""

import numpy as np
import pandas as pd
import pytest
import torch

from skmixsynth import IndependentSynthesizer, MixGANSynthesizer, MixtureSynthesizer
from skmixsynth.datasets import make_mixed


@pytest.fixture(scope="module")
def real():
    return make_mixed(300, missing_rate=0.05, random_state=0)


@pytest.fixture(scope="module")
def independent(real):
    return IndependentSynthesizer(random_state=0, device="cpu").fit(real)


@pytest.fixture(scope="module")
def mixgan(real):
    return MixGANSynthesizer(latent_dim=8, encoder_dims=(16,), decoder_dims=(16,),
                             generator_dims=(16,), discriminator_dims=(16,), batch_size=100,
                             ae_epochs=2, epochs=2, device="cpu", random_state=0).fit(real)


class Paired(IndependentSynthesizer):
    """A known joint law, sampled by rejection only: ``a``'s level is uniform, ``b`` copies
    it, and ``x`` lies in the third of its scale that ``a``'s level names."""

    def _generate_conditional(self, numerical, codes, generator):
        return None  # no native path: sample() falls back to rejection

    def _generate(self, n_samples, generator):
        a = torch.randint(0, 3, (n_samples,), generator=generator)
        u = torch.rand(n_samples, generator=generator)
        return ((a + u) / 3).unsqueeze(1), torch.stack([a, a], dim=1)


@pytest.fixture(scope="module")
def paired():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({
        "x": rng.random(600),
        "a": pd.Categorical(rng.choice(["a0", "a1", "a2"], 600), categories=["a0", "a1", "a2"]),
        "b": pd.Categorical(rng.choice(["b0", "b1", "b2"], 600), categories=["b0", "b1", "b2"]),
    })
    model = Paired(random_state=0, device="cpu").fit(X)
    assert [s.column for s in model.encoder_.layout_.spans] == ["x", "a", "b"]
    return X, model


# ------------------------------------------------------------------ fixed values
@pytest.mark.parametrize("name", ["independent", "mixgan"])
def test_a_dict_fixes_every_row(real, name, request):
    model = request.getfixturevalue(name)
    conditions = {"region": "north", "plan": "basic", "owns_home": True}
    fake = model.sample(120, conditions=conditions, random_state=0)
    assert fake.shape == (120, real.shape[1]) and fake.index.equals(pd.RangeIndex(120))
    assert list(fake.dtypes) == list(real.dtypes)
    for column, value in conditions.items():
        assert (fake[column] == value).all(), column
    assert fake["education"].nunique() > 1  # the free columns are still drawn


def test_numerical_values_and_missing_values_are_exact(real, independent):
    fake = independent.sample(50, conditions={"age": 41, "income": np.nan}, random_state=0)
    assert (fake["age"] == 41).all() and fake["age"].dtype == real["age"].dtype
    assert fake["income"].isna().all()


def test_a_dataframe_gives_one_condition_per_row(real):
    # min_count=None: the real rows' ages include extremes that protection clips away
    independent = IndependentSynthesizer(min_count=None, random_state=0).fit(real)
    conditions = real[["region", "age", "contact"]].iloc[10:70]
    fake = independent.sample(conditions=conditions, random_state=0)
    assert len(fake) == 60
    pd.testing.assert_frame_equal(fake[conditions.columns],
                                  conditions.reset_index(drop=True))
    assert independent.sample(60, conditions=conditions, random_state=0).equals(fake)
    with pytest.raises(ValueError, match="n_samples=59 differs from its 60 rows"):
        independent.sample(59, conditions=conditions)


def test_the_same_seed_gives_the_same_rows(mixgan):
    a = mixgan.sample(80, conditions={"plan": "premium"}, random_state=3)
    pd.testing.assert_frame_equal(a, mixgan.sample(80, conditions={"plan": "premium"},
                                                   random_state=3))
    assert not a.equals(mixgan.sample(80, conditions={"plan": "premium"}, random_state=4))
    assert not mixgan.sample(80, conditions={"plan": "premium"}).equals(
        mixgan.sample(80, conditions={"plan": "premium"}))  # the stream moves on


def test_empty_requests(real, independent):
    assert independent.sample(0, conditions={"region": "east"}).shape == (0, real.shape[1])
    assert independent.sample(conditions=real[["age"]].iloc[:0]).shape == (0, real.shape[1])
    pd.testing.assert_frame_equal(independent.sample(7, conditions={}, random_state=1),
                                  independent.sample(7, random_state=1))


# ----------------------------------------------------------------- rejection
def test_rejection_keeps_the_models_dependencies(paired):
    X, model = paired
    fake = model.sample(300, conditions={"a": "a1"}, random_state=0)
    assert (fake["a"] == "a1").all() and (fake["b"] == "b1").all()
    # x comes from the candidates: the middle third of the scale
    lo, hi = np.quantile(X["x"], [1 / 3, 2 / 3])
    assert fake["x"].between(lo - 0.02, hi + 0.02).all()
    assert fake["x"].std() > 0.05


def test_rejection_on_numerical_values_row_by_row(paired):
    X, model = paired
    values = np.quantile(X["x"], [0.1, 0.5, 0.9, 0.15, 0.85])
    fake = model.sample(conditions=pd.DataFrame({"x": values}), random_state=0)
    np.testing.assert_array_equal(fake["x"], values)  # exactly the given values
    assert fake["a"].tolist() == ["a0", "a1", "a2", "a0", "a2"]
    assert fake["b"].tolist() == ["b0", "b1", "b2", "b0", "b2"]


def test_a_range_by_rejection_keeps_the_models_dependencies(paired):
    X, model = paired
    lo, hi = np.quantile(X["x"], [0.40, 0.60])  # inside the middle third: a1, b1
    fake = model.sample(200, conditions={"x": pd.Interval(lo, hi)}, random_state=0)
    assert fake["x"].between(lo, hi).all() and fake["x"].std() > 0.01
    assert (fake["a"] == "a1").all() and (fake["b"] == "b1").all()
    # one range per row, beside a fixed level
    ranges = [pd.Interval(*np.quantile(X["x"], q)) for q in ([0.05, 0.3], [0.7, 0.95])]
    fake = model.sample(conditions=pd.DataFrame({"x": ranges * 20, "b": ["b0", "b2"] * 20}),
                        random_state=0)
    assert fake["a"].tolist() == ["a0", "a2"] * 20
    assert all(r.left <= x <= r.right for r, x in zip(ranges * 20, fake["x"], strict=True))


def test_a_range_of_whole_units_reaches_both_ends(independent, real):
    fake = independent.sample(400, conditions={"age": pd.Interval(30, 35)}, random_state=0)
    assert set(fake["age"]) == {31, 32, 33, 34, 35}  # (30, 35]: whole years, both ends
    fake = independent.sample(400, conditions={"age": pd.Interval(30, 35, closed="both")},
                              random_state=1)
    assert set(fake["age"]) == set(range(30, 36))
    assert fake["age"].dtype == real["age"].dtype


def test_a_range_holding_a_point_mass_gives_the_mass_and_the_values_around_it():
    rng = np.random.default_rng(0)
    n = 4000
    X = pd.DataFrame({"g": np.where(rng.random(n) < 0.6, 0.0, rng.uniform(1.0, 20.0, n)),
                      "c": rng.choice(["p", "q"], n)})
    X.loc[X["g"] > 0, "c"] = "q"  # c = p only where g is the point mass 0
    # 0 is a point mass of g (point_masses=0.1): a state of the column, not a scale value
    model = MixtureSynthesizer(n_components=4, epochs=8, random_state=0).fit(X)
    free = model.sample(40000, random_state=1)["g"]
    inside = free[free.between(-1.0, 5.0, inclusive="right")]
    share = (inside == 0).mean()  # the model's own share of the mass within the range
    fake = model.sample(3000, conditions={"g": pd.Interval(-1.0, 5.0)}, random_state=0)
    assert fake["g"].between(-1.0, 5.0, inclusive="right").all()
    zero = fake["g"] == 0
    assert 0.5 < share < 0.97 and abs(zero.mean() - share) < 0.03
    assert fake.loc[~zero, "g"].between(0.5, 5.0).all() and (~zero).sum() > 100
    assert (fake.loc[~zero, "c"] == "q").mean() > 0.95  # the dependency on c is kept
    # only the mass in range; one range per row, with and without the mass
    assert (model.sample(20, conditions={"g": pd.Interval(-1.0, 0.5)},
                         random_state=0)["g"] == 0).all()
    rows = [pd.Interval(-1.0, 5.0), pd.Interval(10.0, 15.0)] * 50
    fake = model.sample(conditions=pd.DataFrame({"g": rows}), random_state=1)
    assert all(r.left < g <= r.right for r, g in zip(rows, fake["g"], strict=True))
    assert (fake["g"][::2] == 0).any() and (fake["g"][1::2] > 10).all()


@pytest.mark.parametrize("make", [
    lambda: IndependentSynthesizer(random_state=0),  # native: uniform within the bounds
    lambda: MixtureSynthesizer(point_masses=None, n_components=4, epochs=4, random_state=0),
])
def test_a_range_ending_on_a_value_many_rows_hold_takes_all_or_none_of_it(make):
    # zeros held by 60 % of the rows but no point mass of the state span: on the quantile
    # scale they span [0, 0.6], and a range closed at 0 must take that whole stretch
    rng = np.random.default_rng(0)
    n = 5000
    X = pd.DataFrame({"x": np.where(rng.random(n) < 0.6, 0.0, rng.exponential(10, n)),
                      "c": rng.choice(["p", "q"], n)})
    model = make().fit(X)
    free = model.sample(40000, random_state=1)["x"]
    share = (free[free.between(0.0, 5.0)] == 0).mean()  # the real rows: 0.78
    closed = model.sample(4000, conditions={"x": pd.Interval(0.0, 5.0, closed="both")},
                          random_state=0)["x"]
    assert closed.between(0.0, 5.0).all()
    assert 0.7 < share < 0.95 and abs((closed == 0).mean() - share) < 0.03
    opened = model.sample(1000, conditions={"x": pd.Interval(0.0, 5.0, closed="right")},
                          random_state=0)["x"]
    assert ((opened > 0) & (opened <= 5.0)).all()
    only = model.sample(50, conditions={"x": pd.Interval(-1.0, 0.0, closed="both")},
                        random_state=0)["x"]
    assert (only == 0).all()


def test_bad_ranges_are_named():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"g": np.where(rng.random(400) < 0.5, 0.0, rng.exponential(10, 400)),
                      "c": rng.choice(["p", "q"], 400)})
    # 0 is a point mass of g: a state of its own (point_masses=0.1)
    model = MixtureSynthesizer(n_components=3, epochs=2, random_state=0).fit(X)
    assert model.sample(50, conditions={"g": pd.Interval(0.0, 5.0)},  # (0, 5]: no mass
                        random_state=0)["g"].between(0.0, 5.0, inclusive="right").all()
    with pytest.raises(ValueError, match=r"'c' cannot be conditioned on a range"):
        model.sample(5, conditions={"c": pd.Interval(0, 1)})
    with pytest.raises(ValueError, match=r"'g'.*no value of the training range"):
        model.sample(5, conditions={"g": pd.Interval(1e6, 2e6)})
    with pytest.raises(ValueError, match=r"'g'.*must be given in every row"):
        model.sample(conditions=pd.DataFrame({"g": [pd.Interval(1.0, 2.0), 3.0]}))
    with pytest.raises(ValueError, match=r"'g'.*takes numbers at both ends"):
        model.sample(5, conditions={"g": pd.Interval(pd.Timedelta("1D"), pd.Timedelta("2D"))})
    dates = pd.DataFrame({"t": pd.date_range("2020-01-01", periods=100, freq="D"),
                          "x": np.arange(100.0)})
    dated = IndependentSynthesizer(random_state=0).fit(dates)
    span = pd.Interval(pd.Timestamp("2020-02-01"), pd.Timestamp("2020-03-01"))
    with pytest.raises(ValueError, match=r"'t' cannot be conditioned on a range"):
        dated.sample(5, conditions={"t": span})


def test_rows_with_the_same_condition_share_candidates(paired, monkeypatch):
    _, model = paired
    monkeypatch.setattr(Paired, "_condition_min_draws", 2)
    monkeypatch.setattr(Paired, "_condition_draws_per_row", 4)
    # 150 identical rows: the group's budget is 600 draws, enough at an acceptance of 1/3;
    # row by row (4 draws each) about one row in five would find no match
    conditions = pd.DataFrame({"a": ["a2"] * 150, "b": ["b2"] * 150})
    fake = model.sample(conditions=conditions, random_state=0)
    assert (fake["a"] == "a2").all()


def test_a_spent_budget_names_the_condition_and_the_rate(paired, monkeypatch):
    _, model = paired
    # the budget: 1,000 draws per requested row, at least _condition_min_draws
    with pytest.raises(ValueError, match=r"condition \{'a': 'a0', 'b': 'b1'\}: 0 of 10000 "
                                         r"generated rows met it \(acceptance rate 0\)"):
        model.sample(3, conditions={"a": "a0", "b": "b1"}, random_state=0)
    monkeypatch.setattr(Paired, "_condition_draws_per_row", 2)
    monkeypatch.setattr(Paired, "_condition_min_draws", 10)
    # about a third of 60 draws meet a1: far fewer than the 30 rows asked; never fewer rows
    with pytest.raises(ValueError, match=r"acceptance rate 0\.[2-4]"):
        model.sample(30, conditions={"a": "a1"}, random_state=0)


# --------------------------------------------------------------- native path
def test_a_native_path_is_used_and_checked(independent, monkeypatch):
    import skmixsynth._conditions as conditions

    def no_rejection(*args):
        raise AssertionError("the native path should have been used")

    monkeypatch.setattr(conditions, "_rejection", no_rejection)
    fake = independent.sample(30, conditions={"region": "west"}, random_state=0)
    assert (fake["region"] == "west").all()

    def wrong(self, numerical, codes, generator):
        return self._generate(numerical.shape[0], generator)

    monkeypatch.setattr(IndependentSynthesizer, "_generate_conditional", wrong)
    with pytest.raises(RuntimeError, match="levels differ from the fixed ones"):
        independent.sample(500, conditions={"region": "west"}, random_state=0)


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize("conditions, error, match", [
    ({"planet": "mars"}, ValueError, r"planet"),
    ({"region": "atlantis"}, ValueError, r"region.*atlantis|atlantis.*region"),
    ({"age": 1000}, ValueError, r"age"),
    ({"region": ["north", "south"]}, ValueError, r"one value per column.*\['region'\]"),
    ([("region", "north")], TypeError, r"dict of column -> value or a DataFrame"),
])
def test_bad_conditions_are_named(independent, conditions, error, match):
    with pytest.raises(error, match=match):
        independent.sample(5, conditions=conditions)


def test_n_samples_is_needed_without_a_dataframe(independent):
    with pytest.raises(ValueError, match="n_samples is needed"):
        independent.sample(conditions={"region": "north"})
    with pytest.raises(ValueError, match="n_samples is needed"):
        independent.sample()
    with pytest.raises(ValueError, match="n_samples"):
        independent.sample(-1, conditions={"region": "north"})


def test_the_conditions_are_not_modified(real, independent):
    conditions = real[["region", "age"]].iloc[:20]
    before = conditions.copy()
    given = {"region": "north"}
    independent.sample(conditions=conditions, random_state=0)
    independent.sample(5, conditions=given, random_state=0)
    pd.testing.assert_frame_equal(conditions, before)
    assert given == {"region": "north"}
