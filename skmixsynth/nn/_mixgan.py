"""The networks of mixGAN (Wang et al., "mixGAN", §3.2 and §4.2).

An autoencoder maps encoded rows to a tanh-bounded code space and back (§3.2.1); a generator
maps Gaussian noise into that code space and a discriminator judges rows in the data space
(§3.2.2-3.2.3): ``D(Dec(G(z)))``.

Pure torch: no pandas, no scikit-learn. Nothing here creates a tensor on a fixed device; every
tensor follows its input's device.
"""

from __future__ import annotations

import itertools

from torch import nn

from ._heads import MixedOutput

__all__ = ["MixGANDecoder", "MixGANDiscriminator", "MixGANEncoder", "MixGANGenerator"]


def _tanh_stack(sizes):
    layers = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [nn.Linear(n_in, n_out), nn.Tanh()]
    return nn.Sequential(*layers)


class MixGANEncoder(nn.Module):
    """Encoder: fully connected tanh layers from an encoded row to the code (§3.2.1, §4.2).

    With ``hidden_dims=(h,)`` it is the paper's two layers ``width -> h -> latent_dim``, both
    tanh-activated (§4.2: "all the layers are activated by tanh"), so the code lies in
    ``(-1, 1)^latent_dim`` -- the range the generator's tanh output covers.

    Parameters
    ----------
    width : int
        Width of an encoded row (``layout.width``).
    hidden_dims : tuple of int
    latent_dim : int

    Examples
    --------
    >>> import torch
    >>> from skmixsynth.nn import MixGANEncoder
    >>> MixGANEncoder(10, (16,), 4)(torch.zeros(3, 10)).shape
    torch.Size([3, 4])
    """

    def __init__(self, width, hidden_dims, latent_dim):
        super().__init__()
        self.body = _tanh_stack([width, *hidden_dims, latent_dim])

    def forward(self, x):
        return self.body(x)


class MixGANDecoder(nn.Module):
    """Decoder: tanh layers from the code, then the mixed-type output layer (§3.2.1, Fig. 1).

    The paper ends the decoder with ``N + 1`` parallel Dense layers (one for the numerical
    block, one per categorical column) whose outputs are concatenated. ``N + 1`` parallel
    linear maps of the same input, concatenated, are one linear map whose weight is their
    stacked weights, so a single ``Linear(hidden, layout.width)`` is the same model and runs
    as one matrix product instead of ``N + 1`` small ones. Its activations are
    :class:`~skmixsynth.nn.MixedOutput` (sigmoid on the numerical block, Gumbel-softmax per
    span), held as ``self.output``; :meth:`forward` returns the logits so that the
    reconstruction loss can take a log-softmax and the caller chooses the output mode.

    Parameters
    ----------
    latent_dim : int
    hidden_dims : tuple of int
    layout : skmixsynth.Layout
    tau : float, default=0.6
    hard : bool, default=False
        Passed to :class:`~skmixsynth.nn.MixedOutput`.

    Examples
    --------
    >>> import torch
    >>> from skmixsynth import Layout, Span
    >>> from skmixsynth.nn import MixGANDecoder
    >>> lay = Layout((Span("x", "numerical", 0, 1, "sigmoid"),
    ...               Span("c", "categorical", 1, 3, "softmax")))
    >>> dec = MixGANDecoder(4, (8, 8), lay)
    >>> logits = dec(torch.zeros(2, 4))
    >>> dec.output(logits, mode="argmax").shape
    torch.Size([2, 3])
    """

    def __init__(self, latent_dim, hidden_dims, layout, *, tau=0.6, hard=False):
        super().__init__()
        self.body = _tanh_stack([latent_dim, *hidden_dims])
        self.head = nn.Linear(hidden_dims[-1] if hidden_dims else latent_dim, layout.width)
        self.output = MixedOutput(layout, tau=tau, hard=hard)

    def forward(self, code):
        """Logits of every encoded feature, shape ``(B, layout.width)``."""
        return self.head(self.body(code))


class MixGANGenerator(nn.Module):
    """Generator: noise -> code, ``[256, 128, latent_dim]`` with batch norm (§4.2).

    Hidden layers are ``Linear -> BatchNorm1d -> tanh`` (§4.2: batch normalisation between the
    layers, tanh hidden activations as in [24]). The output layer is ``Linear -> tanh``: the
    paper does not name it; tanh makes the generated codes live in ``(-1, 1)``, the range of
    the tanh-ended encoder whose codes the decoder was pre-trained on.

    Parameters
    ----------
    noise_dim : int
    hidden_dims : tuple of int
    latent_dim : int

    Examples
    --------
    >>> import torch
    >>> from skmixsynth.nn import MixGANGenerator
    >>> g = MixGANGenerator(8, (16, 8), 4)
    >>> float(g(torch.randn(5, 8)).detach().abs().max()) < 1
    True
    """

    def __init__(self, noise_dim, hidden_dims, latent_dim):
        super().__init__()
        layers, n_in = [], noise_dim
        for n_out in hidden_dims:
            layers += [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.Tanh()]
            n_in = n_out
        layers += [nn.Linear(n_in, latent_dim), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z):
        return self.body(z)


class MixGANDiscriminator(nn.Module):
    """Discriminator on data-space rows: ``[128, 64, 1]`` with batch norm (§4.2).

    Hidden layers are ``Linear -> BatchNorm1d -> LeakyReLU(negative_slope)``; the last layer
    returns one logit per row (the sigmoid of eq. 3 is folded into a logits-based
    cross-entropy, which is numerically stable). The slope is not given in the paper; 0.2 is
    the usual value of the GAN literature it follows.

    Parameters
    ----------
    width : int
        Width of an encoded row.
    hidden_dims : tuple of int
    negative_slope : float, default=0.2

    Examples
    --------
    >>> import torch
    >>> from skmixsynth.nn import MixGANDiscriminator
    >>> MixGANDiscriminator(10, (16, 8))(torch.randn(5, 10)).shape
    torch.Size([5])
    """

    def __init__(self, width, hidden_dims, negative_slope=0.2):
        super().__init__()
        layers, n_in = [], width
        for n_out in hidden_dims:
            layers += [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out),
                       nn.LeakyReLU(negative_slope)]
            n_in = n_out
        layers.append(nn.Linear(n_in, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        """One logit per row, shape ``(B,)``."""
        return self.body(x).squeeze(-1)
