"""Per-column encoders of :class:`~skmixsynth.MixedTypeEncoder`: one small class per column kind.

Every column encoder follows one protocol (duck typed; :class:`NumericalColumn`,
:class:`DatetimeColumn` and :class:`CategoricalColumn` here, the identifier column of
``skmixsynth._protection`` elsewhere):

- ``type_name``: the registry key, stored as ``to_dict()["type"]``;
- ``fit(series, *, name, settings)`` learns the column (``settings`` an :class:`EncoderSettings`)
  and returns the column encoder;
- ``n_numerical`` (0 or 1) scalars and ``discrete_labels`` (the labels of its one discrete span,
  or ``None``) are what it contributes to the :class:`~skmixsynth.Layout`;
- ``encode(series) -> (numerical (n, n_numerical) float64, codes (n, 0 or 1) int64)``;
- ``decode(numerical, codes, rng) -> Series`` of the training dtype;
- ``to_dict()`` (JSON-able, with ``"type"`` and ``"name"``) and ``from_dict(data)``.

Fitted state is a frozen dataclass (``state_``): a fitted column never changes, it is rebuilt.
The kind of a column is decided in one place, :func:`skmixsynth._validation.column_kind`.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ._layout import CATEGORICAL, MISSING
from ._validation import DATETIME, NUMERICAL, datetime_ns, numeric_values

__all__ = [
    "CategoricalColumn",
    "DatetimeColumn",
    "DroppedColumn",
    "EncoderSettings",
    "NumericalColumn",
    "NumericalSummary",
    "column_encoder_class",
    "column_encoder_from_dict",
    "default_column_encoder",
    "identifier_encoder",
    "register_column_encoder",
]

#: label of the level that stands for the levels grouped by ``max_categories``
GROUPED_LABEL = "infrequent"
#: what the protected level (levels seen fewer than ``min_count`` times) decodes to in columns
#: that can hold a string (object, string, category); other columns get a missing value
PLACEHOLDER = "_RARE_"

_DATETIME_UNITS = (  # coarsest first; (name, nanoseconds)
    ("D", 86_400 * 10**9),
    ("h", 3_600 * 10**9),
    ("min", 60 * 10**9),
    ("s", 10**9),
    ("ms", 10**6),
    ("us", 10**3),
    ("ns", 1),
)
_UNIT_NS = dict(_DATETIME_UNITS)
#: a sketch that is exact and holds at most this many values is summarised by rebuilding its
#: values (:meth:`NumericalSummary.from_sketch`): the very summary ``fit`` computes
EXACT_SKETCH_ROWS = 100_000


# ============================================================================ settings
@dataclass(frozen=True)
class EncoderSettings:
    """The encoder-level parameters a column encoder reads at fit.

    :class:`~skmixsynth.MixedTypeEncoder` builds one from its parameters and hands it to every
    column encoder's ``fit``; see the encoder's docstring for their meaning.

    Parameters
    ----------
    numerical_encoding : {"quantile", "minmax"}, default="quantile"
    n_quantiles : int, default=1000
    point_masses : float in (0, 1) or None, default=None
    max_categories : int or None, default=None
    min_count : int or None, default=None
    identifiers : {"fresh", "drop"} or None, default=None
    random_state : int or None, default=None
        A seed (the encoder's ``random_state`` when it is an int).

    Examples
    --------
    >>> from skmixsynth._columns import EncoderSettings
    >>> EncoderSettings(numerical_encoding="minmax").n_quantiles
    1000
    """

    numerical_encoding: str = "quantile"
    n_quantiles: int = 1000
    point_masses: float | None = None
    max_categories: int | None = None
    min_count: int | None = None
    identifiers: str | None = None
    random_state: int | None = None


# ============================================================================ registry
_REGISTRY = {}


def register_column_encoder(cls):
    """Register a column-encoder class under its ``type_name`` (usable as a decorator).

    :func:`column_encoder_from_dict` finds the class of a saved column through this registry.

    Examples
    --------
    >>> from skmixsynth._columns import column_encoder_class
    >>> column_encoder_class("categorical").__name__
    'CategoricalColumn'
    """
    _REGISTRY[cls.type_name] = cls
    return cls


def column_encoder_class(type_name):
    """The column-encoder class registered under ``type_name``.

    ``"identifier"`` is resolved lazily from ``skmixsynth._protection`` (imported only when a
    table has an identifier column).

    Raises
    ------
    ValueError
        If no class is registered under that name.
    """
    if type_name in _REGISTRY:
        return _REGISTRY[type_name]
    if type_name == "identifier":
        from ._protection import IdentifierColumn

        return IdentifierColumn
    raise ValueError(
        f"Unknown column encoder type {type_name!r}; known types are "
        f"{sorted([*_REGISTRY, 'identifier'])}."
    )


def column_encoder_from_dict(data):
    """Rebuild a fitted column encoder from its ``to_dict()`` output.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth._columns import (CategoricalColumn, EncoderSettings,
    ...                                  column_encoder_from_dict)
    >>> col = CategoricalColumn().fit(pd.Series(["a", "b"]), name="c",
    ...                               settings=EncoderSettings())
    >>> column_encoder_from_dict(col.to_dict()).discrete_labels
    ('a', 'b')
    """
    return column_encoder_class(data["type"]).from_dict(data)


def default_column_encoder(kind):
    """An unfitted column encoder for a column kind (see :func:`~skmixsynth._validation.
    column_kind`): numerical, datetime or categorical.

    Examples
    --------
    >>> from skmixsynth._columns import default_column_encoder
    >>> default_column_encoder("datetime")
    DatetimeColumn()
    """
    if kind == NUMERICAL:
        return NumericalColumn()
    if kind == DATETIME:
        return DatetimeColumn()
    if kind == CATEGORICAL:
        return CategoricalColumn()
    raise ValueError(f"Unknown column kind {kind!r}.")


def identifier_encoder(series, *, name, identifiers):
    """The column encoder of a column detected as an identifier, or None if it is not one.

    Detection is ``skmixsynth._protection.looks_like_identifier`` (imported here, lazily).
    A detected column gets a ``UserWarning`` naming it and its handling, and:

    - ``identifiers="fresh"``: an ``IdentifierColumn`` (``skmixsynth._protection``), which
      decodes to fresh values in the training values' format, never equal to one of them;
    - ``identifiers="drop"``: a :class:`DroppedColumn`, left out of the decoded tables.

    Either way the column contributes no span to the layout (the model never sees it).

    Parameters
    ----------
    series : Series
    name : object
    identifiers : {"fresh", "drop"}

    Returns
    -------
    encoder : column encoder or None
    """
    from ._protection import looks_like_identifier

    if not looks_like_identifier(series):
        return None
    if identifiers == "drop":
        encoder, handling = DroppedColumn(), "it is left out of the decoded tables"
    else:
        encoder = column_encoder_class("identifier")()
        handling = ("its values are replaced by fresh ones in the training values' format, "
                    "never equal to a training value")
    warnings.warn(
        f"Column {name!r} looks like an identifier (almost every value is unique): "
        f"{handling} (identifiers={identifiers!r}). Name it in categorical_columns, "
        "numerical_columns or column_encoders to encode it as data instead.",
        UserWarning,
        stacklevel=4,  # the caller of MixedTypeEncoder.fit
    )
    return encoder


@register_column_encoder
class DroppedColumn(BaseEstimator):
    """A column left out: it contributes nothing to the model and is not decoded.

    What ``identifiers="drop"`` (and the alias ``"drop"`` of ``column_encoders``) gives a
    column: ``transform`` ignores it (it may be absent) and ``inverse_transform`` leaves it out
    of the decoded table, so the decoded table has fewer columns than the training one.

    Attributes
    ----------
    name_ : object
        Its JSON form is ``{"type": "drop", "name": name}``.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth._columns import DroppedColumn, EncoderSettings
    >>> col = DroppedColumn().fit(pd.Series(["id1", "id2"]), name="id",
    ...                           settings=EncoderSettings())
    >>> col.n_numerical, col.discrete_labels, col.to_dict()
    (0, None, {'type': 'drop', 'name': 'id'})
    """

    type_name = "drop"
    n_numerical = 0
    discrete_labels = None
    #: the decoded table leaves the column out
    in_output = False

    def __init__(self):
        pass

    def fit(self, series, *, name, settings):
        """Remember the column's name; nothing is learnt."""
        self.name_ = name
        return self

    def encode(self, series):
        """Nothing: ``(n, 0)`` numericals and codes."""
        n = len(series)
        return np.empty((n, 0)), np.empty((n, 0), dtype=np.int64)

    def decode(self, numerical, codes, rng):
        """Nothing: the column is left out (None)."""
        return None

    def to_dict(self):
        """``{"type": "drop", "name": name}``."""
        check_is_fitted(self, "name_")
        return {"type": self.type_name, "name": to_json(self.name_)}

    @classmethod
    def from_dict(cls, data):
        """Rebuild from :meth:`to_dict`'s output."""
        col = cls()
        col.name_ = from_json(data["name"])
        return col


# ============================================================================ numerical
@dataclass(frozen=True, eq=False)
class NumericalSummary:
    """What a numerical column's fit needs: from a series (exact) or from summary statistics.

    :meth:`NumericalColumn.fit` computes it exactly from the column's values
    (:meth:`from_values`); a one-pass fit over chunks can build it from accumulated counts,
    min/max and a quantile sketch and hand it to :meth:`NumericalColumn.fit_summary`.

    Parameters
    ----------
    n_missing : int
        Number of missing values.
    minimum, maximum : float
        Range of the values on the scale (point masses excluded).
    masses : tuple of float, default=()
        Point-mass values (sorted), which become levels of the state span.
    quantiles : ndarray or None, default=None
        Knots of the ``"quantile"`` encoding at the levels ``linspace(0, 1, len(quantiles))``
        (non-decreasing, at least two).
    fill : float or None, default=None
        Encoded value of the rows off the scale (missing, point masses): the scaled median.
        ``None`` takes the scaled middle knot (``"quantile"``) or 0.5 (``"minmax"``).
    clip : bool, default=False
        Whether values outside ``[minimum, maximum]`` are clipped when encoded.

    Examples
    --------
    >>> import numpy as np
    >>> from skmixsynth._columns import NumericalSummary
    >>> s = NumericalSummary.from_values(np.array([1.0, 2.0, np.nan, 4.0]), encoding="minmax")
    >>> s.n_missing, s.minimum, s.maximum, s.fill
    (1, 1.0, 4.0, 0.3333333333333333)
    """

    n_missing: int
    minimum: float
    maximum: float
    masses: tuple = ()
    quantiles: np.ndarray | None = None
    fill: float | None = None
    clip: bool = False

    @classmethod
    def from_values(cls, values, *, encoding, n_quantiles=1000, point_masses=None,
                    min_count=None):
        """Statistics of float64 values (NaN for missing; at least one present, all finite).

        Exact when ``min_count`` is None. With ``min_count=k`` (rare-value protection) no
        statistic is a value held by fewer than ``k`` rows: point masses must be held by at
        least ``k`` rows; the other values are clipped to a range whose bounds are the means
        of the ``k`` order statistics of ranks ``k..2k-1`` from either end (not one row's
        value, and the ``k - 1`` most extreme values, an outlier, do not move them); the quantile
        knots are the means of ``min(n_quantiles, m // k)`` consecutive groups of the ``m``
        sorted clipped values (at least ``k`` values each, disjoint, so that no value can be
        solved for); and the fill is the scaled mean of the ``k`` middle values. A column with
        fewer than ``2 k`` values on its scale collapses to their mean.
        """
        values = np.asarray(values, dtype=np.float64)
        missing = np.isnan(values)
        finite = values[~missing]
        masses = ()
        if point_masses is not None:
            levels, counts = np.unique(finite, return_counts=True)
            frequent = counts >= point_masses * finite.size
            if min_count is not None:
                frequent &= counts >= min_count
            chosen = levels[frequent]
            rest = finite[~np.isin(finite, chosen)]
            if chosen.size and rest.size:  # a column of point masses only keeps its scale
                masses = tuple(float(v) for v in chosen)
                finite = rest
        if min_count is not None:
            return cls._protected(finite, int(missing.sum()), masses, encoding=encoding,
                                  n_quantiles=n_quantiles, k=min_count)
        lo, hi = float(finite.min()), float(finite.max())
        knots = None
        if encoding == "quantile":
            n_q = int(min(n_quantiles, max(finite.size, 2)))
            knots = np.quantile(finite, np.linspace(0.0, 1.0, n_q))
        fill = float(np.median(_scale(finite, knots, lo, hi)))
        return cls(int(missing.sum()), lo, hi, masses, knots, fill)

    @classmethod
    def _protected(cls, finite, n_missing, masses, *, encoding, n_quantiles, k):
        s = np.sort(finite)
        m = s.size
        if m >= 2 * k:
            # each bound is the mean of k order statistics next to the k - 1 extremes
            # (ranks k..2k-1 from either end): no single row's value, and the k - 1 most
            # extreme values (an outlier) do not move it
            lo, hi = float(s[k - 1:2 * k - 1].mean()), float(s[m - 2 * k + 1:m - k + 1].mean())
            s = np.clip(s, lo, hi)
            middle = float(s[(m - k) // 2:(m - k) // 2 + k].mean())
        else:  # too few values to protect both tails
            lo = hi = middle = float(s.mean())
        knots = None
        if encoding == "quantile":
            if lo == hi:
                knots = np.array([lo, hi])
            else:
                n_groups = int(min(n_quantiles, m // k))
                bounds = (np.arange(n_groups + 1) * m) // n_groups
                knots = np.add.reduceat(s, bounds[:-1]) / np.diff(bounds)
                # round-off must not make the knots decrease or leave [lo, hi]
                knots = np.clip(np.maximum.accumulate(knots), lo, hi)
        fill = float(_scale(np.array([middle]), knots, lo, hi)[0])
        return cls(n_missing, lo, hi, masses, knots, fill, clip=True)


    @classmethod
    def from_sketch(cls, sketch, *, encoding, n_quantiles=1000, point_masses=None,
                    min_count=None, to_scale=None):
        """Statistics of the values a :class:`~skmixsynth._sketch.QuantileSketch` has seen.

        While the sketch is exact (``rank_error == 0``) and has seen at most
        :data:`EXACT_SKETCH_ROWS` values, the values are rebuilt from it and this is
        :meth:`from_values` on them: the same summary, bit for bit. Otherwise every statistic
        is read from the sketch the way :meth:`from_values` computes it from the sorted
        values, with the sketch's error (``e = sketch.rank_error`` and
        ``c = sketch.count_error``):

        - the range is exact (the sketch keeps exact tails); with ``min_count=k`` so are the
          clip bounds (the means of ranks ``k..2k-1`` from either end), as long as ``2k``
          plus the number of point masses is below the sketch's ``n_extremes``;
        - a point mass is a value whose estimated count is at least ``point_masses`` of the
          non-missing rows (within ``c`` of its count, so only values within ``c`` rows of
          the threshold can be decided otherwise than by :meth:`from_values`);
        - each quantile knot at level ``q`` has a true rank, among the ``m`` values on the
          scale, within ``(1 + 2 n_masses) e + 1`` of ``q (m - 1)``, and the fill is the scaled
          median within the same bound;
        - with ``min_count=k`` the knots are means of groups of consecutive ranks, as in
          :meth:`from_values`, taken over the sketch's weighted items: the knot of the
          group of ranks ``[a, b)`` lies between the values of true ranks ``a - e`` and
          ``b - 1 + e``. A group must hold at least ``k`` rows' worth of distinct sketched rows
          (a compactor item counts for one row, a counted value for its count), so that no
          knot is one sketched row's value: where a group holds fewer, there are fewer, larger
          groups. The fill is the scaled mean of the middle ``k`` ranks, widened in the same
          way.

        Parameters
        ----------
        sketch : QuantileSketch
            With at least one non-missing value.
        encoding, n_quantiles, point_masses, min_count
            As in :meth:`from_values`.
        to_scale : callable or None, default=None
            Maps sketched values (float64 array) to the column's scale, increasing (a
            datetime column sketches nanoseconds and is scaled in whole units from its
            origin); ``None`` is the identity.

        Examples
        --------
        >>> import numpy as np
        >>> from skmixsynth._columns import NumericalSummary
        >>> from skmixsynth._sketch import QuantileSketch
        >>> values = np.array([1.0, 2.0, np.nan, 4.0])
        >>> a = NumericalSummary.from_sketch(QuantileSketch().update(values), encoding="quantile")
        >>> b = NumericalSummary.from_values(values, encoding="quantile")
        >>> a.quantiles.tolist() == b.quantiles.tolist(), a.fill == b.fill
        (True, True)
        """
        if to_scale is None:
            def to_scale(x):
                return np.asarray(x, dtype=np.float64)
        if sketch.n == 0:
            raise ValueError("The sketch has no values to summarise.")
        if sketch.rank_error == 0 and sketch.n <= EXACT_SKETCH_ROWS:
            values, weights, _ = sketch.items()
            finite = to_scale(np.repeat(values, weights))
            return cls.from_values(
                np.concatenate([finite, np.full(sketch.n_missing, np.nan)]), encoding=encoding,
                n_quantiles=n_quantiles, point_masses=point_masses, min_count=min_count,
            )
        masses = np.empty(0)
        if point_masses is not None:
            found, counts = sketch.heavy_hitters(point_masses)
            if min_count is not None:
                found, counts = found[counts >= min_count], counts[counts >= min_count]
            if found.size and counts.sum() < sketch.n:  # a column of masses only keeps its scale
                masses = found
        exclude = masses if masses.size else None
        values, weights, tabled = sketch.items(exclude=exclude)
        if not weights.size:  # the estimates left nothing on the scale: no point masses
            masses, exclude = np.empty(0), None
            values, weights, tabled = sketch.items()
        m = int(weights.sum())
        mass_values = tuple(float(v) for v in to_scale(masses))
        if min_count is not None:
            return cls._protected_sketch(
                sketch, values, weights, tabled, exclude, mass_values, encoding=encoding,
                n_quantiles=n_quantiles, k=int(min_count), to_scale=to_scale)
        lo, hi = (float(v) for v in to_scale(sketch.order_statistics([0, -1], exclude=exclude)))
        knots = None
        if encoding == "quantile":
            n_q = int(min(n_quantiles, max(m, 2)))
            knots = to_scale(sketch.quantiles(np.linspace(0.0, 1.0, n_q), exclude=exclude))
            knots = np.clip(np.maximum.accumulate(knots), lo, hi)
        # np.median: the mean of the one or two middle values
        middle = [m // 2] if m % 2 else [m // 2 - 1, m // 2]
        middle = to_scale(sketch.order_statistics(np.array(middle), exclude=exclude))
        fill = float(np.mean(_scale(middle, knots, lo, hi)))
        return cls(sketch.n_missing, lo, hi, mass_values, knots, fill)

    @classmethod
    def _protected_sketch(cls, sketch, values, weights, tabled, exclude, masses, *, encoding,
                          n_quantiles, k, to_scale):
        m = int(weights.sum())
        ends = np.cumsum(weights)
        starts = ends - weights
        values = to_scale(values)
        if m >= 2 * k:  # the bounds of _protected: means of ranks k..2k-1 from either end
            ranks = np.arange(k - 1, 2 * k - 1)
            low = to_scale(sketch.order_statistics(ranks, exclude=exclude))
            high = to_scale(sketch.order_statistics(ranks - (3 * k - 2), exclude=exclude))
            lo, hi = float(np.mean(low)), float(np.mean(high))
        else:  # too few values to protect both tails: the weighted mean
            lo = hi = float(np.sum(values * weights) / m)
        values = np.clip(values, lo, hi)
        # prefix sums over ranks: of the values, and of the rows known distinct
        value_sums = np.concatenate([[0.0], np.cumsum(values * weights)])
        row_sums = np.concatenate([[0], np.cumsum(np.where(tabled, weights, 0))])
        loose = np.concatenate([[0], np.cumsum(~tabled)])

        def prefix(cumulative, rate, x):
            """Sum over ranks [0, x) of a per-item rate."""
            j = np.searchsorted(ends, x, side="right")
            inside = j < ends.size
            jj = np.minimum(j, ends.size - 1)
            part = np.where(inside, rate[jj] * (x - starts[jj]), 0)
            return cumulative[j] + part

        def means(bounds):
            """Means and distinct-row support of the rank ranges [bounds[i], bounds[i+1])."""
            a, b = bounds[:-1], bounds[1:]
            sums = prefix(value_sums, values, b) - prefix(value_sums, values, a)
            rows = (prefix(row_sums, np.where(tabled, 1, 0), b)
                    - prefix(row_sums, np.where(tabled, 1, 0), a))
            # compactor items wholly inside the range: one row each
            first = np.searchsorted(starts, a, side="left")
            last = np.searchsorted(ends, b, side="right")
            rows = rows + np.maximum(loose[np.maximum(last, first)] - loose[first], 0)
            return np.clip(sums / (b - a), lo, hi), rows

        if lo == hi:
            middle = lo
        else:
            width = k
            while True:
                a = max(0, (m - width) // 2)
                bounds = np.array([a, min(m, a + width)])
                mean, rows = means(bounds)
                if rows[0] >= k or width >= m:
                    middle = float(mean[0])
                    break
                width *= 2
        knots = None
        if encoding == "quantile":
            knots = np.array([lo, hi])
            n_groups = int(min(n_quantiles, m // k)) if lo != hi else 0
            while n_groups >= 2:
                bounds = (np.arange(n_groups + 1) * m) // n_groups
                group_means, rows = means(bounds)
                if (rows >= k).all():
                    knots = np.clip(np.maximum.accumulate(group_means), lo, hi)
                    break
                n_groups = min(n_groups - 1, int(n_groups * 0.9))  # fewer, larger groups
        fill = float(_scale(np.array([middle]), knots, lo, hi)[0])
        return cls(sketch.n_missing, lo, hi, masses, knots, fill, clip=True)


@dataclass(frozen=True, eq=False)
class NumericalState:
    """Fitted state of a :class:`NumericalColumn` (see its ``to_dict`` table)."""

    dtype: dict
    encoding: str
    minimum: float
    maximum: float
    masses: tuple
    has_missing: bool
    integer: bool
    quantiles: np.ndarray | None
    fill: float
    clip: bool = False

    @functools.cached_property
    def labels(self):
        """Labels of the state span (present, missing, then ``=mass``), or None."""
        if not (self.has_missing or self.masses):
            return None
        labels = ["present"] + (["missing"] if self.has_missing else [])
        masses = [int(v) if self.integer else v for v in self.masses]
        return tuple(labels + [f"={v}" for v in masses])


def _scale(values, knots, lo, hi):
    """Values -> [0, 1]: through the knots (``"quantile"``) or the range (``"minmax"``)."""
    if knots is not None:
        # a value repeated over several knots (a point mass) maps to the middle of its CDF
        # interval
        left, right = _scale_ends(values, knots, lo, hi)
        return 0.5 * (left + right)
    if hi == lo:
        return np.full(values.shape, 0.5)
    return (values - lo) / (hi - lo)


def _scale_ends(values, knots, lo, hi):
    """Values -> the ends ``(left, right)`` of the stretch of [0, 1] that decodes to each
    value: a value held by several rows (tied knots) spans an interval of the quantile
    scale, whose middle is :func:`_scale`'s; elsewhere (and on the min-max scale) both ends
    are that point."""
    if knots is None:
        point = _scale(values, knots, lo, hi)
        return point, point
    levels = np.linspace(0.0, 1.0, knots.size)
    # the forward interpolation lands on the last of tied knots, the reversed on the first
    right = _interp(values, knots, levels)
    left = -_interp(-values, -knots[::-1], -levels[::-1])
    return np.minimum(left, right), np.maximum(left, right)


def _interp(x, xp, fp):
    """``np.interp``, also between knots a subnormal distance apart: there numpy's slope
    overflows, so a value between them gets inf (or ``inf * 0 = nan`` on the knot;
    hypothesis found a column holding 2e-313 and 2e-308 beside zeros); those values are
    interpolated from their offset over the knots' gap instead."""
    out = np.interp(x, xp, fp)
    bad = ~np.isfinite(out) & ~np.isnan(x)
    if bad.any():
        xb = np.asarray(x)[bad]
        j = np.clip(np.searchsorted(xp, xb, side="right") - 1, 0, xp.size - 2)
        gap = xp[j + 1] - xp[j]
        frac = np.where(gap > 0, (xb - xp[j]) / np.where(gap > 0, gap, 1.0), 0.0)
        out[bad] = fp[j] + np.clip(frac, 0.0, 1.0) * (fp[j + 1] - fp[j])
    return out


def _unscale(u, knots, lo, hi):
    """[0, 1] -> values, clipped into the training range."""
    u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
    if knots is not None:
        # Linear interpolation between the knots, which sit on the uniform grid
        # linspace(0, 1, n): the segment index is floor(u * (n - 1)), no search needed
        # (np.interp's binary search took half of the decoding time of a sample).
        pos = u * (knots.size - 1)  # at least 2 knots (fit)
        j = np.minimum(pos.astype(np.intp), knots.size - 2)
        low, high = knots[j], knots[j + 1]
        # clipped to the segment: round-off must not step outside the training range
        return np.clip(low + (pos - j) * (high - low), low, high)
    return np.clip(lo + u * (hi - lo), lo, hi)


def _frozen(array):
    array = np.array(array, dtype=np.float64)
    array.flags.writeable = False
    return array


@register_column_encoder
class NumericalColumn(BaseEstimator):
    """A numerical column: one scalar in [0, 1], plus a state span for missing values and
    point masses.

    The scale is ``"quantile"`` (the empirical CDF through ``n_quantiles`` knots, linear
    between them) or ``"minmax"`` (linear over the training range). With ``point_masses``, a
    value held by at least that share of the non-missing rows becomes a level of the column's
    state span (``present``, ``missing`` if any, then ``=value`` per mass) and the scale is
    fitted on the other values. Integer (and bool) columns are rounded when decoded.

    Parameters
    ----------
    encoding : {"quantile", "minmax"} or None, default=None
        ``None`` takes the encoder's ``numerical_encoding``.

    Attributes
    ----------
    name_ : object
        The column's name.
    state_ : NumericalState
        The fitted state (frozen). Its JSON form, :meth:`to_dict`:

        ================  ==========================================================
        key               value
        ================  ==========================================================
        ``type``          ``"numerical"`` (``"datetime"`` for :class:`DatetimeColumn`)
        ``name``          the column name (JSON-tagged, see ``get_state``)
        ``dtype``         ``{"name": str(dtype)}`` (and ``storage``/``na_nan`` for strings)
        ``encoding``      ``"quantile"`` or ``"minmax"``
        ``masses``        point-mass values, sorted (list of float)
        ``min``, ``max``  range of the values on the scale (float)
        ``has_missing``   whether the column had missing values (bool)
        ``integer``       whether decoded values are rounded (bool)
        ``quantiles``     knots at ``linspace(0, 1, n)`` (``"quantile"`` only; list of float)
        ``fill``          encoded value of rows off the scale: scaled median (float)
        ``clip``          whether encoded values are clipped to ``[min, max]`` (bool)
        ================  ==========================================================

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth._columns import EncoderSettings, NumericalColumn
    >>> col = NumericalColumn(encoding="minmax").fit(
    ...     pd.Series([1, 3, None, 5], dtype="Int64"), name="k", settings=EncoderSettings())
    >>> col.discrete_labels
    ('present', 'missing')
    >>> numerical, codes = col.encode(pd.Series([1, None], dtype="Int64"))
    >>> numerical.ravel().tolist(), codes.ravel().tolist()
    ([0.0, 0.5], [0, 1])
    >>> col.decode(numerical, codes, None).tolist()
    [1, <NA>]
    """

    type_name = "numerical"
    span_kind = MISSING
    n_numerical = 1

    def __init__(self, encoding=None):
        self.encoding = encoding

    # ------------------------------------------------------------------ fit
    def fit(self, series, *, name, settings):
        """Learn the scale, missing values and point masses of ``series``.

        Returns
        -------
        self : NumericalColumn
        """
        encoding = self._encoding(settings)
        values, time_scale = self._values_at_fit(series, name, settings)
        finite = values[~np.isnan(values)]
        if finite.size == 0:
            raise ValueError(
                f"Column {name!r} has only missing values; drop it or fill it before fitting."
            )
        if np.isinf(finite).any():
            raise ValueError(f"Column {name!r} holds infinite values; replace them first.")
        summary = NumericalSummary.from_values(
            values, encoding=encoding, n_quantiles=settings.n_quantiles,
            point_masses=settings.point_masses, min_count=settings.min_count,
        )
        return self.fit_summary(summary, name=name, dtype=series.dtype,
                                integer=self._is_integer(series.dtype), **time_scale)

    def fit_summary(self, summary, *, name, dtype, integer=None, **time_scale):
        """Fit from summary statistics instead of a series (a one-pass fit over chunks).

        Parameters
        ----------
        summary : NumericalSummary
        name : object
            The column's name.
        dtype : dtype
            The training dtype (decoded values have it).
        integer : bool, default=None
            Round decoded values; ``None`` decides from ``dtype``. A protected summary
            (``clip``) collapsed to one value is rounded to a whole number, as :meth:`fit` does.
        **time_scale
            ``origin`` and ``unit`` of a :class:`DatetimeColumn`.

        Returns
        -------
        self : NumericalColumn
        """
        integer = self._is_integer(dtype) if integer is None else bool(integer)
        if integer and summary.clip and summary.minimum == summary.maximum:
            # a protected column collapsed to its mean: a whole number, like its values
            v = float(np.round(summary.minimum))
            summary = dataclasses.replace(
                summary, minimum=v, maximum=v,
                quantiles=None if summary.quantiles is None else np.array([v, v]))
        knots = summary.quantiles
        if knots is not None:
            knots = _frozen(knots)
        fill = summary.fill
        if fill is None:
            fill = 0.5 if knots is None else float(np.median(knots))
            fill = float(_scale(np.array([fill]), knots, summary.minimum, summary.maximum)[0])
        self.name_ = name
        self.state_ = self._state_class(
            dtype=_dtype_to_json(dtype),
            encoding="minmax" if knots is None else "quantile",
            minimum=float(summary.minimum),
            maximum=float(summary.maximum),
            masses=tuple(float(v) for v in summary.masses),
            has_missing=bool(summary.n_missing),
            integer=integer,
            quantiles=knots,
            fill=float(fill),
            clip=bool(summary.clip),
            **time_scale,
        )
        return self

    _state_class = NumericalState

    def _encoding(self, settings):
        encoding = settings.numerical_encoding if self.encoding is None else self.encoding
        if encoding not in ("quantile", "minmax"):
            raise ValueError(
                f"encoding of {type(self).__name__} must be 'quantile' or 'minmax'; got "
                f"{encoding!r}."
            )
        return encoding

    @staticmethod
    def _is_integer(dtype):
        # Bools forced numerical round to 0/1 too (casting 0.3 to "boolean" would fail).
        return bool(pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))

    def _values_at_fit(self, series, name, settings):
        """Float64 values (NaN for missing) and the extra state fields of the scale."""
        if _is_datetime(series.dtype):
            raise TypeError(
                f"Column {name!r} holds datetimes; encode it with DatetimeColumn (the aliases "
                "'quantile' and 'minmax' choose it for datetime columns)."
            )
        return numeric_values(series, column=name, what="is numerical"), {}

    def _values(self, series):
        """Float64 values of ``series`` (NaN for missing) on the column's fitted scale."""
        return numeric_values(series, column=self.name_, what="is numerical")

    # ------------------------------------------------------------------ layout
    @property
    def discrete_labels(self):
        """Labels of the state span (present, missing, then ``=mass``), or None."""
        check_is_fitted(self, "state_")
        return self.state_.labels

    @property
    def _mass_offset(self):
        """Index of the first point-mass level in the state span."""
        return 2 if self.state_.has_missing else 1

    # ------------------------------------------------------------------ encode
    def encode(self, series):
        """Encoded values ``(n, 1)`` and state codes ``(n, 1)`` (``(n, 0)`` without a state
        span)."""
        check_is_fitted(self, "state_")
        st = self.state_
        values = self._values(series)
        missing = np.isnan(values)
        if np.isinf(values).any():
            raise ValueError(f"Column {self.name_!r} holds infinite values; replace them first.")
        if missing.any() and not st.has_missing:
            raise ValueError(
                f"Column {self.name_!r} has {int(missing.sum())} missing value(s), but had none "
                "when the encoder was fitted, so it has no missing-value indicator. Refit on "
                "data with missing values in this column, or fill them first."
            )
        state = self._state_codes(values, missing)
        on_scale = state == 0
        encoded = np.full(values.shape[0], st.fill)
        encoded[on_scale] = self.scale(values[on_scale])
        width = 0 if self.discrete_labels is None else 1
        return encoded[:, None], state[:, None][:, :width]

    def encode_partial(self, series):
        """Like :meth:`encode` for conditions: NaN where the scale is not used (missing values,
        point masses), and a ``ValueError`` naming the column and the value for a value the
        column cannot reproduce exactly (outside the training range, not a whole number of an
        integer column's unit, missing in a column that had none)."""
        check_is_fitted(self, "state_")
        st = self.state_
        values = self._values(series)
        missing = np.isnan(values)
        if missing.any() and not st.has_missing:
            raise ValueError(
                f"Column {self.name_!r} had no missing values at fit, so a missing value cannot "
                "be a condition."
            )
        if np.isinf(values).any():
            raise ValueError(f"Column {self.name_!r} cannot be conditioned on an infinite value.")
        state = self._state_codes(values, missing)
        on_scale = state == 0
        v = values[on_scale]
        bad = (v < st.minimum) | (v > st.maximum)
        if st.integer:
            bad |= v != np.round(v)
        if bad.any():
            example = _py(series.to_numpy()[np.flatnonzero(on_scale)[np.argmax(bad)]])
            whole = ", in whole units" if st.integer else ""
            raise ValueError(
                f"Column {self.name_!r} cannot be conditioned on {example!r}: a condition must "
                f"lie within the training range {self._range_text()}{whole}."
            )
        encoded = np.full(values.shape[0], np.nan)
        encoded[on_scale] = self.scale(v)
        width = 0 if self.discrete_labels is None else 1
        return encoded[:, None], state[:, None][:, :width]

    def _range_text(self):
        st = self.state_
        return f"[{st.minimum!r}, {st.maximum!r}]"

    def scale(self, values):
        """Map values on the column's scale to [0, 1] (see :meth:`encode`)."""
        st = self.state_
        if st.clip:
            values = np.clip(values, st.minimum, st.maximum)
        return _scale(values, st.quantiles, st.minimum, st.maximum)

    def scale_ends(self, values):
        """The stretch of [0, 1] that decodes to each value: ``(left, right)``.

        :meth:`scale` maps a value to the middle of its stretch; a value that many rows
        hold (zeros in a column whose zeros are not a point mass of the state span) covers a
        stretch as wide as its share of the rows, and a range condition that includes the
        value must include all of it.

        Examples
        --------
        >>> import numpy as np
        >>> from skmixsynth import MixedTypeEncoder
        >>> import pandas as pd
        >>> X = pd.DataFrame({"x": [0.0] * 6 + [1.0, 2.0, 3.0, 4.0]})
        >>> col = MixedTypeEncoder().fit(X).column_encoders_[0]
        >>> left, right = col.scale_ends(np.array([0.0, 2.0]))
        >>> float(right[0] - left[0]) > 0.4, bool(left[1] == right[1])  # zeros: 60 % of rows
        (True, True)
        """
        st = self.state_
        if st.clip:
            values = np.clip(values, st.minimum, st.maximum)
        return _scale_ends(values, st.quantiles, st.minimum, st.maximum)

    def _state_codes(self, values, missing):
        """Level of each row in the state span: 0 on the scale, 1 missing, then the masses."""
        st = self.state_
        state = np.zeros(values.shape[0], dtype=np.int64)
        masses = np.asarray(st.masses, dtype=np.float64)
        if masses.size:
            at = np.searchsorted(masses, values)
            hit = (at < masses.size) & (masses[np.minimum(at, masses.size - 1)] == values)
            state[hit] = self._mass_offset + at[hit]
        if st.has_missing:
            state[missing] = 1
        return state

    # ------------------------------------------------------------------ decode
    def decode(self, numerical, codes, rng=None):
        """Series from scaled values ``(n, 1)`` and state codes ``(n, 1)`` or ``(n, 0)``."""
        check_is_fitted(self, "state_")
        values, missing = self._decode_values(numerical, codes)
        return self._to_series(values, missing)

    def _decode_values(self, numerical, codes):
        st = self.state_
        values = _unscale(numerical[:, 0], st.quantiles, st.minimum, st.maximum)
        state = codes[:, 0] if codes.shape[1] else None
        missing = None
        if state is not None and st.has_missing:
            # level 1, or no level at all (-1, an all-zero block), is missing
            missing = (state == 1) | (state < 0)
        if st.integer:
            values = np.clip(np.round(values), st.minimum, st.maximum)
        if state is not None and st.masses:
            # after the clip: a mass may lie outside the scale's range
            level = state - self._mass_offset
            at_mass = level >= 0
            values[at_mass] = np.asarray(st.masses, dtype=np.float64)[level[at_mass]]
        return values, missing

    def _to_series(self, values, missing):
        st = self.state_
        dtype = _dtype_from_json(st.dtype)
        series = pd.Series(values)
        if missing is not None and missing.any():
            series[missing] = np.nan
        if isinstance(dtype, np.dtype) and dtype.kind == "O":
            if st.integer:
                arr = np.array([None if np.isnan(v) else int(v) for v in values], dtype=object)
            else:
                arr = series.to_numpy(dtype=object)
            if missing is not None:
                arr[missing] = np.nan
            return pd.Series(arr, dtype=object)
        if missing is not None and missing.any() and pd.api.types.is_integer_dtype(dtype):
            if not isinstance(dtype, pd.api.extensions.ExtensionDtype):
                return series  # an int column cannot hold NaN; float is the closest
        return series.astype(dtype)

    # ------------------------------------------------------------------ state
    def to_dict(self):
        """The fitted state as JSON-able data (keys in the class docstring)."""
        check_is_fitted(self, "state_")
        st = self.state_
        out = {
            "type": self.type_name,
            "name": to_json(self.name_),
            "dtype": dict(st.dtype),
            "encoding": st.encoding,
            "masses": list(st.masses),
            "min": st.minimum,
            "max": st.maximum,
            "has_missing": st.has_missing,
            "integer": st.integer,
        }
        if st.quantiles is not None:
            out["quantiles"] = st.quantiles.tolist()
        out["fill"] = st.fill
        out["clip"] = st.clip
        return out

    @classmethod
    def from_dict(cls, data):
        """Rebuild a fitted column from :meth:`to_dict`'s output."""
        col = cls(encoding=data["encoding"])
        col.name_ = from_json(data["name"])
        knots = data.get("quantiles")
        col.state_ = cls._state_class(**cls._state_fields(data), quantiles=(
            None if knots is None else _frozen(knots)))
        return col

    @staticmethod
    def _state_fields(data):
        return {
            "dtype": dict(data["dtype"]),
            "encoding": data["encoding"],
            "minimum": float(data["min"]),
            "maximum": float(data["max"]),
            "masses": tuple(float(v) for v in data["masses"]),
            "has_missing": bool(data["has_missing"]),
            "integer": bool(data["integer"]),
            "fill": float(data["fill"]),
            "clip": bool(data.get("clip", False)),
        }


@dataclass(frozen=True, eq=False)
class DatetimeState(NumericalState):
    """Fitted state of a :class:`DatetimeColumn`: a numerical state plus the time scale."""

    origin: int = 0
    unit: str = "ns"


@register_column_encoder
class DatetimeColumn(NumericalColumn):
    """A datetime column (naive or time-zone aware): numerical on a time scale.

    Values are counted in whole units of the column's resolution (the coarsest of day, hour,
    minute, second, ms, us, ns that divides every value) from an origin (the earliest value;
    with ``min_count=k``, the ``k``-th earliest, the lower clip bound),
    so they round like integers and are exact in float64; aware columns are taken in UTC and
    decoded back into their zone.

    Parameters
    ----------
    encoding : {"quantile", "minmax"} or None, default=None

    Attributes
    ----------
    name_ : object
    state_ : DatetimeState
        :class:`NumericalColumn`'s keys plus ``origin`` (int, nanoseconds since the epoch)
        and ``unit`` (``"D"``, ``"h"``, ``"min"``, ``"s"``, ``"ms"``, ``"us"`` or ``"ns"``).

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth._columns import DatetimeColumn, EncoderSettings
    >>> s = pd.Series(pd.to_datetime(["2020-01-01", "2020-01-03", "2020-01-02"]))
    >>> col = DatetimeColumn(encoding="minmax").fit(s, name="when", settings=EncoderSettings())
    >>> col.state_.unit, col.encode(s)[0].ravel().tolist()
    ('D', [0.0, 1.0, 0.5])
    """

    type_name = "datetime"

    _state_class = DatetimeState

    def _values_at_fit(self, series, name, settings):
        ns, mask = datetime_ns(series, column=name)
        valid = ns[~mask]
        if valid.size == 0:
            raise ValueError(
                f"Column {name!r} has only missing values; drop it or fill it before fitting."
            )
        # the coarsest unit that divides every value (and so every offset from the origin)
        unit = next((u for u, step in _DATETIME_UNITS if np.all(valid % step == 0)), "ns")
        k = settings.min_count
        if k is None:
            origin = int(valid.min())
        elif valid.size >= 2 * k:  # on the unit grid below the lower clip bound (a mean)
            window = np.sort(np.partition(valid, 2 * k - 2)[:2 * k - 1])[k - 1:]
            step = _UNIT_NS[unit]
            origin = int(np.floor(window.astype(np.float64).mean() / step)) * step
        else:  # the column collapses to its mean: an origin on the unit grid near it
            step = _UNIT_NS[unit]
            origin = int(np.floor(valid.astype(np.float64).mean() / step)) * step
        return self._offsets(ns, mask, origin, unit), {"origin": origin, "unit": unit}

    @staticmethod
    def _offsets(ns, mask, origin, unit):
        # Offsets in whole units of the column's resolution: exact in float64 below 2**53.
        step = _UNIT_NS[unit]
        offset = ns - origin
        values = (offset // step).astype(np.float64) + (offset % step) / step
        values[mask] = np.nan
        return values

    def _is_integer(self, dtype):
        return True  # whole units of the resolution

    def _values(self, series):
        ns, mask = datetime_ns(series, column=self.name_)
        return self._offsets(ns, mask, self.state_.origin, self.state_.unit)

    def _to_series(self, values, missing):
        st = self.state_
        dtype = _dtype_from_json(st.dtype)
        units = values.astype(np.int64)
        ns = units * _UNIT_NS[st.unit] + st.origin
        result = pd.Series(pd.to_datetime(ns, unit="ns"))
        if missing is not None:
            result[missing] = pd.NaT
        if isinstance(dtype, pd.DatetimeTZDtype):
            result = result.dt.tz_localize("UTC").dt.tz_convert(dtype.tz)
        return result.astype(dtype)

    def _range_text(self):
        st = self.state_
        step = _UNIT_NS[st.unit]
        lo, hi = (pd.Timestamp(int(v) * step + st.origin) for v in (st.minimum, st.maximum))
        return f"[{lo}, {hi}] (UTC; unit {st.unit!r})"

    def to_dict(self):
        out = super().to_dict()
        out["origin"] = self.state_.origin
        out["unit"] = self.state_.unit
        return out

    @staticmethod
    def _state_fields(data):
        fields = NumericalColumn._state_fields(data)
        fields.update(origin=int(data["origin"]), unit=data["unit"])
        return fields


# ============================================================================ categorical
@dataclass(frozen=True, eq=False)
class CategoricalState:
    """Fitted state of a :class:`CategoricalColumn` (see its ``to_dict`` table)."""

    dtype: dict
    levels: tuple
    grouped: tuple
    grouped_p: tuple
    has_missing: bool
    ordered: bool
    categories: tuple | None = None
    protected: bool = False

    @property
    def bucket(self):
        """Whether the span has a level shared by several values (``max_categories``, or the
        levels protected by ``min_count``)."""
        return bool(self.grouped) or self.protected

    @functools.cached_property
    def labels(self):
        """Labels of the span: the levels, ``infrequent`` or ``_RARE_``, ``nan``."""
        labels = [str(v) for v in self.levels]
        if self.bucket:
            labels.append(GROUPED_LABEL if self.grouped else PLACEHOLDER)
        if self.has_missing:
            labels.append("nan")
        return tuple(labels)

    @property
    def string_like(self):
        """Whether the column can hold the placeholder string (object, string, category)."""
        return self.dtype["name"] in ("object", "string", "category")


@register_column_encoder
class CategoricalColumn(BaseEstimator):
    """A categorical column (bool, object, string, category, or any dtype forced
    categorical): one level index, a one-hot span in the matrix.

    Levels are sorted (or in the order of a categorical dtype's categories, unused ones
    included); missing values get a ``nan`` level of their own. With ``max_categories=k`` the
    ``k - 1`` most frequent levels are kept and the others share one ``"infrequent"`` level,
    which decodes to one of them drawn with their training frequencies.

    Attributes
    ----------
    name_ : object
    state_ : CategoricalState
        The fitted state (frozen). Its JSON form, :meth:`to_dict`:

        ===============  ===========================================================
        key              value
        ===============  ===========================================================
        ``type``         ``"categorical"``
        ``name``         the column name (JSON-tagged)
        ``dtype``        ``{"name": str(dtype)}`` (and ``storage``/``na_nan`` for strings)
        ``levels``       levels with a code of their own, in code order (JSON-tagged)
        ``grouped``      levels sharing the ``"infrequent"`` code (JSON-tagged)
        ``grouped_p``    their draw probabilities (list of float)
        ``has_missing``  whether the ``nan`` level exists (bool)
        ``ordered``      whether a categorical dtype is ordered (bool)
        ``categories``   a categorical dtype's categories (category dtype only)
        ===============  ===========================================================

        Codes: ``levels`` first, then the ``"infrequent"`` level (if ``grouped``), then
        ``nan`` (if ``has_missing``).

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth._columns import CategoricalColumn, EncoderSettings
    >>> col = CategoricalColumn().fit(pd.Series(["b", "a", None, "b"]), name="c",
    ...                               settings=EncoderSettings())
    >>> col.discrete_labels
    ('a', 'b', 'nan')
    >>> col.encode(pd.Series(["a", None]))[1].ravel().tolist()
    [0, 2]
    """

    type_name = "categorical"
    span_kind = CATEGORICAL
    n_numerical = 0

    def __init__(self):
        pass

    # ------------------------------------------------------------------ fit
    def fit(self, series, *, name, settings):
        """Learn the levels of ``series`` (and the grouping of ``max_categories``).

        Returns
        -------
        self : CategoricalColumn
        """
        observed = series.dropna()
        counts = observed.value_counts(sort=False)
        return self.fit_counts(list(counts.index), counts.to_numpy(), name=name,
                               dtype=series.dtype, n_missing=len(series) - len(observed),
                               settings=settings)

    def fit_counts(self, levels, counts, *, name, dtype, n_missing, settings):
        """Fit from level counts instead of a series (a one-pass fit over chunks).

        ``fit(series)`` is ``fit_counts`` of the series' value counts, so both give the same
        column from the same rows.

        Parameters
        ----------
        levels : list
            The distinct non-missing values, in order of first appearance (the order kept
            for levels that cannot be sorted).
        counts : array-like of int
            How many rows hold each level.
        name : object
            The column's name.
        dtype : dtype
            The training dtype: a categorical dtype's categories are the levels, in their
            order (unseen ones with a count of 0); other levels are sorted where they can be.
        n_missing : int
            Number of missing values.
        settings : EncoderSettings

        Returns
        -------
        self : CategoricalColumn

        Examples
        --------
        >>> from skmixsynth._columns import CategoricalColumn, EncoderSettings
        >>> col = CategoricalColumn().fit_counts(["b", "a"], [3, 1], name="c", dtype=object,
        ...                                      n_missing=2, settings=EncoderSettings())
        >>> col.discrete_labels
        ('a', 'b', 'nan')
        """
        dtype = pd.api.types.pandas_dtype(dtype)
        counts = np.asarray(counts, dtype=np.int64).reshape(-1)
        if len(levels) != counts.size:
            raise ValueError(
                f"Column {name!r}: {len(levels)} levels but {counts.size} counts were given."
            )
        if not (counts > 0).any():
            raise ValueError(
                f"Column {name!r} has only missing values; drop it or fill it before fitting."
            )
        has_missing = n_missing > 0
        is_category = isinstance(dtype, pd.CategoricalDtype)
        categories = None
        if is_category:
            seen = {}
            for v, c in zip(levels, counts.tolist(), strict=True):
                seen[v] = seen.get(v, 0) + c
            levels = list(dtype.categories)
            counts = np.array([seen.get(v, 0) for v in levels], dtype=np.int64)
        else:
            try:
                order = np.argsort(np.asarray(levels, dtype=object), kind="stable")
                levels = [levels[i] for i in order]
                counts = counts[order]
            except TypeError:  # mixed, unorderable types: keep the order of appearance
                pass
        levels = [_py(v) for v in levels]
        n_protected = 0
        if settings.min_count is not None:
            # rare-value protection: levels seen fewer than min_count times are dropped from
            # every list of the state (a category dtype gets the placeholder in their place)
            # and their rows share one protected level
            frequent = counts >= settings.min_count
            n_protected = int(counts[~frequent].sum())
            levels = [v for v, f in zip(levels, frequent, strict=True) if f]
            if is_category:
                categories = tuple(levels)
                if not frequent.all() and PLACEHOLDER not in levels:
                    categories += (PLACEHOLDER,)
            counts = counts[frequent]
        elif is_category:
            categories = tuple(levels)
        kept, grouped, grouped_p = levels, [], []
        k = settings.max_categories
        if k is not None and len(levels) + (n_protected > 0) > k:
            order = np.argsort(-counts, kind="stable")
            keep_idx = np.sort(order[: k - 1])
            rare_idx = np.sort(order[k - 1 :])
            kept = [levels[i] for i in keep_idx]
            grouped = [levels[i] for i in rare_idx]
            c = counts[rare_idx].astype(float)
            if n_protected:  # the protected rows are drawn as the placeholder, by their share
                c = np.append(c, n_protected)
            grouped_p = (c / c.sum()).tolist() if c.sum() > 0 else [1.0 / len(grouped)] * len(
                grouped)
        self.name_ = name
        self.state_ = CategoricalState(
            dtype=_dtype_to_json(dtype),
            levels=tuple(kept),
            grouped=tuple(grouped),
            grouped_p=tuple(grouped_p),
            has_missing=has_missing,
            ordered=bool(getattr(dtype, "ordered", False)),
            categories=categories,
            protected=n_protected > 0,
        )
        return self

    # ------------------------------------------------------------------ layout
    @property
    def discrete_labels(self):
        """Labels of the column's span: its levels, ``infrequent`` or ``_RARE_``, ``nan``."""
        check_is_fitted(self, "state_")
        return self.state_.labels

    @property
    def _missing_code(self):
        st = self.state_
        return len(st.levels) + (1 if st.bucket else 0)

    # ------------------------------------------------------------------ encode
    def encode(self, series, *, handle_unknown="error"):
        """No numerical scalar and the level code ``(n, 1)`` of each row.

        Parameters
        ----------
        series : Series
        handle_unknown : {"error", "ignore"}, default="error"
            A value not seen at fit (or a missing value in a column that had none) raises a
            ``ValueError``, or gets the code -1.
        """
        check_is_fitted(self, "state_")
        st = self.state_
        n = len(series)
        codes = np.full(n, -1, dtype=np.int64)
        isna = series.isna().to_numpy()
        if isna.any():
            if not st.has_missing:
                if handle_unknown == "error":
                    raise ValueError(
                        f"Column {self.name_!r} has missing values, but had none when the "
                        "encoder was fitted. Use handle_unknown='ignore' to encode them as "
                        "all-zero blocks."
                    )
            else:
                codes[isna] = self._missing_code
        values = series[~isna].astype(object).to_numpy()
        idx = self._level_codes(values)
        unknown = idx < 0
        if unknown.any() and handle_unknown == "error":
            examples = pd.unique(values[unknown])[:5].tolist()
            raise ValueError(
                f"Column {self.name_!r} has categories not seen at fit: {examples}. "
                "Use handle_unknown='ignore' to encode them as all-zero blocks."
            )
        codes[~isna] = idx
        return np.empty((n, 0)), codes[:, None]

    def encode_partial(self, series):
        """Like :meth:`encode` for conditions: a missing value in a column that had none, or a
        value that is not a level, is a ``ValueError`` naming the column and the value."""
        check_is_fitted(self, "state_")
        st = self.state_
        isna = series.isna().to_numpy()
        if isna.any() and not st.has_missing:
            raise ValueError(
                f"Column {self.name_!r} had no missing values at fit, so a missing value cannot "
                "be a condition."
            )
        codes = np.full(len(series), self._missing_code, dtype=np.int64)
        values = series[~isna].astype(object).to_numpy()
        idx = self._level_codes(values, strict=True)
        if (idx < 0).any():
            raise ValueError(
                f"Column {self.name_!r} has no level {_py(values[np.argmax(idx < 0)])!r} to "
                "condition "
                f"on; its levels are {self._levels_text()}."
            )
        codes[~isna] = idx
        return np.empty((len(series), 0)), codes[:, None]

    def _levels_text(self, limit=20):
        levels = [*self.state_.levels, *self.state_.grouped]
        more = f" and {len(levels) - limit} more" if len(levels) > limit else ""
        return f"{levels[:limit]}{more}"

    def _level_codes(self, values, strict=False):
        """Code of each (non-missing) value; -1 where it is not a level."""
        st = self.state_
        idx = _lookup(st.levels, values)
        unknown = idx < 0
        if st.grouped and unknown.any():
            in_group = _lookup(st.grouped, values[unknown]) >= 0
            sub = idx[unknown]
            sub[in_group] = len(st.levels)
            idx[unknown] = sub
        if st.protected and not strict:
            # the protected levels are not stored: every other value shares their level
            idx[idx < 0] = len(st.levels)
        return idx

    # ------------------------------------------------------------------ decode
    def decode(self, numerical, codes, rng):
        """Series from the level codes ``(n, 1)`` (-1: missing); ``rng`` draws grouped
        levels."""
        check_is_fitted(self, "state_")
        st = self.state_
        kept, grouped = st.levels, st.grouped
        n_kept = len(kept)
        n_known = n_kept + len(grouped)
        # ``level``: index into kept + grouped (+ the placeholder), -1 for missing.
        level = codes[:, 0].astype(np.int64, copy=True)
        missing = level < 0
        if st.has_missing:
            missing |= level == self._missing_code
        if grouped:
            rows = np.flatnonzero(level == n_kept)
            level[rows] = n_kept + rng.choice(len(grouped) + st.protected, size=rows.size,
                                              p=st.grouped_p)
        # the protected level: the placeholder where the dtype holds strings, else missing
        placeholder = PLACEHOLDER if st.string_like else np.nan
        if st.protected and not st.string_like:
            missing |= level == n_known
        level[missing] = -1
        known = [*kept, *grouped] + ([placeholder] if st.protected else [])
        dtype = self._dtype()
        if isinstance(dtype, pd.CategoricalDtype):
            # Integer codes straight into the categories: no hashing of labels.
            to_category = _lookup(list(dtype.categories), known)
            if (to_category >= 0).all():
                return pd.Series(pd.Categorical.from_codes(
                    np.where(level >= 0, to_category[level], -1), dtype=dtype))
        labels = np.empty(len(known) + 1, dtype=object)
        labels[: len(known)] = known
        labels[-1] = np.nan
        values = labels[level]  # -1 picks the trailing NaN
        # A column that had missing values keeps the dtype that holds them in every sample
        # (so does one whose protected level decodes as missing); -1 codes (unknown
        # categories) can bring missing values into any column.
        has_missing = (st.has_missing or (st.protected and not st.string_like)
                       or bool(missing.any()))
        if isinstance(dtype, pd.CategoricalDtype):
            return pd.Series(pd.Categorical(values, dtype=dtype))
        if pd.api.types.is_bool_dtype(dtype) and not has_missing:
            return pd.Series(values.astype(bool), dtype=dtype)
        if isinstance(dtype, np.dtype) and dtype.kind == "O":
            return pd.Series(values, dtype=object)
        if (
            has_missing
            and not isinstance(dtype, pd.api.extensions.ExtensionDtype)
            and dtype.kind != "M"  # datetime64 holds NaT: cast below
        ):
            if pd.api.types.is_numeric_dtype(dtype):  # int or float forced categorical
                return pd.Series(values.astype(float)).astype(
                    dtype if pd.api.types.is_float_dtype(dtype) else float
                )
            return pd.Series(values, dtype=object)
        return pd.Series(values).astype(dtype)

    def _dtype(self):
        st = self.state_
        if st.dtype["name"] == "category":
            return pd.CategoricalDtype(list(st.categories), ordered=st.ordered)
        return _dtype_from_json(st.dtype)

    # ------------------------------------------------------------------ state
    def to_dict(self):
        """The fitted state as JSON-able data (keys in the class docstring)."""
        check_is_fitted(self, "state_")
        st = self.state_
        out = {
            "type": self.type_name,
            "name": to_json(self.name_),
            "dtype": dict(st.dtype),
            "levels": [to_json(v) for v in st.levels],
            "grouped": [to_json(v) for v in st.grouped],
            "grouped_p": list(st.grouped_p),
            "has_missing": st.has_missing,
            "ordered": st.ordered,
        }
        if st.categories is not None:
            out["categories"] = [to_json(v) for v in st.categories]
        out["protected"] = st.protected
        return out

    @classmethod
    def from_dict(cls, data):
        """Rebuild a fitted column from :meth:`to_dict`'s output."""
        col = cls()
        col.name_ = from_json(data["name"])
        categories = data.get("categories")
        col.state_ = CategoricalState(
            dtype=dict(data["dtype"]),
            levels=tuple(from_json(v) for v in data["levels"]),
            grouped=tuple(from_json(v) for v in data["grouped"]),
            grouped_p=tuple(float(p) for p in data["grouped_p"]),
            has_missing=bool(data["has_missing"]),
            ordered=bool(data["ordered"]),
            categories=None if categories is None else tuple(from_json(v) for v in categories),
            protected=bool(data.get("protected", False)),
        )
        return col


# ============================================================================ helpers
def _is_datetime(dtype):
    return isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(dtype)


def _lookup(levels, values):
    """Position of each value in ``levels`` (-1 when absent), matching by equality and type."""
    table = {}
    for i, v in enumerate(levels):
        table.setdefault(_key(v), i)
    return np.fromiter((table.get(_key(v), -1) for v in values), dtype=np.int64,
                       count=len(values))


def _key(v):
    v = _py(v)
    # True == 1 in Python; keep bools apart from ints so that {1, True} are two levels.
    return (type(v) is bool, v)


def _py(v):
    """Numpy scalars -> Python scalars (so levels compare and serialise simply)."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def to_json(v):
    """A level or a column name as JSON: str, int, bool and None as they are; floats and
    Timestamps tagged (``{"float": repr}``, ``{"timestamp": iso, "tz": zone}``)."""
    v = _py(v)
    if v is None or isinstance(v, (str, bool, int)):
        return v
    if isinstance(v, float):
        return {"float": repr(v)}
    if isinstance(v, pd.Timestamp):
        if v.tz is None:
            return {"timestamp": v.isoformat()}
        # Stored in UTC with the zone's name: a local ISO string may carry an offset in
        # seconds (Europe/Paris before 1911 is +00:09:21) that pd.Timestamp cannot parse.
        return {"timestamp": v.tz_convert("UTC").isoformat(), "tz": str(v.tz)}
    raise TypeError(
        f"Cannot save the category value {v!r} of type {type(v).__name__}: only str, int, "
        "float, bool, None and Timestamp categories can be stored as JSON."
    )


def from_json(v):
    """Inverse of :func:`to_json`."""
    if isinstance(v, dict):
        if "float" in v:
            return float(v["float"])
        if "timestamp" in v:
            ts = pd.Timestamp(v["timestamp"])
            return ts.tz_convert(v["tz"]) if v.get("tz") else ts
    return v


def _dtype_to_json(dtype):
    if isinstance(dtype, pd.CategoricalDtype):
        return {"name": "category"}
    if isinstance(dtype, pd.StringDtype):
        na = dtype.na_value
        return {"name": "string", "storage": dtype.storage,
                "na_nan": bool(isinstance(na, float) and np.isnan(na))}
    return {"name": str(dtype)}


def _dtype_from_json(d):
    name = d["name"]
    if name == "string":
        return pd.StringDtype(d["storage"], na_value=np.nan if d["na_nan"] else pd.NA)
    return pd.api.types.pandas_dtype(name)
