"""Simulated tables with known distributions.

``make_grid``, ``make_gridr`` and ``make_ring`` are the two-dimensional Gaussian mixtures of the
old SDGym benchmark (generator ``sdgym-utils/data/simulated/bivariate.py`` in sdv-dev/SDGym,
commit e495c48) used in GTCoder's Table 2; their exact log-density is available, so the
likelihood of synthetic points can be scored. ``make_mixed`` draws a small Bayesian network of
mixed-type columns with documented dependencies.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from sklearn.utils import check_random_state

__all__ = ["make_grid", "make_gridr", "make_mixed", "make_ring"]

#: Per-coordinate variance of every mixture component (covariance ``0.05 * I``), as in SDGym.
COMPONENT_VARIANCE = 0.05
COLUMNS = ["x0", "x1"]


def _check_n_samples(n_samples):
    if not isinstance(n_samples, numbers.Integral) or isinstance(n_samples, bool) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}.")
    return int(n_samples)


class _MixtureLogDensity:
    """Log-density of an equal-weight mixture of isotropic 2-D Gaussians.

    Call it with points as a DataFrame (columns ``x0``, ``x1``, or exactly two columns) or an
    ``(n, 2)`` array; it returns the ``(n,)`` natural-log densities.

    Attributes
    ----------
    means : ndarray of shape (n_components, 2)
    variance : float
        Per-coordinate variance; every covariance is ``variance * I``.
    weights : ndarray of shape (n_components,)
    """

    def __init__(self, means, variance):
        self.means = np.asarray(means, dtype=np.float64)
        self.variance = float(variance)
        self.weights = np.full(len(self.means), 1.0 / len(self.means))

    def __repr__(self):
        return (
            f"<log-density of a mixture of {len(self.means)} Gaussians, "
            f"covariance {self.variance:g}*I>"
        )

    def __call__(self, points):
        if isinstance(points, pd.DataFrame):
            if set(COLUMNS) <= set(points.columns):
                points = points[COLUMNS]
            elif points.shape[1] != 2:
                raise ValueError(
                    "points must have the columns 'x0' and 'x1' or exactly two columns; got "
                    f"{list(points.columns)}."
                )
            points = points.to_numpy(dtype=np.float64)
        x = np.asarray(points, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != 2:
            raise ValueError(f"points must have shape (n, 2); got shape {x.shape}.")
        # (n, n_components) squared distances, one coordinate at a time to keep memory at n*k.
        sq = (x[:, [0]] - self.means[None, :, 0]) ** 2 + (x[:, [1]] - self.means[None, :, 1]) ** 2
        log_comp = -np.log(2.0 * np.pi * self.variance) - sq / (2.0 * self.variance)
        return logsumexp(log_comp + np.log(self.weights)[None, :], axis=1)


def _sample_mixture(means, variance, n_samples, random_state, return_log_density):
    n_samples = _check_n_samples(n_samples)
    rng = check_random_state(random_state)
    component = rng.randint(len(means), size=n_samples)
    x = means[component] + np.sqrt(variance) * rng.standard_normal((n_samples, 2))
    frame = pd.DataFrame(x, columns=COLUMNS)
    if return_log_density:
        return frame, _MixtureLogDensity(means, variance)
    return frame


def _grid_means():
    g = np.arange(-4.0, 5.0, 2.0)
    return np.array([[i, j] for i in g for j in g])


def make_grid(n_samples=10000, *, random_state=None, return_log_density=False):
    """Sample the ``grid`` mixture: 25 Gaussians on {-4, -2, 0, 2, 4}², covariance 0.05·I.

    Each point picks one of the 25 equal-weight components at random (SDGym gave every
    component an equal block of points; the distribution is the same). Draw a test set from
    the same mixture with another ``random_state``; the benchmark uses 10,000 train and 10,000
    test points.

    Parameters
    ----------
    n_samples : int, default=10000
        Number of points.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw; see :term:`random_state`.
    return_log_density : bool, default=False
        Also return the true log-density.
    Returns
    -------
    X : DataFrame of shape (n_samples, 2)
        Float64 columns ``x0`` and ``x1``.
    log_density : callable
        Only when ``return_log_density=True``. ``log_density(points)`` takes a DataFrame
        (columns ``x0``, ``x1``) or an ``(n, 2)`` array and returns the ``(n,)`` natural-log
        densities of the true mixture, computed with ``logsumexp``. Its attributes ``means``
        (``(n_components, 2)``), ``variance`` and ``weights`` describe the mixture.

    See Also
    --------
    make_gridr : The same grid with randomly moved means.
    make_ring : Eight Gaussians on the unit circle.

    Examples
    --------
    >>> from skmixsynth.datasets import make_grid
    >>> train, log_density = make_grid(1000, random_state=0, return_log_density=True)
    >>> test = make_grid(1000, random_state=1)
    >>> train.shape, train.columns.tolist()
    ((1000, 2), ['x0', 'x1'])
    >>> log_density(test).shape
    (1000,)
    >>> log_density.means.shape
    (25, 2)
    """
    return _sample_mixture(
        _grid_means(), COMPONENT_VARIANCE, n_samples, random_state, return_log_density
    )


def _gridr_means(mixture_random_state=0):
    """The 25 means of ``gridr``: the grid moved by uniform offsets in [-0.5, 0.5)²."""
    rng = check_random_state(mixture_random_state)
    return _grid_means() + (rng.random_sample((25, 2)) - 0.5)


def make_gridr(
    n_samples=10000, *, mixture_random_state=0, random_state=None, return_log_density=False
):
    """Sample the ``gridr`` mixture: the ``grid`` with each mean moved at random.

    The 25 means of {-4, -2, 0, 2, 4}² are each moved by an offset drawn uniformly from
    [-0.5, 0.5)²; covariance 0.05·I, equal weights. The offsets (which define the
    distribution) come from ``mixture_random_state`` and the points from ``random_state``:
    calls with the same ``mixture_random_state`` sample the *same* mixture, so a train set and
    a test set are two calls that differ only in ``random_state``. The default
    ``mixture_random_state=0`` fixes one mixture for everyone; pass an int (not a
    ``RandomState`` instance, which would advance between calls, nor ``None``, which draws a
    new mixture each call) to keep train and test on the same mixture.

    Parameters
    ----------
    n_samples : int, default=10000
        Number of points.
    mixture_random_state : int, RandomState instance or None, default=0
        Seeds the offsets of the means.
    random_state : int, RandomState instance or None, default=None
        Seeds the points; see :term:`random_state`.
    return_log_density : bool, default=False
        Also return the true log-density.
    Returns
    -------
    X : DataFrame of shape (n_samples, 2)
        Float64 columns ``x0`` and ``x1``.
    log_density : callable
        Only when ``return_log_density=True``. ``log_density(points)`` takes a DataFrame
        (columns ``x0``, ``x1``) or an ``(n, 2)`` array and returns the ``(n,)`` natural-log
        densities of the true mixture, computed with ``logsumexp``. Its attributes ``means``
        (``(n_components, 2)``), ``variance`` and ``weights`` describe the mixture.

    See Also
    --------
    make_grid : The grid with unmoved means.

    Examples
    --------
    >>> from skmixsynth.datasets import make_gridr
    >>> train, log_density = make_gridr(500, random_state=0, return_log_density=True)
    >>> test, same = make_gridr(500, random_state=1, return_log_density=True)
    >>> bool((log_density.means == same.means).all())
    True
    >>> float(abs(log_density.means[0] - [-4, -4]).max()) <= 0.5
    True
    """
    return _sample_mixture(
        _gridr_means(mixture_random_state),
        COMPONENT_VARIANCE,
        n_samples,
        random_state,
        return_log_density,
    )


def _ring_means():
    angles = np.deg2rad(np.arange(0, 360, 45))
    return np.column_stack([np.cos(angles), np.sin(angles)])


def make_ring(n_samples=10000, *, random_state=None, return_log_density=False):
    """Sample the ``ring`` mixture: 8 Gaussians on the unit circle, 45° apart, covariance 0.05·I.

    The means are ``(cos a, sin a)`` for a = 0°, 45°, ..., 315°, equal weights. The covariance
    is the one of SDGym's generator, which uses the same ``s = 0.05`` (covariance ``0.05 * I``)
    for the ring as for the grids; with it neighbouring components (0.77 apart, standard
    deviation 0.22) overlap, so the ring is a blurred circle with eight bumps.

    Parameters
    ----------
    n_samples : int, default=10000
        Number of points.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw; see :term:`random_state`.
    return_log_density : bool, default=False
        Also return the true log-density.
    Returns
    -------
    X : DataFrame of shape (n_samples, 2)
        Float64 columns ``x0`` and ``x1``.
    log_density : callable
        Only when ``return_log_density=True``. ``log_density(points)`` takes a DataFrame
        (columns ``x0``, ``x1``) or an ``(n, 2)`` array and returns the ``(n,)`` natural-log
        densities of the true mixture, computed with ``logsumexp``. Its attributes ``means``
        (``(n_components, 2)``), ``variance`` and ``weights`` describe the mixture.

    See Also
    --------
    make_grid : 25 Gaussians on a grid.

    Examples
    --------
    >>> import numpy as np
    >>> from skmixsynth.datasets import make_ring
    >>> X, log_density = make_ring(2000, random_state=0, return_log_density=True)
    >>> X.dtypes.tolist()
    [dtype('float64'), dtype('float64')]
    >>> np.round(log_density.means[2], 6).tolist()
    [0.0, 1.0]
    >>> bool(log_density(np.array([[1.0, 0.0]]))[0] > log_density(np.array([[0.0, 0.0]]))[0])
    True
    """
    return _sample_mixture(
        _ring_means(), COMPONENT_VARIANCE, n_samples, random_state, return_log_density
    )


# --------------------------------------------------------------------------------- make_mixed

REGIONS = ["north", "south", "east", "west"]
REGION_P = [0.35, 0.25, 0.25, 0.15]
EDUCATIONS = ["primary", "secondary", "tertiary"]
#: P(education | region), rows in the order of REGIONS.
EDUCATION_P = np.array(
    [
        [0.15, 0.45, 0.40],
        [0.40, 0.45, 0.15],
        [0.25, 0.50, 0.25],
        [0.20, 0.40, 0.40],
    ]
)
#: Mean of log(income) for each education; standard deviation 0.3.
LOG_INCOME_MEAN = {
    "primary": np.log(25000.0),
    "secondary": np.log(40000.0),
    "tertiary": np.log(65000.0),
}
LOG_INCOME_SD = 0.3
CONTACTS = ["email", "phone", "letter"]
PLANS = ["basic", "plus", "premium"]
MISSING_COLUMNS = ("region", "education", "contact", "income", "spending")


def _softmax_draw(rng, logits):
    logits = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    u = rng.random_sample(len(p))[:, None]
    return np.minimum((u > np.cumsum(p, axis=1)).sum(axis=1), p.shape[1] - 1)


def make_mixed(n_samples=1000, *, missing_rate=0.0, random_state=None):
    """Sample a small mixed-type Bayesian network with known dependencies.

    The columns, their dtypes and parents (drawn in this order):

    ===============  ==============  ==============  =========================================
    column           dtype           parents         distribution
    ===============  ==============  ==============  =========================================
    ``region``       category        --              north/south/east/west with probabilities
                                                     0.35/0.25/0.25/0.15
    ``age``          int64           --              round(Normal(45, 13)) clipped to [18, 90]
    ``education``    text            ``region``      primary/secondary/tertiary; P(tertiary)
                                                     is 0.40 in north and west, 0.15 in south,
                                                     0.25 in east (see ``EDUCATION_P``)
    ``income``       float64         ``education``   log-normal: log(income) ~ Normal(m, 0.3)
                                                     with exp(m) = 25,000 / 40,000 / 65,000
                                                     for primary / secondary / tertiary
    ``owns_home``    bool            ``age``         Bernoulli(sigmoid(0.12 * (age - 45)))
    ``contact``      object          ``age``         email/phone/letter; logits
                                                     (0, 0.05, 0.10) * (age - 18) + (2, 0, -2):
                                                     email when young, letter when old
    ``spending``     float64         ``income``,     income * (0.30 + 0.15 * owns_home)
                                     ``owns_home``   * exp(Normal(0, 0.1))
    ``plan``         category        ``income``      basic/plus/premium; logits
                                                     (0, 2, 4) * (log(income) - log(40,000))
                                                     + (0, 0, -1)
    ===============  ==============  ==============  =========================================

    So ``income`` depends on a categorical parent, ``plan`` is categorical with a numerical
    parent, ``owns_home`` and ``contact`` have a numerical parent and ``spending`` has a
    numerical and a boolean parent. ``region`` and ``age`` are independent. ``education``
    has pandas' default text dtype: ``str`` on pandas 3, ``object`` on pandas 2.

    With ``missing_rate > 0`` each cell of ``region``, ``education``, ``contact``, ``income``
    and ``spending`` is independently set missing with that probability (missing completely
    at random, after every column is drawn, so dependencies hold among the observed cells).
    ``age`` stays ``int64``, ``owns_home`` ``bool`` and ``plan`` has no missing cell. For the
    same ``random_state`` the observed cells do not depend on ``missing_rate``.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows.
    missing_rate : float, default=0.0
        Probability, in [0, 1), that a cell of the columns listed above is missing.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw; see :term:`random_state`.

    Returns
    -------
    X : DataFrame of shape (n_samples, 8)
        The columns above, in that order. Categorical columns declare all their levels, even
        the ones not drawn.

    Examples
    --------
    >>> from skmixsynth.datasets import make_mixed
    >>> X = make_mixed(200, missing_rate=0.1, random_state=0)
    >>> X.shape
    (200, 8)
    >>> X.columns.tolist()
    ['region', 'age', 'education', 'income', 'owns_home', 'contact', 'spending', 'plan']
    >>> [str(t) for t in X.dtypes[["region", "age", "income", "owns_home", "contact"]]]
    ['category', 'int64', 'float64', 'bool', 'object']
    >>> int(X["age"].isna().sum()), bool(X["income"].isna().any())
    (0, True)
    """
    n = _check_n_samples(n_samples)
    if (
        not isinstance(missing_rate, numbers.Real)
        or isinstance(missing_rate, bool)
        or not 0.0 <= missing_rate < 1.0
    ):
        raise ValueError(f"missing_rate must be a number in [0, 1); got {missing_rate!r}.")
    rng = check_random_state(random_state)

    region = rng.choice(len(REGIONS), size=n, p=REGION_P)
    age = np.clip(np.rint(rng.normal(45.0, 13.0, size=n)), 18, 90).astype(np.int64)
    u = rng.random_sample(n)[:, None]
    education = np.minimum(
        (u > np.cumsum(EDUCATION_P[region], axis=1)).sum(axis=1), len(EDUCATIONS) - 1
    )
    edu_mean = np.array([LOG_INCOME_MEAN[e] for e in EDUCATIONS])
    log_income = edu_mean[education] + LOG_INCOME_SD * rng.standard_normal(n)
    income = np.exp(log_income)
    owns_home = rng.random_sample(n) < 1.0 / (1.0 + np.exp(-0.12 * (age - 45.0)))
    contact = _softmax_draw(
        rng, np.outer(age - 18.0, [0.0, 0.05, 0.10]) + np.array([2.0, 0.0, -2.0])
    )
    spending = income * (0.30 + 0.15 * owns_home) * np.exp(0.1 * rng.standard_normal(n))
    plan = _softmax_draw(
        rng, np.outer(log_income - np.log(40000.0), [0.0, 2.0, 4.0]) + np.array([0, 0, -1.0])
    )
    # Always drawn, so the observed cells do not depend on missing_rate.
    missing = rng.random_sample((n, len(MISSING_COLUMNS))) < missing_rate

    frame = pd.DataFrame(
        {
            "region": pd.Categorical.from_codes(region, categories=REGIONS),
            "age": age,
            "education": pd.Series(np.asarray(EDUCATIONS, dtype=object)[education], dtype=str),
            "income": income,
            "owns_home": owns_home,
            "contact": pd.Series(np.asarray(CONTACTS, dtype=object)[contact], dtype=object),
            "spending": spending,
            "plan": pd.Categorical.from_codes(plan, categories=PLANS),
        }
    )
    for j, col in enumerate(MISSING_COLUMNS):
        if missing[:, j].any():
            frame[col] = frame[col].mask(missing[:, j])
    return frame
