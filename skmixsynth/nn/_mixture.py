"""A hierarchical mixture (a small probabilistic circuit) over the per-column views.

Pure torch: no pandas, no scikit-learn. The model reads the encoder's
:class:`~skmixsynth.Layout` and works on its per-column views (one scalar in [0, 1] per
numerical column, one level index per discrete span).

Variables and leaves
    The model has one *variable* per numerical scalar and one per discrete span (categorical
    columns, and the state spans of numerical columns: ``present``, ``missing``, point
    masses). Every variable has a categorical leaf per sub-component: a discrete span over its
    levels, a numerical scalar over ``n_bins`` equal-width bins of its (0, 1) scale with a
    uniform density inside a bin (the quantile encoding makes the bins of equal mass under
    the marginal, so the bins are fine where the data are dense). The density of a scalar
    ``u`` in bin ``b`` is ``n_bins * p(b)``: exact, no approximation besides the histogram
    itself. A numerical scalar counts only when its column's state is ``present``: the rows of
    a missing value or a point mass marginalise it (its leaf integrates to one).

Structure (two sum layers)
    ``p(x) = sum_k w_k prod_g sum_j v_kgj prod_{c in group g} leaf_kjc(x_c)``: ``K1 =
    n_components`` top components; the columns are cut into ``n_groups`` groups (a random
    partition, fixed at build), and in each top component each group is a mixture of
    ``K2 = n_subcomponents`` products of leaves. With ``n_groups=1`` and
    ``n_subcomponents=1`` it is a plain latent-class model. The leaves of all variables and
    sub-components are one tensor ``(V, L, K1 * K2)``; a batch's group log-likelihoods are
    one ``embedding_bag`` over it (a gather and a sum without the ``(n, V, K)`` tensor), the
    sums over components ``logsumexp``: no Python loop over columns or components.

Evidence
    Every variable of a row is either a level (observed), free (marginalised: its leaf counts
    as one), or "not missing" (the sum of its leaf over its non-missing levels: what
    imputation conditions a missing cell on). The log-likelihood, the posterior over
    components and the conditional samples are exact for any such evidence.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["FREE", "MAX_POINTS", "NOT_MISSING", "HierarchicalMixture", "TreeMixture"]

#: code of a free (marginalised) discrete variable in the inputs
FREE = -1
#: code of a discrete variable known only not to be missing (imputation of a missing cell)
NOT_MISSING = -2
#: a numerical scalar with at most this many distinct values is discrete-valued
MAX_POINTS = 512


class HierarchicalMixture(nn.Module):
    """Two-level mixture of products of categorical / binned leaves over a layout.

    Parameters
    ----------
    layout : skmixsynth.Layout
        The encoder's layout: variables are its numerical scalars, then its discrete spans.
    n_components : int
        Top components ``K1``.
    n_subcomponents : int
        Sub-components ``K2`` of every group of every top component.
    n_groups : int
        Groups of columns in each top component (capped by the number of columns).
    n_bins : int
        Bins of each numerical scalar's (0, 1) scale.
    missing_levels : sequence of int, default=None
        For each discrete span, the level that stands for a missing value (``-1`` for none):
        what "not missing" evidence leaves out. ``None``: no span has one.
    weight_floor : float in [0, 1), default=0.0
        Every set of component weights is ``(1 - weight_floor) * softmax(logits) +
        weight_floor / size``: no component's weight falls below ``weight_floor / size``.
    numerical_leaves : {"bins", "gaussian"}, default="bins"
        ``"gaussian"``: every numerical scalar ``u`` in (0, 1) has, per sub-component, a
        Gaussian leaf on its probit scale ``y = Phi^{-1}(u)``: the density of ``u`` is
        ``N(y; loc, scale) / phi(y)``; ``scale >= 0.01``. Its bins are then not used.

    Attributes
    ----------
    leaf_logits : Parameter of shape (V, L, K1 * K2)
        Unnormalised log-probabilities of the leaves (padded levels masked).
    sub_logits : Parameter of shape (K1, G, K2)
    top_logits : Parameter of shape (K1,)
    group_of : buffer of shape (V,)
        Group of each variable (its column's group).

    Examples
    --------
    >>> import torch
    >>> from skmixsynth import Layout, Span
    >>> from skmixsynth.nn import seeded_generator
    >>> from skmixsynth.nn._mixture import HierarchicalMixture
    >>> lay = Layout((Span("x", "numerical", 0, 1, "sigmoid"),
    ...               Span("c", "categorical", 1, 3, "softmax")))
    >>> torch.manual_seed(0) is not None
    True
    >>> model = HierarchicalMixture(lay, n_components=2, n_subcomponents=2, n_groups=2,
    ...                             n_bins=4)
    >>> num, codes = torch.tensor([[0.3], [0.9]]), torch.tensor([[0], [1]])
    >>> model.log_prob(num, codes).shape
    torch.Size([2])
    >>> num, codes = model.generate(3, seeded_generator(0, torch.device("cpu")))
    >>> num.shape, codes.shape
    (torch.Size([3, 1]), torch.Size([3, 1]))
    """

    #: least scale of a Gaussian leaf (probit scale)
    SCALE_MIN = 0.01

    def __init__(self, layout, *, n_components, n_subcomponents, n_groups, n_bins,
                 missing_levels=None, weight_floor=0.0, numerical_leaves="bins"):
        super().__init__()
        if numerical_leaves not in ("bins", "gaussian"):
            raise ValueError(f"numerical_leaves must be 'bins' or 'gaussian'; got "
                             f"{numerical_leaves!r}.")
        self.n_numerical = layout.n_numerical
        cards = list(layout.cardinalities)
        self.n_discrete = len(cards)
        self.n_bins = int(n_bins)
        self.n_variables = self.n_numerical + self.n_discrete
        sizes = [self.n_bins] * self.n_numerical + cards
        self.n_levels = max(sizes, default=1)
        self.k1, self.k2 = int(n_components), int(n_subcomponents)
        self.weight_floor = float(weight_floor)
        # columns (not variables) are grouped: a numerical scalar and its state span together
        names = [s.column for s in layout.numerical_spans] + [s.column
                                                               for s in layout.discrete_spans]
        columns = list(dict.fromkeys(names))
        column_of = torch.tensor([columns.index(c) for c in names], dtype=torch.long)
        self.n_groups = max(1, min(int(n_groups), len(columns)))
        V, L, G = self.n_variables, self.n_levels, self.n_groups
        K = self.k1 * self.k2

        mask = torch.zeros(V, L, dtype=torch.bool)
        for v, size in enumerate(sizes):
            mask[v, :size] = True
        self.register_buffer("mask", mask)
        missing = torch.zeros(V, L, dtype=torch.bool)
        for j, level in enumerate(missing_levels or ()):
            if level is not None and level >= 0:
                missing[self.n_numerical + j, int(level)] = True
        self.register_buffer("missing", missing)
        # the state span of each numerical scalar (index among discrete spans, or -1)
        state_of = torch.full((self.n_numerical,), -1, dtype=torch.long)
        for i, s in enumerate(layout.numerical_spans):
            for j, d in enumerate(layout.discrete_spans):
                if d.column == s.column:
                    state_of[i] = j
        self.register_buffer("state_of", state_of)

        # A random partition of the columns into groups (torch's global generator: the
        # template builds modules inside a seeded fork of it). Variables are gathered group
        # by group, so that one ``embedding_bag`` sums each group's leaves.
        group_of_column = (torch.randperm(len(columns)) % G if columns
                           else torch.zeros(0, dtype=torch.long))
        group_of = group_of_column[column_of]  # (V,)
        self.register_buffer("group_of", group_of)
        order = torch.argsort(group_of, stable=True)
        self.register_buffer("order", order)
        self.register_buffer("group_sizes", torch.bincount(group_of, minlength=G))

        # Leaves start near uniform with a little noise so that components differ; the
        # data-driven start is ``init_from_data``.
        self.leaf_logits = nn.Parameter(0.5 * torch.randn(V, L, K))
        self.sub_logits = nn.Parameter(torch.zeros(self.k1, G, self.k2))
        self.top_logits = nn.Parameter(torch.zeros(self.k1))
        # Gaussian leaves of the numerical scalars (probit scale): a location and a raw scale
        # per scalar and sub-component; their bin leaves are then unused (kept free)
        self.gaussian = numerical_leaves == "gaussian" and self.n_numerical > 0
        if self.gaussian:
            self.num_loc = nn.Parameter(torch.zeros(self.n_numerical, K))
            self.num_scale = nn.Parameter(torch.full((self.n_numerical, K),
                                                     _softplus_inverse(0.3 - self.SCALE_MIN)))
        # set when early stopping picked an epoch (documentation of the fit; 0 = none)
        self.register_buffer("best_epoch", torch.zeros((), dtype=torch.long))
        # Discrete-valued scalars (``set_points``): the values a column takes on its scale,
        # grouped into at most ``n_bins`` cells. ``n_points[m] == 0``: equal-width bins.
        P = MAX_POINTS
        self.register_buffer("n_points", torch.zeros(self.n_numerical, dtype=torch.long))
        self.register_buffer("points", torch.zeros(self.n_numerical, P))
        self.register_buffer("mids", torch.full((self.n_numerical, P - 1), float("inf")))
        self.register_buffer("cell_of_point", torch.zeros(self.n_numerical, P,
                                                          dtype=torch.long))
        self.register_buffer("log_point_weight", torch.zeros(self.n_numerical, P))
        self.register_buffer("cum_weight", torch.ones(self.n_numerical, P))
        self.register_buffer("cell_bounds", torch.zeros(self.n_numerical, L, 2))
        self.register_buffer("cell_value", torch.zeros(self.n_numerical, L))
        self.cell_value.copy_(((torch.arange(L) + 0.5) / self.n_bins).expand(
            self.n_numerical, L))

    # ------------------------------------------------------------ parameters
    def log_leaves(self):
        """Normalised leaf log-probabilities ``(V, L, K)`` (``-inf`` at padded levels)."""
        masked = self.leaf_logits.masked_fill(~self.mask[:, :, None], float("-inf"))
        return torch.log_softmax(masked, dim=1)

    def numerical_scale(self):
        """The Gaussian leaves' scales ``(M, K)`` (probit scale), at least ``SCALE_MIN``."""
        return self.SCALE_MIN + nn.functional.softplus(self.num_scale)

    def _gaussian_terms(self, idx, numerical, bounds=None):
        """``(n, M, K)``: each observed scalar's Gaussian log-density on its probit scale
        (zero where it is free or its column is not ``present``), or ``None``. Without
        ``bounds`` it is a transposed view of an ``(M, n, K)`` tensor (what the tree adds to
        its column-major node terms without a copy).

        ``bounds``: ``(lo, hi)``, each ``(n, M)`` on the (0, 1) scale, NaN where a scalar has
        no range: a scalar known only to lie in ``[lo, hi]`` (its column ``present``)
        counts by its leaf's probability of that range, ``Phi(b) - Phi(a)`` on the standard
        scale of each Gaussian.
        """
        if not self.gaussian or (numerical is None and bounds is None):
            return None
        scale = self.numerical_scale()
        observed = idx[:, :self.n_numerical] < self.n_levels
        if numerical is None:
            terms = scale.new_zeros(scale.shape[0], idx.shape[0], scale.shape[1])
        else:
            # computed column-major, (M, n, K), in three passes: z = y / s - loc / s and
            # -z^2 / 2 - log s - log(2 pi) / 2 as two fused multiply-adds, then the mask
            inv = scale.reciprocal()
            z = torch.addcmul((-self.num_loc * inv)[:, None, :],
                              _probit(numerical).T[:, :, None], inv[:, None, :])
            terms = torch.addcmul((-torch.log(scale) - _HALF_LOG_2PI)[:, None, :], z, z,
                                  value=-0.5)
            terms = torch.where(observed.T[:, :, None], terms, 0.0)
        terms = terms.transpose(0, 1)
        if bounds is not None:
            za, zb = self._standard_bounds(bounds)
            terms = torch.where(torch.isnan(bounds[0])[:, :, None], terms,
                                _log_ndtr_difference(zb, za))
        return terms

    def _standard_bounds(self, bounds):
        """The ranges ``bounds`` on the standard scale of every Gaussian leaf: ``(za, zb)``,
        each ``(n, M, K)`` (infinite at the ends of the (0, 1) scale)."""
        scale = self.numerical_scale()[None]
        out = []
        for u, end in zip(bounds, (-math.inf, math.inf), strict=True):
            u = torch.nan_to_num(u.to(torch.float32), nan=0.5)
            y = torch.where((u <= _EPS) | (u >= 1.0 - _EPS), end, _probit(u))
            out.append((y[:, :, None] - self.num_loc[None]) / scale)
        return out

    def log_weights(self):
        """Log weights of the sub-components ``(K1, G, K2)`` and top components ``(K1,)``."""
        return _floored(self.sub_logits, self.weight_floor), _floored(self.top_logits,
                                                                      self.weight_floor)

    @torch.no_grad()
    def set_log_parameters(self, log_leaves, log_sub, log_top):
        """Set the parameters from normalised log-probabilities (what EM computes)."""
        self.leaf_logits.copy_(log_leaves.masked_fill(~self.mask[:, :, None], 0.0))
        self.sub_logits.copy_(log_sub)
        self.top_logits.copy_(log_top)

    @torch.no_grad()
    def init_from_data(self, numerical, codes, generator, *, smoothing=1.0):
        """Start every sub-component from a few random rows (a k-means++-free seeding).

        Each sub-component's leaves are the variable's marginal, moved towards one row drawn
        from the batch (weight ``1 / (1 + smoothing)`` on the row), so components start
        apart and on the data; Gaussian leaves start at half the row's probit value, with
        scale 0.3.
        """
        idx = self.evidence(numerical, codes)
        n, V, L, K = idx.shape[0], self.n_variables, self.n_levels, self.k1 * self.k2
        if n == 0 or V == 0:
            return
        onehot = torch.zeros(n, V, L + 2, device=idx.device)
        onehot.scatter_(2, idx[:, :, None], 1.0)
        counts = onehot[:, :, :L].sum(0) + self.mask.float() * 1e-3  # (V, L)
        marginal = counts / counts.sum(1, keepdim=True)
        pick = torch.randint(n, (K,), generator=generator, device=idx.device)
        rows = onehot[pick, :, :L].permute(1, 2, 0)  # (V, L, K)
        observed = rows.sum(1, keepdim=True) > 0
        probs = torch.where(observed, (rows + smoothing * marginal[:, :, None]) / (1 + smoothing),
                            marginal[:, :, None].expand_as(rows))
        self.leaf_logits.copy_(torch.log(probs.clamp_min(1e-12)))
        if self.gaussian:  # the same rows, half-way to the scale's centre, scale 0.3
            self.num_loc.copy_(0.5 * _probit(numerical[pick]).T)
            self.num_scale.fill_(_softplus_inverse(0.3 - self.SCALE_MIN))

    @torch.no_grad()
    def set_points(self, numerical, codes, *, min_count=1):
        """Make the scalars that take few distinct values discrete-valued.

        A numerical scalar whose present training values take at most ``MAX_POINTS``
        distinct values on the (0, 1) scale (integer columns: ages, hours, counts) gets
        those values as its points: values seen fewer than ``min_count`` times are dropped
        (their rows count at the nearest kept value), the points are cut into at most
        ``n_bins`` cells of about equal mass, the leaf is over cells, and inside a cell a
        point is drawn with its training frequency. The likelihood of such a scalar is a
        probability (``p(cell) * p(point | cell)``), not a density, and samples hold exactly
        the points (equal-width bins with a uniform density would spread an integer's mass
        over its neighbours).
        """
        B = self.n_bins
        idx_state = None
        if self.n_discrete:
            idx_state = codes[:, self.state_of.clamp_min(0)]
        for m in range(self.n_numerical):  # set-up only, once per fit
            present = ~torch.isnan(numerical[:, m])
            if idx_state is not None and self.state_of[m] >= 0:
                present &= idx_state[:, m] == 0
            values, counts = torch.unique(numerical[present, m].float(), return_counts=True)
            if values.numel() == 0 or values.numel() > MAX_POINTS:
                continue
            keep = counts >= min_count
            if counts[keep].sum() < 0.5 * counts.sum():
                continue  # mostly values held by fewer than min_count rows: binned instead
            values, counts = values[keep], counts[keep].double()
            P = values.numel()
            before = torch.cumsum(counts, 0) - counts
            cell = torch.floor(before / counts.sum() * B).long().clamp(max=B - 1)
            cell = torch.unique(cell, return_inverse=True)[1]  # consecutive cells
            n_cells = int(cell.max()) + 1
            cell_total = torch.zeros(n_cells, dtype=torch.float64).index_add_(0, cell, counts)
            self.n_points[m] = P
            self.points[m].zero_()
            self.points[m, :P] = values
            self.mids[m].fill_(float("inf"))
            self.mids[m, :P - 1] = (values[1:] + values[:-1]) / 2
            self.cell_of_point[m].zero_()
            self.cell_of_point[m, :P] = cell
            self.log_point_weight[m].zero_()
            self.log_point_weight[m, :P] = torch.log(counts / cell_total[cell]).float()
            cum = torch.cumsum(counts, 0) / counts.sum()
            self.cum_weight[m].fill_(1.0)
            self.cum_weight[m, :P] = cum.float()
            hi = torch.zeros(n_cells, dtype=torch.float64).scatter_reduce_(
                0, cell, cum, reduce="amax", include_self=False)
            lo = torch.cat([hi.new_zeros(1), hi[:-1]])
            self.cell_bounds[m].zero_()
            self.cell_bounds[m, :n_cells, 0] = lo.float()
            self.cell_bounds[m, :n_cells, 1] = hi.float()
            # the mode of a cell: its most frequent point
            best = torch.full((n_cells,), -1.0, dtype=torch.float64)
            best = best.scatter_reduce(0, cell, counts, reduce="amax")
            first = torch.full((n_cells,), P, dtype=torch.long)
            is_best = counts == best[cell]
            first = first.scatter_reduce(0, cell[is_best], torch.arange(P)[is_best],
                                         reduce="amin")
            self.cell_value[m].zero_()
            self.cell_value[m, :n_cells] = values[first]
            self.mask[m].zero_()
            self.mask[m, :n_cells] = True

    def _point_index(self, u):
        """Nearest point of each discrete-valued scalar: ``(n, M)`` (0 for the others)."""
        idx = torch.searchsorted(self.mids, u.T.contiguous().clamp(0.0, 1.0))
        return idx.T.clamp_(max=self.points.shape[1] - 1)

    # ------------------------------------------------------------ evidence
    def evidence(self, numerical, codes):
        """Index of each variable's leaf entry: ``(n, V)`` int64 in ``[0, L + 2)``.

        ``numerical``: ``(n, M)`` in [0, 1], NaN where free; ``codes``: ``(n, D)``, a level,
        ``FREE`` (-1) or ``NOT_MISSING`` (-2). A numerical scalar counts only when its state
        span (if any) is ``present`` (level 0) or free; a given scalar with a free state
        implies ``present``.
        """
        L = self.n_levels
        n = numerical.shape[0] if self.n_numerical else codes.shape[0]
        parts = []
        if self.n_discrete:
            disc = codes.to(torch.long)
            if self.n_numerical:
                given = ~torch.isnan(numerical)
                has = self.state_of >= 0
                st = disc[:, self.state_of.clamp_min(0)]
                fill = given & has[None, :] & (st < 0)
                if fill.any():
                    disc = disc.clone()
                    rows, cols = fill.nonzero(as_tuple=True)
                    disc[rows, self.state_of[cols]] = 0
            disc = torch.where(disc == NOT_MISSING, L + 1, torch.where(disc < 0, L, disc))
        if self.n_numerical:
            u = numerical.to(torch.float32)
            free = torch.isnan(u)
            if self.n_discrete:
                st = disc[:, self.state_of.clamp_min(0)]
                off = (self.state_of >= 0)[None, :] & (st != 0) & (st != L)
                free = free | off
            u = torch.nan_to_num(u, nan=0.0).clamp(0.0, 1.0)
            bins = (u * self.n_bins).long().clamp_(max=self.n_bins - 1)
            discrete = self.n_points > 0
            if discrete.any():
                cells = self.cell_of_point.gather(1, self._point_index(u).T).T
                bins = torch.where(discrete[None, :], cells, bins)
            parts.append(torch.where(free, L, bins))
        if self.n_discrete:
            parts.append(disc)
        if not parts:
            return torch.zeros(n, 0, dtype=torch.long)
        return torch.cat(parts, dim=1)

    def leaf_table(self, log_leaves):
        """``(V * (L + 2), K)``: the leaves, a column of zeros (free) and the log-probability
        of "not missing" (zero for a variable without a missing level)."""
        V, L, K = log_leaves.shape
        not_missing = torch.logsumexp(
            log_leaves.masked_fill(self.missing[:, :, None], float("-inf")), dim=1)
        table = torch.cat([log_leaves, log_leaves.new_zeros(V, 1, K), not_missing[:, None]], 1)
        return table.reshape(V * (L + 2), K)

    def _leaf_rows(self, idx, log_leaves, numerical=None, bounds=None):
        """What the leaf sums are gathered from: the leaf table, each variable's row in it
        ``(n, V)`` (with Gaussian leaves a scalar's bin row is the free one), and the
        Gaussian terms (:meth:`_gaussian_terms`, or ``None``)."""
        L, M, V = self.n_levels, self.n_numerical, idx.shape[1]
        gauss = self._gaussian_terms(idx, numerical, bounds)
        if self.gaussian:  # the scalars' bin leaves are not used: free in the table
            idx = torch.cat([torch.full_like(idx[:, :M], L), idx[:, M:]], 1)
        flat = idx + torch.arange(V, device=idx.device) * (L + 2)
        return self.leaf_table(log_leaves), flat, gauss

    def _group_terms(self, idx, log_leaves, log_sub, numerical=None, bounds=None):
        """Per-(row, top, group, sub) log-likelihoods, including the sub-component weights:
        each group's leaves summed by one ``embedding_bag`` over the leaf table (and, with
        Gaussian leaves, the scalars' densities added to their groups by one ``index_add``;
        ``numerical`` is then needed where a scalar is observed)."""
        n, V = idx.shape
        G, M = self.n_groups, self.n_numerical
        table, flat, gauss = self._leaf_rows(idx, log_leaves, numerical, bounds)
        flat = flat[:, self.order]
        starts = torch.cumsum(self.group_sizes, 0) - self.group_sizes
        offsets = (torch.arange(n, device=idx.device)[:, None] * V + starts[None]).reshape(-1)
        groups = nn.functional.embedding_bag(flat.reshape(-1), table, offsets, mode="sum")
        groups = groups.view(n, G, self.k1 * self.k2)
        if gauss is not None:
            groups = groups.index_add(1, self.group_of[:M], gauss)
        return groups.view(n, G, self.k1, self.k2).permute(0, 2, 1, 3) + log_sub

    def _log_prob_idx(self, idx, log_leaves, log_sub, log_top, numerical=None):
        if idx.shape[1] == 0:
            return idx.new_zeros(idx.shape[0], dtype=torch.float32)
        groups = self._group_terms(idx, log_leaves, log_sub, numerical)
        per_top = torch.logsumexp(groups, -1).sum(-1) + log_top
        return torch.logsumexp(per_top, -1)

    def _log_density_offset(self, idx, numerical):
        """Per observed numerical scalar: ``log(n_bins)`` (bin probability -> density on the
        (0, 1) scale), or for a discrete-valued one ``log p(point | cell)``."""
        if not self.n_numerical:
            return idx.new_zeros(idx.shape[0], dtype=torch.float32)
        observed = idx[:, : self.n_numerical] < self.n_levels
        if self.gaussian:  # the probit map's Jacobian: -log phi(y)
            y = _probit(numerical)
            return torch.where(observed, 0.5 * y.square() + _HALF_LOG_2PI, 0.0).sum(-1)
        offset = torch.full(observed.shape, math.log(self.n_bins), device=idx.device)
        discrete = self.n_points > 0
        if discrete.any():
            u = torch.nan_to_num(numerical.to(torch.float32), nan=0.0)
            point = self._point_index(u)
            weight = self.log_point_weight.gather(1, point.T).T
            offset = torch.where(discrete[None, :], weight, offset)
        return (offset * observed).sum(1)

    def log_prob(self, numerical, codes):
        """Exact log-likelihood of each row given its evidence, ``(n,)``.

        Discrete variables contribute probabilities, numerical scalars densities on their
        (0, 1) scale; free variables are marginalised.
        """
        idx = self.evidence(numerical, codes)
        log_sub, log_top = self.log_weights()
        ll = self._log_prob_idx(idx, self.log_leaves(), log_sub, log_top, numerical)
        return ll + self._log_density_offset(idx, numerical)

    # ------------------------------------------------------------ EM
    def expected_counts(self, numerical, codes):
        """Log-likelihood sum of a batch and the expected counts of every parameter.

        The counts are the gradients of the batch's log-likelihood with respect to the
        log-parameters (the posterior "flows" of a circuit, exactly the E-step's sufficient
        statistics): leaves ``(V, L, K)``, sub-weights ``(K1, G, K2)``, top weights ``(K1,)``.
        """
        idx = self.evidence(numerical, codes)
        with torch.no_grad():
            log_sub, log_top = self.log_weights()
            log_leaves = self.log_leaves()
        log_leaves = log_leaves.detach().requires_grad_(True)
        log_sub = log_sub.detach().requires_grad_(True)
        log_top = log_top.detach().requires_grad_(True)
        with torch.enable_grad():
            ll = self._log_prob_idx(idx, log_leaves, log_sub, log_top,
                                    numerical.detach() if self.gaussian else None).sum()
            grads = torch.autograd.grad(ll, (log_leaves, log_sub, log_top))
        leaves = torch.nan_to_num(grads[0], nan=0.0).masked_fill(~self.mask[:, :, None], 0.0)
        offset = self._log_density_offset(idx, numerical).sum()
        return (ll.detach() + offset), leaves, grads[1], grads[2]

    # ------------------------------------------------------------ sampling
    @torch.no_grad()
    def posterior(self, idx, numerical=None, bounds=None):
        """Exact posterior of a row's components given its evidence (``numerical``: the
        observed values of Gaussian leaves; ``bounds``: their ranges, see
        :meth:`_gaussian_terms`).

        Returns ``log p(k | e)`` ``(n, K1)`` and ``log p(j | k, g, e)`` ``(n, K1, G, K2)``.
        """
        log_sub, log_top = self.log_weights()
        groups = self._group_terms(idx, self.log_leaves(), log_sub, numerical, bounds)
        per_group = torch.logsumexp(groups, -1)
        post_sub = groups - per_group[..., None]
        post_top = torch.log_softmax(per_group.sum(-1) + log_top, -1)
        return post_top, post_sub

    @torch.no_grad()
    def sampling_tables(self):
        """The tables sampling reads: cumulative leaves ``(V * K, L)`` (and without the
        missing levels), sub-weights ``(K1, G, K2)``, top weights ``(K1,)``; and alias
        tables (:func:`_alias_table`) of the leaves and of the sub-weights' rows, for the
        unconditional draws (two gathers per draw, no search).

        Kept until the parameters or the leaf masks change (in place, by a training step,
        ``load_state_dict`` or EM, or by a move to another device): a fitted model builds
        them once, not once per ``sample`` call.
        """
        try:
            key = (self.weight_floor, *((t.data_ptr(), t._version) for t in (
                self.leaf_logits, self.sub_logits, self.top_logits, self.mask, self.missing)))
        except RuntimeError:  # inference tensors (made under inference_mode) have no version
            return self._build_sampling_tables()
        cached = self.__dict__.get("_tables_cache")
        if cached is not None and cached[0] == key:
            return cached[1]
        tables = self._build_sampling_tables()
        self.__dict__["_tables_cache"] = (key, tables)
        return tables

    def _build_sampling_tables(self):
        probs = self.log_leaves().exp().permute(0, 2, 1)  # (V, K, L)
        L = self.n_levels
        restricted = probs.masked_fill(self.missing[:, None, :], 0.0)
        log_sub, log_top = self.log_weights()
        sub = log_sub.exp()
        return {"leaves": _cdf(probs).reshape(-1, L),
                "leaves_alias": _alias_table(probs.reshape(-1, L)),
                "restricted": _cdf(restricted).reshape(-1, L),
                "sub": _cdf(sub), "sub_alias": _alias_table(sub.reshape(-1, sub.shape[-1])),
                "top": _cdf(log_top.exp())}

    @torch.no_grad()
    def generate(self, n, generator, tables=None):
        """Draw ``n`` rows: ``(numerical (n, M) in [0, 1], codes (n, D) int64)``."""
        device = self.top_logits.device
        numerical = torch.full((n, self.n_numerical), float("nan"), device=device)
        codes = torch.full((n, self.n_discrete), FREE, dtype=torch.long, device=device)
        return self.generate_conditional(numerical, codes, generator, tables=tables,
                                         _free=True)

    @torch.no_grad()
    def generate_conditional(self, numerical, codes, generator, tables=None, _free=False,
                             bounds=None):
        """Draw the free variables of each row from their exact conditional given the rest.

        ``numerical`` NaN and ``codes`` ``FREE`` are free; ``codes`` ``NOT_MISSING`` is drawn
        among the non-missing levels. Given values are returned as they are. ``tables``:
        :meth:`sampling_tables`, to reuse them over blocks.
        """
        device = self.top_logits.device
        V, L, K2 = self.n_variables, self.n_levels, self.k2
        n, idx = self._sampling_evidence(numerical, codes, _free)
        if n == 0 or V == 0:
            return self._views(numerical, codes, idx, None, generator, None)
        tables = self.sampling_tables() if tables is None else tables
        if _free or ((idx == L).all() and bounds is None):  # the prior: no likelihood
            top = _draw(tables["top"], generator, n=n)
            sub_cdf = tables["sub"][top]  # (n, G, K2)
        else:
            post_top, post_sub = self.posterior(idx, numerical, bounds)
            top = _draw(_cdf(post_top.exp()), generator)
            sub_cdf = _cdf(post_sub.exp()[torch.arange(n, device=device), top])
        sub = _draw(sub_cdf, generator)  # (n, G)
        component = top[:, None] * K2 + sub[:, self.group_of]  # (n, V) in [0, K)
        return self._views(numerical, codes, idx, component, generator, tables, free=_free,
                           bounds=bounds)

    def _sampling_evidence(self, numerical, codes, free):
        """The rows' count and their evidence; everything free (``generate``) reads none."""
        n = numerical.shape[0] if self.n_numerical else codes.shape[0]
        if free:
            return n, torch.full((n, self.n_variables), self.n_levels, dtype=torch.long,
                                 device=self.top_logits.device)
        return n, self.evidence(numerical, codes)

    def _views(self, numerical, codes, idx, component, generator, tables, free=False,
               bounds=None):
        device = self.top_logits.device
        n = idx.shape[0]
        M, L, V = self.n_numerical, self.n_levels, self.n_variables
        if component is None:
            out_num = torch.nan_to_num(numerical.to(torch.float32), nan=0.5)
            return out_num, codes.to(torch.long).clamp_min(0)
        flat = (torch.arange(V, device=device) * self.k1 * self.k2)[None, :] + component
        if free:  # every leaf drawn unconditionally: the alias tables, no search
            level = _draw_alias(*tables["leaves_alias"], flat, generator)
        else:
            flat = flat.reshape(-1)
            cdf = tables["leaves"].index_select(0, flat).view(n, V, L)
            restricted = idx == L + 1
            if restricted.any():
                other = tables["restricted"].index_select(0, flat).view(n, V, L)
                cdf = torch.where(restricted[..., None], other, cdf)
            level = _draw(cdf, generator)
        level = torch.minimum(level, (self.mask.sum(1) - 1)[None, :])
        out_num = torch.empty(n, M, device=device)
        if M:
            jitter = torch.rand(n, M, generator=generator, device=device)
            out_num = (level[:, :M] + jitter) / self.n_bins
            discrete = self.n_points > 0
            if discrete.any():
                out_num = torch.where(discrete[None, :],
                                      self._draw_points(level[:, :M], jitter), out_num)
            if self.gaussian:  # the scalar from its component's Gaussian, on its probit scale
                comp = component[:, :M].T
                loc = self.num_loc.gather(1, comp).T
                scale = self.numerical_scale().gather(1, comp).T
                eps = torch.randn(loc.shape, generator=generator, device=device)
                out_num = torch.special.ndtr(loc + scale * eps).clamp(_EPS, 1.0 - _EPS)
                if bounds is not None:  # a range: the component's Gaussian truncated to it
                    za, zb = (z.gather(2, component[:, :M, None]).squeeze(2)
                              for z in self._standard_bounds(bounds))
                    lo, hi = torch.special.ndtr(za), torch.special.ndtr(zb)
                    v = lo + torch.rand(lo.shape, generator=generator, device=device) * (hi - lo)
                    y = loc + scale * torch.special.ndtri(v.clamp(1e-12, 1.0 - 1e-12))
                    u = torch.special.ndtr(y)
                    u = torch.minimum(torch.maximum(u, bounds[0]), bounds[1])
                    ranged = ~torch.isnan(bounds[0])
                    out_num = torch.where(ranged, u, out_num)
            if not free:
                given = ~torch.isnan(numerical)
                out_num = torch.where(given, numerical.to(torch.float32), out_num)
        out_codes = level[:, M:]
        if self.n_discrete and not free:
            # observed levels, and the "present" state a given scalar implies
            given = idx[:, M:]
            out_codes = torch.where(given < L, given, out_codes)
        return out_num, out_codes

    def _draw_points(self, cells, jitter):
        """A point of each discrete-valued scalar's cell, by its training frequency."""
        bounds = self.cell_bounds.gather(
            1, cells.T[:, :, None].expand(-1, -1, 2))  # (M, n, 2)
        target = bounds[..., 0] + jitter.T * (bounds[..., 1] - bounds[..., 0])
        point = torch.searchsorted(self.cum_weight, target.contiguous(), right=True)
        point = torch.minimum(point, (self.n_points - 1).clamp_min(0)[:, None])
        return self.points.gather(1, point).T

    @torch.no_grad()
    def conditional_marginals(self, numerical, codes):
        """Each variable's exact marginal given the evidence: ``(n, V, L)`` probabilities.

        For a variable with "not missing" evidence, the marginal over its non-missing levels;
        a numerical scalar's is over its bins given that its column is ``present``. The rows
        of observed variables are their own leaf posteriors (not used by imputation).
        """
        weight, idx = self._conditional_weights(numerical, codes)
        out = torch.einsum("nvk,vlk->nvl", weight, self.log_leaves().exp())
        restrict = (idx == self.n_levels + 1)[..., None] & self.missing[None]
        out = out.masked_fill(restrict, 0.0)
        return out / out.sum(-1, keepdim=True).clamp_min(1e-30)

    def conditional_numerical_modes(self, numerical, codes):
        """With Gaussian leaves: each scalar's conditional mode given the evidence, on its
        (0, 1) scale, ``(n, M)``. The conditional of a scalar is a mixture of its Gaussian
        leaves; its density is evaluated at every leaf's location and the best taken."""
        weight, _ = self._conditional_weights(numerical, codes)
        M = self.n_numerical
        loc, scale = self.num_loc, self.numerical_scale()  # (M, K)
        z = (loc[:, :, None] - loc[:, None, :]) / scale[:, None, :]  # (M, at, of)
        dens = torch.exp(-0.5 * z.square()) / scale[:, None, :]
        score = torch.einsum("nmk,mck->nmc", weight[:, :M], dens)
        best = score.argmax(-1)  # (n, M)
        return torch.special.ndtr(loc.gather(1, best.T).T).clamp(_EPS, 1.0 - _EPS)

    def _conditional_weights(self, numerical, codes):
        """``p(component of v = k | e without v's own evidence)`` ``(n, V, K)``, and the
        evidence."""
        idx = self.evidence(numerical, codes)
        n, V, L = idx.shape[0], self.n_variables, self.n_levels
        K = self.k1 * self.k2
        log_w = self._variable_posteriors(idx, numerical)  # p(component = k | e): (n, V, K)
        # take each variable's own evidence out: p(c | e) / p_c(e_v)
        log_leaves = self.log_leaves()
        table = self.leaf_table(log_leaves)
        flat = idx + torch.arange(V, device=idx.device) * (L + 2)
        own = table.index_select(0, flat.reshape(-1)).view(n, V, K)
        M = self.n_numerical
        if self.gaussian and M:  # a scalar's own evidence is its Gaussian term, not a bin
            own = torch.cat([self._gaussian_terms(idx, numerical), own[:, M:]], 1)
        log_w = log_w - own
        if M and self.n_discrete:
            # a numerical scalar given its column is present: times p_c(present) / p_c(e_state)
            state = M + self.state_of.clamp_min(0)
            factor = log_leaves[state, 0, :][None] - own[:, state]  # (n, M, K)
            factor = torch.where((self.state_of >= 0)[None, :, None], factor,
                                 torch.zeros_like(factor))
            log_w = torch.cat([log_w[:, :M] + factor, log_w[:, M:]], 1)
        return torch.softmax(log_w, -1), idx


    def _variable_posteriors(self, idx, numerical=None):
        """``log p(k, j | e)`` for the group of each variable: ``(n, V, K1 * K2)``."""
        n, V = idx.shape
        post_top, post_sub = self.posterior(idx, numerical)
        per_var = post_sub[:, :, self.group_of]  # (n, K1, V, K2)
        return (post_top[:, :, None, None] + per_var).permute(0, 2, 1, 3).reshape(
            n, V, self.k1 * self.k2)


class TreeMixture(HierarchicalMixture):
    """A hidden tree over the columns (a hidden Chow-Liu tree, HCLT).

    Every column ``g`` has a latent state ``z_g`` in ``{0, ..., K - 1}``; the latents form a
    tree (the maximum spanning tree of the columns' mutual information, see
    :meth:`set_structure`), and each column's variables depend on its own latent only::

        p(x) = sum_z  p(z_root)  prod_{g != root} p(z_g | z_parent(g))  prod_v leaf_v(x_v | z_g(v))

    A latent-class model with ``K`` components is the special case of a star whose
    transitions are the identity; the tree spends its ``K`` states per column, so that each
    pair of neighbouring columns can carry ``K x K`` joint structure. Likelihood, posteriors
    and conditional samples are exact (upward messages in the tree, then top-down sampling
    of the latents given the evidence below them); the nodes of one depth are processed
    together as one batched matrix product, so the Python loop runs over the tree's depth,
    not over columns.

    The parameters reuse :class:`HierarchicalMixture`'s names: ``top_logits`` ``(K,)`` is the
    root's prior and ``sub_logits`` ``(G, K, K)`` the transitions ``p(z_g | z_parent)`` (row:
    the parent's state); a root's row is unused. Stepwise EM (``expected_counts``,
    ``set_log_parameters``) works unchanged.

    Examples
    --------
    >>> import torch
    >>> from skmixsynth import Layout, Span
    >>> from skmixsynth.nn._mixture import TreeMixture
    >>> lay = Layout((Span("x", "numerical", 0, 1, "sigmoid"),
    ...               Span("c", "categorical", 1, 3, "softmax")))
    >>> torch.manual_seed(0) is not None
    True
    >>> model = TreeMixture(lay, n_states=3, n_bins=4)
    >>> num, codes = torch.tensor([[0.3], [0.9]]), torch.tensor([[0], [1]])
    >>> model.log_prob(num, codes).shape
    torch.Size([2])
    """

    def __init__(self, layout, *, n_states, n_bins, missing_levels=None, weight_floor=0.0,
                 numerical_leaves="bins"):
        names = [s.column for s in layout.numerical_spans] + [s.column
                                                               for s in layout.discrete_spans]
        n_columns = len(dict.fromkeys(names))
        super().__init__(layout, n_components=n_states, n_subcomponents=1,
                         n_groups=max(1, n_columns), n_bins=n_bins,
                         missing_levels=missing_levels, weight_floor=weight_floor,
                         numerical_leaves=numerical_leaves)
        G, K = self.n_groups, self.k1
        # start from the latent-class model: every child tends to copy its parent's state
        # (the leaves of state k are seeded from the same row in every column)
        eye = torch.eye(K)
        self.sub_logits = nn.Parameter(torch.log(0.5 * eye + 0.5 / K).expand(G, K, K).clone())
        # a star around group 0 until ``set_structure`` sees the data
        parent = torch.zeros(G, dtype=torch.long)
        parent[0] = -1
        self.register_buffer("parent", parent)

    # ------------------------------------------------------------ structure
    @torch.no_grad()
    def set_structure(self, numerical, codes, *, max_levels=32):
        """The Chow-Liu tree of the columns: the maximum spanning tree of their pairwise
        mutual information, estimated on these rows (each variable cut to at most
        ``max_levels`` levels, Miller-Madow bias-corrected), re-rooted at its centre so that
        its depth (the number of sequential steps) is smallest. Stores ``parent``."""
        G = self.n_groups
        if G < 2 or numerical.shape[0] < 2:
            return
        idx = self.evidence(numerical, codes)  # (n, V) levels; L for a free scalar
        L = self.n_levels
        sizes = self.mask.sum(1)
        coarse = torch.where(sizes[None, :] > max_levels, idx * max_levels // sizes[None, :],
                             idx).clamp(max=max_levels)
        coarse = torch.where(idx >= L, max_levels, coarse)  # free: a level of its own
        n, V = coarse.shape
        B = max_levels + 1
        # every pair's contingency table at once: one bincount over (pair, level, level)
        pair_code = (coarse[:, :, None] * B + coarse[:, None, :]
                     + (torch.arange(V * V, device=coarse.device) * B * B).view(V, V))
        joint = torch.bincount(pair_code.reshape(-1), minlength=V * V * B * B)
        joint = joint.view(V, V, B, B).to(torch.float64) / n
        marg = torch.diagonal(joint, dim1=2, dim2=3)[torch.arange(V), torch.arange(V)]
        outer = marg[:, None, :, None] * marg[None, :, None, :]
        ratio = torch.where(joint > 0, joint / outer.clamp_min(1e-300), 1.0)
        mi = (joint * torch.log(ratio)).sum((2, 3))
        used = (marg > 0).sum(1).to(torch.float64)
        mi = mi - (used[:, None] - 1) * (used[None, :] - 1) / (2 * n)
        # the columns' mutual information: the largest over their variables' pairs
        gv = self.group_of.cpu()
        pairs = gv[:, None] * G + gv[None, :]
        flat = torch.full((G * G,), float("-inf"), dtype=torch.float64)
        flat = flat.scatter_reduce(0, pairs.reshape(-1), mi.cpu().reshape(-1), reduce="amax")
        gmi = flat.view(G, G)
        self.parent.copy_(_maximum_spanning_tree(gmi).to(self.parent.device))

    def _levels(self):
        """The tree by depth, from the root's (0) down: for each depth, its nodes and, for
        each node, its parent's position among the nodes of the depth above (``None`` at
        the root's depth)."""
        parent = self.parent.tolist()
        depth = [0] * len(parent)
        for g in range(len(parent)):  # set-up per call: a few hundred nodes at most
            d, p = 0, parent[g]
            while p >= 0:
                d, p = d + 1, parent[p]
            depth[g] = d
        levels = [[] for _ in range(max(depth) + 1)]
        for g, d in enumerate(depth):
            levels[d].append(g)
        position = {g: i for level in levels for i, g in enumerate(level)}
        device = self.parent.device
        out = []
        for d, level in enumerate(levels):
            nodes = torch.tensor(level, dtype=torch.long, device=device)
            up = (torch.tensor([position[parent[g]] for g in level], dtype=torch.long,
                               device=device) if d else None)
            out.append((nodes, up))
        return out

    # ------------------------------------------------------------ likelihood
    def _depth_terms(self, idx, log_leaves, numerical=None, bounds=None):
        """Each column's leaves summed per latent state, node-major in depth order:
        ``(G, n, K)``, the nodes of :meth:`_levels` concatenated (root's depth first), and
        the levels.

        One ``embedding_bag`` sums each (node, row)'s leaves straight into this layout, and
        the Gaussian terms ``(M, n, K)`` are added by one ``index_add`` on the first
        dimension: every depth is then a contiguous block, and the upward pass's batched
        matrix products need no transposing copies.
        """
        levels = self._levels()
        n, V = idx.shape
        M, G, K = self.n_numerical, self.n_groups, self.k1
        device = idx.device
        depth_order, position = _depth_positions(levels)
        table, flat, gauss = self._leaf_rows(idx, log_leaves, numerical, bounds)
        var_position = position[self.group_of]  # (V,) each variable's node, depth order
        var_order = torch.argsort(var_position, stable=True)
        sizes = self.group_sizes[depth_order]
        starts = torch.cumsum(sizes, 0) - sizes
        flat = flat[:, var_order]
        # the bag of (node g, row i) holds flat[i, starts[g]:starts[g] + sizes[g]]: write
        # the entries in (g, i, j) order
        g = var_position[var_order]
        dest = ((n - 1) * starts[g] + torch.arange(V, device=device))[None, :] + (
            torch.arange(n, device=device)[:, None] * sizes[g][None, :])
        bags = flat.new_empty(n * V)
        bags[dest.reshape(-1)] = flat.reshape(-1)
        offsets = (n * starts[:, None] + torch.arange(n, device=device)[None, :]
                   * sizes[:, None]).reshape(-1)
        terms = nn.functional.embedding_bag(bags, table, offsets, mode="sum").view(G, n, K)
        if gauss is not None:
            terms = terms.index_add(0, var_position[:M], gauss.transpose(0, 1))
        return terms, levels

    def _upward(self, terms, levels, log_trans):
        """Upward messages from the depth-major node terms of :meth:`_depth_terms`: each
        depth's beliefs ``terms + messages of the children`` ``(S_d, n, K)`` over the
        states of its nodes, root's depth first.

        Each depth is a contiguous block of ``terms``; its messages are summed into the
        depth above only (one ``index_add`` on the node dimension).
        """
        n, K = terms.shape[1], terms.shape[2]
        sizes = [len(nodes) for nodes, _ in levels]
        by_depth = terms.split(sizes, dim=0)
        trans = log_trans.exp()
        beliefs = [None] * len(levels)
        incoming = None
        for d in range(len(levels) - 1, -1, -1):
            nodes, up = levels[d]
            belief = by_depth[d] if incoming is None else by_depth[d] + incoming
            beliefs[d] = belief
            if d == 0:
                break
            # message to the parent: log sum_c p(c | p) exp(belief_c), as a matrix product
            top = belief.amax(-1, keepdim=True)
            top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
            msg = torch.bmm(torch.exp(belief - top), trans[nodes].transpose(1, 2))
            msg = torch.log(msg) + top
            incoming = terms.new_zeros(sizes[d - 1], n, K).index_add(0, up, msg)
        return beliefs

    def _log_prob_idx(self, idx, log_leaves, log_sub, log_top, numerical=None):
        if idx.shape[1] == 0:
            return idx.new_zeros(idx.shape[0], dtype=torch.float32)
        terms, levels = self._depth_terms(idx, log_leaves, numerical)
        beliefs = self._upward(terms, levels, log_sub)
        return torch.logsumexp(beliefs[0] + log_top, -1).sum(0)

    def _variable_posteriors(self, idx, numerical=None):
        """``log p(z_g(v) = k | e)`` ``(n, V, K)``: the gradient of the log-likelihood
        with respect to the node terms is the posterior of each node's state."""
        # autograd also under ``torch.inference_mode`` (score_samples, impute): the inputs
        # are cloned out of it and nothing reaches the parameters' gradients
        with torch.inference_mode(False), torch.enable_grad():
            idx = idx.clone()
            log_sub, log_top = (w.detach() for w in self.log_weights())
            terms, levels = self._depth_terms(idx, self.log_leaves().detach(), numerical)
            terms = terms.detach().requires_grad_(True)
            beliefs = self._upward(terms, levels, log_sub)
            ll = torch.logsumexp(beliefs[0] + log_top, -1).sum()
            (post,) = torch.autograd.grad(ll, terms)
        _, position = _depth_positions(levels)
        return torch.log(post.clamp_min(1e-30))[position[self.group_of]].transpose(0, 1)

    # ------------------------------------------------------------ sampling
    @torch.no_grad()
    def generate_conditional(self, numerical, codes, generator, tables=None, _free=False,
                             bounds=None):
        device = self.top_logits.device
        V, L = self.n_variables, self.n_levels
        n, idx = self._sampling_evidence(numerical, codes, _free)
        if n == 0 or V == 0:
            return self._views(numerical, codes, idx, None, generator, None)
        tables = self.sampling_tables() if tables is None else tables
        log_sub, log_top = self.log_weights()
        state = torch.zeros(n, self.n_groups, dtype=torch.long, device=device)
        if _free or ((idx == L).all() and bounds is None):  # the prior: no upward pass
            levels = [nodes for nodes, _ in self._levels()]
            state[:, levels[0]] = _draw(tables["top"], generator, n=n * len(levels[0])).view(
                n, -1)
            K = self.k1
            for nodes in levels[1:]:  # row of p(z_g | z_parent) in the (G * K, K) table
                rows = nodes[None, :] * K + state[:, self.parent[nodes]]  # (n, S)
                state[:, nodes] = _draw_alias(*tables["sub_alias"], rows, generator)
        else:
            terms, levels = self._depth_terms(idx, self.log_leaves(), numerical, bounds)
            beliefs = [b.transpose(0, 1) for b in self._upward(terms, levels, log_sub)]
            levels = [nodes for nodes, _ in levels]
            state[:, levels[0]] = _draw(_cdf(torch.softmax(beliefs[0] + log_top, -1)),
                                        generator)
            for d in range(1, len(levels)):
                nodes = levels[d]
                rows = log_sub[nodes[None, :], state[:, self.parent[nodes]]]  # (n, S, K)
                state[:, nodes] = _draw(_cdf(torch.softmax(rows + beliefs[d], -1)), generator)
        component = state[:, self.group_of]  # (n, V) in [0, K)
        return self._views(numerical, codes, idx, component, generator, tables, free=_free,
                           bounds=bounds)


def _depth_positions(levels):
    """The tree's nodes in depth order (root's depth first) and each node's position in that
    order: ``(depth_order, position)``, each ``(G,)``."""
    depth_order = torch.cat([nodes for nodes, _ in levels])
    position = torch.empty_like(depth_order)
    position[depth_order] = torch.arange(len(depth_order), device=depth_order.device)
    return depth_order, position


def _maximum_spanning_tree(weights):
    """Parent of each node (-1 for the root) in a maximum spanning tree of the complete graph
    with these symmetric ``(G, G)`` weights (Prim), re-rooted at its centre."""
    G = weights.shape[0]
    w = weights.clone()
    w.fill_diagonal_(float("-inf"))
    w = torch.where(torch.isfinite(w), w, torch.full_like(w, -1e300))
    in_tree = torch.zeros(G, dtype=torch.bool)
    in_tree[0] = True
    best = w[0].clone()
    link = torch.zeros(G, dtype=torch.long)
    adjacency = [[] for _ in range(G)]
    for _ in range(G - 1):  # set-up only, once per fit
        cand = best.masked_fill(in_tree, float("-inf"))
        g = int(torch.argmax(cand))
        p = int(link[g])
        adjacency[g].append(p)
        adjacency[p].append(g)
        in_tree[g] = True
        better = w[g] > best
        best = torch.where(better, w[g], best)
        link = torch.where(better, torch.full_like(link, g), link)

    def bfs(root):
        parent = [-2] * G
        parent[root] = -1
        order, head = [root], 0
        while head < len(order):
            u = order[head]
            head += 1
            for v in adjacency[u]:
                if parent[v] == -2:
                    parent[v] = u
                    order.append(v)
        depth = [0] * G
        for u in order[1:]:
            depth[u] = depth[parent[u]] + 1
        return parent, max(depth)

    best_parent, best_depth = None, G + 1
    for root in range(G):
        parent, depth = bfs(root)
        if depth < best_depth:
            best_parent, best_depth = parent, depth
    return torch.tensor(best_parent, dtype=torch.long)


def _floored(logits, floor):
    """``log((1 - floor) * softmax(logits) + floor / size)`` over the last axis."""
    log_w = torch.log_softmax(logits, -1)
    if floor <= 0:
        return log_w
    size = logits.shape[-1]
    return torch.logaddexp(log_w + math.log1p(-floor),
                           torch.full_like(log_w, math.log(floor / size)))


def _alias_table(probs):
    """Walker's alias tables of each row of ``probs`` ``(R, W)`` (unnormalised, rows with a
    positive sum): ``(accept (R, W), alias (R, W))``.

    Drawing a column ``j`` uniformly, then keeping it with probability ``accept[r, j]`` and
    taking ``alias[r, j]`` otherwise, draws ``j`` with probability ``probs[r, j] / sum``
    exactly. Built on each row's sorted masses with two pointers, all rows at once: ``W - 1``
    steps of ``O(R)`` work. At each step the cell at the right pointer (the largest left,
    which holds at least the average mass unless it has just given some away) either tops
    up the cell at the left pointer (the smallest left) or, once it has fallen below the
    average itself, is topped up by its left neighbour, the largest left then; so every
    cell that is topped up is by one that can afford it.
    """
    R, W = probs.shape
    device = probs.device
    q, order = torch.sort(probs.to(torch.float64), dim=1)
    q = q / q.sum(1, keepdim=True) * W
    accept = torch.ones(R, W, dtype=torch.float64, device=device)
    alias = torch.arange(W, device=device).expand(R, W).clone()  # in sorted positions
    rows = torch.arange(R, device=device)
    left = torch.zeros(R, dtype=torch.long, device=device)
    right = torch.full((R,), W - 1, dtype=torch.long, device=device)
    for _ in range(W - 1):  # over the width, never over rows
        q_right = q[rows, right]
        spent = q_right < 1.0  # the right cell has fallen below the average: it is topped up
        small = torch.where(spent, right, left)
        large = torch.where(spent, right - 1, right)
        q_small = q[rows, small].clamp(max=1.0)
        accept[rows, small] = q_small
        alias[rows, small] = large
        q[rows, large] -= 1.0 - q_small
        left = torch.where(spent, left, left + 1)
        right = torch.where(spent, right - 1, right)
    # back to the columns: sorted position p is column order[r, p]
    accept_out = torch.empty_like(accept).scatter_(1, order, accept)
    alias_out = torch.empty_like(alias).scatter_(1, order, order.gather(1, alias))
    return accept_out.to(torch.float32), alias_out


def _draw_alias(accept, alias, rows, generator):
    """One column per entry of ``rows`` (indices into the alias tables' rows), by the alias
    method: two uniforms and two gathers per draw."""
    W = accept.shape[1]
    shape = rows.shape
    rows = rows.reshape(-1)
    j = (torch.rand(rows.shape, generator=generator, device=rows.device) * W).long()
    j.clamp_(max=W - 1)
    cell = rows * W + j
    keep = torch.rand(rows.shape, generator=generator, device=rows.device) < accept.reshape(
        -1).index_select(0, cell)
    return torch.where(keep, j, alias.reshape(-1).index_select(0, cell)).view(shape)


def _cdf(probs):
    """Cumulative sums over the last axis (unnormalised: :func:`_draw` scales by the total)."""
    return probs.cumsum(-1)


def _draw(cdf, generator, n=None):
    """One index per row of ``cdf`` (``(..., K)`` cumulative weights) by inverse CDF; with
    ``n``, ``n`` indices from the one row ``cdf`` ``(K,)``."""
    if n is not None:
        u = torch.rand(n, generator=generator, device=cdf.device) * cdf[-1]
        return torch.searchsorted(cdf, u, right=True).clamp_(max=cdf.shape[-1] - 1)
    u = torch.rand((*cdf.shape[:-1], 1), generator=generator, device=cdf.device)
    index = torch.searchsorted(cdf, u * cdf[..., -1:], right=True)[..., 0]
    return index.clamp_(max=cdf.shape[-1] - 1)


#: numerical values are clipped to [_EPS, 1 - _EPS] before the probit map
_EPS = 1e-6
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _probit(numerical):
    """``Phi^{-1}(u)`` of the (0, 1) values (NaN, a free value, as 0.5), clipped first."""
    u = torch.nan_to_num(numerical.to(torch.float32), nan=0.5)
    return torch.special.ndtri(u.clamp(_EPS, 1.0 - _EPS))


def _softplus_inverse(x):
    """``softplus^{-1}(x)`` of a positive float."""
    return math.log(math.expm1(x))


def _log_ndtr_difference(zb, za):
    """``log(Phi(zb) - Phi(za))`` for ``za <= zb``, stable in both tails (the upper tail by
    symmetry: ``Phi(zb) - Phi(za) = Phi(-za) - Phi(-zb)``)."""
    flip = za > 0
    upper = torch.special.log_ndtr(torch.where(flip, -za, zb))
    lower = torch.special.log_ndtr(torch.where(flip, -zb, za))
    return upper + torch.log(-torch.expm1((lower - upper).clamp_max(-1e-12)))
