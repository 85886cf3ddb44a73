"""The output layout of :class:`~skmixsynth.MixedTypeEncoder`.

The encoded matrix is one contiguous block of numerical scalars followed by one softmax block
per discrete output (a categorical column, or the missing-value indicator of a numerical
column)::

    [ num_0 ... num_{M-1} | cat_0 (d_0 wide) | cat_1 (d_1 wide) | ... ]

Heads, losses, samplers and metrics read this layout; nothing else hard-codes column positions.
The layout is plain data (frozen dataclasses of ints and strings) so it travels as JSON.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Layout", "Span"]

#: span kinds
NUMERICAL = "numerical"
CATEGORICAL = "categorical"
MISSING = "missing"


@dataclass(frozen=True)
class Span:
    """One output block of the encoded matrix.

    Parameters
    ----------
    column : str
        Name of the source column in the original table.
    kind : {"numerical", "categorical", "missing"}
        ``"numerical"``: one scalar in (0, 1); ``"categorical"``: a one-hot block over the
        column's levels; ``"missing"``: the state block of a numerical column that had missing
        values or point masses at fit (levels ``present``, ``missing`` if any, then one
        ``=value`` level per point mass; see ``MixedTypeEncoder(point_masses=...)``).
    start, stop : int
        The block is ``encoded[:, start:stop]``.
    activation : {"sigmoid", "softmax"}
        The output activation a model should put on this block.
    labels : tuple of str
        One label per output feature (used by ``get_feature_names_out``).

    Examples
    --------
    >>> from skmixsynth import Span
    >>> s = Span("colour", "categorical", 3, 6, "softmax", ("red", "green", "blue"))
    >>> s.dim, s.slice
    (3, slice(3, 6, None))
    """

    column: str
    kind: str
    start: int
    stop: int
    activation: str
    labels: tuple = ()

    @property
    def dim(self):
        """Width of the block."""
        return self.stop - self.start

    @property
    def slice(self):
        """``slice(start, stop)`` into the encoded matrix."""
        return slice(self.start, self.stop)


@dataclass(frozen=True)
class Layout:
    """The list of spans of an encoded matrix, with the index arrays fused ops need.

    Parameters
    ----------
    spans : tuple of Span
        Numerical spans first (contiguous, one column each), then the discrete spans.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth import MixedTypeEncoder
    >>> df = pd.DataFrame({"x": [0.5, 1.5, 2.5], "c": ["a", "b", "a"]})
    >>> layout = MixedTypeEncoder().fit(df).layout_
    >>> layout.width, layout.n_numerical, layout.cardinalities
    (3, 1, (2,))
    >>> layout.numerical_slice
    slice(0, 1, None)
    """

    spans: tuple

    def __post_init__(self):
        pos = 0
        seen_discrete = False
        for span in self.spans:
            if span.start != pos or span.stop <= span.start:
                raise ValueError(f"Spans must be contiguous and non-empty; got {span}.")
            if span.kind == NUMERICAL:
                if seen_discrete or span.dim != 1:
                    raise ValueError(
                        "Numerical spans must be one column wide and come before discrete spans."
                    )
            elif span.kind in (CATEGORICAL, MISSING):
                seen_discrete = True
            else:
                raise ValueError(f"Unknown span kind {span.kind!r}.")
            pos = span.stop

    @property
    def width(self):
        """Number of columns of the encoded matrix."""
        return self.spans[-1].stop if self.spans else 0

    @property
    def numerical_spans(self):
        """The numerical spans, in order."""
        return tuple(s for s in self.spans if s.kind == NUMERICAL)

    @property
    def discrete_spans(self):
        """The softmax spans (categorical columns and missing indicators), in order."""
        return tuple(s for s in self.spans if s.kind != NUMERICAL)

    @property
    def n_numerical(self):
        """Number of numerical scalars (the width of the numerical block)."""
        return len(self.numerical_spans)

    @property
    def numerical_slice(self):
        """``slice`` of the contiguous numerical block."""
        return slice(0, self.n_numerical)

    @property
    def discrete_slice(self):
        """``slice`` of the block holding every discrete span."""
        return slice(self.n_numerical, self.width)

    @property
    def cardinalities(self):
        """Width of each discrete span (the number of levels, for a tokenizer's embeddings)."""
        return tuple(s.dim for s in self.discrete_spans)

    @functools.cached_property
    def _column_map(self):
        spans, discrete, numerical = {}, {}, {}
        for s in self.spans:
            spans.setdefault(s.column, []).append(s)
        for j, s in enumerate(self.discrete_spans):
            discrete.setdefault(s.column, j)
        for j, s in enumerate(self.numerical_spans):
            numerical.setdefault(s.column, j)
        return {c: tuple(v) for c, v in spans.items()}, discrete, numerical

    def column_spans(self, column):
        """The spans of a source column, in layout order (empty if it has none).

        A numerical column owns its numerical span and, when it had missing values or point
        masses, a state span; a categorical column owns one categorical span.

        Parameters
        ----------
        column : object
            The column's name (compared as a string, like :attr:`Span.column`).

        Returns
        -------
        spans : tuple of Span

        Examples
        --------
        >>> from skmixsynth import Layout, Span
        >>> lay = Layout((Span("x", "numerical", 0, 1, "sigmoid"),
        ...               Span("c", "categorical", 1, 3, "softmax"),
        ...               Span("x", "missing", 3, 5, "softmax")))
        >>> [s.kind for s in lay.column_spans("x")]
        ['numerical', 'missing']
        >>> lay.discrete_position("x"), lay.numerical_position("x"), lay.numerical_position("c")
        (1, 0, None)
        """
        return self._column_map[0].get(str(column), ())

    def discrete_position(self, column):
        """Index of the column's discrete span among :attr:`discrete_spans` (the column of
        its level code in ``codes``), or None."""
        return self._column_map[1].get(str(column))

    def numerical_position(self, column):
        """Index of the column's scalar in the numerical block, or None."""
        return self._column_map[2].get(str(column))

    def discrete_index(self, spans=None, *, width=None, relative=False):
        """Index arrays that gather discrete spans into a padded 3-D tensor.

        The one way spans are gathered: the fused heads and losses (``skmixsynth.nn``), their
        per-width groups (:meth:`discrete_groups`) and the marginals all read it.

        Parameters
        ----------
        spans : sequence of int, default=None
            Which discrete spans (indices into :attr:`discrete_spans`), in order; all of them
            by default.
        width : int, default=None
            Padded width; the widest of the chosen spans by default.
        relative : bool, default=False
            Index into the discrete block ``encoded[:, discrete_slice]`` instead of the whole
            encoded matrix.

        Returns
        -------
        index : ndarray of shape (n_spans, width), int64
            ``encoded[:, index]`` has shape ``(n_rows, n_spans, width)``; padded positions
            point at column 0 (of the matrix, or of the block) and must be masked.
        mask : ndarray of shape (n_spans, width), bool
            True where the position is a real level.

        Examples
        --------
        >>> from skmixsynth import Layout, Span
        >>> lay = Layout((Span("x", "numerical", 0, 1, "sigmoid"),
        ...               Span("a", "categorical", 1, 3, "softmax"),
        ...               Span("b", "categorical", 3, 6, "softmax")))
        >>> index, mask = lay.discrete_index()
        >>> index.tolist()
        [[1, 2, 0], [3, 4, 5]]
        >>> mask.sum(axis=1).tolist()
        [2, 3]
        >>> lay.discrete_index([0], width=4, relative=True)[0].tolist()
        [[0, 1, 0, 0]]
        """
        discrete = self.discrete_spans
        chosen = discrete if spans is None else [discrete[j] for j in spans]
        k = max((s.dim for s in chosen), default=0) if width is None else int(width)
        offset = self.n_numerical if relative else 0
        index = np.zeros((len(chosen), k), dtype=np.int64)
        mask = np.zeros((len(chosen), k), dtype=bool)
        for i, s in enumerate(chosen):
            index[i, : s.dim] = np.arange(s.start - offset, s.stop - offset)
            mask[i, : s.dim] = True
        return index, mask

    def discrete_groups(self):
        """The discrete spans grouped by width class (the next power of two of their width).

        Padding each group only to its own class keeps a 42-level column from padding the
        2-level ones; gather a group with ``discrete_index(members, width=k)``.

        Returns
        -------
        groups : tuple of (int, tuple of int)
            ``(k, members)`` by increasing ``k``; ``members`` index :attr:`discrete_spans`, in
            order.

        Examples
        --------
        >>> from skmixsynth import Layout, Span
        >>> lay = Layout((Span("a", "categorical", 0, 2, "softmax"),
        ...               Span("b", "categorical", 2, 7, "softmax"),
        ...               Span("c", "categorical", 7, 9, "softmax")))
        >>> lay.discrete_groups()
        ((2, (0, 2)), (8, (1,)))
        """
        groups = {}
        for j, span in enumerate(self.discrete_spans):
            groups.setdefault(1 << (span.dim - 1).bit_length(), []).append(j)
        return tuple((k, tuple(members)) for k, members in sorted(groups.items()))

    def to_dict(self):
        """A JSON-serialisable form of the layout."""
        return {"spans": [dict(asdict(s), labels=list(s.labels)) for s in self.spans]}

    @classmethod
    def from_dict(cls, data):
        """Rebuild a layout from :meth:`to_dict`'s output."""
        return cls(tuple(Span(**dict(s, labels=tuple(s["labels"]))) for s in data["spans"]))
