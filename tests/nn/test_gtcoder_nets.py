"""GTCoder's networks: every fused op against a naive loop or a closed form (tiny and fast)."""

import math

import numpy as np
import pytest
import torch
from torch.distributions import MultivariateNormal, Normal

from skmixsynth.nn import seeded_build, seeded_generator
from skmixsynth.nn._gtcoder import (
    FeatureTokenizer,
    FusionEncoder,
    GTCoder,
    GTCoderDecoder,
    LatentGaussianMixture,
    MixturePrior,
    PreNormBlock,
)

CPU = torch.device("cpu")
CARDS = (3, 1, 4)


def gen(seed=0):
    return seeded_generator(seed, CPU)


def random_codes(n, cards=CARDS, seed=0):
    g = gen(seed)
    return torch.stack([torch.randint(c, (n,), generator=g) for c in cards] or
                       [torch.zeros(n, 0, dtype=torch.long)], dim=1).reshape(n, len(cards))


def build(factory, seed=0):
    return seeded_build(factory, seed)


# ------------------------------------------------------------------ tokenizer
def test_tokenizer_is_a_linear_map_per_column_and_one_embedding_with_offsets():
    tok = build(lambda: FeatureTokenizer(2, CARDS, d_token=5))
    x, codes = torch.rand(7, 2, generator=gen()), random_codes(7)
    out = tok(x, codes)
    assert out.shape == (7, 2 + len(CARDS), 5) and tok.n_tokens == 5
    offsets = np.cumsum((0, *CARDS[:-1]))
    for i in range(7):
        for j in range(2):
            torch.testing.assert_close(out[i, j], x[i, j] * tok.num_weight[j] + tok.num_bias[j])
        for j in range(len(CARDS)):
            row = tok.embedding.weight[offsets[j] + codes[i, j]] + tok.cat_bias[j]
            torch.testing.assert_close(out[i, 2 + j], row)


@pytest.mark.parametrize("n_num, cards", [(0, (2, 3)), (3, ())])
def test_tokenizer_without_one_kind_of_column(n_num, cards):
    tok = build(lambda: FeatureTokenizer(n_num, cards, d_token=4))
    out = tok(torch.rand(6, n_num), torch.zeros(6, len(cards), dtype=torch.long))
    assert out.shape == (6, n_num + len(cards), 4)


# ---------------------------------------------------------------- transformer
def reference_block(block, x):
    """The pre-norm block written out head by head, with an explicit softmax."""
    d = x.shape[2]
    h = block.n_heads
    dh = d // h
    q, k, v = block.qkv(block.norm1(x)).split(d, dim=-1)
    heads = []
    for i in range(h):
        sl = slice(i * dh, (i + 1) * dh)
        att = torch.softmax(q[..., sl] @ k[..., sl].transpose(1, 2) / math.sqrt(dh), dim=-1)
        heads.append(att @ v[..., sl])
    x = x + block.out(torch.cat(heads, dim=-1))
    return x + block.ffn2(torch.relu(block.ffn1(block.norm2(x))))


def test_pre_norm_block_matches_a_head_by_head_reference():
    block = build(lambda: PreNormBlock(8, 2, 16))
    x = torch.randn(4, 6, 8, generator=gen())
    torch.testing.assert_close(block(x), reference_block(block, x), atol=1e-5, rtol=1e-5)
    att = block.attention(x)
    torch.testing.assert_close(att.sum(-1), torch.ones(4, 6))


def test_pre_norm_block_rejects_heads_that_do_not_divide():
    with pytest.raises(ValueError, match="n_heads"):
        PreNormBlock(10, 3, 8)


