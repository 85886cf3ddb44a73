"""Tests of the simulators of skmixsynth.datasets."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from skmixsynth.datasets import make_grid, make_gridr, make_mixed, make_ring

MIXTURES = [make_grid, make_gridr, make_ring]


def _integration_grid(step=0.05, half_width=6.0):
    ticks = np.arange(-half_width, half_width + step / 2, step)
    xx, yy = np.meshgrid(ticks, ticks)
    return np.column_stack([xx.ravel(), yy.ravel()]), step**2


# ----------------------------------------------------------------------------- 2-D mixtures


@pytest.mark.parametrize("make", MIXTURES)
def test_shape_columns_dtypes(make):
    X = make(300, random_state=0)
    assert isinstance(X, pd.DataFrame)
    assert X.shape == (300, 2)
    assert X.columns.tolist() == ["x0", "x1"]
    assert (X.dtypes == np.float64).all()
    assert np.isfinite(X.to_numpy()).all()


@pytest.mark.parametrize("make", MIXTURES)
def test_same_seed_same_data_other_seed_differs(make):
    a = make(200, random_state=3)
    b = make(200, random_state=3)
    c = make(200, random_state=4)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.to_numpy(), c.to_numpy())
    rng = np.random.RandomState(3)
    pd.testing.assert_frame_equal(make(200, random_state=rng), a)


@pytest.mark.parametrize("make", MIXTURES)
def test_no_global_rng(make):
    # the point is to check the legacy global state is left alone
    np.random.seed(0)  # noqa: NPY002
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    make(50, random_state=1)
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002


@pytest.mark.parametrize("make", MIXTURES)
def test_log_density_integrates_to_one(make):
    _, log_density = make(10, random_state=0, return_log_density=True)
    points, cell = _integration_grid()
    total = np.exp(log_density(points)).sum() * cell
    assert total == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("make", MIXTURES)
def test_samples_follow_the_density(make):
    """Mean log-likelihood of samples ~ E_p[log p] computed by integration."""
    X, log_density = make(20000, random_state=0, return_log_density=True)
    points, cell = _integration_grid()
    lp = log_density(points)
    p = np.exp(lp)
    expected = np.sum(p * lp) * cell
    ll = log_density(X)
    se = ll.std() / np.sqrt(len(ll))
    assert abs(ll.mean() - expected) < 4 * se + 1e-3
    # a uniform cloud over the same box is far less likely
    box = np.random.RandomState(0).uniform(-5, 5, size=(2000, 2))
    assert log_density(box).mean() < expected - 1.0


@pytest.mark.parametrize("make", MIXTURES)
def test_components_balanced_and_variance(make):
    X, log_density = make(20000, random_state=1, return_log_density=True)
    means = log_density.means
    x = X.to_numpy()
    nearest = ((x[:, None, :] - means[None]) ** 2).sum(axis=2).argmin(axis=1)
    counts = np.bincount(nearest, minlength=len(means))
    if make is not make_ring:  # ring components overlap; nearest mean is not the source
        assert stats.chisquare(counts).pvalue > 1e-4
        resid = x - means[nearest]
        assert resid.var(axis=0) == pytest.approx([0.05, 0.05], rel=0.05)
    assert np.allclose(log_density.weights, 1 / len(means))
    assert log_density.variance == 0.05


def test_log_density_inputs():
    X, log_density = make_grid(50, random_state=0, return_log_density=True)
    ref = log_density(X.to_numpy())
    assert ref.shape == (50,)
    np.testing.assert_allclose(log_density(X), ref)
    np.testing.assert_allclose(log_density(X[["x1", "x0"]]), ref)  # by name, not position
    np.testing.assert_allclose(log_density(X.rename(columns={"x0": "a", "x1": "b"})), ref)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        log_density(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        log_density(np.zeros(2))
    with pytest.raises(ValueError, match="two columns"):
        log_density(pd.DataFrame(np.zeros((2, 3))))


def test_log_density_is_stable_far_away():
    _, log_density = make_grid(10, random_state=0, return_log_density=True)
    lp = log_density(np.array([[100.0, 100.0], [0.0, 0.0]]))
    assert np.isfinite(lp).all()
    # a single Gaussian dominates at (0,0): log(1/25) + log N(0; 0, 0.05 I)
    assert lp[1] == pytest.approx(np.log(1 / 25) - np.log(2 * np.pi * 0.05), abs=1e-6)
    assert lp[0] < -1e4


def test_grid_and_ring_geometry():
    _, grid = make_grid(10, random_state=0, return_log_density=True)
    assert sorted(map(tuple, grid.means.tolist())) == [
        (float(i), float(j)) for i in range(-4, 5, 2) for j in range(-4, 5, 2)
    ]
    _, ring = make_ring(10, random_state=0, return_log_density=True)
    assert ring.means.shape == (8, 2)
    np.testing.assert_allclose(np.hypot(*ring.means.T), 1.0)
    angles = np.sort(np.degrees(np.arctan2(ring.means[:, 1], ring.means[:, 0])) % 360)
    np.testing.assert_allclose(np.diff(angles), 45.0)


def test_gridr_train_and_test_share_the_mixture():
    train, d_train = make_gridr(500, random_state=0, return_log_density=True)
    test, d_test = make_gridr(500, random_state=1, return_log_density=True)
    np.testing.assert_array_equal(d_train.means, d_test.means)
    np.testing.assert_allclose(d_train(test), d_test(test))
    assert not np.allclose(train.to_numpy(), test.to_numpy())
    # the data set itself depends only on the two seeds
    again = make_gridr(500, random_state=0, mixture_random_state=0)
    pd.testing.assert_frame_equal(train, again)


def test_gridr_offsets():
    _, grid = make_grid(10, random_state=0, return_log_density=True)
    _, d0 = make_gridr(10, random_state=0, return_log_density=True)
    _, d1 = make_gridr(10, random_state=0, mixture_random_state=1, return_log_density=True)
    offsets = d0.means - grid.means
    assert (np.abs(offsets) <= 0.5).all()
    assert np.abs(offsets).max() > 0.3
    assert not np.allclose(d0.means, d1.means)
    # same point seed, other mixture: other data
    a = make_gridr(100, random_state=0, mixture_random_state=0)
    b = make_gridr(100, random_state=0, mixture_random_state=1)
    assert not np.allclose(a.to_numpy(), b.to_numpy())
    # points from gridr are better explained by gridr's density than by grid's
    X = make_gridr(5000, random_state=2)
    assert d0(X).mean() > grid(X).mean() + 0.5


@pytest.mark.parametrize("bad", [0, -5, 2.5, "10", True])
def test_bad_n_samples(bad):
    for make in [*MIXTURES, make_mixed]:
        with pytest.raises(ValueError, match="n_samples"):
            make(bad)


# ----------------------------------------------------------------------------- make_mixed

EXPECTED_DTYPES = {
    "region": "category",
    "age": "int64",
    "income": "float64",
    "owns_home": "bool",
    "contact": "object",
    "spending": "float64",
    "plan": "category",
}


@pytest.fixture(scope="module")
def mixed():
    return make_mixed(20000, random_state=0)


def test_mixed_columns_and_dtypes(mixed):
    assert mixed.shape == (20000, 8)
    assert mixed.columns.tolist() == [
        "region",
        "age",
        "education",
        "income",
        "owns_home",
        "contact",
        "spending",
        "plan",
    ]
    for col, dtype in EXPECTED_DTYPES.items():
        assert str(mixed[col].dtype) == dtype, col
    assert pd.api.types.is_string_dtype(mixed["education"].dtype)
    assert not isinstance(mixed["education"].dtype, pd.CategoricalDtype)
    assert str(mixed["education"].dtype) == str(pd.Series(["a"]).dtype)  # pandas' default text
    assert list(mixed["region"].cat.categories) == ["north", "south", "east", "west"]
    assert list(mixed["plan"].cat.categories) == ["basic", "plus", "premium"]
    assert set(mixed["education"]) == {"primary", "secondary", "tertiary"}
    assert set(mixed["contact"]) == {"email", "phone", "letter"}
    assert mixed["age"].between(18, 90).all()
    assert (mixed["income"] > 0).all() and (mixed["spending"] > 0).all()
    assert not mixed.isna().any().any()


def test_mixed_default_size_and_determinism():
    a = make_mixed(random_state=5)
    assert a.shape == (1000, 8)
    pd.testing.assert_frame_equal(a, make_mixed(random_state=5))
    b = make_mixed(random_state=6)
    assert not np.allclose(a["income"], b["income"])


def test_mixed_income_depends_on_education(mixed):
    med = mixed.groupby("education")["income"].median()
    assert med["primary"] < med["secondary"] < med["tertiary"]
    assert med["tertiary"] / med["primary"] == pytest.approx(65 / 25, rel=0.1)
    log_sd = np.log(mixed["income"]).groupby(mixed["education"]).std()
    np.testing.assert_allclose(log_sd, 0.3, rtol=0.1)


def test_mixed_education_depends_on_region(mixed):
    table = pd.crosstab(mixed["region"], mixed["education"])
    assert stats.chi2_contingency(table).pvalue < 1e-10
    share = table["tertiary"] / table.sum(axis=1)
    assert share["north"] > share["south"] + 0.15


def test_mixed_categorical_child_of_numerical_parent(mixed):
    log_income = np.log(mixed["income"])
    group_means = log_income.groupby(mixed["plan"], observed=True).mean()
    assert group_means["basic"] < group_means["plus"] < group_means["premium"]
    assert group_means["premium"] - group_means["basic"] > 0.3
    contact_age = mixed.groupby("contact")["age"].mean()
    assert contact_age["email"] < contact_age["phone"] < contact_age["letter"]


def test_mixed_bool_and_numerical_children(mixed):
    r_home = stats.pointbiserialr(mixed["owns_home"], mixed["age"]).statistic
    assert r_home > 0.4
    ratio = mixed["spending"] / mixed["income"]
    by_home = ratio.groupby(mixed["owns_home"]).median()
    assert by_home[True] == pytest.approx(0.45, rel=0.05)
    assert by_home[False] == pytest.approx(0.30, rel=0.05)
    assert np.corrcoef(np.log(mixed["income"]), np.log(mixed["spending"]))[0, 1] > 0.8


def test_mixed_independent_roots(mixed):
    by_region = mixed.groupby("region", observed=True)["age"].mean()
    assert by_region.max() - by_region.min() < 1.5


@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_mixed_missing_rate(mixed, rate):
    X = make_mixed(20000, missing_rate=rate, random_state=0)
    with_missing = ["region", "education", "contact", "income", "spending"]
    frac = X.isna().mean()
    for col in with_missing:
        assert frac[col] == pytest.approx(rate, abs=0.015), col
    for col in ["age", "owns_home", "plan"]:
        assert frac[col] == 0, col
    for col, dtype in EXPECTED_DTYPES.items():
        assert str(X[col].dtype) == dtype, col
    # the observed cells are those of the complete draw with the same seed
    for col in X.columns:
        seen = X[col].notna()
        assert X.loc[seen, col].astype(object).equals(mixed.loc[seen, col].astype(object)), col
    # cells are missing independently across columns
    both = (X["income"].isna() & X["education"].isna()).mean()
    assert both == pytest.approx(rate**2, abs=0.01)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, "0.1", None])
def test_mixed_bad_missing_rate(bad):
    with pytest.raises(ValueError, match="missing_rate"):
        make_mixed(10, missing_rate=bad)
