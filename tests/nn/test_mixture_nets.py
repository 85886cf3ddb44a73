"""nn/_mixture.py: the hierarchical mixture against brute-force enumeration (tiny models)."""

import itertools
import math

import pytest
import torch

from skmixsynth import Layout, Span
from skmixsynth.nn import seeded_build, seeded_generator
from skmixsynth.nn._mixture import FREE, NOT_MISSING, HierarchicalMixture

CPU = torch.device("cpu")
B = 4  # bins


def layout():
    """x: a numerical column with a state span (present, missing, =0); c: 3 levels."""
    return Layout((
        Span("x", "numerical", 0, 1, "sigmoid"),
        Span("c", "categorical", 1, 4, "softmax", ("a", "b", "c")),
        Span("x", "missing", 4, 7, "softmax", ("present", "missing", "=0")),
    ))


def random_net(seed=0, **kwargs):
    params = {**dict(n_components=3, n_subcomponents=2, n_groups=2, n_bins=B,
                     missing_levels=[-1, 1]), **kwargs}
    net = seeded_build(lambda: HierarchicalMixture(layout(), **params), seed)
    with torch.no_grad():  # well away from uniform, so that errors show
        g = torch.Generator().manual_seed(seed)
        for p in net.parameters():
            p.copy_(2.0 * torch.randn(p.shape, generator=g))
    return net.eval()


def all_rows():
    """Every complete row: (numerical, codes, weight of the cell for a probability)."""
    num, codes, width = [], [], []
    for c, s in itertools.product(range(3), range(3)):
        if s == 0:
            for b in range(B):
                num.append([(b + 0.5) / B])
                codes.append([c, s])
                width.append(1.0 / B)
        else:
            num.append([float("nan")])
            codes.append([c, s])
            width.append(1.0)
    return torch.tensor(num), torch.tensor(codes), torch.tensor(width)


def joint(net):
    num, codes, width = all_rows()
    with torch.no_grad():
        return num, codes, net.log_prob(num, codes).exp() * width


@pytest.mark.parametrize("kwargs", [{}, {"weight_floor": 0.3}, {"n_groups": 1},
                                    {"n_subcomponents": 1, "n_groups": 1}])
def test_probabilities_of_all_cells_sum_to_one(kwargs):
    _, _, p = joint(random_net(**kwargs))
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-5)


def test_free_variables_are_marginalised_and_not_missing_sums_the_other_levels():
    net = random_net()
    _, codes, p = joint(net)
    free_num = torch.full((1, 1), float("nan"))
    with torch.no_grad():
        for c in range(3):
            row = torch.tensor([[c, FREE]])
            assert float(net.log_prob(free_num, row).exp()) == pytest.approx(
                float(p[codes[:, 0] == c].sum()), rel=1e-5)
            row = torch.tensor([[c, NOT_MISSING]])
            keep = (codes[:, 0] == c) & (codes[:, 1] != 1)
            assert float(net.log_prob(free_num, row).exp()) == pytest.approx(
                float(p[keep].sum()), rel=1e-5)
        # everything free: probability one
        assert float(net.log_prob(free_num, torch.tensor([[FREE, FREE]])).exp()) == \
            pytest.approx(1.0, abs=1e-6)
        # a given scalar with a free state means "present"
        given = torch.tensor([[0.6]])
        assert float(net.log_prob(given, torch.tensor([[1, FREE]]))) == pytest.approx(
            float(net.log_prob(given, torch.tensor([[1, 0]]))))
        # off the scale (missing, a point mass) the scalar is ignored
        assert float(net.log_prob(given, torch.tensor([[1, 2]]))) == pytest.approx(
            float(net.log_prob(free_num, torch.tensor([[1, 2]]))))