def test_fusion_encoder_follows_eq_6_and_7():
    enc = build(lambda: FusionEncoder(3, 8, latent_dim=2, n_layers=2, n_heads=2))
    tokens = torch.randn(5, 3, 8, generator=gen())
    mu, logvar, outputs = enc(tokens)
    x = torch.cat([enc.cls.expand(5, 1, 8), tokens], dim=1)
    for block in enc.blocks:
        x = reference_block(block, x)
    x = enc.norm(x)
    expected = enc.head(x[:, 0] + tokens.mean(dim=1))
    torch.testing.assert_close(torch.cat([mu, logvar], dim=1), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(outputs, x[:, 1:], atol=1e-5, rtol=1e-5)
    att = enc.cls_attention(tokens)
    assert att.shape == (5, 2, 3)
    assert bool((att.sum(-1) < 1).all()) and bool((att > 0).all())  # the [CLS] self-share is out


def test_mlp_fusion_gives_the_input_tokens_as_outputs():
    enc = build(lambda: FusionEncoder(3, 4, latent_dim=2, fusion="mlp", mlp_dims=(8,)))
    tokens = torch.randn(5, 3, 4, generator=gen())
    mu, logvar, outputs = enc(tokens)
    assert mu.shape == logvar.shape == (5, 2)
    assert outputs is tokens
    expected = enc.head(enc.mlp(tokens.flatten(1)) + tokens.mean(dim=1))
    torch.testing.assert_close(torch.cat([mu, logvar], dim=1), expected)
    with pytest.raises(ValueError, match="transformer"):
        enc.cls_attention(tokens)
    with pytest.raises(ValueError, match="fusion"):
        FusionEncoder(3, 4, latent_dim=2, fusion="rnn")


# --------------------------------------------------------------------- prior
def test_mixture_prior_log_density_matches_brute_force():
    prior = build(lambda: MixturePrior(CARDS, d_token=4, latent_dim=3))
    with torch.no_grad():  # spread the scales so that a wrong sign or factor shows
        prior.head.bias.copy_(torch.linspace(-0.5, 0.5, 6))
    codes = random_codes(6)
    z = torch.randn(6, 3, generator=gen(1)) * 2
    with torch.no_grad():
        got = prior.log_prob(z, codes)
        mean, log_scale = prior.level_params()
    offsets = np.cumsum((0, *CARDS[:-1]))
    for i in range(6):
        dens = 0.0
        for j in range(len(CARDS)):
            level = offsets[j] + int(codes[i, j])
            comp = Normal(mean[level].double(), log_scale[level].double().exp())
            dens += math.exp(float(comp.log_prob(z[i].double()).sum()))
        assert math.isclose(float(got[i]), math.log(dens / len(CARDS)), rel_tol=1e-5,
                            abs_tol=1e-5)


def test_mixture_prior_log_density_is_stable_far_from_every_component():
    prior = build(lambda: MixturePrior((2,), d_token=4, latent_dim=2))
    with torch.no_grad():
        value = prior.log_prob(torch.full((1, 2), 1e3), torch.zeros(1, 1, dtype=torch.long))
    assert torch.isfinite(value).all() and float(value) < -1e4


def test_mixture_prior_samples_come_from_the_rows_components():
    prior = build(lambda: MixturePrior((2, 2), d_token=4, latent_dim=1))
    with torch.no_grad():  # level means -10, 10 (span 0) and -20, 20 (span 1); tiny scales
        prior.embedding.weight.copy_(torch.eye(4))
        prior.head.weight.copy_(torch.tensor([[-10.0, 10.0, -20.0, 20.0], [0.0] * 4]))
        prior.head.bias.copy_(torch.tensor([0.0, -5.0]))
    codes = torch.tensor([[1, 0]] * 4000)
    z = prior.sample(codes, gen()).squeeze(1)
    near_10, near_m20 = (z - 10).abs() < 1, (z + 20).abs() < 1
    assert bool((near_10 | near_m20).all())
    assert abs(float(near_10.float().mean()) - 0.5) < 0.05  # equal weights


def test_contrastive_loss_matches_a_loop():
    prior = build(lambda: MixturePrior(CARDS, d_token=4, latent_dim=2))
    codes = random_codes(5)
    anchors = torch.randn(5, len(CARDS), 4, generator=gen(2))
    got = prior.contrastive_loss(anchors, codes, temperature=0.95)
    offsets = np.cumsum((0, *CARDS[:-1]))
    for i in range(5):
        terms = []
        for j, c in enumerate(CARDS):
            levels = prior.embedding.weight[offsets[j]:offsets[j] + c]
            sims = torch.exp(levels @ anchors[i, j] / 0.95)  # sim(u, v) of eq. 11
            terms.append(-torch.log(sims[codes[i, j]] / sims.sum()))
        torch.testing.assert_close(got[i], torch.stack(terms).mean())


def test_contrastive_loss_gradients_reach_anchors_and_embeddings():
    prior = build(lambda: MixturePrior(CARDS, d_token=4, latent_dim=2))
    anchors = torch.randn(5, len(CARDS), 4, generator=gen(2), requires_grad=True)
    prior.contrastive_loss(anchors, random_codes(5), 0.95).mean().backward()
    assert anchors.grad.abs().sum() > 0 and prior.embedding.weight.grad.abs().sum() > 0


# ------------------------------------------------------------------- decoder
def test_decoder_log_prob_matches_a_loop_and_masks_absent_values():
    # numerical column 0 owns state span 1 (levels: present, missing); column 1 has none
    dec = build(lambda: GTCoderDecoder(3, (8,), n_numerical=2, cardinalities=(3, 2),
                                       numerical_state=(1, -1)))
    z = torch.randn(6, 3, generator=gen())
    x = torch.rand(6, 2, generator=gen(1))
    x[0, 1] = 0.0  # clipped to EPS
    codes = torch.tensor([[0, 0], [1, 1], [2, 0], [0, 1], [1, 0], [2, 1]])
    with torch.no_grad():
        num_ll, disc_ll = dec.log_prob(z, x, codes)
        loc, scale, logits, _ = dec(z)
    std = Normal(0.0, 1.0)
    for i in range(6):
        expected = 0.0
        for j in range(2):
            if j == 0 and int(codes[i, 1]) != 0:
                continue  # the value is absent: no numerical term
            y = std.icdf(x[i, j].clamp(dec.EPS, 1 - dec.EPS))
            expected += float(Normal(loc[i, j], scale[i, j]).log_prob(y) - std.log_prob(y))
        assert math.isclose(float(num_ll[i]), expected, rel_tol=1e-4, abs_tol=1e-4)
        disc = (torch.log_softmax(logits[i, :3], 0)[codes[i, 0]]
                + torch.log_softmax(logits[i, 3:], 0)[codes[i, 1]])
        torch.testing.assert_close(disc_ll[i], disc)


@torch.no_grad()
def test_numerical_density_integrates_to_one_on_the_unit_interval():
    dec = build(lambda: GTCoderDecoder(2, (8,), n_numerical=1, cardinalities=()))
    z = torch.randn(3, 2, generator=gen())
    grid = torch.linspace(1e-4, 1 - 1e-4, 200_001)
    for i in range(3):
        ll, _ = dec.log_prob(z[i:i + 1].expand(grid.shape[0], 2), grid.unsqueeze(1),
                             torch.zeros(grid.shape[0], 0, dtype=torch.long))
        mass = float(torch.trapezoid(ll.double().exp(), grid.double()))
        assert 0.99 < mass <= 1.0 + 1e-4


@torch.no_grad()
def test_decoder_samples_follow_its_distributions():
    dec = build(lambda: GTCoderDecoder(2, (8,), n_numerical=1, cardinalities=(3,)))
    z = torch.randn(1, 2, generator=gen()).expand(20_000, 2)
    num, codes = dec.sample(z, gen(1))
    assert bool(((num > 0) & (num < 1)).all())
    loc, scale, logits, _ = dec(z[:1])
    y = Normal(0.0, 1.0).icdf(num.squeeze(1).double())
    assert abs(float(y.mean()) - float(loc)) < 0.05 * float(scale) + 0.01
    assert abs(float(y.std()) / float(scale) - 1) < 0.05
    freq = torch.bincount(codes.squeeze(1), minlength=3).double() / 20_000
    torch.testing.assert_close(freq, torch.softmax(logits[0].double(), 0), atol=0.015, rtol=0)


@torch.no_grad()
def test_mixture_density_decoder_matches_a_loop_integrates_and_samples_its_modes():
    dec = build(lambda: GTCoderDecoder(2, (8,), n_numerical=2, cardinalities=(2,),
                                       numerical_state=(0, -1), n_modes=3))
    z = torch.randn(4, 2, generator=gen())
    x = torch.rand(4, 2, generator=gen(1))
    codes = torch.tensor([[0], [1], [0], [1]])
    num_ll, _ = dec.log_prob(z, x, codes)
    loc, scale, _, mode_logits = dec(z)
    assert loc.shape == scale.shape == mode_logits.shape == (4, 2, 3)
    std = Normal(0.0, 1.0)
    for i in range(4):
        expected = 0.0
        for j in range(2):
            if j == 0 and int(codes[i, 0]) != 0:
                continue
            y = std.icdf(x[i, j].clamp(dec.EPS, 1 - dec.EPS))
            w = torch.softmax(mode_logits[i, j], 0)
            density = sum(float(w[c]) * float(Normal(loc[i, j, c], scale[i, j, c])
                                              .log_prob(y).exp()) for c in range(3))
            expected += math.log(density) - float(std.log_prob(y))
        assert math.isclose(float(num_ll[i]), expected, rel_tol=1e-4, abs_tol=1e-4)
    # a proper density on (0, 1)
    grid = torch.linspace(1e-4, 1 - 1e-4, 200_001)
    one = build(lambda: GTCoderDecoder(2, (8,), n_numerical=1, cardinalities=(), n_modes=3))
    ll, _ = one.log_prob(z[:1].expand(grid.shape[0], 2), grid[:, None],
                         torch.zeros(grid.shape[0], 0, dtype=torch.long))
    assert 0.99 < float(torch.trapezoid(ll.double().exp(), grid.double())) <= 1.0 + 1e-4
    # samples: their probit values follow the mixture (mean and second moment)
    zz = z[:1].expand(40_000, 2)
    num, _ = one.sample(zz, gen(2))
    loc, scale, _, mode_logits = one(z[:1])
    w = torch.softmax(mode_logits[0, 0].double(), 0)
    mean = float((w * loc[0, 0]).sum())
    second = float((w * (scale[0, 0].double() ** 2 + loc[0, 0].double() ** 2)).sum())
    y = std.icdf(num.squeeze(1).double())
    assert abs(float(y.mean()) - mean) < 0.03
    assert abs(float(y.square().mean()) - second) < 0.05 * second + 0.02


def test_decoder_rejects_a_bad_state_map():
    with pytest.raises(ValueError, match="numerical_state"):
        GTCoderDecoder(2, (8,), n_numerical=2, cardinalities=(2,), numerical_state=(0,))


# ------------------------------------------------------------- latent mixture
def test_latent_mixture_fits_separated_clusters():
    g = gen()
    x = torch.cat([torch.randn(300, 2, generator=g) * 0.5 + torch.tensor([-4.0, 0.0]),
                   torch.randn(100, 2, generator=g) * 0.5 + torch.tensor([4.0, 1.0])])
    gmm = LatentGaussianMixture(2, 2).fit(x, gen(1))
    order = gmm.means[:, 0].argsort()
    torch.testing.assert_close(gmm.means[order], torch.tensor([[-4.0, 0.0], [4.0, 1.0]]),
                               atol=0.15, rtol=0)
    torch.testing.assert_close(gmm.log_weights.exp()[order], torch.tensor([0.75, 0.25]),
                               atol=0.01, rtol=0)
    cov = gmm.scale_tril @ gmm.scale_tril.transpose(1, 2)
    torch.testing.assert_close(cov, 0.25 * torch.eye(2).expand(2, 2, 2), atol=0.06, rtol=0)
    s = gmm.sample(20_000, gen(2))
    assert abs(float((s[:, 0] < 0).float().mean()) - 0.75) < 0.015


def test_latent_mixture_log_prob_matches_brute_force():
    gmm = LatentGaussianMixture(3, 2)
    with torch.no_grad():
        gmm.log_weights.copy_(torch.tensor([0.3, 0.7]).log())
        gmm.means.copy_(torch.tensor([[0.0, 1.0, 2.0], [-1.0, 0.5, 0.0]]))
        gmm.scale_tril.copy_(torch.tensor([[[1.0, 0, 0], [0.5, 0.8, 0], [0.1, -0.2, 0.6]],
                                           [[0.7, 0, 0], [0.0, 1.2, 0], [0.3, 0.3, 0.9]]]))
    z = torch.randn(10, 3, generator=gen())
    comps = [MultivariateNormal(gmm.means[k], scale_tril=gmm.scale_tril[k]) for k in range(2)]
    dens = 0.3 * comps[0].log_prob(z).exp() + 0.7 * comps[1].log_prob(z).exp()
    torch.testing.assert_close(gmm.log_prob(z), dens.log(), atol=1e-5, rtol=1e-5)


def test_latent_mixture_starts_standard_normal_and_drops_empty_components():
    gmm = LatentGaussianMixture(2, 5)
    z = torch.randn(4, 2, generator=gen())
    torch.testing.assert_close(gmm.log_prob(z), Normal(0.0, 1.0).log_prob(z).sum(1))
    # three distinct rows for five components: at most three are kept
    x = torch.tensor([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]]).repeat(20, 1)
    gmm.fit(x, gen())
    assert int(torch.isfinite(gmm.log_weights).sum()) <= 3
    assert torch.isfinite(gmm.log_prob(x)).all() and torch.isfinite(gmm.sample(10, gen())).all()


