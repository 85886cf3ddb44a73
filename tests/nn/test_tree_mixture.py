"""nn/_mixture.py: the hidden tree (TreeMixture) against brute-force enumeration."""

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skmixsynth import Layout, Span
from skmixsynth.nn import seeded_build, seeded_generator
from skmixsynth.nn._mixture import (
    FREE,
    NOT_MISSING,
    TreeMixture,
    _alias_table,
    _draw_alias,
    _maximum_spanning_tree,
)

CPU = torch.device("cpu")
B = 4  # bins
K = 3  # latent states


def layout():
    """x: numerical with a state span (present, missing, =0); c: 3 levels; d: 2 levels."""
    return Layout((
        Span("x", "numerical", 0, 1, "sigmoid"),
        Span("c", "categorical", 1, 4, "softmax", ("a", "b", "c")),
        Span("d", "categorical", 4, 6, "softmax", ("u", "v")),
        Span("x", "missing", 6, 9, "softmax", ("present", "missing", "=0")),
    ))


def group(net, column):
    """The group (tree node) of a column: x, c, d are variables (0, 3), 1, 2."""
    return int(net.group_of[{"x": 0, "c": 1, "d": 2}[column]])


def random_net(seed=0, shape="chain", **kwargs):
    params = {**dict(n_states=K, n_bins=B, missing_levels=[-1, -1, 1]), **kwargs}
    net = seeded_build(lambda: TreeMixture(layout(), **params), seed)
    with torch.no_grad():  # well away from uniform, so that errors show
        g = torch.Generator().manual_seed(seed)
        for p in net.parameters():
            p.copy_(2.0 * torch.randn(p.shape, generator=g))
        x, c, d = group(net, "x"), group(net, "c"), group(net, "d")
        parent = torch.empty(3, dtype=torch.long)
        if shape == "chain":  # x -> c -> d: depth 2
            parent[x], parent[c], parent[d] = -1, x, c
        else:  # a star around c
            parent[c], parent[x], parent[d] = -1, c, c
        net.parent.copy_(parent)
    return net.eval()


def all_rows():
    """Every complete row: (numerical, codes (c, d, state), cell width)."""
    num, codes, width = [], [], []
    for c, d, s in itertools.product(range(3), range(2), range(3)):
        for b in range(B) if s == 0 else [None]:
            num.append([(b + 0.5) / B] if b is not None else [float("nan")])
            codes.append([c, d, s])
            width.append(1.0 / B if b is not None else 1.0)
    return torch.tensor(num), torch.tensor(codes), torch.tensor(width)


def joint(net):
    num, codes, width = all_rows()
    with torch.no_grad():
        return num, codes, net.log_prob(num, codes).exp() * width


def brute_force(net):
    """The joint by explicit enumeration of the latent states (independent of the upward
    pass): sum over z of p(z_root) prod p(z_g | z_parent) prod leaves."""
    num, codes, width = all_rows()
    log_sub, log_top = net.log_weights()
    leaves = net.log_leaves()
    idx = net.evidence(num, codes)
    table = net.leaf_table(leaves).view(net.n_variables, -1, K)
    total = torch.zeros(len(num))
    parent = net.parent.tolist()
    for z in itertools.product(range(K), repeat=3):
        lp = torch.zeros(len(num))
        for g in range(3):
            lp += log_top[z[g]] if parent[g] < 0 else log_sub[g, z[parent[g]], z[g]]
        for v in range(net.n_variables):
            lp += table[v, idx[:, v], z[int(net.group_of[v])]]
        total += lp.exp()
    offset = net._log_density_offset(idx, num).exp()
    return total * offset * width


@pytest.mark.parametrize("shape", ["chain", "star"])
@pytest.mark.parametrize("kwargs", [{}, {"weight_floor": 0.3}])
def test_the_upward_pass_is_the_brute_force_joint_and_sums_to_one(shape, kwargs):
    net = random_net(shape=shape, **kwargs)
    _, _, p = joint(net)
    with torch.no_grad():
        assert torch.allclose(p, brute_force(net), rtol=1e-4, atol=1e-7)
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-5)


def test_free_and_not_missing_evidence_sum_the_brute_force_cells():
    net = random_net(1)
    _, codes, p = joint(net)
    nan = torch.full((1, 1), float("nan"))
    with torch.no_grad():
        for c in range(3):
            got = net.log_prob(nan, torch.tensor([[c, FREE, FREE]])).exp()
            assert float(got) == pytest.approx(float(p[codes[:, 0] == c].sum()), rel=1e-5)
            got = net.log_prob(nan, torch.tensor([[c, FREE, NOT_MISSING]])).exp()
            keep = (codes[:, 0] == c) & (codes[:, 2] != 1)
            assert float(got) == pytest.approx(float(p[keep].sum()), rel=1e-5)
        everything = net.log_prob(nan, torch.tensor([[FREE, FREE, FREE]])).exp()
        assert float(everything) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("shape", ["chain", "star"])
