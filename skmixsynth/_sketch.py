"""A mergeable quantile sketch of one numerical column, for one-pass fitting over chunks.

``MixedTypeEncoder.partial_fit`` keeps one :class:`QuantileSketch` per numerical column: every
chunk goes through :meth:`QuantileSketch.update`, sketches of different chunks or workers combine
with :meth:`QuantileSketch.merge`, and at the end the sketch answers what the encoding needs
(quantile knots, exact minimum and maximum, the values that fill a large share of the column).

How it works, and what it guarantees (``n`` is the number of non-missing values seen)
------------------------------------------------------------------------------------
The sketch keeps four small summaries, all of them mergeable:

1. **A table of frequent values** (Misra-Gries, mergeable as in Agarwal et al., "Mergeable
   summaries", PODS 2012): at most ``max_values`` distinct values with counts. When a chunk
   brings more, the ``(max_values + 1)``-th largest count ``delta`` is taken off every counter
   and what is taken off is handed, with its exact weight, to the compactors below; the sketch
   adds up these ``delta`` in ``table_error``. Each such step removes at least
   ``(max_values + 1) * delta`` rows from the table, so ``table_error <= n / (max_values + 1)``
   and every value held by more than ``table_error`` rows is in the table. A column with at most
   ``max_values`` distinct values never loses a count (``table_error == 0``: exact counts).
2. **Compactors** (the deterministic-error compactor hierarchy of Manku, Rajagopalan and
   Lindsay, 1998, with the random offsets of Karnin, Lang and Liberty, "Optimal quantile
   approximation in streams", FOCS 2016): level ``h`` holds values of weight ``2**h``. When a
   level holds ``k`` values or more it is sorted and every other value (odd or even positions,
   one coin from the sketch's ``RandomState``) moves up one level with twice the weight; an odd
   one out stays. A value removed from the table with weight ``w`` enters the levels of the
   binary digits of ``w``, so no weight is ever rounded.
3. **Exact tails**: the ``n_extremes`` smallest and largest distinct values with their exact
   counts, so the minimum, the maximum and the order statistics near either end are exact.
4. The counts ``n`` and ``n_missing`` (NaN is never sketched).

**Rank error.** For any ``x``, the estimated number of values ``<= x`` (:meth:`rank`) differs
from the true one by at most :attr:`rank_error`, a certified bound the sketch keeps as it goes:
one compaction at level ``h`` moves every rank by ``0`` or ``2**h`` (always in the same direction
for one compaction), and :attr:`rank_error` is the sum of ``2**h`` over all compactions of the
sketch and of every sketch merged into it. Whatever the order of the chunks, the merge tree and
the coins, it never exceeds the a-priori bound :func:`rank_error_bound`
``(n_c, k) = sum_h floor(n_c / (k 2**h)) 2**h <= (n_c / k) * (floor(log2(n_c / k)) + 1)``, where
``n_c <= n`` is the weight that went through the compactors: each compaction at level ``h``
consumes at least ``k`` values of weight ``2**h``, and at most ``n_c / 2**h`` of them ever enter
level ``h``. So with ``k = 2048`` the rank error is at most ``0.40 %`` of ``n`` at ``n = 10**6``
and ``0.61 %`` at ``n = 10**7`` (deterministically, with probability 1); with random offsets the
errors of different compactions cancel and the error seen is usually far smaller. While no
compaction has happened (``rank_error == 0``, for instance while ``n < k``) the sketch is
exact and :meth:`quantiles` equals ``np.quantile`` on the same rows, bit for bit.

**Quantiles.** ``quantiles(q)`` is ``np.quantile``'s default (linear) rule applied to the
sketch's order statistics, so the value returned for ``q`` has a true rank within
``rank_error + 1`` of ``q (n - 1)``; with ``exclude`` (the point masses) the bound on the ranks of
the remaining values is ``(1 + 2 len(exclude)) rank_error + 1``.

**Counts.** :meth:`heavy_hitters` estimates the count of each table value with an error at most
:attr:`count_error` ``= min(rank_error, table_error)``: with ``max_values = 256`` any value that
fills 10 % of the column is always in the table, is reported when its share is at least
``min_share + count_error / n`` and never when below ``min_share - count_error / n``.

**Memory.** Each level keeps fewer than ``k`` values, and there are at most
``floor(log2(n / min(k / 2, max_values + 1))) + 1`` levels, so the sketch stores at most
``(k - 1) * that + max_values + 2 * n_extremes`` values (:attr:`size`): at most 25 000 floats
for ``n = 10**6`` with the defaults, 45 000 for ``n = 10**9``.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["QuantileSketch", "rank_error_bound"]

_FORMAT = "skmixsynth.QuantileSketch/1"


def rank_error_bound(n, k):
    """The a-priori bound on a sketch's rank error after ``n`` values with capacity ``k``.

    Parameters
    ----------
    n : int
        Number of values (weight) that went through the compactors (at most the number of
        non-missing values seen).
    k : int
        The sketch's ``k``.

    Returns
    -------
    int
        ``sum_h floor(n / (k 2**h)) 2**h``, at most ``(n / k) (floor(log2(n / k)) + 1)``. A
        sketch's :attr:`QuantileSketch.rank_error` never exceeds it, whatever the order of the
        updates, the merges and the coins.

    Examples
    --------
    >>> rank_error_bound(1000, 2048)
    0
    >>> rank_error_bound(10**6, 2048) / 10**6
    0.004
    """
    n, k = int(n), int(k)
    bound, weight = 0, 1
    while k * weight <= n:
        bound += (n // (k * weight)) * weight
        weight *= 2
    return bound


def _check_int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {name}={value!r}.")
    if value < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {name}={value!r}.")
    return int(value)


def _rng_from(random_state):
    if random_state is None:
        return np.random.RandomState()  # a fresh generator, never numpy's global one
    if isinstance(random_state, np.random.RandomState):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.RandomState(int(random_state))
    raise TypeError(
        f"random_state must be an int, a numpy RandomState or None; got "
        f"random_state={random_state!r}."
    )


def _sum_counts(values, counts):
    """Sorted distinct values and their summed counts."""
    uniq, inverse = np.unique(values, return_inverse=True)
    summed = np.bincount(inverse, weights=counts.astype(np.float64), minlength=uniq.size)
    return uniq, np.rint(summed).astype(np.int64)  # exact: counts stay far below 2**53


def _merge_tail(values, counts, more_values, more_counts, size, top):
    values, counts = _sum_counts(
        np.concatenate([values, more_values]), np.concatenate([counts, more_counts])
    )
    if top:
        return values[-size:], counts[-size:]
    return values[:size], counts[:size]


def _lerp(a, b, t):
    """``np.quantile``'s interpolation, to the last bit."""
    diff = b - a
    out = a + diff * t
    return np.where(t >= 0.5, b - diff * (1 - t), out)