def test_latent_mixture_fit_is_deterministic_for_a_generator():
    x = torch.randn(500, 3, generator=gen())
    a = LatentGaussianMixture(3, 4).fit(x, gen(5))
    b = LatentGaussianMixture(3, 4).fit(x, gen(5))
    for name, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[name]), name
    assert set(a.state_dict()) == {"log_weights", "means", "scale_tril"}


# ---------------------------------------------------------------- the model
def tiny_net(n_num=2, cards=CARDS, seed=0, **kwargs):
    options = dict(d_token=8, n_layers=1, n_heads=2, latent_dim=3, decoder_dims=(16,),
                   n_components=3)
    return build(lambda: GTCoder(n_num, cards, **{**options, **kwargs}), seed)


def test_losses_are_per_row_finite_and_differentiable():
    net = tiny_net()
    parts = net.losses(torch.rand(9, 2, generator=gen()), random_codes(9), gen(1))
    assert sorted(parts) == ["cl", "kl", "re"]
    for value in parts.values():
        assert value.shape == (9,) and bool(torch.isfinite(value).all())
    sum(v.mean() for v in parts.values()).backward()
    unused = {"latent.log_weights", "latent.means", "latent.scale_tril", "level_counts"}
    for name, p in net.named_parameters():
        assert name not in unused
        assert p.grad is not None and bool(p.grad.abs().sum() > 0), name