def test_samples_follow_the_joint(shape):
    net = random_net(2, shape=shape)
    num, codes, p = joint(net)
    n = 60_000
    sn, sc = net.generate(n, seeded_generator(0, CPU))
    assert sn.shape == (n, 1) and sc.shape == (n, 3)
    bins = (sn[:, 0] * B).long().clamp(max=B - 1)
    freq = torch.zeros(len(p))
    for i in range(len(p)):
        hit = (sc == codes[i]).all(1)
        if codes[i, 2] == 0:
            hit &= bins == int(num[i, 0] * B)
        freq[i] = hit.float().mean()
    assert float((freq - p).abs().max()) < 0.01


def test_conditional_samples_follow_the_brute_force_conditional():
    net = random_net(3)
    num, codes, p = joint(net)
    n = 40_000
    # given d = 1 (a leaf of the chain, two steps from the root): c
    cond = torch.tensor([[FREE, 1, FREE]]).repeat(n, 1)
    sn, sc = net.generate_conditional(torch.full((n, 1), float("nan")), cond,
                                      seeded_generator(1, CPU))
    assert (sc[:, 1] == 1).all()
    sel = codes[:, 1] == 1
    exact = torch.stack([p[sel & (codes[:, 0] == c)].sum() for c in range(3)]) / p[sel].sum()
    freq = torch.stack([(sc[:, 0] == c).float().mean() for c in range(3)])
    assert float((freq - exact).abs().max()) < 0.012
    # given x = 0.3 (present, bin 1) at the root and d = 0: c
    cond = torch.tensor([[FREE, 0, FREE]]).repeat(n, 1)
    given = torch.full((n, 1), 0.3)
    sn, sc = net.generate_conditional(given, cond, seeded_generator(2, CPU))
    assert torch.equal(sn, given) and (sc[:, 2] == 0).all() and (sc[:, 1] == 0).all()
    sel = (codes[:, 2] == 0) & (num[:, 0] == 1.5 / B) & (codes[:, 1] == 0)
    exact = torch.stack([p[sel & (codes[:, 0] == c)].sum() for c in range(3)]) / p[sel].sum()
    freq = torch.stack([(sc[:, 0] == c).float().mean() for c in range(3)])
    assert float((freq - exact).abs().max()) < 0.012
    # "not missing": never the missing level
    cond = torch.tensor([[0, FREE, NOT_MISSING]]).repeat(n, 1)
    _, sc = net.generate_conditional(torch.full((n, 1), float("nan")), cond,
                                     seeded_generator(3, CPU))
    assert (sc[:, 2] != 1).all()


def test_conditional_marginals_match_brute_force():
    net = random_net(4)
    _, codes, p = joint(net)
    nan = torch.full((1, 1), float("nan"))
    out = net.conditional_marginals(nan, torch.tensor([[FREE, 1, NOT_MISSING]]))
    keep = (codes[:, 2] != 1) & (codes[:, 1] == 1)
    exact = torch.stack([p[keep & (codes[:, 0] == c)].sum() for c in range(3)]) / p[keep].sum()
    assert torch.allclose(out[0, 1, :3], exact, atol=1e-5)
    # x's bins given c = 2 and x present
    out = net.conditional_marginals(nan, torch.tensor([[2, FREE, NOT_MISSING]]))
    sel = (codes[:, 0] == 2) & (codes[:, 2] == 0)
    exact = p[sel].view(2, B).sum(0) / p[sel].sum()
    assert torch.allclose(out[0, 0, :B], exact, atol=1e-5)


def test_expected_counts_for_stepwise_em():
    net = random_net(5)
    num, codes, _ = all_rows()
    ll, leaves, sub, top = net.expected_counts(num, codes)
    n = num.shape[0]
    assert float(top.sum()) == pytest.approx(n, rel=1e-5)
    assert float(leaves[1].sum()) == pytest.approx(n, rel=1e-4)  # c: observed in every row
    # every non-root node's transition counts sum to the rows
    roots = net.parent < 0
    assert sub[~roots].sum((1, 2)).tolist() == pytest.approx([n] * int((~roots).sum()),
                                                             rel=1e-4)
    with torch.no_grad():
        assert float(ll) == pytest.approx(float(net.log_prob(num, codes).sum()), rel=1e-5)


