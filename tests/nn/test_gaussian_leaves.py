"""nn/_mixture.py: Gaussian leaves of the numerical scalars (``numerical_leaves="gaussian"``),
in the hidden tree and the two-level mixture, against brute force on tiny models.

The density of a scalar ``u`` in (0, 1) is ``N(Phi^{-1}(u); loc, scale) / phi(Phi^{-1}(u))``:
integrals over ``u`` are taken on the probit scale ``y`` (``du = phi(y) dy``), on a fine grid.
"""

import itertools
import math

import pytest
import torch

from skmixsynth.nn import seeded_build, seeded_generator
from skmixsynth.nn._mixture import FREE, HierarchicalMixture, TreeMixture
from tests.nn.test_tree_mixture import layout  # x (with a state span), c, d

CPU = torch.device("cpu")
K = 3
GRID = torch.linspace(-7.0, 7.0, 14_001, dtype=torch.float64)  # the probit scale


def build(kind, seed=0):
    if kind == "tree":
        make = lambda: TreeMixture(layout(), n_states=K, n_bins=4,  # noqa: E731
                                   missing_levels=[-1, -1, 1], numerical_leaves="gaussian")
    else:
        make = lambda: HierarchicalMixture(  # noqa: E731
            layout(), n_components=K, n_subcomponents=2, n_groups=2, n_bins=4,
            missing_levels=[-1, -1, 1], numerical_leaves="gaussian")
    net = seeded_build(make, seed)
    with torch.no_grad():  # well away from uniform, so that errors show
        g = torch.Generator().manual_seed(seed)
        for p in net.parameters():
            p.copy_(1.5 * torch.randn(p.shape, generator=g))
        # Gaussians well inside the probit scale's clipped range (|y| <= 4.75), apart
        net.num_loc.copy_(0.8 * torch.randn(net.num_loc.shape, generator=g))
        scale = 0.2 + 0.6 * torch.rand(net.num_scale.shape, generator=g)
        net.num_scale.copy_(torch.log(torch.expm1(scale - net.SCALE_MIN)))
        if kind == "tree":  # a chain x -> c -> d
            x, c, d = (int(net.group_of[v]) for v in (0, 1, 2))
            parent = torch.empty(3, dtype=torch.long)
            parent[x], parent[c], parent[d] = -1, x, c
            net.parent.copy_(parent)
    return net.eval()


def log_prob_on_grid(net, c, d):
    """``log p(u, c, d, present)`` at every ``u = Phi(y)`` of the grid, ``(len(GRID),)``."""
    u = torch.special.ndtr(GRID).to(torch.float32).clamp(1e-6, 1 - 1e-6)[:, None]
    codes = torch.tensor([[c, d, 0]]).expand(len(GRID), 3)
    with torch.no_grad():
        return net.log_prob(u, codes).double()


def mass_present(net, c, d):
    """``P(c, d, present)``: the integral of the density over (0, 1), on the probit scale."""
    phi = torch.exp(-0.5 * GRID.square()) / math.sqrt(2 * math.pi)
    return float(torch.trapezoid(log_prob_on_grid(net, c, d).exp() * phi, GRID))


@pytest.mark.parametrize("kind", ["tree", "groups"])
def test_the_density_and_the_probabilities_sum_to_one(kind):
    net = build(kind)
    nan = torch.full((1, 1), float("nan"))
    total = 0.0
    for c, d in itertools.product(range(3), range(2)):
        total += mass_present(net, c, d)
        for s in (1, 2):  # missing, =0: no scalar
            with torch.no_grad():
                total += float(net.log_prob(nan, torch.tensor([[c, d, s]])).exp())
    assert total == pytest.approx(1.0, abs=1e-4)
    # the scalar integrates out to its column's "present" state
    with torch.no_grad():
        present = float(net.log_prob(nan, torch.tensor([[1, 0, 0]])).exp())
    assert mass_present(net, 1, 0) == pytest.approx(present, rel=1e-4)