def test_samples_follow_the_joint():
    net = random_net()
    num, codes, p = joint(net)
    n = 40_000
    sn, sc = net.generate(n, seeded_generator(0, CPU))
    assert sn.shape == (n, 1) and sc.shape == (n, 2)
    assert ((sn >= 0) & (sn <= 1)).all()
    freq = torch.zeros(len(p))
    bins = (sn[:, 0] * B).long().clamp(max=B - 1)
    for i in range(len(p)):
        c, s = codes[i]
        hit = (sc[:, 0] == c) & (sc[:, 1] == s)
        if s == 0:
            hit &= bins == int(num[i, 0] * B)
        freq[i] = hit.float().mean()
    assert float((freq - p).abs().max()) < 0.012


def test_conditional_samples_follow_the_brute_force_conditional():
    net = random_net(1)
    num, codes, p = joint(net)
    n = 30_000
    # given c = 2: the state of x
    given = torch.full((n, 1), float("nan"))
    cond = torch.tensor([[2, FREE]]).repeat(n, 1)
    sn, sc = net.generate_conditional(given, cond, seeded_generator(1, CPU))
    assert (sc[:, 0] == 2).all()
    sel = codes[:, 0] == 2
    exact = torch.stack([p[sel & (codes[:, 1] == s)].sum() for s in range(3)]) / p[sel].sum()
    freq = torch.stack([(sc[:, 1] == s).float().mean() for s in range(3)])
    assert float((freq - exact).abs().max()) < 0.015
    # given x = 0.3 (present, bin 1): c
    given = torch.full((n, 1), 0.3)
    cond = torch.tensor([[FREE, FREE]]).repeat(n, 1)
    sn, sc = net.generate_conditional(given, cond, seeded_generator(2, CPU))
    assert torch.equal(sn, given) and (sc[:, 1] == 0).all()
    sel = (codes[:, 1] == 0) & (num[:, 0] == 1.5 / B)
    exact = torch.stack([p[sel & (codes[:, 0] == c)].sum() for c in range(3)]) / p[sel].sum()
    freq = torch.stack([(sc[:, 0] == c).float().mean() for c in range(3)])
    assert float((freq - exact).abs().max()) < 0.015
    # "not missing": never the missing level
    cond = torch.tensor([[0, NOT_MISSING]]).repeat(n, 1)
    sn, sc = net.generate_conditional(torch.full((n, 1), float("nan")), cond,
                                      seeded_generator(3, CPU))
    assert (sc[:, 1] != 1).all()


def test_conditional_marginals_match_brute_force():
    net = random_net(2)
    _, codes, p = joint(net)
    nan = torch.full((1, 1), float("nan"))
    # c given the state "not missing" and x free: over c
    out = net.conditional_marginals(nan, torch.tensor([[FREE, NOT_MISSING]]))
    keep = codes[:, 1] != 1
    exact = torch.stack([p[keep & (codes[:, 0] == c)].sum() for c in range(3)]) / p[keep].sum()
    assert torch.allclose(out[0, 1, :3], exact, atol=1e-5)
    # the state given c = 1, restricted to non-missing levels
    out = net.conditional_marginals(nan, torch.tensor([[1, NOT_MISSING]]))
    sel = (codes[:, 0] == 1) & keep
    exact = torch.stack([p[sel & (codes[:, 1] == s)].sum() for s in range(3)]) / p[sel].sum()
    assert torch.allclose(out[0, 2, :3], exact, atol=1e-5)
    # x's bins given c = 0 and x present
    out = net.conditional_marginals(nan, torch.tensor([[0, NOT_MISSING]]))
    sel = (codes[:, 0] == 0) & (codes[:, 1] == 0)
    exact = p[sel] / p[sel].sum()
    assert torch.allclose(out[0, 0, :B], exact, atol=1e-5)


def test_expected_counts_are_posterior_counts():
    net = random_net(3)
    num, codes, _ = all_rows()
    ll, leaves, sub, top = net.expected_counts(num, codes)
    n = num.shape[0]
    assert float(top.sum()) == pytest.approx(n, rel=1e-5)
    assert torch.allclose(sub.sum(-1), top[:, None].expand_as(sub.sum(-1)), rtol=1e-4)
    # each observed variable's counts sum to the rows where it is observed
    per_var = leaves.sum((1, 2))
    observed_x = int((codes[:, 1] == 0).sum())
    assert per_var.tolist() == pytest.approx([observed_x, n, n], rel=1e-4)
    with torch.no_grad():
        assert float(ll) == pytest.approx(float(net.log_prob(num, codes).sum()), rel=1e-5)


