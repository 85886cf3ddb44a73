"""Small mixed-type tables with known dependencies, broken variants of them, and two
synthesizer test doubles (a copying one and a column-shuffling one)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from skmixsynth.metrics import quality_score


def make_mixed(n=600, seed=0):
    """Dependent numerical and categorical columns, a few missing values.

    x ~ N(0, 1); y = x + small noise (r ~ 0.95); z = exp(x / 2) (skewed, monotone in x, with
    5 % missing values); c is the tercile of x (three levels, Cramér's V with x high); d
    depends on c; flag is a boolean depending on y.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = x + rng.normal(scale=0.3, size=n)
    z = np.exp(x / 2)
    z[rng.random(n) < 0.05] = np.nan
    c = np.select([x < -0.43, x < 0.43], ["low", "mid"], "high")
    d = np.where(
        rng.random(n) < 0.8, np.where(c == "high", "up", "down"), rng.choice(["up", "down"], n)
    )
    flag = (y + rng.normal(scale=0.5, size=n)) > 0
    return pd.DataFrame({"x": x, "y": y, "z": z, "c": c, "d": d, "flag": flag})


def shuffle_columns(df, seed=0):
    """Each column permuted on its own: marginals kept exactly, dependencies destroyed."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {col: df[col].to_numpy()[rng.permutation(len(df))] for col in df.columns},
        index=df.index,
    )


def constant_row(df, row=0):
    """One row repeated."""
    return df.iloc[[row] * len(df)].reset_index(drop=True)


def add_noise(df, scale=1.0, seed=0):
    """Gaussian noise of ``scale`` standard deviations on every numerical column."""
    rng = np.random.default_rng(seed)
    out = df.copy()
    for col in df.columns:
        if pd.api.types.is_float_dtype(df[col]):
            out[col] = df[col] + rng.normal(scale=scale * df[col].std(), size=len(df))
    return out


class CopyingSynthesizer(BaseEstimator):
    """Test double: samples training rows with replacement, plus optional gaussian noise of
    ``noise`` standard deviations on the float columns."""

    def __init__(self, noise=0.0):
        self.noise = noise

    def fit(self, X, y=None):
        self.data_ = X.reset_index(drop=True).copy()
        return self

    def sample(self, n_samples, random_state=None):
        rng = check_random_state(random_state)
        rows = rng.randint(len(self.data_), size=n_samples)
        out = self.data_.iloc[rows].reset_index(drop=True)
        if self.noise:
            for col in out.columns:
                if pd.api.types.is_float_dtype(out[col]):
                    scale = self.noise * self.data_[col].std()
                    out[col] = out[col] + rng.normal(scale=scale, size=n_samples)
        return out

    def score(self, X, y=None):
        return quality_score(X, self.sample(len(X), random_state=0))


class ColumnShuffleSynthesizer(CopyingSynthesizer):
    """Test double: every column resampled on its own (independent marginals)."""

    def sample(self, n_samples, random_state=None):
        rng = check_random_state(random_state)
        return pd.DataFrame(
            {
                col: self.data_[col].to_numpy()[rng.randint(len(self.data_), size=n_samples)]
                for col in self.data_.columns
            }
        )


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """Tiny tables fit fastest on one BLAS/OpenMP thread, and the test machines are shared."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def real():
    return make_mixed(600, seed=0)


@pytest.fixture(scope="module")
def holdout():
    return make_mixed(600, seed=1)


@pytest.fixture(scope="module")
def variants(holdout):
    """Synthetic stand-ins: a real hold-out and three broken versions of it."""
    return {
        "holdout": holdout,
        "shuffled": shuffle_columns(holdout, seed=2),
        "constant": constant_row(holdout),
        "noisy": add_noise(holdout, scale=1.0, seed=3),
    }


@pytest.fixture
def doubles():
    return {"copying": CopyingSynthesizer, "shuffle": ColumnShuffleSynthesizer}


@pytest.fixture(scope="session")
def make_frame():
    return make_mixed


@pytest.fixture(scope="session")
def breakers():
    return {"shuffle": shuffle_columns, "constant": constant_row, "noise": add_noise}
