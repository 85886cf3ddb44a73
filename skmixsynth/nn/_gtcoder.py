"""GTCoder's networks (Zhang et al., AAAI-24, eq. 1-13), pure torch.

The model reads the encoder's per-column views: ``numerical`` ``(B, n_numerical)`` in (0, 1)
and ``codes`` ``(B, D)``, one level index per discrete span (categorical columns and the state
spans of numerical columns with missing values or point masses). Every op is fused over the
columns: one tokenizer op for all numerical columns and one embedding lookup for all levels,
and the discrete spans of the decoder, the prior and the contrastive loss are gathered into one
padded ``(B, D, K)`` block (``K`` the widest span, ``-inf`` at padded positions).

No pandas, no scikit-learn; randomness only from the ``torch.Generator`` passed in.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._layout import Layout, Span
from ._core import seeded_generator
from ._heads import MixedOutput

__all__ = [
    "FeatureTokenizer",
    "FusionEncoder",
    "GTCoder",
    "GTCoderDecoder",
    "LatentGaussianMixture",
    "MixturePrior",
    "PreNormBlock",
]

_LOG_2PI = math.log(2.0 * math.pi)


def _padded_index(cardinalities):
    """``(index (D * K,), bias (D, K), offsets (D,))`` for a flat block of all levels.

    ``block.index_select(1, index).view(B, D, K) + bias`` is the padded ``(B, D, K)`` view of
    a ``(B, sum(cardinalities))`` block (padded positions point at level 0 and get ``-inf``);
    ``codes + offsets`` are the rows of the levels in the flat block.
    """
    cards = [int(c) for c in cardinalities]
    k = max(cards, default=0)
    index = torch.zeros(len(cards), k, dtype=torch.long)
    bias = torch.zeros(len(cards), k)
    offsets = torch.zeros(len(cards), dtype=torch.long)
    start = 0
    for j, c in enumerate(cards):
        index[j, :c] = torch.arange(start, start + c)
        bias[j, c:] = float("-inf")
        offsets[j] = start
        start += c
    return index.reshape(-1), bias, offsets


def _check_cardinalities(cardinalities):
    cards = tuple(int(c) for c in cardinalities)
    if any(c < 1 for c in cards):
        raise ValueError(f"cardinalities must be positive integers; got {cardinalities!r}.")
    return cards


class FeatureTokenizer(nn.Module):
    """One ``d_token`` vector per column (eq. 1-2), FT-Transformer style.

    A numerical column ``j`` becomes ``x_j * w_j + b_j`` (one fused ``addcmul`` for all
    columns: weight and bias of shape ``(n_numerical, d_token)``); the level of discrete span
    ``j`` becomes ``E[offset_j + code] + c_j``, one :class:`torch.nn.Embedding` holding every
    level of every span (per-span offsets) plus a bias per span, as in rtdl's tokenizers.
    Initialisation: uniform in ``+-1/sqrt(d_token)`` (rtdl's).

    Parameters
    ----------
    n_numerical : int
    cardinalities : tuple of int
        Number of levels of each discrete span.
    d_token : int

    Examples
    --------
    >>> import torch
    >>> from skmixsynth.nn._gtcoder import FeatureTokenizer
    >>> tok = FeatureTokenizer(2, (3, 2), d_token=8)
    >>> tok(torch.rand(5, 2), torch.tensor([[0, 1]] * 5)).shape
    torch.Size([5, 4, 8])
    """

    def __init__(self, n_numerical, cardinalities, d_token):
        super().__init__()
        cards = _check_cardinalities(cardinalities)
        self.n_numerical = int(n_numerical)
        self.d_token = int(d_token)
        self.num_weight = nn.Parameter(torch.empty(self.n_numerical, self.d_token))
        self.num_bias = nn.Parameter(torch.empty(self.n_numerical, self.d_token))
        self.embedding = nn.Embedding(max(sum(cards), 1), self.d_token)
        self.cat_bias = nn.Parameter(torch.empty(len(cards), self.d_token))
        _, _, offsets = _padded_index(cards)
        self.register_buffer("offsets", offsets, persistent=False)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.d_token)
        for p in (self.num_weight, self.num_bias, self.embedding.weight, self.cat_bias):
            nn.init.uniform_(p, -bound, bound)

    @property
    def n_tokens(self):
        """Number of tokens: one per numerical column and one per discrete span."""
        return self.n_numerical + self.cat_bias.shape[0]

    def forward(self, numerical, codes):
        """``(B, n_numerical + D, d_token)``: numerical tokens first, then discrete ones."""
        num = torch.addcmul(self.num_bias, numerical.unsqueeze(-1), self.num_weight)
        if self.cat_bias.shape[0] == 0:
            return num
        cat = self.embedding(codes + self.offsets) + self.cat_bias
        if self.n_numerical == 0:
            return cat
        return torch.cat([num, cat], dim=1)


class PreNormBlock(nn.Module):
    """A pre-norm transformer block (eq. 4-5): ``x + MHA(LN(x))``, then ``x + FFN(LN(x))``.

    Queries, keys and values come from one fused linear layer; attention runs through
    :func:`torch.nn.functional.scaled_dot_product_attention`. The feed-forward part is
    ``Linear(d, d_ffn) -> ReLU -> Linear(d_ffn, d)``. No dropout: torch's dropout draws from
    the global random generator, which library code must not use.

    Parameters
    ----------
    d_token : int
    n_heads : int
        Must divide ``d_token``.
    d_ffn : int

    Examples
    --------
    >>> import torch
    >>> from skmixsynth.nn._gtcoder import PreNormBlock
    >>> block = PreNormBlock(16, 4, 32)
    >>> x = torch.randn(3, 5, 16)
    >>> block(x).shape, block.attention(x).shape
    (torch.Size([3, 5, 16]), torch.Size([3, 5, 5]))
    """

    def __init__(self, d_token, n_heads, d_ffn):
        super().__init__()
        if d_token % n_heads:
            raise ValueError(f"n_heads must divide d_token; got {d_token=} and {n_heads=}.")
        self.n_heads = int(n_heads)
        self.norm1 = nn.LayerNorm(d_token)
        self.qkv = nn.Linear(d_token, 3 * d_token)
        self.out = nn.Linear(d_token, d_token)
        self.norm2 = nn.LayerNorm(d_token)
        self.ffn1 = nn.Linear(d_token, d_ffn)
        self.ffn2 = nn.Linear(d_ffn, d_token)

    def _qkv(self, x):
        b, t, d = x.shape
        return self.qkv(self.norm1(x)).view(b, t, 3, self.n_heads, d // self.n_heads).permute(
            2, 0, 3, 1, 4)  # (3, B, H, T, d_head)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self._qkv(x)
        a = F.scaled_dot_product_attention(q, k, v)  # (B, H, T, d_head)
        x = x + self.out(a.transpose(1, 2).reshape(b, t, d))
        return x + self.ffn2(F.relu(self.ffn1(self.norm2(x))))

    def attention(self, x):
        """The attention matrix averaged over heads, ``(B, T, T)`` (rows sum to 1)."""
        q, k, _ = self._qkv(x)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        return torch.softmax(scores, dim=-1).mean(dim=1)


class FusionEncoder(nn.Module):
    """The fusion encoder: tokens to ``(mu, logvar)`` and per-feature output tokens.

    ``fusion="transformer"`` (eq. 3-7): a learnable [CLS] token is put before the column
    tokens, ``n_layers`` :class:`PreNormBlock` run over the sequence, a final layer norm, and
    ``mu, logvar = Linear([CLS]_out + mean(input tokens))`` (eq. 6-7: the fused [CLS] plus
    the mean of the tokens before fusion, "lexical" information). The per-feature outputs are
    the normalised output tokens of the columns. ``fusion="mlp"`` (the ablation without the
    transformer): ``h = MLP(concatenated tokens) + mean(tokens)``, and the per-feature outputs
    are the input tokens themselves.

    Parameters
    ----------
    n_tokens : int
    d_token : int
    latent_dim : int
    n_layers : int, default=2
    n_heads : int, default=4
    d_ffn : int, default=None
        Hidden width of the feed-forward layers; ``None``: ``2 * d_token``.
    fusion : {"transformer", "mlp"}, default="transformer"
    mlp_dims : tuple of int, default=(256,)
        Hidden widths of the MLP fusion.

    Examples
    --------
    >>> import torch
    >>> from skmixsynth.nn._gtcoder import FusionEncoder
    >>> enc = FusionEncoder(4, 8, latent_dim=3, n_layers=1, n_heads=2)
    >>> mu, logvar, outputs = enc(torch.randn(6, 4, 8))
    >>> mu.shape, logvar.shape, outputs.shape
    (torch.Size([6, 3]), torch.Size([6, 3]), torch.Size([6, 4, 8]))
    """

    def __init__(self, n_tokens, d_token, latent_dim, *, n_layers=2, n_heads=4, d_ffn=None,
                 fusion="transformer", mlp_dims=(256,)):
        super().__init__()
        if fusion not in ("transformer", "mlp"):
            raise ValueError(f"fusion must be 'transformer' or 'mlp'; got {fusion!r}.")
        self.fusion = fusion
        self.n_tokens = int(n_tokens)
        d_ffn = 2 * d_token if d_ffn is None else int(d_ffn)
        if fusion == "transformer":
            self.cls = nn.Parameter(torch.empty(d_token))
            nn.init.uniform_(self.cls, -1.0 / math.sqrt(d_token), 1.0 / math.sqrt(d_token))
            self.blocks = nn.ModuleList(
                PreNormBlock(d_token, n_heads, d_ffn) for _ in range(n_layers))
            self.norm = nn.LayerNorm(d_token)
        else:
            layers, width = [], self.n_tokens * d_token
            for h in mlp_dims:
                layers += [nn.Linear(width, h), nn.ReLU()]
                width = h
            layers.append(nn.Linear(width, d_token))
            self.mlp = nn.Sequential(*layers)
        self.head = nn.Linear(d_token, 2 * latent_dim)

    def _sequence(self, tokens):
        cls = self.cls.expand(tokens.shape[0], 1, -1)
        return torch.cat([cls, tokens], dim=1)

    def forward(self, tokens):
        """``(mu, logvar, outputs)`` for ``tokens`` of shape ``(B, n_tokens, d_token)``."""
        if self.fusion == "transformer":
            x = self._sequence(tokens)
            for block in self.blocks:
                x = block(x)
            x = self.norm(x)
            fused, outputs = x[:, 0], x[:, 1:]
        else:
            fused, outputs = self.mlp(tokens.flatten(1)), tokens
        if tokens.shape[1]:
            fused = fused + tokens.mean(dim=1)  # eq. 6-7
        mu, logvar = self.head(fused).chunk(2, dim=-1)
        return mu, logvar, outputs

    def cls_attention(self, tokens):
        """Attention of the [CLS] token to each column token, ``(B, n_layers, n_tokens)``.

        Each layer's [CLS] row of the head-averaged attention matrix, without the [CLS]
        token's attention to itself (paper, "Interpretability" and Fig. 4).
        """
        if self.fusion != "transformer":
            raise ValueError("cls_attention needs fusion='transformer'; got fusion='mlp'.")
        x, rows = self._sequence(tokens), []
        for block in self.blocks:
            rows.append(block.attention(x)[:, 0, 1:])
            x = block(x)
        return torch.stack(rows, dim=1)


class MixturePrior(nn.Module):
    """The learnable Gaussian-mixture prior of eq. 8 and the contrastive loss of eq. 11.

    Every level ``l`` of every discrete span has a learnable embedding ``e_l`` (a
    ``d_token``-vector: the weights of the "Gaussian mixture encoder"'s first fully connected
    layer applied to a one-hot input) and a Gaussian ``N(mu_l, diag(sigma_l^2))`` with
    ``(mu_l, log sigma_l) = Linear(e_l)``. A row's prior is the equal-weight mixture of the
    Gaussians of its ``D`` levels, one per discrete span (eq. 8):
    ``log p(z | c) = logsumexp_j log N(z; mu_{c_j}, sigma_{c_j}) - log D``.

    The contrastive loss (eq. 11) takes the encoder's output token of each discrete feature
    as the anchor and the level embeddings of that feature as the candidates:
    ``-log softmax_l(a_j . e_l / tau)`` at the row's level, averaged over the features. One
    batched product covers all features (levels padded to the widest span with ``-inf``).

    Parameters
    ----------
    cardinalities : tuple of int
        At least one span.
    d_token : int
    latent_dim : int

    Examples
    --------
    >>> import torch
    >>> from skmixsynth.nn._gtcoder import MixturePrior
    >>> prior = MixturePrior((3, 2), d_token=8, latent_dim=4)
    >>> codes = torch.tensor([[0, 1], [2, 0]])
    >>> prior.log_prob(torch.zeros(2, 4), codes).shape
    torch.Size([2])
    >>> prior.contrastive_loss(torch.randn(2, 2, 8), codes, temperature=0.95).shape
    torch.Size([2])
    """

    def __init__(self, cardinalities, d_token, latent_dim):
        super().__init__()
        cards = _check_cardinalities(cardinalities)
        if not cards:
            raise ValueError("MixturePrior needs at least one discrete span; got none.")
        self.latent_dim = int(latent_dim)
        self.embedding = nn.Embedding(sum(cards), d_token)
        self.head = nn.Linear(d_token, 2 * self.latent_dim)
        index, bias, offsets = _padded_index(cards)
        self.register_buffer("pad_index", index, persistent=False)
        self.register_buffer("pad_bias", bias, persistent=False)
        self.register_buffer("offsets", offsets, persistent=False)

    @property
    def n_spans(self):
        """Number of discrete spans (mixture components per row)."""
        return self.offsets.shape[0]

    def level_params(self):
        """``(mean, log_scale)`` of every level's Gaussian, each ``(n_levels, latent_dim)``."""
        return self.head(self.embedding.weight).chunk(2, dim=-1)

    def components(self, codes):
        """``(mean, log_scale)`` of each row's components, each ``(B, D, latent_dim)``."""
        mean, log_scale = self.level_params()
        idx = (codes + self.offsets).reshape(-1)
        shape = (*codes.shape, self.latent_dim)
        return mean.index_select(0, idx).view(shape), log_scale.index_select(0, idx).view(shape)

    def log_prob(self, z, codes, mask=None):
        """``log p(z | c)`` of eq. 8, ``(B,)``, by ``logsumexp`` over the row's components.

        With ``mask`` (``(B, D)`` bool, at least one True per row) the mixture is that of the
        masked features' levels only, with equal weights (the prior given some of the
        discrete features); ``codes`` may hold anything (-1, say) where the mask is False.
        """
        if mask is not None:
            codes = torch.where(mask, codes, 0)
        mean, log_scale = self.components(codes)
        u = (z.unsqueeze(1) - mean) * torch.exp(-log_scale)
        comp = -0.5 * u.square().sum(-1) - log_scale.sum(-1) - 0.5 * self.latent_dim * _LOG_2PI
        if mask is None:
            return torch.logsumexp(comp, dim=1) - math.log(self.n_spans)
        comp = comp.masked_fill(~mask, float("-inf"))
        return torch.logsumexp(comp, dim=1) - mask.sum(dim=1).to(comp.dtype).log()

    def sample(self, codes, generator, mask=None):
        """``z ~ p(z | c)``: a component chosen uniformly among the row's ``D`` (among the
        masked ones with ``mask``, as in :meth:`log_prob`), then its Gaussian;
        ``(B, latent_dim)``."""
        n = codes.shape[0]
        if mask is None:
            pick = torch.randint(self.n_spans, (n, 1), generator=generator,
                                 device=codes.device)
        else:
            pick = torch.multinomial(mask.float(), 1, generator=generator)
            codes = torch.where(mask, codes, 0)
        level = (codes.gather(1, pick) + self.offsets[pick]).squeeze(1)
        mean, log_scale = self.level_params()
        eps = torch.randn(n, self.latent_dim, generator=generator, device=codes.device,
                          dtype=mean.dtype)
        return mean.index_select(0, level) + torch.exp(log_scale.index_select(0, level)) * eps

    def contrastive_loss(self, anchors, codes, temperature):
        """Eq. 11 per row, ``(B,)``: the mean over the ``D`` features of
        ``-log softmax(anchor . e / temperature)`` at the row's level.

        Parameters
        ----------
        anchors : Tensor of shape (B, D, d_token)
        codes : Tensor of shape (B, D), int64
        temperature : float
        """
        n_spans, k = self.pad_bias.shape
        levels = self.embedding.weight.index_select(0, self.pad_index).view(n_spans, k, -1)
        # (D, B, d) @ (D, d, K) -> (D, B, K): all features in one batched product
        logits = torch.bmm(anchors.transpose(0, 1), levels.transpose(1, 2)) / temperature
        logp = torch.log_softmax(logits + self.pad_bias.unsqueeze(1), dim=-1)
        picked = logp.gather(2, codes.t().unsqueeze(-1)).squeeze(-1)  # (D, B)
        return -picked.mean(dim=0)


class GTCoderDecoder(nn.Module):
    """The decoder: ``z`` to a likelihood of the per-column views.

    ``Linear/ReLU`` layers, then one linear head giving, per numerical column, a location and
    a scale, and a logit per level of every discrete span.

    Discrete spans: a categorical distribution (softmax over the span's levels; the loss is
    the cross-entropy), computed on the padded ``(B, D, K)`` block.

    Numerical columns: a Gaussian in *probit* space. A value ``x`` in (0, 1) (the encoder's
    scale) is mapped to ``y = Phi^{-1}(x)`` and ``y ~ N(loc, scale^2)``; the density of ``x``
    is ``N(y; loc, scale) / phi(y)`` (change of variables). This replaces eq. 12's Gaussian
    on ``tanh`` outputs: a Gaussian on the bounded (0, 1) scale puts mass outside it, and the
    clipped samples pile up on the training minimum and maximum; in probit space every sample
    maps back inside (0, 1), and with the encoder's quantile scale (values near uniform) the
    target is near standard normal, the Gaussian copula's normal scores. Values are clipped
    to ``[eps, 1 - eps]`` (``eps = 1e-4``, ``|y| <= 3.72``) first. ``scale`` is
    ``scale_min + softplus(.)`` per row and column (the "theta output with the decoder" of
    eq. 12), with ``scale_min = 0.01`` so that repeated values cannot drive the likelihood to
    infinity. The term counts only where the value is present: a numerical column with a
    state span (missing values, point masses) holds a placeholder on its other levels, which
    the state span's cross-entropy already covers.

    Parameters
    ----------
    latent_dim : int
    hidden_dims : tuple of int
    n_numerical : int
    cardinalities : tuple of int
    numerical_state : tuple of int, default=None
        For each numerical column the index of its state span among the discrete spans (its
        level 0 is "present"), or -1 when it has none. ``None``: no state spans.
    n_modes : int, default=1
        Gaussians per numerical column (probit space). ``1`` is the Gaussian above; more
        makes the numerical likelihood a mixture density (a mixture-density network head:
        per row and column ``C`` weights, locations and scales), ``log p(y | z) =
        logsumexp_c(log w_c + log N(y; loc_c, scale_c))``, sampled by drawing a mode, then
        the Gaussian. The locations' biases start spread over ``[-1.5, 1.5]`` so that the
        modes start apart.

    Examples
    --------
    >>> import torch
    >>> from skmixsynth.nn import seeded_generator
    >>> from skmixsynth.nn._gtcoder import GTCoderDecoder
    >>> dec = GTCoderDecoder(4, (16,), n_numerical=2, cardinalities=(3,))
    >>> z = torch.randn(5, 4)
    >>> num_ll, disc_ll = dec.log_prob(z, torch.rand(5, 2), torch.zeros(5, 1, dtype=torch.long))
    >>> num_ll.shape, disc_ll.shape
    (torch.Size([5]), torch.Size([5]))
    >>> num, codes = dec.sample(z, seeded_generator(0, torch.device("cpu")))
    >>> bool(((num > 0) & (num < 1)).all()), codes.shape
    (True, torch.Size([5, 1]))
    """

    #: numerical values are clipped to [EPS, 1 - EPS] before the probit map
    EPS = 1e-4
    #: least scale of a numerical column's Gaussian (probit space)
    SCALE_MIN = 0.01

    def __init__(self, latent_dim, hidden_dims, n_numerical, cardinalities, numerical_state=None,
                 n_modes=1):
        super().__init__()
        cards = _check_cardinalities(cardinalities)
        self.n_numerical = int(n_numerical)
        self.n_modes = int(n_modes)
        if self.n_modes < 1:
            raise ValueError(f"n_modes must be a positive integer; got {n_modes!r}.")
        layers, width = [], int(latent_dim)
        for h in hidden_dims:
            layers += [nn.Linear(width, int(h)), nn.ReLU()]
            width = int(h)
        self.body = nn.Sequential(*layers)
        m, c = self.n_numerical, self.n_modes
        self.head = nn.Linear(width, (2 if c == 1 else 3 * c) * m + sum(cards))
        if c > 1 and m:
            with torch.no_grad():  # the modes start apart: locations spread over [-1.5, 1.5]
                self.head.bias[:m * c].copy_(torch.linspace(-1.5, 1.5, c).repeat(m))
        index, bias, _ = _padded_index(cards)
        self.register_buffer("pad_index", index, persistent=False)
        self.register_buffer("pad_bias", bias, persistent=False)
        state = [-1] * self.n_numerical if numerical_state is None else list(numerical_state)
        if len(state) != self.n_numerical or not all(-1 <= s < len(cards) for s in state):
            raise ValueError(f"numerical_state must give, for each of the {self.n_numerical} "
                             f"numerical columns, a discrete span index or -1; got "
                             f"{numerical_state!r}.")
        state = torch.as_tensor(state, dtype=torch.long)
        self.register_buffer("state_index", state.clamp_min(0), persistent=False)
        self.register_buffer("has_state", state >= 0, persistent=False)
        self.any_state = bool((state >= 0).any())
        # Sampling draws levels with the fused inverse-CDF draw of MixedOutput, over a layout
        # of the discrete spans alone.
        spans, start = [], 0
        for j, c in enumerate(cards):
            spans.append(Span(f"d{j}", "categorical", start, start + c, "softmax"))
            start += c
        self.draw = MixedOutput(Layout(tuple(spans))) if cards else None

    @property
    def n_discrete(self):
        """Number of discrete spans."""
        return self.pad_bias.shape[0]

    def forward(self, z):
        """``(loc, scale, logits, mode_logits)``: the numerical columns' locations and scales
        (probit space; ``(B, n_numerical)``, or ``(B, n_numerical, n_modes)`` when
        ``n_modes > 1``), the flat ``(B, n_levels)`` discrete logits, and the modes'
        unnormalised log-weights ``(B, n_numerical, n_modes)`` (``None`` for one mode)."""
        out = self.head(self.body(z))
        m, c = self.n_numerical, self.n_modes
        if c == 1:
            scale = F.softplus(out[:, m:2 * m]) + self.SCALE_MIN
            return out[:, :m], scale, out[:, 2 * m:], None
        loc = out[:, :m * c].view(-1, m, c)
        scale = F.softplus(out[:, m * c:2 * m * c]).view(-1, m, c) + self.SCALE_MIN
        return loc, scale, out[:, 3 * m * c:], out[:, 2 * m * c:3 * m * c].view(-1, m, c)

    def present(self, codes):
        """``(B, n_numerical)`` bool: where the numerical value is a real value."""
        if not self.any_state:
            return torch.ones(codes.shape[0], self.n_numerical, dtype=torch.bool,
                              device=codes.device)
        return (codes.index_select(1, self.state_index) == 0) | ~self.has_state

    def log_prob(self, z, numerical, codes):
        """``(numerical, discrete)`` log-likelihood of each row, each ``(B,)``.

        The numerical part is the log-density of the (0, 1)-scaled values where present
        (see the class docstring), the discrete part the sum of the spans' log-probabilities.
        """
        loc, scale, logits, mode_logits = self(z)
        if self.n_numerical:
            y = torch.special.ndtri(numerical.clamp(self.EPS, 1.0 - self.EPS))
            if mode_logits is None:
                u = (y - loc) / scale
                # log N(y; loc, scale) - log phi(y): the 0.5 log(2 pi) terms cancel
                ll = 0.5 * (y.square() - u.square()) - torch.log(scale)
            else:
                u = (y.unsqueeze(-1) - loc) / scale
                ll = torch.logsumexp(torch.log_softmax(mode_logits, dim=-1) - 0.5 * u.square()
                                     - torch.log(scale), dim=-1) + 0.5 * y.square()
            num_ll = torch.where(self.present(codes), ll, 0.0).sum(dim=1)
        else:
            num_ll = z.new_zeros(z.shape[0])
        if self.n_discrete:
            padded = logits.index_select(1, self.pad_index).view(z.shape[0], *self.pad_bias.shape)
            logp = torch.log_softmax(padded + self.pad_bias, dim=-1)
            disc_ll = logp.gather(2, codes.unsqueeze(-1)).squeeze(-1).sum(dim=1)
        else:
            disc_ll = z.new_zeros(z.shape[0])
        return num_ll, disc_ll

    def level_log_prob(self, logits, codes):
        """``(B,)``: the log-probability of the levels of ``codes`` under ``logits``, summed
        over the spans where ``codes >= 0`` (the others, -1, are left out).

        ``logits`` is the flat ``(B, n_levels)`` block of :meth:`forward`.
        """
        fixed = codes >= 0
        # only the spans fixed in some row, padded to the widest of them
        used = torch.nonzero(fixed.any(dim=0)).squeeze(1)
        if used.numel() == 0:
            return logits.new_zeros(logits.shape[0])
        bias = self.pad_bias.index_select(0, used)
        width = int(torch.isfinite(bias).sum(dim=1).max())
        bias = bias[:, :width]
        index = self.pad_index.view(self.pad_bias.shape).index_select(0, used)[:, :width]
        padded = logits.index_select(1, index.reshape(-1)).view(logits.shape[0], *bias.shape)
        logp = torch.log_softmax(padded + bias, dim=-1)
        chosen = codes.index_select(1, used)
        picked = logp.gather(2, chosen.clamp_min(0).unsqueeze(-1)).squeeze(-1)
        return torch.where(chosen >= 0, picked, 0.0).sum(dim=1)

    def sample(self, z, generator):
        """``(numerical (B, n_numerical) in (0, 1), codes (B, D))`` drawn given ``z``."""
        return self.sample_from(self(z), generator)

    def sample_from(self, outputs, generator):
        """:meth:`sample` given the outputs ``(loc, scale, logits, mode_logits)`` of
        :meth:`forward`."""
        loc, scale, logits, mode_logits = outputs
        if mode_logits is not None:  # a mode per row and column, by its inverse CDF
            cdf = torch.softmax(mode_logits, dim=-1).cumsum(-1)
            u = torch.rand(cdf.shape[:2], generator=generator, device=cdf.device,
                           dtype=cdf.dtype)
            mode = (u.unsqueeze(-1) > cdf).sum(-1, keepdim=True).clamp_max(self.n_modes - 1)
            loc, scale = loc.gather(2, mode).squeeze(2), scale.gather(2, mode).squeeze(2)
        eps = torch.randn(loc.shape, generator=generator, device=loc.device, dtype=loc.dtype)
        numerical = torch.special.ndtr(loc + scale * eps)
        if self.draw is None:
            return numerical, torch.zeros(loc.shape[0], 0, dtype=torch.long, device=loc.device)
        _, codes = self.draw.columns(logits, mode="draw", generator=generator)
        return numerical, codes


class LatentGaussianMixture(nn.Module):
    """A Gaussian mixture over the latent space, with full covariances, held in buffers.

    GTCoder samples its latent codes from this mixture once :meth:`fit` has fitted it (by EM)
    to draws of the aggregate posterior ``q(z) = E_x q(z | x)`` of the training rows. Before
    that it is ``N(0, I)`` (every component standard normal). The parameters are buffers, so
    they are saved and loaded with the model and follow it across devices.

    Parameters
    ----------
    latent_dim : int
    n_components : int

    Examples
    --------
    >>> import torch
    >>> from skmixsynth.nn import seeded_generator
    >>> from skmixsynth.nn._gtcoder import LatentGaussianMixture
    >>> g = seeded_generator(0, torch.device("cpu"))
    >>> x = torch.cat([torch.randn(200, 2, generator=g) - 5, torch.randn(200, 2, generator=g) + 5])
    >>> gmm = LatentGaussianMixture(2, 2)
    >>> _ = gmm.fit(x, g)
    >>> sorted(round(float(m), 1) for m in gmm.means[:, 0])
    [-5.0, 5.1]
    >>> gmm.sample(3, g).shape
    torch.Size([3, 2])
    """

    #: added to the diagonal of every covariance (the latent scale is about 1)
    REG = 1e-4
    #: EM stops when the mean log-likelihood per row changes by less than this
    TOL = 1e-3
    #: EM runs on at most this many draws (a subsample drawn from the generator; fewer when
    #: ``latent_dim`` is above 40)
    MAX_ROWS = 20_000

    def __init__(self, latent_dim, n_components):
        super().__init__()
        if n_components < 1:
            raise ValueError(f"n_components must be positive; got {n_components=}.")
        k, d = int(n_components), int(latent_dim)
        self.register_buffer("log_weights", torch.full((k,), -math.log(k)))
        self.register_buffer("means", torch.zeros(k, d))
        self.register_buffer("scale_tril", torch.eye(d).repeat(k, 1, 1))

    def _component_log_prob(self, z):
        """``(N, K)`` log-density of each row under each component."""
        return _gaussian_log_prob(z, self.means, self.scale_tril)

    def log_prob(self, z):
        """``(N,)`` log-density of ``z`` under the mixture."""
        return torch.logsumexp(self._component_log_prob(z) + self.log_weights, dim=1)

    def sample(self, n, generator):
        """``(n, latent_dim)`` draws."""
        device = self.means.device
        comp = torch.multinomial(self.log_weights.exp(), n, replacement=True,
                                 generator=generator)
        eps = torch.randn(n, self.means.shape[1], 1, generator=generator, device=device,
                          dtype=self.means.dtype)
        return self.means.index_select(0, comp) + (
            self.scale_tril.index_select(0, comp) @ eps).squeeze(-1)

    def max_rows(self, dim):
        """The most rows :meth:`fit` uses: ``MAX_ROWS``, fewer in high dimension (the
        rows' outer products hold rows * dim^2 numbers: at most 2^25, 256 MB in float64)."""
        return max(min(self.MAX_ROWS, 2**25 // dim ** 2), 1)

    @torch.no_grad()
    def fit(self, z, generator, *, max_iter=100, tol=None):
        """Fit the mixture to the rows of ``z`` by EM (k-means++ start); returns ``self``.

        Float64 where the device has it. Components left without rows are dropped (weight
        zero). The start and the subsample (above ``MAX_ROWS`` rows) are drawn from
        ``generator``.
        """
        tol = self.TOL if tol is None else tol
        device = z.device
        dtype = torch.float32 if device.type == "mps" else torch.float64
        max_rows = self.max_rows(z.shape[1])
        if z.shape[0] > max_rows:
            keep = torch.randperm(z.shape[0], generator=generator, device=generator.device)
            z = z.index_select(0, keep[:max_rows].to(device))
        x = z.to(dtype)
        n, d = x.shape
        k = self.means.shape[0]
        eye = torch.eye(d, dtype=dtype, device=device)
        means = _kmeans_plus_plus(x, min(k, n), generator)
        k_used = means.shape[0]
        centred = x - x.mean(dim=0)
        cov = centred.t() @ centred / max(n - 1, 1) + self.REG * eye
        tril = torch.linalg.cholesky(cov).repeat(k_used, 1, 1)
        log_w = torch.full((k_used,), -math.log(k_used), dtype=dtype, device=device)
        # the rows' outer products, once: every M-step's covariances are one matrix product
        outer = (x.unsqueeze(2) * x.unsqueeze(1)).view(n, d * d)
        previous = -math.inf
        for _ in range(max_iter):
            comp = _gaussian_log_prob(x, means, tril) + log_w  # (N, K)
            total = torch.logsumexp(comp, dim=1, keepdim=True)
            resp = torch.exp(comp - total)
            mean_ll = float(total.mean())
            nk = resp.sum(dim=0)
            alive = nk > 1e-3  # a component that holds (almost) no row is dropped
            if not bool(alive.all()):
                resp, nk = resp[:, alive], nk[alive]
                k_used = int(alive.sum())
            means = (resp.t() @ x) / nk.unsqueeze(1)
            second = (resp.t() @ outer).view(k_used, d, d) / nk.view(-1, 1, 1)
            covs = second - means.unsqueeze(2) * means.unsqueeze(1) + self.REG * eye
            tril = _safe_cholesky(covs, eye)
            log_w = torch.log(nk / nk.sum())
            if abs(mean_ll - previous) < tol:
                break
            previous = mean_ll
        self._set(log_w, means, tril)
        return self

    def _set(self, log_w, means, tril):
        d = self.means.shape[1]
        k_used = log_w.shape[0]
        dt = self.means.dtype
        self.log_weights.fill_(-math.inf)
        self.log_weights[:k_used] = log_w.to(dt)
        self.means.zero_()
        self.means[:k_used] = means.to(dt)
        self.scale_tril.copy_(torch.eye(d, dtype=dt, device=self.means.device))
        self.scale_tril[:k_used] = tril.to(dt)


def _gaussian_log_prob(x, means, scale_tril):
    """``(N, K)``: ``log N(x_n; means_k, L_k L_k^T)`` for Cholesky factors ``scale_tril``.

    With ``P_k = L_k^{-1}`` the Mahalanobis term is ``||P_k x - P_k mu_k||^2``: one matrix
    product for all components (``x @ [P_1^T ... P_K^T]``), taken in chunks of rows.
    """
    k, d = means.shape
    eye = torch.eye(d, dtype=scale_tril.dtype, device=scale_tril.device).expand(k, d, d)
    prec = torch.linalg.solve_triangular(scale_tril, eye, upper=False)  # (K, d, d) = L^-1
    proj = prec.transpose(1, 2).permute(1, 0, 2).reshape(d, k * d)  # [P_1^T ... P_K^T]
    shift = (prec @ means.unsqueeze(-1)).reshape(1, k * d)
    logdet = torch.diagonal(scale_tril, dim1=1, dim2=2).log().sum(dim=1)
    const = -logdet - 0.5 * d * _LOG_2PI
    rows = max(1, 2**22 // (k * d))
    out = []
    for lo in range(0, x.shape[0], rows):
        y = x[lo:lo + rows].to(proj.dtype) @ proj - shift
        out.append(-0.5 * y.square_().view(-1, k, d).sum(dim=2) + const)
    return torch.cat(out) if out else x.new_zeros(0, k)


def _kmeans_plus_plus(x, k, generator):
    """``k`` rows of ``x`` chosen by k-means++ seeding (draws from ``generator``)."""
    n = x.shape[0]
    dev = generator.device
    first = int(torch.randint(n, (1,), generator=generator, device=dev))
    centres = [x[first]]
    dist = (x - x[first]).square().sum(dim=1)
    for _ in range(1, k):
        if float(dist.sum()) <= 0:  # every row is a centre already
            break
        pick = int(torch.multinomial(dist.to(dev, torch.float64), 1, generator=generator))
        centres.append(x[pick])
        dist = torch.minimum(dist, (x - x[pick]).square().sum(dim=1))
    return torch.stack(centres)


def _safe_cholesky(covs, eye):
    """Cholesky factors of ``covs``; a factor that fails gets more diagonal until it works."""
    tril, info = torch.linalg.cholesky_ex(covs)
    jitter = 1e-6
    while bool((info > 0).any()):
        covs = covs + jitter * eye
        tril, info = torch.linalg.cholesky_ex(covs)
        jitter *= 10
    return tril


class GTCoder(nn.Module):
    """GTCoder as one module: tokenizer, fusion encoder, prior, decoder, latent sampler.

    Training (:meth:`losses`): the columns are tokenized (:class:`FeatureTokenizer`), fused
    into ``q(z | x) = N(mu, diag(exp(logvar)))`` (:class:`FusionEncoder`), ``z = mu +
    sigma * eps`` is drawn, and three per-row terms are returned:

    - ``kl`` (eq. 9): ``log q(z | x) - log p(z | c)`` at the drawn ``z``, where ``p(z | c)``
      is the row's mixture prior (:class:`MixturePrior`, eq. 8). With
      ``prior="standard_normal"``, or a table without discrete spans, ``p = N(0, I)`` and the
      closed-form KL is used (the expectation of the same estimator, without its variance).
    - ``cl`` (eq. 11): the contrastive loss between the encoder's output tokens of the
      discrete features and the prior's level embeddings (zero without discrete spans, or
      when ``contrastive=False``).
    - ``re``: the negative log-likelihood of the row under the decoder
      (:class:`GTCoderDecoder`).

    Sampling (:meth:`sample`): ``z`` from the latent mixture fitted to the aggregate
    posterior (``latent="aggregate"``, see :class:`LatentGaussianMixture`), or from the prior
    (``latent="prior"``: levels drawn from their training frequencies, independently per
    span, then ``refine_steps`` rounds of ``z ~ p(z | c)`` and ``c`` drawn from the decoder;
    ``N(0, I)`` with the standard-normal prior), then decoded. :meth:`sample_conditional`
    draws rows that carry given levels, the other columns from the model's conditional.

    Parameters
    ----------
    n_numerical : int
    cardinalities : tuple of int
    numerical_state : tuple of int, default=None
        See :class:`GTCoderDecoder`.
    d_token : int, default=32
    n_layers : int, default=2
    n_heads : int, default=4
    latent_dim : int, default=16
    decoder_dims : tuple of int, default=(256, 256)
    fusion : {"transformer", "mlp"}, default="transformer"
    mlp_dims : tuple of int, default=(256,)
    prior : {"mixture", "standard_normal"}, default="mixture"
    n_components : int, default=20
        Components of the latent mixture.
    decoder_modes : int, default=1
        Gaussians per numerical column in the decoder (``n_modes`` of
        :class:`GTCoderDecoder`).

    Examples
    --------
    >>> import torch
    >>> from skmixsynth.nn import seeded_generator
    >>> from skmixsynth.nn._gtcoder import GTCoder
    >>> net = GTCoder(2, (3, 2), d_token=8, n_heads=2, latent_dim=4, decoder_dims=(16,))
    >>> g = seeded_generator(0, torch.device("cpu"))
    >>> parts = net.losses(torch.rand(6, 2), torch.tensor([[0, 1]] * 6), g)
    >>> sorted(parts), parts["kl"].shape
    (['cl', 'kl', 're'], torch.Size([6]))
    >>> num, codes = net.sample(4, g)
    >>> num.shape, codes.shape
    (torch.Size([4, 2]), torch.Size([4, 2]))
    """

    def __init__(self, n_numerical, cardinalities, *, numerical_state=None, d_token=32,
                 n_layers=2, n_heads=4, latent_dim=16, decoder_dims=(256, 256),
                 fusion="transformer", mlp_dims=(256,), prior="mixture", n_components=20,
                 decoder_modes=1):
        super().__init__()
        if prior not in ("mixture", "standard_normal"):
            raise ValueError(f"prior must be 'mixture' or 'standard_normal'; got {prior!r}.")
        cards = _check_cardinalities(cardinalities)
        self.prior_kind = prior
        self.latent_dim = int(latent_dim)
        self.tokenizer = FeatureTokenizer(n_numerical, cards, d_token)
        self.encoder = FusionEncoder(self.tokenizer.n_tokens, d_token, latent_dim,
                                     n_layers=n_layers, n_heads=n_heads, fusion=fusion,
                                     mlp_dims=mlp_dims)
        # The level embeddings exist with any prior (they are the contrastive candidates).
        self.prior = MixturePrior(cards, d_token, latent_dim) if cards else None
        self.decoder = GTCoderDecoder(latent_dim, decoder_dims, n_numerical, cards,
                                      numerical_state, n_modes=decoder_modes)
        self.latent = LatentGaussianMixture(latent_dim, n_components)
        # Training frequency of every level (the start of prior sampling), set by the model.
        self.register_buffer("level_counts", torch.ones(max(sum(cards), 1)))
        self._level_table = None  # see level_table(); derived, never saved

    @property
    def n_numerical(self):
        return self.tokenizer.n_numerical

    @property
    def uses_mixture_prior(self):
        """True when the KL is taken against the mixture prior of eq. 8."""
        return self.prior_kind == "mixture" and self.prior is not None

    def posterior(self, numerical, codes):
        """``(mu, logvar, outputs)`` of the fusion encoder for these rows."""
        return self.encoder(self.tokenizer(numerical, codes))

    def losses(self, numerical, codes, generator, *, temperature=0.95, contrastive=True):
        """Per-row training terms ``{"kl", "cl", "re"}``, each ``(B,)`` (see the class doc).

        Parameters
        ----------
        numerical : Tensor of shape (B, n_numerical), in (0, 1)
        codes : Tensor of shape (B, D), int64
        generator : torch.Generator
            Source of the reparameterisation noise.
        temperature : float, default=0.95
            Of the contrastive loss (eq. 11).
        contrastive : bool, default=True
            Compute the contrastive loss (else ``cl`` is zero).
        """
        mu, logvar, outputs = self.posterior(numerical, codes)
        z, kl = self._draw_and_kl(mu, logvar, codes, generator)
        num_ll, disc_ll = self.decoder.log_prob(z, numerical, codes)
        if contrastive and self.prior is not None:
            cl = self.prior.contrastive_loss(outputs[:, self.n_numerical:], codes, temperature)
        else:
            cl = torch.zeros_like(kl)
        return {"kl": kl, "cl": cl, "re": -(num_ll + disc_ll)}

    def _draw_and_kl(self, mu, logvar, codes, generator):
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        std = torch.exp(0.5 * logvar)
        z = mu + std * eps
        if self.uses_mixture_prior:
            log_q = -0.5 * (eps.square() + logvar + _LOG_2PI).sum(dim=1)
            return z, log_q - self.prior.log_prob(z, codes)
        return z, 0.5 * (mu.square() + std.square() - 1.0 - logvar).sum(dim=1)

    def elbo(self, numerical, codes, generator, *, n_draws=1, latent="aggregate"):
        """A Monte-Carlo estimate of each row's evidence lower bound, ``(B,)``.

        ``E_q[log p(x | z) + log p(z) - log q(z | x)]``, averaged over ``n_draws`` draws of
        ``z``, with ``p(z)`` the latent density sampling uses: the fitted mixture for
        ``latent="aggregate"`` (a bound on the log-density of the rows :meth:`sample`
        generates), the training prior ``p(z | c)`` (or ``N(0, I)``) for ``latent="prior"``.
        Numerical values are scored on the encoder's (0, 1) scale. The standard normal draws
        ``eps`` (``z = mu + sigma * eps``) are shared by all rows (common random numbers): a
        row's estimate depends on the row and the generator's seed only, not on the other
        rows of the batch.
        """
        mu, logvar, _ = self.posterior(numerical, codes)
        std = torch.exp(0.5 * logvar)
        draws = torch.randn(int(n_draws), mu.shape[1], generator=generator, device=mu.device,
                            dtype=mu.dtype)
        total = torch.zeros(mu.shape[0], device=mu.device, dtype=mu.dtype)
        for eps in draws:
            z = mu + std * eps
            log_q = -0.5 * (eps.square() + logvar + _LOG_2PI).sum(dim=1)
            if latent == "aggregate":
                log_p = self.latent.log_prob(z)
            elif self.uses_mixture_prior:
                log_p = self.prior.log_prob(z, codes)
            else:
                log_p = -0.5 * (z.square() + _LOG_2PI).sum(dim=1)
            num_ll, disc_ll = self.decoder.log_prob(z, numerical, codes)
            total = total + num_ll + disc_ll + log_p - log_q
        return total / int(n_draws)

    @torch.no_grad()
    def level_count_of(self, codes):
        """How many rows of ``codes`` ``(n, D)`` hold each level: ``(n_levels,)``."""
        if not codes.shape[1]:
            return self.level_counts.new_zeros(self.level_counts.shape)
        return torch.bincount((codes + self.tokenizer.offsets).reshape(-1),
                              minlength=self.level_counts.shape[0]).to(self.level_counts.dtype)

    def fit_latent(self, z, codes, generator, *, counts=None):
        """Fit the latent mixture to the draws ``z`` and count the levels of ``codes`` (or
        take their ``counts``, :meth:`level_count_of` summed over the batches)."""
        self.latent.fit(z, generator)
        self._level_table = None
        if self.tokenizer.offsets.numel():  # without discrete spans: nothing to count
            self.level_counts.copy_(self.level_count_of(codes) if counts is None else counts)
        return self

    #: candidate latent codes per forward pass of :meth:`sample_conditional` (memory)
    CONDITION_CHUNK = 16_384
    #: draws per latent component in the table of level probabilities (at most; fewer when
    #: the table of ``n_components * draws * n_levels`` numbers would pass ``2 ** 22``)
    LEVEL_TABLE_DRAWS = 256

    @torch.no_grad()
    def level_table(self):
        """``(n_components, S, n_levels)``: ``log p(level | z)`` at ``S`` draws of each
        component of the latent mixture (the decoder's log-probability of every level of
        every discrete span), from a fixed seed.

        ``exp`` of its mean over the draws estimates ``P(level | component)``, the model's own
        joint of the mixture component and the discrete features; :meth:`sample_conditional`
        reweights the components with it. Computed on first use and kept (not saved) until
        :meth:`fit_latent` runs again.
        """
        return self._level_draws()[1]

    @torch.no_grad()
    def _level_draws(self):
        """``(z (n_components, S, latent_dim), table)``, see :meth:`level_table`."""
        cached = self._level_table
        means = self.latent.means
        if cached is not None and (cached[1].device, cached[1].dtype) == (means.device,
                                                                          means.dtype):
            return cached
        k, d = self.latent.means.shape
        n_levels = self.level_counts.shape[0]
        draws = max(min(self.LEVEL_TABLE_DRAWS, 2**22 // max(k * n_levels, 1)), 16)
        generator = seeded_generator(0, means.device)
        eps = torch.randn(k, draws, d, 1, generator=generator, device=means.device,
                          dtype=means.dtype)
        z = means.view(k, 1, d) + (self.latent.scale_tril.unsqueeze(1) @ eps).squeeze(-1)
        logits = self.decoder(z.reshape(k * draws, d))[2]
        padded = logits.index_select(1, self.decoder.pad_index).view(
            k * draws, *self.decoder.pad_bias.shape)
        logp = torch.log_softmax(padded + self.decoder.pad_bias, dim=-1)
        # back from the padded (D, K) block to the flat levels
        flat = logp.reshape(k * draws, -1)
        place = torch.nonzero(torch.isfinite(self.decoder.pad_bias).reshape(-1)).squeeze(1)
        table = flat.index_select(1, place).view(k, draws, n_levels)
        self._level_table = (z, table)
        return self._level_table

    def __getstate__(self):
        state = super().__getstate__()
        state["_level_table"] = None  # a cache
        return state

    @torch.no_grad()
    def sample_conditional(self, codes, generator, *, latent="aggregate", refine_steps=2,
                           n_candidates=4):
        """Rows that carry the fixed levels of ``codes``, the other columns drawn given them.

        ``codes`` is ``(n, D)`` int64 with a level where the row's discrete feature is fixed
        and -1 where it is free. Returns ``(numerical (n, n_numerical), codes (n, D))`` as
        :meth:`sample`, with every fixed level in place.

        ``latent="aggregate"``: :meth:`sample`'s rows are ``z ~ q(z) = sum_k pi_k N_k(z)``
        (the latent mixture), then ``x ~ p(x | z)``. Given the fixed levels ``c_F`` the
        component ``k`` and the code ``z`` follow
        ``pi_k N_k(z) prod_{j in F} p(c_j | z)``, and the free columns the decoder at that
        ``z``. Sampling:

        1. a proposal ``r``: the latent mixture with each component ``k`` reweighted to its
           posterior ``pi_k E_{N_k}[prod_{j in F} p(c_j | z)]`` and moved to its mean tilted
           by the fixed levels, ``E_{N_k}[z prod p(c_j | z)] / E_{N_k}[prod p(c_j | z)]``
           (covariances kept); the expectations are estimated on the fixed draws of
           :meth:`level_table` (see :meth:`conditional_components`);
        2. ``n_candidates`` codes per row from ``r``, importance-weighted by
           ``q(z) p(c_F | z) / r(z)``, one of them kept in proportion to its weight
           (sampling-importance-resampling);
        3. the free columns drawn from the decoder at that ``z``; the fixed levels written in.

        The rows carry the fixed levels exactly; the other columns follow the model's
        conditional up to the finite number of candidates (the kept ``z`` converges in
        distribution to the conditional as ``n_candidates`` grows; with one candidate there
        is no correction and ``z`` follows ``r``). With the standard-normal prior and
        ``latent="prior"``, candidates come from ``N(0, I)`` itself.

        ``latent="prior"`` with the mixture prior: the levels start from the fixed ones and,
        for the free features, their training frequencies; then ``refine_steps + 1`` rounds
        of ``z ~ p(z | c)`` (eq. 8) and free levels drawn from the decoder, the fixed ones
        kept: the chain of :meth:`sample` with the fixed levels clamped.
        """
        if latent not in ("aggregate", "prior"):
            raise ValueError(f"latent must be 'aggregate' or 'prior'; got {latent!r}.")
        fixed = codes >= 0
        if latent == "prior" and self.uses_mixture_prior:
            logits = self.level_counts.clamp_min(1e-12).log().expand(codes.shape[0], -1)
            _, start = self.decoder.draw.columns(logits, mode="draw", generator=generator)
            current = torch.where(fixed, codes, start)
            for _ in range(int(refine_steps) + 1):
                numerical, drawn = self.decoder.sample(self.prior.sample(current, generator),
                                                       generator)
                current = torch.where(fixed, codes, drawn)
            return numerical, current
        k = max(int(n_candidates), 1)
        step = max(self.CONDITION_CHUNK // k, 1)
        numerical, out = [], []
        for lo in range(0, codes.shape[0], step):
            block = codes[lo:lo + step]
            if latent == "aggregate":
                outputs, log_w = self._conditional_candidates(block, generator, k)
            else:  # N(0, I): candidates from it, weighted by p(c_F | z)
                z = torch.randn(block.shape[0] * k, self.latent_dim, generator=generator,
                                device=block.device, dtype=self.level_counts.dtype)
                outputs = self.decoder(z)
                log_w = self.decoder.level_log_prob(
                    outputs[2], block.repeat_interleave(k, 0)).view(-1, k)
            if k > 1:
                pick = torch.multinomial(torch.softmax(log_w, dim=1), 1, generator=generator)
                index = torch.arange(block.shape[0], device=block.device) * k + pick.squeeze(1)
                outputs = tuple(None if o is None else o.index_select(0, index)
                                for o in outputs)
            num, drawn = self.decoder.sample_from(outputs, generator)
            numerical.append(num)
            out.append(torch.where(block >= 0, block, drawn))
        return torch.cat(numerical), torch.cat(out)

    def conditional_components(self, codes):
        """The latent mixture's components given the fixed levels of each row of ``codes``.

        Returns ``(log_weights (B, n_components), means (B, n_components, latent_dim))``:
        ``log pi_k + log E_{N_k}[prod_{j in F} p(c_j | z)]`` (the unnormalised log-posterior
        of component ``k`` given the fixed levels ``c_F``; -1 in ``codes`` is free) and
        ``E_{N_k}[z prod_{j in F} p(c_j | z)] / E_{N_k}[prod_{j in F} p(c_j | z)]`` (the mean
        of the component tilted by the fixed levels), both estimated on the draws of
        :meth:`level_table`.
        """
        particles, table = self._level_draws()  # (C, S, d), (C, S, L)
        n_comp, draws, _ = table.shape
        unique, inverse = torch.unique(codes, dim=0, return_inverse=True)
        fixed = unique >= 0
        level = torch.where(fixed, unique + self.tokenizer.offsets, 0)
        rows = max(2**22 // max(n_comp * draws * unique.shape[1], 1), 1)
        log_m, means = [], []
        for lo in range(0, unique.shape[0], rows):
            lv, fx = level[lo:lo + rows], fixed[lo:lo + rows]
            picked = table.index_select(2, lv.reshape(-1)).view(n_comp, draws, *lv.shape)
            joint = torch.where(fx, picked, 0.0).sum(dim=-1)  # (C, S, U)
            log_m.append((torch.logsumexp(joint, dim=1) - math.log(draws)).t())
            w = torch.softmax(joint, dim=1)
            means.append(torch.einsum("csu,csd->ucd", w, particles))
        log_m = torch.cat(log_m) + self.latent.log_weights.to(table.dtype)
        inverse = inverse.reshape(-1)
        return log_m.index_select(0, inverse), torch.cat(means).index_select(0, inverse)

    def _conditional_candidates(self, codes, generator, k):
        """Decoder outputs of ``k`` candidate codes per row (rows by rows of ``k``) and their
        log importance weights ``(B, k)`` (see :meth:`sample_conditional`)."""
        b, d = codes.shape[0], self.latent_dim
        log_pi_r, means_r = self.conditional_components(codes)
        log_pi_r = log_pi_r - torch.logsumexp(log_pi_r, dim=1, keepdim=True)
        comp = torch.multinomial(log_pi_r.exp(), k, replacement=True,
                                 generator=generator).reshape(-1)
        n_comp = means_r.shape[1]
        means_r = means_r.repeat_interleave(k, 0)  # (B k, C, d)
        tril = self.latent.scale_tril
        eps = torch.randn(b * k, d, 1, generator=generator, device=codes.device,
                          dtype=tril.dtype)
        rows = torch.arange(b * k, device=codes.device)
        z = means_r[rows, comp] + (tril.index_select(0, comp) @ eps).squeeze(-1)
        outputs = self.decoder(z)
        if k == 1:
            return outputs, z.new_zeros(b, 1)
        # log N(z; m, L L^T) = -0.5 ||P z - P m||^2 - log det L - d/2 log 2 pi, P = L^-1
        eye = torch.eye(d, dtype=tril.dtype, device=tril.device).expand(n_comp, d, d)
        prec = torch.linalg.solve_triangular(tril, eye, upper=False)  # (C, d, d)
        const = -torch.diagonal(tril, dim1=1, dim2=2).log().sum(dim=1) - 0.5 * d * _LOG_2PI
        pz = torch.einsum("cij,nj->nci", prec, z)  # (B k, C, d)
        pm = torch.einsum("cij,cj->ci", prec, self.latent.means)
        pm_r = torch.einsum("cij,ncj->nci", prec, means_r)
        log_q = torch.logsumexp(-0.5 * (pz - pm).square().sum(-1) + const
                                + self.latent.log_weights, dim=1)
        log_r = torch.logsumexp(-0.5 * (pz - pm_r).square().sum(-1) + const
                                + log_pi_r.repeat_interleave(k, 0), dim=1)
        log_lik = self.decoder.level_log_prob(outputs[2], codes.repeat_interleave(k, 0))
        return outputs, (log_q + log_lik - log_r).view(b, k)

    def sample(self, n, generator, *, latent="aggregate", refine_steps=2):
        """``(numerical (n, n_numerical) in (0, 1), codes (n, D))`` generated rows."""
        if latent == "aggregate":
            return self.decoder.sample(self.latent.sample(n, generator), generator)
        if latent != "prior":
            raise ValueError(f"latent must be 'aggregate' or 'prior'; got {latent!r}.")
        device = self.level_counts.device
        if not self.uses_mixture_prior:
            z = torch.randn(n, self.latent_dim, generator=generator, device=device)
            return self.decoder.sample(z, generator)
        logits = self.level_counts.clamp_min(1e-12).log().expand(n, -1)
        _, codes = self.decoder.draw.columns(logits, mode="draw", generator=generator)
        for _ in range(int(refine_steps) + 1):
            numerical, codes = self.decoder.sample(self.prior.sample(codes, generator),
                                                   generator)
        return numerical, codes
