"""Fused output heads and reconstruction loss: equal to a naive per-span loop."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from skmixsynth import Layout, Span
from skmixsynth.nn import MixedOutput, gumbel_noise, mixed_reconstruction_loss, seeded_generator

CPU = torch.device("cpu")


def make_layout(n_numerical, cardinalities):
    spans, pos = [], 0
    for i in range(n_numerical):
        spans.append(Span(f"x{i}", "numerical", pos, pos + 1, "sigmoid"))
        pos += 1
    for j, d in enumerate(cardinalities):
        spans.append(Span(f"c{j}", "categorical", pos, pos + d, "softmax",
                          tuple(str(k) for k in range(d))))
        pos += d
    return Layout(tuple(spans))


def random_target(layout, n, rng):
    target = np.zeros((n, layout.width), dtype=np.float32)
    target[:, layout.numerical_slice] = rng.random((n, layout.n_numerical))
    for s in layout.discrete_spans:
        target[np.arange(n), s.start + rng.integers(s.dim, size=n)] = 1.0
    return torch.as_tensor(target)


# ------------------------------------------------------------- naive references
def naive_output(logits, layout, mode, tau, noise=None):
    """Per-span loop; ``noise`` is the Gumbel noise of the discrete block, (B, n_discrete)."""
    parts = [torch.sigmoid(logits[:, layout.numerical_slice])]
    offset = layout.n_numerical
    for s in layout.discrete_spans:
        a = logits[:, s.slice]
        if noise is not None:
            a = a + noise[:, s.start - offset: s.stop - offset]
        if mode in ("argmax", "draw"):
            parts.append(F.one_hot(a.argmax(dim=1), s.dim).to(a.dtype))
        else:
            parts.append(torch.softmax(a / tau, dim=1))
    return torch.cat(parts, dim=1)


def naive_loss(logits, target, layout):
    num = sum(
        (F.mse_loss(torch.sigmoid(logits[:, s.start]), target[:, s.start])
         for s in layout.numerical_spans),
        torch.zeros(()),
    )
    cat = sum(
        (F.cross_entropy(logits[:, s.slice], target[:, s.slice].argmax(dim=1))
         for s in layout.discrete_spans),
        torch.zeros(()),
    )
    return num + cat


LAYOUTS = [
    make_layout(3, (2, 5, 3)),
    make_layout(0, (4, 1, 2)),  # only categorical (and a one-level span)
    make_layout(4, ()),  # only numerical
    make_layout(1, (7,)),
]


# ------------------------------------------------------------------- outputs
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: f"w{lay.width}")
@pytest.mark.parametrize("mode", ["gumbel", "softmax", "argmax"])
def test_output_equals_naive_loop(layout, mode):
    torch.manual_seed(0)
    logits = torch.randn(16, layout.width) * 3
    out = MixedOutput(layout, tau=0.6)(logits, mode=mode, generator=seeded_generator(1, CPU))
    noise = None
    if mode == "gumbel":
        width = layout.width - layout.n_numerical
        noise = gumbel_noise((16, width), seeded_generator(1, CPU))
    expected = naive_output(logits, layout, mode, 0.6, noise)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_rows_sum_to_one_per_span(hard):
    layout = LAYOUTS[0]
    logits = torch.randn(64, layout.width, generator=seeded_generator(0, CPU)) * 5
    out = MixedOutput(layout, tau=0.2, hard=hard)(logits, generator=seeded_generator(3, CPU))
    for s in layout.discrete_spans:
        block = out[:, s.slice]
        torch.testing.assert_close(block.sum(dim=1), torch.ones(64))
        assert bool((block >= 0).all())
        if hard:
            assert set(block.unique().tolist()) <= {0.0, 1.0}
    num = out[:, layout.numerical_slice]
    assert bool(((num > 0) & (num < 1)).all())


def test_hard_gumbel_is_straight_through():
    layout = LAYOUTS[0]
    logits = torch.randn(8, layout.width, generator=seeded_generator(0, CPU))
    weights = torch.randn(8, layout.width, generator=seeded_generator(1, CPU))
    grads = []
    for hard in (False, True):
        x = logits.clone().requires_grad_()
        out = MixedOutput(layout, hard=hard)(x, generator=seeded_generator(2, CPU))
        (out * weights).sum().backward()
        grads.append(x.grad)
    torch.testing.assert_close(grads[0], grads[1])


def test_draw_follows_the_softmax():
    layout = make_layout(0, (3,))
    logits = torch.log(torch.tensor([[0.6, 0.3, 0.1]])).repeat(20000, 1)
    out = MixedOutput(layout)(logits, mode="draw", generator=seeded_generator(0, CPU))
    np.testing.assert_allclose(out.mean(dim=0).numpy(), [0.6, 0.3, 0.1], atol=0.015)
    mode = MixedOutput(layout)(logits[:5], mode="argmax")
    assert mode[:, 0].tolist() == [1.0] * 5


def test_draw_frequencies_over_several_spans_and_extreme_logits():
    # Spans of 1, 2 and 4 levels; the 4-level span has logits around +-200 (exp of them
    # overflows or underflows without the per-span shift) and one impossible level.
    layout = make_layout(2, (1, 2, 4))
    p2 = torch.tensor([0.25, 0.75])
    p4 = torch.tensor([0.5, 0.2, 0.3, 0.0])
    row = torch.cat([torch.zeros(2), torch.zeros(1), p2.log(),
                     (p4.clamp_min(1e-45)).log() - 200.0 + torch.tensor([0, 0, 0, -1e4])])
    logits = row.repeat(40_000, 1)
    num, codes = MixedOutput(layout).columns(logits, mode="draw",
                                             generator=seeded_generator(3, CPU))
    assert codes.shape == (40_000, 3) and codes.dtype == torch.long
    assert bool((codes[:, 0] == 0).all())
    freq2 = torch.bincount(codes[:, 1], minlength=2) / 40_000
    freq4 = torch.bincount(codes[:, 2], minlength=4) / 40_000
    np.testing.assert_allclose(freq2.numpy(), p2.numpy(), atol=0.01)
    np.testing.assert_allclose(freq4.numpy(), p4.numpy(), atol=0.01)
    assert int((codes[:, 2] == 3).sum()) == 0
    torch.testing.assert_close(num, torch.full((40_000, 2), 0.5))


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: f"w{lay.width}")
def test_draw_follows_each_span_softmax(layout):
    # One random row per layout, repeated: every span's level frequencies match its softmax
    # (within 4 binomial standard deviations), and the draw is a one-hot per span.
    logits = (torch.randn(1, layout.width, generator=seeded_generator(7, CPU)) * 2)
    n = 50_000
    head = MixedOutput(layout)
    num, codes = head.columns(logits.repeat(n, 1), mode="draw",
                              generator=seeded_generator(8, CPU))
    torch.testing.assert_close(num, torch.sigmoid(logits[:, : layout.n_numerical]).repeat(n, 1))
    for j, s in enumerate(layout.discrete_spans):
        p = torch.softmax(logits[0, s.slice].double(), dim=0)
        freq = torch.bincount(codes[:, j], minlength=s.dim).double() / n
        assert freq.numel() == s.dim
        assert bool(((freq - p).abs() <= 4 * (p * (1 - p) / n).sqrt() + 1e-9).all())
    one_hot = head(logits.repeat(8, 1), mode="draw", generator=seeded_generator(8, CPU))
    for s in layout.discrete_spans:
        assert set(one_hot[:, s.slice].unique().tolist()) <= {0.0, 1.0}
        torch.testing.assert_close(one_hot[:, s.slice].sum(dim=1), torch.ones(8))


def test_draw_redraws_rows_whose_span_underflows():
    # Two spans 300 apart: the scaled probabilities of the low span underflow to zero, so
    # those rows go through the exact Gumbel-max path; the mixed batch keeps its row order.
    layout = make_layout(0, (2, 3))
    p3 = torch.tensor([0.2, 0.5, 0.3])
    high = torch.cat([torch.tensor([300.0, 300.0]), p3.log()])
    normal = torch.cat([torch.tensor([0.0, 0.0]), p3.log()])
    logits = torch.stack([high, normal]).repeat(20_000, 1)
    _, codes = MixedOutput(layout).columns(logits, mode="draw", generator=seeded_generator(9, CPU))
    for rows in (codes[0::2, 1], codes[1::2, 1]):
        freq = torch.bincount(rows, minlength=3) / 20_000
        np.testing.assert_allclose(freq.numpy(), p3.numpy(), atol=0.015)
    for rows in (codes[0::2, 0], codes[1::2, 0]):
        assert abs(float(rows.double().mean()) - 0.5) < 0.015


def test_columns_match_the_one_hot_output():
    layout = LAYOUTS[0]
    logits = torch.randn(64, layout.width, generator=seeded_generator(0, CPU)) * 3
    head = MixedOutput(layout)
    for mode in ("argmax", "draw"):
        num, codes = head.columns(logits, mode=mode, generator=seeded_generator(4, CPU))
        one_hot = head(logits, mode=mode, generator=seeded_generator(4, CPU))
        torch.testing.assert_close(one_hot[:, : layout.n_numerical], num)
        for j, s in enumerate(layout.discrete_spans):
            assert one_hot[:, s.slice].argmax(dim=1).tolist() == codes[:, j].tolist()
    with pytest.raises(ValueError, match="mode"):
        head.columns(logits, mode="gumbel")


def test_output_is_deterministic_with_a_seeded_generator():
    layout = LAYOUTS[0]
    logits = torch.randn(32, layout.width, generator=seeded_generator(0, CPU))
    head = MixedOutput(layout)
    for mode in ("gumbel", "draw"):
        a = head(logits, mode=mode, generator=seeded_generator(5, CPU))
        b = head(logits, mode=mode, generator=seeded_generator(5, CPU))
        c = head(logits, mode=mode, generator=seeded_generator(6, CPU))
        torch.testing.assert_close(a, b)
        assert not torch.equal(a, c)


def test_output_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mode must be one of"):
        MixedOutput(LAYOUTS[0])(torch.zeros(2, LAYOUTS[0].width), mode="hardmax")
    with pytest.raises(ValueError, match="tau must be positive"):
        MixedOutput(LAYOUTS[0], tau=0)


def test_buffers_are_not_saved_and_follow_dtype():
    head = MixedOutput(LAYOUTS[0])
    assert head.state_dict() == {}
    head = head.to(torch.float64)
    out = head(torch.zeros(3, LAYOUTS[0].width, dtype=torch.float64), mode="softmax")
    assert out.dtype == torch.float64


# ---------------------------------------------------------------------- loss
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: f"w{lay.width}")
def test_loss_equals_naive_loop(layout):
    rng = np.random.default_rng(0)
    target = random_target(layout, 32, rng)
    logits = torch.randn(32, layout.width, generator=seeded_generator(0, CPU), requires_grad=True)
    loss, parts = mixed_reconstruction_loss(logits, target, layout)
    expected = naive_loss(logits, target, layout)
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(parts["numerical"] + parts["categorical"], loss)
    (grad,) = torch.autograd.grad(loss, logits)
    (expected_grad,) = torch.autograd.grad(naive_loss(logits, target, layout), logits)
    torch.testing.assert_close(grad, expected_grad)


def test_loss_is_zero_for_perfect_logits():
    layout = LAYOUTS[0]
    target = random_target(layout, 16, np.random.default_rng(1))
    logits = torch.where(target > 0.5, 30.0, -30.0)
    u = target[:, layout.numerical_slice].clamp(1e-4, 1 - 1e-4)
    logits[:, layout.numerical_slice] = torch.log(u) - torch.log1p(-u)
    loss, parts = mixed_reconstruction_loss(logits, target, layout)
    assert float(loss) < 1e-5
    assert float(parts["numerical"]) < 1e-8


def test_loss_ignores_all_zero_blocks():
    layout = make_layout(0, (3,))
    loss, _ = mixed_reconstruction_loss(torch.randn(4, 3), torch.zeros(4, 3), layout)
    assert float(loss) == 0.0


@settings(max_examples=25, deadline=None)
@given(
    n_numerical=st.integers(0, 4),
    cards=st.lists(st.integers(1, 9), max_size=5),
    seed=st.integers(0, 2**16),
)
def test_fused_ops_match_naive_on_random_layouts(n_numerical, cards, seed):
    if n_numerical == 0 and not cards:
        return
    layout = make_layout(n_numerical, tuple(cards))
    logits = torch.randn(6, layout.width, generator=seeded_generator(seed, CPU)) * 4
    target = random_target(layout, 6, np.random.default_rng(seed))
    head = MixedOutput(layout, tau=0.5)
    torch.testing.assert_close(head(logits, mode="softmax"),
                               naive_output(logits, layout, "softmax", 0.5))
    torch.testing.assert_close(head(logits, mode="argmax"),
                               naive_output(logits, layout, "argmax", 0.5))
    loss, _ = mixed_reconstruction_loss(logits, target, layout)
    torch.testing.assert_close(loss, naive_loss(logits, target, layout))
    assert math.isfinite(float(loss))