def test_the_flat_mixture_matches_its_formula():
    """One group, one sub-component: ``p = sum_k w_k N(y; loc_k, s_k) / phi(y) prod leaves``."""
    net = seeded_build(lambda: HierarchicalMixture(
        layout(), n_components=K, n_subcomponents=1, n_groups=1, n_bins=4,
        missing_levels=[-1, -1, 1], numerical_leaves="gaussian"), 3)
    with torch.no_grad():
        g = torch.Generator().manual_seed(3)
        for p in net.parameters():
            p.copy_(1.5 * torch.randn(p.shape, generator=g))
        net.num_loc.copy_(0.8 * torch.randn(net.num_loc.shape, generator=g))
        net.num_scale.fill_(0.0)
        u = torch.tensor([[0.2], [0.7], [0.95]])
        codes = torch.tensor([[0, 1, 0], [2, 0, 0], [1, 1, 0]])
        got = net.log_prob(u, codes)
        _, log_top = net.log_weights()
        leaves = net.log_leaves()
        loc, scale = net.num_loc[0], net.numerical_scale()[0]
        y = torch.special.ndtri(u[:, 0].double())
        normal = torch.distributions.Normal(0.0, 1.0)
        for i in range(3):
            terms = []
            for k in range(K):
                t = float(log_top[k])
                t += float(torch.distributions.Normal(loc[k].double(), scale[k].double())
                           .log_prob(y[i]) - normal.log_prob(y[i]))
                for v, level in ((1, codes[i, 0]), (2, codes[i, 1]), (3, codes[i, 2])):
                    t += float(leaves[v, level, k])
                terms.append(t)
            assert float(got[i]) == pytest.approx(float(torch.logsumexp(
                torch.tensor(terms), 0)), abs=1e-4)


@pytest.mark.parametrize("kind", ["tree", "groups"])
def test_samples_follow_the_joint(kind):
    net = build(kind, 1)
    n = 60_000
    num, codes = net.generate(n, seeded_generator(0, CPU))
    assert bool(((num > 0) & (num < 1)).all())
    for c, d in itertools.product(range(3), range(2)):
        hit = (codes[:, 0] == c) & (codes[:, 1] == d) & (codes[:, 2] == 0)
        exact = mass_present(net, c, d)
        assert float(hit.double().mean()) == pytest.approx(exact, abs=0.01)
        if exact > 0.05:  # the scalar's mean on the probit scale given (c, d, present)
            dens = log_prob_on_grid(net, c, d).exp()
            phi = torch.exp(-0.5 * GRID.square()) / math.sqrt(2 * math.pi)
            mean = float(torch.trapezoid(GRID * dens * phi, GRID)) / exact
            drawn = torch.special.ndtri(num[hit, 0].double()).mean()
            assert float(drawn) == pytest.approx(mean, abs=0.06)


@pytest.mark.parametrize("kind", ["tree", "groups"])
def test_conditional_samples_given_a_value_and_given_a_level(kind):
    net = build(kind, 2)
    n = 40_000
    # given x = 0.3 (present): c, d by their brute-force conditional
    given = torch.full((n, 1), 0.3)
    sn, sc = net.generate_conditional(given, torch.tensor([[FREE, FREE, FREE]]).repeat(n, 1),
                                      seeded_generator(1, CPU))
    assert torch.equal(sn, given) and bool((sc[:, 2] == 0).all())
    with torch.no_grad():
        cells = torch.tensor([[c, d, 0] for c in range(3) for d in range(2)])
        p = net.log_prob(torch.full((6, 1), 0.3), cells).exp()
    p = p / p.sum()
    freq = torch.tensor([float(((sc[:, 0] == c) & (sc[:, 1] == d)).double().mean())
                         for c in range(3) for d in range(2)])
    assert float((freq - p).abs().max()) < 0.015
    # given c = 2, d = 1, x present: the scalar's conditional mean on the probit scale
    cond = torch.tensor([[2, 1, 0]]).repeat(n, 1)
    sn, _ = net.generate_conditional(torch.full((n, 1), float("nan")), cond,
                                     seeded_generator(2, CPU))
    dens = log_prob_on_grid(net, 2, 1).exp()
    phi = torch.exp(-0.5 * GRID.square()) / math.sqrt(2 * math.pi)
    mean = float(torch.trapezoid(GRID * dens * phi, GRID) / torch.trapezoid(dens * phi, GRID))
    assert float(torch.special.ndtri(sn[:, 0].double()).mean()) == pytest.approx(mean, abs=0.05)


