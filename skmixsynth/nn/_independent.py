"""Independent marginals over the encoded layout: the floor every model must beat."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Marginals"]


class Marginals(nn.Module):
    """Histogram of each numerical scalar and level counts of each discrete span.

    Statistics are accumulated batch by batch (:meth:`update`), so any batch source works.
    Sampling draws every column independently: a histogram bin then a uniform point inside it
    for numericals, a level by the Gumbel-max trick for the discrete spans (one fused op for
    all spans).

    Parameters
    ----------
    layout : skmixsynth.Layout
    n_bins : int

    Examples
    --------
    >>> import torch
    >>> from skmixsynth import Layout, Span
    >>> from skmixsynth.nn import Marginals, seeded_generator
    >>> lay = Layout((Span("x", "numerical", 0, 1, "sigmoid"),
    ...               Span("c", "categorical", 1, 3, "softmax")))
    >>> m = Marginals(lay, n_bins=4)
    >>> m.update(torch.tensor([[0.1, 1.0, 0.0], [0.9, 1.0, 0.0]]))
    >>> numerical, codes = m.generate(3, seeded_generator(0, torch.device("cpu")))
    >>> numerical.shape, codes.tolist()  # level 0 of "c" is the only one seen
    (torch.Size([3, 1]), [[0], [0], [0]])
    """

    def __init__(self, layout, n_bins):
        super().__init__()
        self.n_numerical = layout.n_numerical
        self.width = layout.width
        self.n_bins = int(n_bins)
        index, mask = layout.discrete_index()
        self.register_buffer("index", torch.as_tensor(index))
        self.register_buffer("mask", torch.as_tensor(mask))
        self.register_buffer("num_counts", torch.zeros(self.n_numerical, self.n_bins))
        self.register_buffer("disc_counts", torch.zeros(index.shape))

    @torch.no_grad()
    def update(self, batch):
        """Add a batch of encoded rows to the statistics."""
        if self.n_numerical:
            u = batch[:, : self.n_numerical].clamp(0.0, 1.0)
            bins = (u * self.n_bins).long().clamp_(max=self.n_bins - 1)
            flat = bins + torch.arange(self.n_numerical, device=batch.device) * self.n_bins
            self.num_counts.view(-1).index_add_(
                0, flat.reshape(-1), torch.ones(flat.numel(), device=batch.device)
            )
        if self.index.numel():
            self.disc_counts += (batch[:, self.index] * self.mask).sum(dim=0)

    @torch.no_grad()
    def generate(self, n, generator):
        """Draw ``n`` rows as per-column views: ``(numerical, codes)``.

        ``numerical`` is ``(n, n_numerical)`` in (0, 1) (a histogram bin, then uniform within
        it); ``codes`` is ``(n, n_discrete)``, one level index per discrete span.
        """
        device = self.num_counts.device
        numerical = torch.empty(n, self.n_numerical, device=device)
        if self.n_numerical:
            probs = self.num_counts + 1e-12
            bins = torch.multinomial(probs, n, replacement=True, generator=generator)  # (M, n)
            jitter = torch.rand(bins.shape, generator=generator, device=device)
            numerical = ((bins + jitter) / self.n_bins).T
        codes = torch.zeros(n, self.index.shape[0], dtype=torch.long, device=device)
        if self.index.numel():
            logp = torch.log(self.disc_counts).masked_fill(~self.mask, float("-inf"))
            u = torch.rand((n, *logp.shape), generator=generator, device=device)
            gumbel = -torch.log(-torch.log(u.clamp_min(1e-20)))
            codes = (logp + gumbel).argmax(dim=-1)  # (n, D)
        return numerical, codes