@torch.no_grad()
def test_kl_is_log_q_minus_log_prior_at_the_drawn_z():
    net = tiny_net()
    x, codes = torch.rand(5, 2, generator=gen()), random_codes(5)
    kl = net.losses(x, codes, gen(7))["kl"]
    mu, logvar, _ = net.posterior(x, codes)
    eps = torch.randn(mu.shape, generator=gen(7))  # the same draw
    z = mu + torch.exp(0.5 * logvar) * eps
    log_q = Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(1)
    torch.testing.assert_close(kl, log_q - net.prior.log_prob(z, codes), atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_kl_estimate_averages_to_the_closed_form_on_a_one_span_table():
    # One discrete span: the row's prior is a single Gaussian, so KL has a closed form.
    net = tiny_net(cards=(2,))
    x, codes = torch.rand(1, 2, generator=gen()), torch.tensor([[1]])
    mu, logvar, _ = net.posterior(x, codes)
    m, s = net.prior.components(codes)
    q, p = Normal(mu[0], torch.exp(0.5 * logvar[0])), Normal(m[0, 0], s[0, 0].exp())
    exact = float(torch.distributions.kl_divergence(q, p).sum())
    n = 40_000
    draws = net.losses(x.expand(n, 2), codes.expand(n, 1), gen(3))["kl"].double()
    assert abs(float(draws.mean()) - exact) < 4 * float(draws.std()) / math.sqrt(n)


def test_standard_normal_prior_uses_the_closed_form():
    net = tiny_net(prior="standard_normal")
    x, codes = torch.rand(4, 2, generator=gen()), random_codes(4)
    kl = net.losses(x, codes, gen(1))["kl"]
    mu, logvar, _ = net.posterior(x, codes)
    q = Normal(mu, torch.exp(0.5 * logvar))
    exact = torch.distributions.kl_divergence(q, Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(kl, exact)


def test_reconstruction_term_is_the_decoder_negative_log_likelihood():
    net = tiny_net()
    x, codes = torch.rand(4, 2, generator=gen()), random_codes(4)
    re = net.losses(x, codes, gen(7))["re"]
    mu, logvar, _ = net.posterior(x, codes)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen(7))
    torch.testing.assert_close(re, -sum(net.decoder.log_prob(z, x, codes)))


def test_contrastive_switch_and_anchor_choice():
    net = tiny_net()
    x, codes = torch.rand(4, 2, generator=gen()), random_codes(4)
    assert bool((net.losses(x, codes, gen(), contrastive=False)["cl"] == 0).all())
    cl = net.losses(x, codes, gen(), temperature=0.5)["cl"]
    _, _, outputs = net.posterior(x, codes)
    # the anchors are the output tokens of the discrete features (after the numerical ones)
    torch.testing.assert_close(cl, net.prior.contrastive_loss(outputs[:, 2:], codes, 0.5))


@pytest.mark.parametrize("n_num, cards", [(3, ()), (0, (2, 5))])
def test_tables_with_one_kind_of_column(n_num, cards):
    net = tiny_net(n_num, cards)
    x, codes = torch.rand(6, n_num, generator=gen()), random_codes(6, cards)
    parts = net.losses(x, codes, gen(1))
    assert all(bool(torch.isfinite(v).all()) for v in parts.values())
    if not cards:
        assert net.prior is None and not net.uses_mixture_prior
        assert bool((parts["cl"] == 0).all())
    for latent in ("aggregate", "prior"):
        num, out = net.sample(5, gen(2), latent=latent)
        assert num.shape == (5, n_num) and out.shape == (5, len(cards))
    assert torch.isfinite(net.elbo(x, codes, gen(3), n_draws=2)).all()


def test_mlp_fusion_model_trains_a_step():
    net = tiny_net(fusion="mlp")
    parts = net.losses(torch.rand(5, 2, generator=gen()), random_codes(5), gen(1))
    sum(v.mean() for v in parts.values()).backward()
    assert net.encoder.mlp[0].weight.grad is not None


def test_sampling_modes_give_valid_views():
    net = tiny_net()
    codes = random_codes(50)
    net.fit_latent(torch.randn(50, 3, generator=gen(1)), codes, gen(2))
    assert torch.equal(net.level_counts, torch.bincount(
        (codes + net.tokenizer.offsets).reshape(-1), minlength=sum(CARDS)).float())
    for latent, steps in (("aggregate", 0), ("prior", 0), ("prior", 3)):
        num, out = net.sample(200, gen(4), latent=latent, refine_steps=steps)
        assert bool(((num > 0) & (num < 1)).all())
        assert bool(((out >= 0) & (out < torch.tensor(CARDS))).all())
    with pytest.raises(ValueError, match="latent"):
        net.sample(3, gen(), latent="posterior")


def test_prior_sampling_starts_from_the_level_frequencies():
    net = tiny_net(cards=(3, 2), n_num=0)
    with torch.no_grad():
        net.level_counts.copy_(torch.tensor([0.0, 1.0, 0.0, 3.0, 1.0]))
    given = []
    original = net.prior.sample
    net.prior.sample = lambda codes, generator: given.append(codes) or original(codes, generator)
    net.sample(4000, gen(), latent="prior", refine_steps=2)
    assert len(given) == 3  # the start, then two refinements
    assert bool((given[0][:, 0] == 1).all())
    assert abs(float(given[0][:, 1].float().mean()) - 0.25) < 0.03
    # the refinements read the decoder's levels, not the start's
    assert not torch.equal(given[1], given[0])


def test_elbo_is_below_the_exact_log_likelihood_on_a_one_level_table():
    # With one discrete level and no numerical column, p(x) = 1: the ELBO must be <= 0.
    net = tiny_net(n_num=0, cards=(1,))
    codes = torch.zeros(8, 1, dtype=torch.long)
    with torch.no_grad():
        for latent in ("aggregate", "prior"):
            assert bool((net.elbo(torch.zeros(8, 0), codes, gen(), n_draws=4,
                                  latent=latent) <= 1e-6).all())


def test_no_global_random_state_is_used():
    torch_state = torch.random.get_rng_state()
    net = tiny_net()
    x, codes = torch.rand(20, 2, generator=gen()), random_codes(20)
    torch.random.set_rng_state(torch_state)  # building uses it (the model scopes that)
    net.losses(x, codes, gen(1))["kl"].sum().backward()
    net.fit_latent(torch.randn(20, 3, generator=gen(2)), codes, gen(3))
    net.sample(10, gen(4), latent="aggregate")
    net.sample(10, gen(4), latent="prior")
    net.elbo(x, codes, gen(5))
    assert torch.equal(torch.random.get_rng_state(), torch_state)


def test_every_buffer_and_parameter_follows_the_module():
    net = tiny_net().to(torch.float64)
    x, codes = torch.rand(5, 2, dtype=torch.float64), random_codes(5)
    parts = net.losses(x, codes, gen())
    assert all(v.dtype == torch.float64 for v in parts.values())
    persistent = set(net.state_dict())
    assert {"latent.means", "latent.scale_tril", "latent.log_weights", "level_counts"} <= persistent
    assert not any("pad_index" in k or "offsets" in k for k in persistent)  # from the layout


# ------------------------------------------------------ conditional sampling
def test_masked_prior_is_the_mixture_of_the_masked_levels():
    prior = build(lambda: MixturePrior(CARDS, d_token=4, latent_dim=3))
    with torch.no_grad():
        prior.head.bias.copy_(torch.linspace(-0.5, 0.5, 6))
        mean, log_scale = prior.level_params()
    codes = torch.tensor([[2, -1, 3], [-1, 0, -1], [1, 0, 2]])
    mask = codes >= 0
    z = torch.randn(3, 3, generator=gen(1))
    with torch.no_grad():
        got = prior.log_prob(z, codes, mask=mask)
    offsets = np.cumsum((0, *CARDS[:-1]))
    for i in range(3):
        dens = [math.exp(float(Normal(mean[offsets[j] + int(codes[i, j])].double(),
                                      log_scale[offsets[j] + int(codes[i, j])].double().exp())
                               .log_prob(z[i].double()).sum()))
                for j in range(len(CARDS)) if codes[i, j] >= 0]
        assert math.isclose(float(got[i]), math.log(sum(dens) / len(dens)), rel_tol=1e-5)
    # draws come from the masked components only
    with torch.no_grad():
        prior.head.weight.zero_()
        prior.head.bias.copy_(torch.tensor([0.0, 0.0, 0.0, -9.0, -9.0, -9.0]))
        prior.embedding.weight.zero_()
        prior.embedding.weight[:, 0] = torch.arange(8.0) * 10  # level l: mean 10 l * w
        prior.head.weight[0, 0] = 1.0
    rows = torch.tensor([[2, -1, 3]] * 500)
    drawn = prior.sample(rows, gen(2), mask=rows >= 0)[:, 0]
    allowed = torch.tensor([20.0, 10.0 * (offsets[2] + 3)])
    assert bool(((drawn.unsqueeze(1) - allowed).abs().min(dim=1).values < 0.1).all())


def test_level_log_prob_sums_the_fixed_spans_only():
    dec = build(lambda: GTCoderDecoder(3, (8,), n_numerical=1, cardinalities=CARDS))
    logits = torch.randn(6, sum(CARDS), generator=gen())
    codes = random_codes(6)
    codes[::2, 0] = -1
    codes[1::3, 2] = -1
    got = dec.level_log_prob(logits, codes)
    offsets = np.cumsum((0, *CARDS[:-1]))
    for i in range(6):
        want = 0.0
        for j, c in enumerate(CARDS):
            if codes[i, j] >= 0:
                block = logits[i, offsets[j]:offsets[j] + c]
                want += float(torch.log_softmax(block, 0)[codes[i, j]])
        assert math.isclose(float(got[i]), want, rel_tol=1e-5, abs_tol=1e-6)
    assert torch.equal(dec.level_log_prob(logits, torch.full((6, 3), -1)), torch.zeros(6))


def conditioned_net(seed=0):
    """A net whose levels depend strongly on z, with a three-cluster latent mixture."""
    net = tiny_net(n_num=1, cards=(3, 4), latent_dim=2, n_components=3, seed=seed)
    g = gen(seed + 1)
    centres = torch.tensor([[-4.0, 0.0], [0.0, 3.0], [4.0, 0.0]])
    z = (centres.repeat(300, 1) + torch.randn(900, 2, generator=g)).contiguous()
    with torch.no_grad():
        net.decoder.head.weight.mul_(6.0)
    net.fit_latent(z, torch.zeros(900, 2, dtype=torch.long), g)
    return net


def test_level_table_and_component_weights_match_a_loop():
    net = conditioned_net()
    table = net.level_table()
    k, draws, n_levels = table.shape
    assert (k, n_levels) == (3, 7) and net.level_table() is table  # cached
    # each span's probabilities sum to one at every draw
    spans = [table[..., :3], table[..., 3:]]
    for block in spans:
        torch.testing.assert_close(block.exp().sum(-1), torch.ones(k, draws))
    codes = torch.tensor([[1, -1], [-1, 2], [0, 3], [-1, -1]])
    got, tilted = net.conditional_components(codes)
    particles, _ = net._level_draws()
    log_pi = net.latent.log_weights
    for i, (a, b) in enumerate(codes.tolist()):
        joint = torch.zeros(k, draws)
        if a >= 0:
            joint += table[..., a]
        if b >= 0:
            joint += table[..., 3 + b]
        want = torch.logsumexp(joint, 1) - math.log(draws) + log_pi
        torch.testing.assert_close(got[i], want)
        for c in range(k):
            w = joint[c].exp()
            torch.testing.assert_close(tilted[i, c], (w @ particles[c]) / w.sum())
    # nothing fixed: the mixture's own weights and means (on the draws)
    torch.testing.assert_close(got[3], log_pi)
    net.fit_latent(torch.randn(50, 2, generator=gen(3)), torch.zeros(50, 2, dtype=torch.long),
                   gen(4))
    assert net._level_table is None  # a new mixture: the table is recomputed


@pytest.mark.parametrize("candidates", [32, 1])
def test_conditional_sampling_follows_the_models_conditional(candidates):
    # The reference: the model's own rows (aggregate sampling) that happen to carry the
    # fixed level (rejection). The native path must give the same conditional of the free
    # span and the numerical column.
    net = conditioned_net()
    with torch.no_grad():
        num, codes = net.sample(200_000, gen(5))
        keep = codes[:, 0] == 2
        ref_levels = torch.bincount(codes[keep, 1], minlength=4).double() / int(keep.sum())
        marginal = torch.bincount(codes[:, 1], minlength=4).double() / codes.shape[0]
        fixed = torch.tensor([[2, -1]] * 20_000)
        got_num, got = net.sample_conditional(fixed, gen(6), n_candidates=candidates)
    assert bool((got[:, 0] == 2).all())
    levels = torch.bincount(got[:, 1], minlength=4).double() / got.shape[0]
    assert 0.5 * float((ref_levels - marginal).abs().sum()) > 0.1  # conditioning matters
    tolerance = 0.03 if candidates > 1 else 0.1  # one candidate: the component only
    assert 0.5 * float((levels - ref_levels).abs().sum()) < tolerance
    assert abs(float(got_num.mean() - num[keep].mean())) < tolerance


def test_conditional_sampling_in_every_mode_keeps_the_fixed_levels():
    net = conditioned_net()
    fixed = torch.tensor([[2, -1], [-1, 3], [0, 1], [-1, -1]] * 50)
    for kwargs in (dict(latent="aggregate", n_candidates=8), dict(latent="prior"),
                   dict(latent="prior", refine_steps=0)):
        num, codes = net.sample_conditional(fixed, gen(7), **kwargs)
        # (the scaled decoder puts some values at 1 in float32)
        assert num.shape == (200, 1) and bool(((num >= 0) & (num <= 1)).all())
        assert bool(torch.where(fixed >= 0, codes == fixed, True).all()), kwargs
        assert bool(((codes >= 0) & (codes < torch.tensor([3, 4]))).all())
    normal = tiny_net(n_num=1, cards=(3, 4), prior="standard_normal")
    num, codes = normal.sample_conditional(fixed, gen(7), latent="prior", n_candidates=4)
    assert bool(torch.where(fixed >= 0, codes == fixed, True).all())
    with pytest.raises(ValueError, match="latent"):
        net.sample_conditional(fixed, gen(), latent="posterior")


def test_conditional_sampling_is_deterministic_and_uses_no_global_state():
    net = conditioned_net()
    fixed = torch.tensor([[1, -1]] * 30)
    torch_state = torch.random.get_rng_state()
    a = net.sample_conditional(fixed, gen(8))
    b = net.sample_conditional(fixed, gen(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert torch.equal(torch.random.get_rng_state(), torch_state)