def test_generation_is_deterministic_for_a_generator():
    net = random_net()
    a = net.generate(100, seeded_generator(5, CPU))
    b = net.generate(100, seeded_generator(5, CPU))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    tables = net.sampling_tables()
    c = net.generate(100, seeded_generator(5, CPU), tables=tables)
    assert torch.equal(a[1], c[1])


def test_density_offset_is_log_bins_per_observed_scalar():
    net = random_net()
    num = torch.tensor([[0.1], [float("nan")]])
    codes = torch.tensor([[0, 0], [0, 1]])
    idx = net.evidence(num, codes)
    assert net._log_density_offset(idx, num).tolist() == pytest.approx([math.log(B), 0.0])


def test_a_build_is_seeded_and_leaves_the_global_generator_alone():
    before = torch.random.get_rng_state()
    a = seeded_build(lambda: HierarchicalMixture(layout(), n_components=2, n_subcomponents=2,
                                                 n_groups=2, n_bins=B), 7)
    b = seeded_build(lambda: HierarchicalMixture(layout(), n_components=2, n_subcomponents=2,
                                                 n_groups=2, n_bins=B), 7)
    assert torch.equal(torch.random.get_rng_state(), before)
    for (k, v), (_, w) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(v, w), k


def test_discrete_valued_scalars_sum_to_one_and_sample_their_points():
    net = random_net(4)
    values = torch.tensor([0.1, 0.2, 0.2, 0.35, 0.5, 0.5, 0.5, 0.9, 0.9, 0.97])
    num = torch.cat([values, torch.full((4,), float("nan"))])[:, None]
    codes = torch.cat([torch.zeros(10, 2, dtype=torch.long),
                       torch.tensor([[0, 1], [1, 1], [2, 2], [0, 2]])])
    net.set_points(num, codes, min_count=1)
    points = [0.1, 0.2, 0.35, 0.5, 0.9, 0.97]
    assert int(net.n_points[0]) == len(points) and int(net.mask[0].sum()) <= B
    total = 0.0
    with torch.no_grad():
        for c, s in itertools.product(range(3), range(3)):
            if s == 0:
                x = torch.tensor(points)[:, None]
                row = torch.tensor([[c, 0]]).repeat(len(points), 1)
                total += float(net.log_prob(x, row).exp().sum())
            else:
                total += float(net.log_prob(torch.full((1, 1), float("nan")),
                                            torch.tensor([[c, s]])).exp())
    assert total == pytest.approx(1.0, abs=1e-5)
    # a value between points counts at the nearest one
    with torch.no_grad():
        assert float(net.log_prob(torch.tensor([[0.33]]), torch.tensor([[0, 0]]))) == \
            pytest.approx(float(net.log_prob(torch.tensor([[0.35]]), torch.tensor([[0, 0]]))))
    sn, sc = net.generate(5000, seeded_generator(0, CPU))
    present = sc[:, 1] == 0
    got = set(sn[present, 0].tolist())
    assert got <= {float(torch.tensor(p)) for p in points} and len(got) == len(points)


def test_rare_points_are_dropped():
    net = random_net(5)
    num = torch.tensor([[0.1]] * 5 + [[0.4]] * 1 + [[0.8]] * 5)
    net.set_points(num, torch.zeros(11, 2, dtype=torch.long), min_count=5)
    assert int(net.n_points[0]) == 2
    sn, sc = net.generate(2000, seeded_generator(0, CPU))
    assert set(sn[sc[:, 1] == 0, 0].tolist()) <= {float(torch.tensor(0.1)),
                                                  float(torch.tensor(0.8))}