def test_chow_liu_recovers_a_chain_and_roots_it_at_the_centre():
    # d copies c (with noise), x is tied to d only: the tree is c - d - x, rooted at d
    g = torch.Generator().manual_seed(0)
    n = 4000
    c = torch.randint(0, 3, (n,), generator=g)
    d = torch.where(torch.rand(n, generator=g) < 0.9, (c > 0).long(),
                    torch.randint(0, 2, (n,), generator=g))
    x = (d.float() * 0.5 + 0.5 * torch.rand(n, generator=g))[:, None]
    codes = torch.stack([c, d, torch.zeros(n, dtype=torch.long)], 1)
    net = random_net(6)
    net.set_structure(x, codes)
    gx, gc, gd = group(net, "x"), group(net, "c"), group(net, "d")
    parent = net.parent.tolist()
    assert parent[gd] == -1 and parent[gc] == gd and parent[gx] == gd


def test_maximum_spanning_tree_of_a_path_is_rooted_in_its_middle():
    w = torch.zeros(5, 5, dtype=torch.float64)
    for a, b in [(0, 1), (1, 2), (2, 3), (3, 4)]:
        w[a, b] = w[b, a] = 1.0
    parent = _maximum_spanning_tree(w).tolist()
    assert parent[2] == -1 and parent[1] == 2 and parent[3] == 2
    assert parent[0] == 1 and parent[4] == 3


def test_a_build_is_seeded_and_generation_deterministic():
    before = torch.random.get_rng_state()
    a = seeded_build(lambda: TreeMixture(layout(), n_states=K, n_bins=B), 7)
    b = seeded_build(lambda: TreeMixture(layout(), n_states=K, n_bins=B), 7)
    assert torch.equal(torch.random.get_rng_state(), before)
    for (k, v), (_, w) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(v, w), k
    x = a.generate(50, seeded_generator(5, CPU))
    y = a.generate(50, seeded_generator(5, CPU), tables=a.sampling_tables())
    assert torch.equal(x[0], y[0]) and torch.equal(x[1], y[1])


@given(st.integers(1, 12), st.integers(1, 9), st.integers(0, 2**31 - 1))
@settings(max_examples=60, deadline=None)
def test_alias_tables_imply_exactly_the_row_probabilities(rows, width, seed):
    # the probability an alias table gives column j: its own kept mass plus the mass other
    # columns hand to it, over the width; zero cells (padded levels) are never kept
    gen = torch.Generator().manual_seed(seed)
    probs = torch.rand(rows, width, generator=gen) ** 3
    probs[torch.rand(rows, width, generator=gen) < 0.3] = 0.0
    probs[:, 0] += 1e-3  # every row has some mass
    accept, alias = _alias_table(probs)
    implied = accept.double().clone()
    implied.scatter_add_(1, alias, (1.0 - accept.double()))
    implied /= width
    expected = probs.double() / probs.double().sum(1, keepdim=True)
    torch.testing.assert_close(implied, expected, atol=1e-6, rtol=0)
    assert not bool((accept[probs == 0] > 0).any())
    assert not bool((probs.gather(1, alias) == 0).any())  # nothing is handed to a zero cell


def test_alias_draws_follow_the_rows():
    gen = torch.Generator().manual_seed(0)
    probs = torch.tensor([[0.7, 0.0, 0.2, 0.1], [0.0, 0.0, 1.0, 0.0]])
    accept, alias = _alias_table(probs)
    rows = torch.tensor([0, 1]).repeat(50_000)
    draws = _draw_alias(accept, alias, rows, gen)
    freq = torch.zeros(2, 4).index_put_((rows, draws), torch.ones(len(rows)), accumulate=True)
    torch.testing.assert_close(freq / 50_000, probs, atol=0.01, rtol=0)


def test_sampling_tables_are_kept_until_the_parameters_change():
    net = random_net(4)
    tables = net.sampling_tables()
    assert net.sampling_tables() is tables  # a fitted model builds them once
    with torch.no_grad():
        net.top_logits.add_(torch.arange(K, dtype=torch.float32))  # a training step, in place
    changed = net.sampling_tables()
    assert changed is not tables
    assert not torch.equal(changed["top"], tables["top"])
    state = {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():
        state["leaf_logits"].mul_(0.5)
    net.load_state_dict(state)  # load copies in place: the tables follow
    assert not torch.equal(net.sampling_tables()["leaves"], changed["leaves"])