class QuantileSketch:
    """A mergeable quantile sketch of one numerical column, with a certified rank error.

    It summarises a stream of numbers in bounded memory: quantiles with a rank error that is
    tracked and bounded (exact while no compaction has happened), the exact minimum, maximum
    and extreme order statistics, the counts of the most frequent values (for point masses),
    and the number of missing values. Sketches of different chunks, or of different workers,
    combine with :meth:`merge`. The module docstring states and proves the bounds.

    Parameters
    ----------
    k : int, default=2048
        Capacity of one compactor level (an even integer >= 2). The rank error is at most
        ``(n / k) (floor(log2(n / k)) + 1)`` (:func:`rank_error_bound`); memory grows like
        ``k log2(n / k)``.
    max_values : int, default=256
        Number of distinct values whose counts the frequent-value table keeps. Every value held
        by more than ``n / (max_values + 1)`` rows is in it.
    n_extremes : int, default=64
        Number of smallest and of largest distinct values kept exactly, with their counts.
    random_state : int, numpy.random.RandomState or None, default=0
        Draws the offset of each compaction (one coin per compaction). An int seeds a new
        ``RandomState``; a ``RandomState`` is used (and advanced) as given; ``None`` makes a
        fresh, unseeded one. numpy's global generator is never used.
    name : str or None, default=None
        The column's name, quoted in error messages.

    Attributes
    ----------
    n : int
        Number of non-missing values seen.
    n_missing : int
        Number of missing (NaN) values seen.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> data = rng.lognormal(size=100_000)
    >>> sketch = QuantileSketch(k=512, random_state=0)
    >>> for chunk in np.array_split(data, 10):
    ...     _ = sketch.update(chunk)
    >>> sketch.n, bool(sketch.min == data.min()), bool(sketch.max == data.max())
    (100000, True, True)
    >>> sketch.rank_error <= rank_error_bound(sketch.n, 512)
    True
    >>> true_rank = np.sum(data <= sketch.quantiles([0.5])[0])
    >>> bool(abs(true_rank - 0.5 * (data.size - 1)) <= sketch.rank_error + 1)
    True
    """

    def __init__(self, k=2048, *, max_values=256, n_extremes=64, random_state=0, name=None):
        self.k = _check_int(k, "k", 2)
        if self.k % 2:
            raise ValueError(f"k must be an even integer >= 2; got k={k!r}.")
        self.max_values = _check_int(max_values, "max_values", 1)
        self.n_extremes = _check_int(n_extremes, "n_extremes", 1)
        self.name = name
        self._rng = _rng_from(random_state)
        self.n = 0
        self.n_missing = 0
        self._levels = []  # level h: float64 values of weight 2**h
        self._rank_error = 0
        self._table_values = np.empty(0)
        self._table_counts = np.empty(0, dtype=np.int64)
        self._table_error = 0
        self._bottom = (np.empty(0), np.empty(0, dtype=np.int64))
        self._top = (np.empty(0), np.empty(0, dtype=np.int64))

    # ------------------------------------------------------------------ reading
    @property
    def min(self):
        """float: The smallest value seen (exact); NaN before any value.

        Examples
        --------
        >>> QuantileSketch().update([3.0, float("nan"), -1.5]).min
        -1.5
        """
        return float(self._bottom[0][0]) if self.n else float("nan")

    @property
    def max(self):
        """float: The largest value seen (exact); NaN before any value.

        Examples
        --------
        >>> QuantileSketch().update([3.0, float("nan"), -1.5]).max
        3.0
        """
        return float(self._top[0][-1]) if self.n else float("nan")

    @property
    def rank_error(self):
        """int: Certified bound on the error of :meth:`rank` (0: the sketch is exact).

        The sum of ``2**h`` over every compaction at level ``h`` so far (merged sketches
        included); never more than ``rank_error_bound(n, k)``.

        Examples
        --------
        >>> import numpy as np
        >>> sketch = QuantileSketch(k=64).update(np.arange(1000.0))
        >>> 0 < sketch.rank_error <= rank_error_bound(1000, 64)
        True
        """
        return self._rank_error

    @property
    def table_error(self):
        """int: How many rows any one value may have lost from the frequent-value table.

        The true count of a value lies between its table count and its table count plus this;
        at most ``n / (max_values + 1)``, and 0 while the column has at most ``max_values``
        distinct values.

        Examples
        --------
        >>> QuantileSketch(max_values=2).update([1.0, 1.0, 1.0, 2.0, 3.0]).table_error
        1
        """
        return self._table_error

    @property
    def count_error(self):
        """int: Bound on the error of the counts of :meth:`heavy_hitters`.

        ``min(rank_error, table_error)``; 0 means the counts are exact.

        Examples
        --------
        >>> QuantileSketch(max_values=2).update([1.0, 1.0, 1.0, 2.0, 3.0]).count_error
        0
        """
        return min(self._rank_error, self._table_error)

    @property
    def size(self):
        """int: Number of values stored (compactors, table and exact tails).

        Examples
        --------
        >>> import numpy as np
        >>> QuantileSketch(k=64).update(np.arange(10**5.0)).size < 2000
        True
        """
        stored = sum(level.size for level in self._levels)
        return stored + self._table_values.size + self._bottom[0].size + self._top[0].size

    def items(self, *, exclude=None):
        """The stored values with their weights, sorted: what every estimate is read from.

        While :attr:`rank_error` is 0 the items are the sketched values exactly (each distinct
        value's weights add up to its count); after a compaction, a compactor value of weight
        ``2**h`` stands for ``2**h`` rows around it, of which at least one holds it.

        Parameters
        ----------
        exclude : array-like of float, optional
            Values left out (as in :meth:`quantiles`).

        Returns
        -------
        values : ndarray of float64
            Sorted (a value may occur several times).
        weights : ndarray of int64
            How many rows each item stands for; they add up to :attr:`n` less the excluded.
        tabled : ndarray of bool
            Whether the item is a count of the frequent-value table (at least ``weight`` rows
            hold its value) rather than a compactor value (at least one row holds it).

        Examples
        --------
        >>> values, weights, tabled = QuantileSketch().update([2.0, 1.0, 2.0]).items()
        >>> values.tolist(), weights.tolist(), tabled.tolist()
        ([1.0, 2.0], [1, 2], [True, True])
        """
        values = np.concatenate([self._table_values, *self._levels])
        weights = np.concatenate([self._table_counts] + [
            np.full(level.size, 1 << h, dtype=np.int64) for h, level in enumerate(self._levels)
        ])
        tabled = np.zeros(values.size, dtype=bool)
        tabled[: self._table_values.size] = True
        if exclude is not None:
            keep = ~np.isin(values, np.asarray(exclude, dtype=np.float64).ravel())
            values, weights, tabled = values[keep], weights[keep], tabled[keep]
        order = np.argsort(values, kind="stable")
        return values[order], weights[order], tabled[order]

    def rank(self, values):
        """Estimated number of sketched values ``<= x`` for each ``x``.

        Parameters
        ----------
        values : array-like of float
            Where to evaluate the rank.

        Returns
        -------
        ndarray of int64
            Within :attr:`rank_error` of the true counts.

        Examples
        --------
        >>> QuantileSketch().update([1.0, 2.0, 2.0, 5.0]).rank([0.0, 2.0, 9.0])
        array([0, 3, 4])
        """
        x = np.asarray(values, dtype=np.float64)
        sorted_values, cumulative = self._weighted()
        idx = np.searchsorted(sorted_values, x, side="right")
        cumulative = np.concatenate([[0], cumulative])
        return cumulative[idx]

    def heavy_hitters(self, min_share):
        """The values that fill at least ``min_share`` of the non-missing rows, with counts.

        Parameters
        ----------
        min_share : float in (0, 1]
            Smallest share of the ``n`` non-missing rows a value must hold.

        Returns
        -------
        values : ndarray of float64
            Sorted. Every value holding at least ``min_share n + count_error`` rows is in it
            (an estimate for every stored value is compared with ``min_share n``),
            and no value holding fewer than ``min_share n - count_error`` (so with
            ``count_error == 0`` exactly the values with ``count >= min_share n``).
        counts : ndarray of int64
            Their estimated counts, within :attr:`count_error` of the true counts.

        Examples
        --------
        >>> import numpy as np
        >>> data = np.r_[np.zeros(300), np.arange(700.0)]
        >>> QuantileSketch().update(data).heavy_hitters(0.1)
        (array([0.]), array([301]))
        """
        if not isinstance(min_share, numbers.Real) or not 0 < min_share <= 1:
            raise ValueError(f"min_share must be a number in (0, 1]; got {min_share=!r}.")
        values, counts = self._table_values, self._table_counts
        if self._table_error:
            # Any value, in the table or not, is counted by its table count (0 if absent) plus
            # the compactors' weight at it (within rank_error of what the table lost), clipped
            # to [count, count + table_error], which holds the true count. Values stored
            # nowhere are estimated at 0, within count_error too.
            values = np.union1d(self._table_values, np.concatenate(self._levels))
            counts = np.zeros(values.size, dtype=np.int64)
            counts[np.searchsorted(values, self._table_values)] = self._table_counts
            counts += np.clip(self._compactor_weight_at(values), 0, self._table_error)
        keep = counts >= min_share * self.n
        return values[keep].copy(), counts[keep].astype(np.int64)

    def quantiles(self, levels, *, exclude=None):
        """Quantiles of the sketched values by ``np.quantile``'s default (linear) rule.

        Parameters
        ----------
        levels : array-like of float in [0, 1]
            The probability levels.
        exclude : array-like of float, optional
            Values left out first (the point masses of a column): the quantiles are those of
            the remaining values.

        Returns
        -------
        ndarray of float64
            Non-decreasing in ``levels``. Equal to ``np.quantile`` on the same values while
            :attr:`rank_error` is 0; otherwise the true rank (among the remaining values) of the
            value returned for ``q`` is within ``(1 + 2 len(exclude)) rank_error + 1`` of
            ``q (n_remaining - 1)``. Levels 0 and 1 give the exact minimum and maximum of the
            remaining values (when at most ``n_extremes - 1`` values are excluded).

        Examples
        --------
        >>> import numpy as np
        >>> data = np.r_[np.zeros(50), np.arange(1.0, 51.0)]
        >>> sketch = QuantileSketch().update(data)
        >>> bool(np.array_equal(sketch.quantiles([0.1, 0.5, 0.9]),
        ...                     np.quantile(data, [0.1, 0.5, 0.9])))
        True
        >>> sketch.quantiles([0.0, 0.5, 1.0], exclude=[0.0])
        array([ 1. , 25.5, 50. ])
        """
        q = np.asarray(levels, dtype=np.float64)
        if q.ndim > 1 or not np.all((q >= 0) & (q <= 1)):
            raise ValueError(
                f"levels must be a number or a 1-d array of numbers in [0, 1]; got {levels!r}."
            )
        order_stat = self._order_statistic_function(exclude)
        total = order_stat.total
        flat = np.atleast_1d(q)
        virtual = (total - 1) * flat
        previous = np.floor(virtual)
        above = virtual >= total - 1
        previous[above] = total - 1
        following = np.where(above, total - 1, previous + 1)
        gamma = np.where(above, 0.0, virtual - previous)
        top_rank = np.where(above, 0, -1)  # level 1 is the maximum, asked from the top
        result = _lerp(
            order_stat(previous.astype(np.int64), top_rank),
            order_stat(following.astype(np.int64), top_rank),
            gamma,
        )
        # Exact tails meeting sketched middles could break the order; keep it monotone.
        ordering = np.argsort(flat, kind="stable")
        result[ordering] = np.maximum.accumulate(result[ordering])
        return result if q.ndim else result[0]

    def order_statistics(self, positions, *, exclude=None):
        """The values at 0-based positions of the sorted values (negative: from the largest).

        Parameters
        ----------
        positions : array-like of int
            ``0`` is the minimum, ``-1`` the maximum, ``4`` the fifth smallest.
        exclude : array-like of float, optional
            Values left out first (as in :meth:`quantiles`).

        Returns
        -------
        ndarray of float64
            Exact for the positions within the ``n_extremes`` smallest or largest distinct
            values; elsewhere within the rank error of :meth:`quantiles`.

        Examples
        --------
        >>> import numpy as np
        >>> sketch = QuantileSketch(k=64, n_extremes=8).update(np.arange(10**4.0))
        >>> sketch.order_statistics([0, 4, -5, -1]).tolist()
        [0.0, 4.0, 9995.0, 9999.0]
        """
        p = np.asarray(positions)
        if p.dtype.kind not in "iu":
            raise TypeError(f"positions must be integers; got positions={positions!r}.")
        order_stat = self._order_statistic_function(exclude)
        total = order_stat.total
        flat = np.atleast_1d(p).astype(np.int64)
        if np.any((flat >= total) | (flat < -total)):
            raise ValueError(
                f"positions must lie in [-{total}, {total - 1}] for {self._label()}; got "
                f"positions={positions!r}."
            )
        from_top = flat < 0
        result = order_stat(
            np.where(from_top, total + flat, flat), top_rank=np.where(from_top, -flat - 1, -1)
        )
        return result if p.ndim else result[0]

    # ------------------------------------------------------------------ writing
    def update(self, values):
        """Add a chunk of values (NaN counted in :attr:`n_missing`, not sketched).

        Parameters
        ----------
        values : array-like of float
            A 1-d chunk (a list, an array, a pandas Series). It is not modified.

        Returns
        -------
        self : QuantileSketch

        Examples
        --------
        >>> sketch = QuantileSketch().update([1.0, float("nan"), 2.0]).update([3.0])
        >>> sketch.n, sketch.n_missing
        (3, 1)
        """
        try:
            x = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{self._label()} takes numbers; could not read them as floats ({exc})."
            ) from None
        if x.ndim != 1:
            raise ValueError(f"{self._label()} takes a 1-d chunk; got shape {x.shape}.")
        missing = np.isnan(x)
        n_missing = int(missing.sum())
        if n_missing:
            x = x[~missing]
        infinite = np.isinf(x)
        if infinite.any():
            raise ValueError(
                f"{self._label()} holds infinite values ({float(x[infinite][0])!r}); "
                "replace them first."
            )
        self.n_missing += n_missing
        if x.size:
            values, counts = np.unique(x, return_counts=True)
            self._absorb(values, counts.astype(np.int64), self._bottom_top_of(values, counts))
            self.n += int(x.size)
        return self

    def merge(self, other):
        """Add everything ``other`` has sketched (``other`` is left as it is).

        The bounds hold for any order of merges and updates: the certified errors add up and
        stay below :func:`rank_error_bound` of the total.

        Parameters
        ----------
        other : QuantileSketch
            With the same ``k``, ``max_values`` and ``n_extremes``.

        Returns
        -------
        self : QuantileSketch

        Examples
        --------
        >>> import numpy as np
        >>> data = np.random.RandomState(0).normal(size=30_000)
        >>> parts = [QuantileSketch(k=256, random_state=i).update(chunk)
        ...          for i, chunk in enumerate(np.array_split(data, 3))]
        >>> merged = parts[0].merge(parts[1]).merge(parts[2])
        >>> merged.n, bool(merged.max == data.max())
        (30000, True)
        >>> errors = merged.rank(data[:100]) - (data[:100, None] >= data).sum(axis=1)
        >>> bool(np.abs(errors).max() <= merged.rank_error)
        True
        """
        if not isinstance(other, QuantileSketch):
            raise TypeError(f"merge takes a QuantileSketch; got {type(other).__name__}.")
        for param in ("k", "max_values", "n_extremes"):
            if getattr(other, param) != getattr(self, param):
                raise ValueError(
                    f"Cannot merge sketches with different {param}: "
                    f"{getattr(self, param)!r} and {getattr(other, param)!r}."
                )
        if other.n == 0:
            self.n_missing += other.n_missing
            return self
        levels = [level.copy() for level in other._levels]  # other may be self
        tails = (other._bottom, other._top)
        table = (other._table_values.copy(), other._table_counts.copy())
        self._rank_error += other._rank_error
        self._table_error += other._table_error
        for h, level in enumerate(levels):
            self._add_to_level(h, level)
        self._absorb(table[0], table[1], tails)
        self.n += other.n
        self.n_missing += other.n_missing
        return self

    # ------------------------------------------------------------------ JSON
    def to_dict(self):
        """The sketch as JSON-able plain data (with the state of its ``RandomState``).

        Returns
        -------
        dict

        Examples
        --------
        >>> import json
        >>> sketch = QuantileSketch(k=64).update(range(1000))
        >>> back = QuantileSketch.from_dict(json.loads(json.dumps(sketch.to_dict())))
        >>> back.to_dict() == sketch.to_dict()
        True
        """
        name, keys, pos, has_gauss, cached = self._rng.get_state()
        return {
            "format": _FORMAT,
            "name": self.name,
            "k": self.k,
            "max_values": self.max_values,
            "n_extremes": self.n_extremes,
            "n": self.n,
            "n_missing": self.n_missing,
            "levels": [level.tolist() for level in self._levels],
            "rank_error": self._rank_error,
            "table": {
                "values": self._table_values.tolist(),
                "counts": self._table_counts.tolist(),
                "error": self._table_error,
            },
            "bottom": {"values": self._bottom[0].tolist(), "counts": self._bottom[1].tolist()},
            "top": {"values": self._top[0].tolist(), "counts": self._top[1].tolist()},
            "rng": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        }

    @classmethod
    def from_dict(cls, d):
        """Rebuild a sketch from :meth:`to_dict`'s output.

        Parameters
        ----------
        d : dict

        Returns
        -------
        QuantileSketch
            Equal to the sketch saved, its random stream included.

        Examples
        --------
        >>> sketch = QuantileSketch.from_dict(QuantileSketch().update([1.0, 2.0]).to_dict())
        >>> sketch.n, sketch.max
        (2, 2.0)
        """
        if not isinstance(d, dict) or d.get("format") != _FORMAT:
            found = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"Not a saved QuantileSketch (format {_FORMAT!r}); got {found!r}.")
        sketch = cls(d["k"], max_values=d["max_values"], n_extremes=d["n_extremes"], name=d["name"])
        name, keys, pos, has_gauss, cached = d["rng"]
        sketch._rng.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
        sketch.n, sketch.n_missing = int(d["n"]), int(d["n_missing"])
        sketch._levels = [np.asarray(level, dtype=np.float64) for level in d["levels"]]
        sketch._rank_error = int(d["rank_error"])
        table = d["table"]
        sketch._table_values = np.asarray(table["values"], dtype=np.float64)
        sketch._table_counts = np.asarray(table["counts"], dtype=np.int64)
        sketch._table_error = int(table["error"])
        for part in ("bottom", "top"):
            tail = (
                np.asarray(d[part]["values"], dtype=np.float64),
                np.asarray(d[part]["counts"], dtype=np.int64),
            )
            setattr(sketch, f"_{part}", tail)
        return sketch

    def __repr__(self):
        return (
            f"QuantileSketch(k={self.k}, n={self.n}, n_missing={self.n_missing}, "
            f"rank_error={self._rank_error}, size={self.size})"
        )

    # ------------------------------------------------------------------ internals
    def _label(self):
        return "QuantileSketch" if self.name is None else f"Column {self.name!r}"

    def _bottom_top_of(self, values, counts):
        e = self.n_extremes
        return (values[:e], counts[:e]), (values[-e:], counts[-e:])

    def _absorb(self, values, counts, tails):
        """Fold distinct ``values`` with ``counts`` (and their exact tails) into the sketch."""
        (bottom_values, bottom_counts), (top_values, top_counts) = tails
        e = self.n_extremes
        self._bottom = _merge_tail(*self._bottom, bottom_values, bottom_counts, e, top=False)
        self._top = _merge_tail(*self._top, top_values, top_counts, e, top=True)
        # Misra-Gries merge: add the table's counters, then take the (m+1)-th largest count off
        # every counter and send what is taken off, with its weight, to the compactors.
        table_values, table_counts = self._table_values, self._table_counts
        at = np.minimum(np.searchsorted(values, table_values), max(values.size - 1, 0))
        hit = values[at] == table_values if values.size else np.zeros(at.size, dtype=bool)
        counts = counts.copy()
        counts[at[hit]] += table_counts[hit]
        values = np.concatenate([values, table_values[~hit]])
        counts = np.concatenate([counts, table_counts[~hit]])
        m = self.max_values
        if counts.size > m:
            delta = np.partition(counts, counts.size - m - 1)[counts.size - m - 1]
            self._table_error += int(delta)
            self._add_weighted(values, np.minimum(counts, delta))
            counts = counts - delta
            keep = counts > 0
            values, counts = values[keep], counts[keep]
        order = np.argsort(values)
        self._table_values, self._table_counts = values[order], counts[order]
        self._compact()

    def _add_weighted(self, values, weights):
        """Add values of integer weights to the compactors, exactly (one level per bit)."""
        for h in range(int(weights.max()).bit_length()):
            bit = ((weights >> h) & 1).astype(bool)
            if bit.any():
                self._add_to_level(h, values[bit])

    def _add_to_level(self, h, values):
        while len(self._levels) <= h:
            self._levels.append(np.empty(0))
        if values.size:
            self._levels[h] = np.concatenate([self._levels[h], values])

    def _compact(self):
        h = 0
        while h < len(self._levels):
            level = self._levels[h]
            if level.size >= self.k:
                level = np.sort(level, kind="stable")
                odd = level.size % 2
                offset = self._rng.randint(2)  # the coin of this compaction
                self._add_to_level(h + 1, level[offset : level.size - odd : 2])
                self._levels[h] = level[level.size - odd :].copy()
                self._rank_error += 1 << h
            h += 1

    def _weighted(self, exclude=None):
        """Sorted stored values (table and compactors) and their cumulative weights."""
        values = [self._table_values, *self._levels]
        weights = [self._table_counts] + [
            np.full(level.size, 1 << h, dtype=np.int64) for h, level in enumerate(self._levels)
        ]
        values, weights = np.concatenate(values), np.concatenate(weights)
        if exclude is not None and exclude.size:
            keep = ~np.isin(values, exclude)
            values, weights = values[keep], weights[keep]
        order = np.argsort(values, kind="stable")
        return values[order], np.cumsum(weights[order])

    def _compactor_weight_at(self, values):
        weight = np.zeros(values.size, dtype=np.int64)
        for h, level in enumerate(self._levels):
            level = np.sort(level)
            inside = np.searchsorted(level, values, "right") - np.searchsorted(level, values)
            weight += inside.astype(np.int64) << h
        return weight

    def _order_statistic_function(self, exclude):
        """A function of 0-based positions -> values among the non-excluded values."""
        if exclude is not None:
            exclude = np.asarray(exclude, dtype=np.float64).ravel()
        sorted_values, cumulative = self._weighted(exclude)
        if not cumulative.size or cumulative[-1] == 0:
            raise ValueError(f"{self._label()} has no values to take quantiles of.")
        total = int(cumulative[-1])

        def tail(values, counts):
            if exclude is not None and exclude.size:
                keep = ~np.isin(values, exclude)
                values, counts = values[keep], counts[keep]
            return values, np.cumsum(counts)

        bottom_values, bottom_cum = tail(*self._bottom)
        top_values, top_counts = self._top
        top_values, top_cum = tail(top_values[::-1], top_counts[::-1])  # largest first
        n_bottom = int(bottom_cum[-1]) if bottom_cum.size else 0
        n_top = int(top_cum[-1]) if top_cum.size else 0
        low = bottom_values[-1] if n_bottom else -np.inf
        high = top_values[-1] if n_top else np.inf

        def order_stat(positions, top_rank=None):
            """Values at ``positions``; ``top_rank >= 0`` asks for a position from the top."""
            positions = np.asarray(positions, dtype=np.int64)
            asked_from_top = np.zeros(positions.shape, bool) if top_rank is None else top_rank >= 0
            top_rank = np.where(asked_from_top, top_rank, total - 1 - positions)
            idx = np.minimum(np.searchsorted(cumulative, positions, "right"), total - 1)
            out = sorted_values[np.minimum(idx, sorted_values.size - 1)]
            if low <= high:  # a position outside the exact tails lies between them
                out = np.clip(out, low, high)
            # Exact tails: the bottom one first, unless the position was asked from the top.
            exact_top = top_rank < n_top
            exact_bottom = (positions < n_bottom) & ~(asked_from_top & exact_top)
            exact_top &= ~exact_bottom
            out[exact_top] = top_values[np.searchsorted(top_cum, top_rank[exact_top], "right")]
            out[exact_bottom] = bottom_values[
                np.searchsorted(bottom_cum, positions[exact_bottom], "right")
            ]
            return out

        order_stat.total = total
        return order_stat
