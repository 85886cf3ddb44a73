"""Output activations and the reconstruction loss over a layout, fused across spans.

Every op here works on the whole encoded width at once: the discrete block is gathered into one
padded ``(B, D, K)`` tensor (``D`` discrete spans, ``K`` the widest span; padded positions are
``-inf`` logits), normalised with one softmax over ``K``, and read back with one gather of the
real positions. No Python loop runs over the columns in a forward pass, so the cost per batch
does not grow with the number of columns beyond the size of the tensors.

Pure torch: no pandas, no scikit-learn.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

__all__ = ["MixedOutput", "gumbel_noise", "mixed_reconstruction_loss"]

#: modes of :class:`MixedOutput`
MODES = ("gumbel", "softmax", "argmax", "draw")

# torch.rand draws in [0, 1); clamping away from 0 keeps -log(-log(u)) finite.
_TINY = 1e-20


def gumbel_noise(shape, generator, *, device=None, dtype=torch.float32):
    """Standard Gumbel noise ``-log(-log(U))``, ``U ~ Uniform(0, 1)``, drawn from ``generator``.

    :func:`torch.nn.functional.gumbel_softmax` draws from the global RNG and takes no
    generator; library code must not touch global state, hence this helper.

    Parameters
    ----------
    shape : tuple of int
    generator : torch.Generator or None
        ``None`` draws from torch's global RNG (only for interactive use).
    device : torch.device, default=None
        Defaults to the generator's device.
    dtype : torch.dtype, default=torch.float32

    Returns
    -------
    noise : Tensor of ``shape``

    Examples
    --------
    >>> import torch
    >>> from skmixsynth.nn import gumbel_noise, seeded_generator
    >>> g = gumbel_noise((4, 3), seeded_generator(0, torch.device("cpu")))
    >>> g.shape, bool(torch.isfinite(g).all())
    (torch.Size([4, 3]), True)
    """
    if device is None:
        device = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand(shape, generator=generator, device=device, dtype=dtype)
    return u.clamp_min_(_TINY).log_().neg_().log_().neg_()  # -log(-log(u)), in place


@functools.lru_cache(maxsize=64)
def _index_tensors(layout, device):
    """Tensors that gather the discrete block into a padded ``(B, D, K)`` tensor.

    Returns ``index`` (D * K,), the flattened padded index into the *discrete block*
    ``encoded[:, layout.discrete_slice]`` (padded positions point at its column 0); ``bias``
    (D, K), 0 at real levels and ``-inf`` at padded positions; ``mask`` (D, K); and ``flat``,
    the row-major positions of the real levels in the flattened padded block. Read in that
    order they are exactly the columns of the discrete block, so the "scatter back" to the
    layout is one gather of these positions.
    """
    index, mask = layout.discrete_index(relative=True)
    index = torch.as_tensor(index, device=device)
    mask = torch.as_tensor(mask, device=device)
    bias = torch.zeros(mask.shape, device=device).masked_fill_(~mask, float("-inf"))
    flat = torch.nonzero(mask.reshape(-1), as_tuple=True)[0]
    return index.reshape(-1), bias, mask, flat


def _padded(block, index, bias):
    """``(B, D, K)`` logits of the discrete block with ``-inf`` at padded positions."""
    # index_select (backward: index_add) is about twice as fast as advanced indexing
    # (backward: index_put with accumulation) on a CPU.
    return block.index_select(1, index).view(block.shape[0], *bias.shape) + bias


class MixedOutput(nn.Module):
    """The output activation of a mixed-type head: sigmoid and (Gumbel-)softmax per span.

    The input is one logit per encoded feature, shape ``(B, layout.width)``. The numerical
    block gets a sigmoid (values in (0, 1), the encoder's scale). Each discrete span gets,
    depending on ``mode``:

    - ``"gumbel"``: a Gumbel-softmax sample ``softmax((a + g) / tau)`` with
      ``g = -log(-log(U))`` drawn from the passed generator (mixGAN §3.2.1, eq. 1). With
      ``hard=True`` the forward value is the one-hot argmax and the gradient is that of the
      soft sample (straight-through estimator).
    - ``"softmax"``: the noise-free ``softmax(a / tau)``.
    - ``"argmax"``: the hard one-hot of ``argmax(a)`` (the mode of each span).
    - ``"draw"``: a hard one-hot drawn from ``Categorical(softmax(a))`` (by inverse CDF, the
      distribution of the Gumbel-max ``argmax(a + g)``). This is what
      :class:`~skmixsynth.MixGANSynthesizer` samples with: the argmax of a Gumbel-softmax
      sample is such a draw for every ``tau``, so these are the levels the discriminator saw
      during training, while ``"argmax"`` always takes the most likely level and so
      under-represents minority levels wherever the decoder is unsure.

    Parameters
    ----------
    layout : skmixsynth.Layout
    tau : float, default=0.6
        Gumbel-softmax temperature (mixGAN §4.2). It is a plain attribute, so a training loop
        may anneal it.
    hard : bool, default=False
        Straight-through hard samples in mode ``"gumbel"``.

    Examples
    --------
    >>> import torch
    >>> from skmixsynth import Layout, Span
    >>> from skmixsynth.nn import MixedOutput, seeded_generator
    >>> lay = Layout((Span("x", "numerical", 0, 1, "sigmoid"),
    ...               Span("c", "categorical", 1, 3, "softmax"),
    ...               Span("d", "categorical", 3, 6, "softmax")))
    >>> out = MixedOutput(lay, tau=0.6)
    >>> logits = torch.tensor([[0.0, 2.0, -2.0, 0.0, 5.0, 0.0]])
    >>> out(logits, mode="argmax").tolist()
    [[0.5, 1.0, 0.0, 0.0, 1.0, 0.0]]
    >>> y = out(logits, mode="gumbel", generator=seeded_generator(0, torch.device("cpu")))
    >>> [round(float(y[0, s.slice].sum()), 4) for s in lay.discrete_spans]
    [1.0, 1.0]
    """

    def __init__(self, layout, *, tau=0.6, hard=False):
        super().__init__()
        if not tau > 0:
            raise ValueError(f"tau must be positive; got {tau=}.")
        self.n_numerical = layout.n_numerical
        self.width = layout.width
        self.tau = float(tau)
        self.hard = bool(hard)
        index, bias, _, flat = _index_tensors(layout, torch.device("cpu"))
        # Buffers follow the module to its device; not persistent: they derive from the
        # layout, which is saved with the encoder.
        self.register_buffer("index", index.clone(), persistent=False)
        self.register_buffer("bias", bias.clone(), persistent=False)
        self.register_buffer("flat", flat.clone(), persistent=False)
        # For codes: the spans grouped by width class (Layout.discrete_groups), each group
        # padded only to its own class, so that a 42-level column does not pad the 2-level ones.
        groups = layout.discrete_groups()
        self.n_buckets = len(groups)
        order = []
        for b, (k, members) in enumerate(groups):
            b_index, b_mask = layout.discrete_index(members, width=k, relative=True)
            b_bias = torch.zeros(b_mask.shape).masked_fill_(~torch.as_tensor(b_mask),
                                                            float("-inf"))
            self.register_buffer(f"bucket_index_{b}", torch.as_tensor(b_index).reshape(-1),
                                 persistent=False)
            self.register_buffer(f"bucket_bias_{b}", b_bias, persistent=False)
            order += members
        self.register_buffer("bucket_order", torch.as_tensor(order, dtype=torch.long).argsort(),
                             persistent=False)

    def _buckets(self, block):
        """The discrete block as one ``(B, D_b, K_b)`` tensor per width group, ``-inf`` padded;
        concatenating per-group results along dim 1 and selecting ``bucket_order`` gives the
        layout's span order."""
        for b in range(self.n_buckets):
            bias = getattr(self, f"bucket_bias_{b}")
            scores = block.index_select(1, getattr(self, f"bucket_index_{b}"))
            yield scores.view(block.shape[0], *bias.shape) + bias

    def _span_argmax(self, block):
        """``(B, D)``: the index of the largest entry of each span of the discrete block."""
        codes = [scores.argmax(dim=-1) for scores in self._buckets(block)]
        return torch.cat(codes, dim=1).index_select(1, self.bucket_order)

    @property
    def n_discrete(self):
        """Number of discrete spans."""
        return self.bias.shape[0]

    def padded_logits(self, logits):
        """The discrete logits as a ``(B, D, K)`` tensor, ``-inf`` at padded positions."""
        return _padded(logits[:, self.n_numerical:], self.index, self.bias)

    def forward(self, logits, *, mode="gumbel", generator=None):
        """Apply the activations.

        Parameters
        ----------
        logits : Tensor of shape (B, layout.width)
        mode : {"gumbel", "softmax", "argmax", "draw"}, default="gumbel"
            See the class docstring.
        generator : torch.Generator, default=None
            Source of the noise of modes ``"gumbel"`` and ``"draw"``, on the logits' device.

        Returns
        -------
        out : Tensor of shape (B, layout.width)
            Numerical block in (0, 1); each discrete span sums to 1 (exactly one-hot in modes
            ``"argmax"`` and ``"draw"``, and in mode ``"gumbel"`` when ``hard``).
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}; got {mode!r}.")
        if mode in ("argmax", "draw"):
            num, codes = self.columns(logits, mode=mode, generator=generator)
            if self.n_discrete == 0:
                return num
            one_hot = torch.zeros(codes.shape[0], *self.bias.shape, dtype=num.dtype,
                                  device=num.device).scatter_(-1, codes.unsqueeze(-1), 1.0)
            disc = one_hot.reshape(one_hot.shape[0], -1).index_select(1, self.flat)
            return torch.cat([num, disc], dim=1)
        m = self.n_numerical
        num = torch.sigmoid(logits[:, :m])
        if self.n_discrete == 0:
            return num
        block = logits[:, m:]
        if mode == "gumbel":
            block = block + gumbel_noise(block.shape, generator, device=block.device,
                                         dtype=block.dtype)
        padded = _padded(block, self.index, self.bias)  # (B, D, K)
        probs = torch.softmax(padded / self.tau, dim=-1)
        if mode == "gumbel" and self.hard:
            one_hot = torch.zeros_like(probs).scatter_(-1, probs.argmax(-1, keepdim=True), 1.0)
            probs = one_hot - probs.detach() + probs
        disc = probs.reshape(probs.shape[0], -1).index_select(1, self.flat)
        return torch.cat([num, disc], dim=1)

    def columns(self, logits, *, mode="draw", generator=None):
        """Per-column outputs: the numerical block and one level index per discrete span.

        The sampling path: no one-hot matrix is built, and the codes feed
        :meth:`skmixsynth.MixedTypeEncoder.inverse_transform_columns` directly.

        Parameters
        ----------
        logits : Tensor of shape (B, layout.width)
        mode : {"draw", "argmax"}, default="draw"
            ``"draw"``: a level drawn from ``softmax(a)`` per span (by inverse CDF; the
            distribution of the argmax of a Gumbel-softmax sample, for any ``tau``);
            ``"argmax"``: the most likely level.
        generator : torch.Generator, default=None
            Source of the noise of mode ``"draw"``.

        Returns
        -------
        numerical : Tensor of shape (B, layout.n_numerical), in (0, 1)
        codes : Tensor of shape (B, n_discrete), int64

        Examples
        --------
        >>> import torch
        >>> from skmixsynth import Layout, Span
        >>> from skmixsynth.nn import MixedOutput
        >>> lay = Layout((Span("x", "numerical", 0, 1, "sigmoid"),
        ...               Span("c", "categorical", 1, 4, "softmax")))
        >>> num, codes = MixedOutput(lay).columns(torch.tensor([[0.0, 1.0, 3.0, 2.0]]),
        ...                                       mode="argmax")
        >>> num.tolist(), codes.tolist()
        ([[0.5]], [[1]])
        """
        if mode not in ("argmax", "draw"):
            raise ValueError(f"mode must be 'argmax' or 'draw'; got {mode!r}.")
        m = self.n_numerical
        num = torch.sigmoid(logits[:, :m])
        block = logits[:, m:]
        if self.n_discrete == 0:
            return num, torch.zeros(logits.shape[0], 0, dtype=torch.long, device=logits.device)
        if mode == "draw":
            return num, self._span_draw(block, generator)
        return num, self._span_argmax(block)

    #: a span whose probabilities, scaled by the row's largest one, sum to less than this is
    #: drawn again by Gumbel-max (its scaled probabilities may have lost precision)
    _DRAW_UNDERFLOW = 1e-25

    def _span_draw(self, block, generator):
        """``(B, D)``: one level per span drawn from ``softmax`` of its logits.

        Inverse CDF per width group: ``exp`` of the logits shifted by the row's maximum, a
        running sum over each span, one uniform per span scaled by the span's total, and the
        number of levels whose running sum lies below it. One ``exp`` per level and one
        uniform per span, where Gumbel-max costs a uniform, two logarithms and an argmax per
        level (0.6 against 1.1 microseconds per row on adult's schema, one core). The running
        sum is sequential, so it never decreases: padded positions (probability 0) and the
        last level carry the total and are never counted, and the level index is in range.
        Rows where a span lies so far below the row's maximum that its scaled total
        underflows are drawn again exactly by Gumbel-max.
        """
        n = block.shape[0]
        shifted = block - block.amax(dim=1, keepdim=True)
        codes, totals = [], []
        for scores in self._buckets(shifted):
            cum = scores.exp_().cumsum_(dim=-1)
            total = cum[..., -1:]
            u = torch.rand((n, cum.shape[1], 1), generator=generator, device=block.device,
                           dtype=cum.dtype)
            codes.append((cum < u.mul_(total)).sum(dim=-1))
            totals.append(total)
        codes = torch.cat(codes, dim=1).index_select(1, self.bucket_order)
        weak = torch.cat(totals, dim=1).amin(dim=(1, 2)) < self._DRAW_UNDERFLOW
        if bool(weak.any()):
            rows = weak.nonzero().squeeze(1)
            sub = block.index_select(0, rows)
            sub = sub + gumbel_noise(sub.shape, generator, device=sub.device, dtype=sub.dtype)
            codes[rows] = self._span_argmax(sub)
        return codes

    def extra_repr(self):
        return (f"n_numerical={self.n_numerical}, n_discrete={self.n_discrete}, "
                f"tau={self.tau}, hard={self.hard}")


def mixed_reconstruction_loss(logits, target, layout):
    """Reconstruction loss of mixGAN's autoencoder (§3.2.1, eq. 2), fused over the spans.

    ``loss = mean over rows of [ sum over numerical columns of (sigmoid(a_m) - x_m)^2
    + sum over discrete spans of cross-entropy(softmax(a_j), y_j) ]``.

    Each column is one term, whatever its type: summing over columns (rather than averaging
    the numerical block and the discrete block separately) is eq. 2 as written, and with the
    numericals scaled to (0, 1) (§3.2.1, §4.1) it is the balance the paper intends -- a
    numerical column weighs as much as a categorical one, and neither block dominates because
    of the number of columns it has. The cross-entropy is taken on the noise-free softmax of
    the logits (log-softmax over the padded ``(B, D, K)`` tensor): Gumbel noise in a
    reconstruction target would only add variance. A discrete block whose target is all zeros
    (an unknown category encoded with ``handle_unknown="ignore"``) contributes nothing.

    Parameters
    ----------
    logits : Tensor of shape (B, layout.width)
        Pre-activation outputs of a decoder.
    target : Tensor of shape (B, layout.width)
        Encoded rows.
    layout : skmixsynth.Layout

    Returns
    -------
    loss : Tensor, scalar
        ``numerical + categorical``.
    parts : dict
        ``{"numerical": ..., "categorical": ...}``, the two sums (scalar tensors, attached to
        the graph; detach them for logging).

    Examples
    --------
    >>> import torch
    >>> from skmixsynth import Layout, Span
    >>> from skmixsynth.nn import mixed_reconstruction_loss
    >>> lay = Layout((Span("x", "numerical", 0, 1, "sigmoid"),
    ...               Span("c", "categorical", 1, 3, "softmax")))
    >>> target = torch.tensor([[0.5, 1.0, 0.0]])
    >>> loss, parts = mixed_reconstruction_loss(torch.tensor([[0.0, 20.0, -20.0]]), target, lay)
    >>> round(float(loss), 6), sorted(parts)
    (0.0, ['categorical', 'numerical'])
    """
    m = layout.n_numerical
    zero = logits.new_zeros(())
    if m:
        numerical = (torch.sigmoid(logits[:, :m]) - target[:, :m]).square().sum(dim=1).mean()
    else:
        numerical = zero
    index, bias, _, flat = _index_tensors(layout, logits.device)
    if flat.numel():
        logp = torch.log_softmax(_padded(logits[:, m:], index, bias), dim=-1)
        # Back to the layout's discrete columns: padded positions drop out here, so their
        # -inf never meets a zero target.
        logp = logp.reshape(logp.shape[0], -1).index_select(1, flat)
        categorical = -(target[:, m:] * logp).sum(dim=1).mean()
    else:
        categorical = zero
    return numerical + categorical, {"numerical": numerical, "categorical": categorical}