@pytest.mark.parametrize("kind", ["tree", "groups"])
def test_conditional_modes_are_the_best_leaf_location(kind):
    net = build(kind, 4)
    nan = torch.full((1, 1), float("nan"))
    for c, d in ((0, 0), (2, 1)):
        mode = net.conditional_numerical_modes(nan, torch.tensor([[c, d, 0]]))
        candidates = torch.special.ndtr(net.num_loc[0].detach()).clamp(1e-6, 1 - 1e-6)
        mode = mode.detach()
        with torch.no_grad():
            ll = net.log_prob(candidates[:, None], torch.tensor([[c, d, 0]]).repeat(K * (
                1 if kind == "tree" else 2), 1))
            # the density of the scalar on its probit scale: the log-likelihood plus log phi
            y = torch.special.ndtri(candidates.double())
            score = ll.double() - 0.5 * y.square()
        best = candidates[int(score.argmax())]
        assert float(mode[0, 0]) == pytest.approx(float(best), abs=1e-5)


def test_gaussian_leaves_need_a_known_kind_and_start_from_rows():
    with pytest.raises(ValueError, match="numerical_leaves"):
        TreeMixture(layout(), n_states=K, n_bins=4, numerical_leaves="beta")
    net = seeded_build(lambda: TreeMixture(layout(), n_states=K, n_bins=4,
                                           numerical_leaves="gaussian"), 0)
    num = torch.tensor([[0.1], [0.5], [0.9], [0.7]])
    codes = torch.tensor([[0, 0, 0], [1, 1, 0], [2, 0, 0], [1, 0, 0]])
    net.init_from_data(num, codes, seeded_generator(0, CPU))
    starts = torch.special.ndtri(num[:, 0]) * 0.5
    locs = net.num_loc[0].detach()
    assert all(any(abs(float(v) - float(s)) < 1e-5 for s in starts) for v in locs)
    assert torch.allclose(net.numerical_scale(), torch.full((1, K), 0.3), atol=1e-5)


@pytest.mark.parametrize("kind", ["tree", "groups"])
def test_conditional_samples_given_a_range_follow_brute_force(kind):
    """x known to lie in [a, b] (on the (0, 1) scale): the other columns by the integral of
    the joint over the range, x by the joint truncated to it."""
    from skmixsynth.nn._mixture import _log_ndtr_difference

    net = build(kind, 5)
    n = 40_000
    lo_u, hi_u = 0.35, 0.6
    low, high = torch.full((n, 1), lo_u), torch.full((n, 1), hi_u)
    sn, sc = net.generate_conditional(torch.full((n, 1), float("nan")),
                                      torch.tensor([[FREE, FREE, 0]]).repeat(n, 1),
                                      seeded_generator(3, CPU), bounds=(low, high))
    assert bool(((sn >= lo_u) & (sn <= hi_u)).all()) and bool((sc[:, 2] == 0).all())
    a, b = (float(torch.special.ndtri(torch.tensor(v, dtype=torch.float64)))
            for v in (lo_u, hi_u))
    inside = (GRID >= a) & (GRID <= b)
    phi = torch.exp(-0.5 * GRID.square()) / math.sqrt(2 * math.pi)
    mass, moment = [], []
    for c, d in itertools.product(range(3), range(2)):
        dens = torch.where(inside, log_prob_on_grid(net, c, d).exp() * phi, 0.0)
        mass.append(float(torch.trapezoid(dens, GRID)))
        moment.append(float(torch.trapezoid(GRID * dens, GRID)))
    mass = torch.tensor(mass)
    freq = torch.tensor([float(((sc[:, 0] == c) & (sc[:, 1] == d)).double().mean())
                         for c, d in itertools.product(range(3), range(2))])
    assert float((freq - mass / mass.sum()).abs().max()) < 0.015
    mean = sum(moment) / float(mass.sum())
    assert float(torch.special.ndtri(sn[:, 0].double()).mean()) == pytest.approx(mean, abs=0.02)
    # the range's log-probability under one Gaussian, in both tails
    za = torch.tensor([-40.0, -1.0, 0.5, 8.0, 30.0])
    zb = torch.tensor([-39.0, 2.0, 1.5, 9.0, math.inf])
    got = _log_ndtr_difference(zb, za)
    assert bool(torch.isfinite(got).all())
    ref = torch.log(torch.special.ndtr(zb[1:3].double()) - torch.special.ndtr(za[1:3].double()))
    torch.testing.assert_close(got[1:3].double(), ref, rtol=1e-5, atol=1e-6)
    assert float(got[3]) == pytest.approx(math.log(0.5 * math.erfc(8 / math.sqrt(2))), rel=1e-3)
