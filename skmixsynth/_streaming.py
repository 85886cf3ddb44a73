"""One-pass fitting of :class:`~skmixsynth.MixedTypeEncoder` (``partial_fit``).

The working state between ``partial_fit`` calls: one accumulator per column (exact level
counts, or a :class:`~skmixsynth._sketch.QuantileSketch`), the plan decided on the first chunk,
and the identifier watch. It holds raw values, so it never reaches ``get_state`` or a saved
model; the fitted column encoders are rebuilt from it after every call.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
from sklearn.base import clone

from ._columns import (
    _DATETIME_UNITS,
    CategoricalColumn,
    DatetimeColumn,
    DroppedColumn,
    NumericalColumn,
    NumericalSummary,
    _is_datetime,
    _py,
    identifier_encoder,
)
from ._layout import NUMERICAL
from ._sketch import QuantileSketch
from ._validation import column_kind, datetime_ns, has_feature_names, numeric_values

__all__ = ["IDENTIFIER_WATCH_LEVELS", "OnePass"]

#: the identifier check of partial_fit follows a column while it has at most this many
#: distinct values (see MixedTypeEncoder.partial_fit)
IDENTIFIER_WATCH_LEVELS = 10_000


class OnePass:
    """The working state of :meth:`MixedTypeEncoder.partial_fit` between calls.

    One accumulator per column (counts, or a quantile sketch), the plan decided on the first
    chunk, and the identifier watch. It holds raw values: it is never part of ``get_state``.
    """

    def __init__(self, encoder, frame):
        self.params = _param_signature(encoder)
        self.names = list(frame.columns)
        self.names_are_str = has_feature_names(frame)
        self.identifiers = encoder.identifiers
        settings = encoder._settings()
        seed = 0 if settings.random_state is None else settings.random_state
        self.columns, self.named, self.watched = [], {}, {}
        for i, (col, template, group, how) in enumerate(encoder._plan(frame, detect=False)):
            series = frame[col]
            acc = _accumulator(template, col, series, how, settings,
                               seed=(seed + i) % 2**32)
            if group is not None:
                self.named.setdefault(group, []).append(i)
            if (self.identifiers is not None and how == "inferred"
                    and _identifier_mode(series.dtype) is not None):
                self.watched[i] = _IdentifierWatch(acc)
            self.columns.append(acc)

    def check_params(self, encoder):
        now = _param_signature(encoder)
        changed = sorted(k for k in now if now[k] != self.params.get(k))
        if changed:
            raise ValueError(
                f"The parameters {changed} changed since the first partial_fit call of this "
                "pass; a pass keeps its parameters. Call fit, or partial_fit on a clone of "
                "the encoder, to start again with the new ones."
            )

    def align(self, frame, *, from_array):
        """The chunk's columns in the first chunk's order, or a ValueError."""
        n, expected = frame.shape[1], len(self.names)
        if n != expected:
            raise ValueError(
                f"X has {n} features, but MixedTypeEncoder is expecting {expected} features as "
                f"input (the columns of the first partial_fit chunk: {self.names})."
            )
        if from_array:  # an array maps onto the first chunk's columns by position
            frame = frame.copy(deep=False)
            frame.columns = list(self.names)
            return frame
        names = list(frame.columns)
        if names == self.names:
            return frame
        missing = [c for c in self.names if c not in names]
        unexpected = [c for c in names if c not in self.names]
        if missing or unexpected:
            raise ValueError(
                f"This chunk's columns differ from the first partial_fit chunk's: missing "
                f"{missing}, unexpected {unexpected}. Every chunk must hold the same columns."
            )
        return frame[self.names]

    def add(self, frame):
        """Check the chunk against the plan and fold it in: all or nothing."""
        prepared = [acc.prepare(frame[acc.name]) for acc in self.columns]
        for acc, contribution in zip(self.columns, prepared, strict=True):
            if not acc.has_values(contribution):
                raise ValueError(
                    f"Column {acc.name!r} has only missing values in the chunks seen so far; "
                    "partial_fit leaves the encoder fitted after every call, so the first "
                    "chunk must hold a value of every column (drop or fill it, or reorder the "
                    "chunks)."
                )
        identifiers, decided = [], {}
        for i, watch in self.watched.items():
            decided[i] = watch.look(prepared[i])
            if decided[i].identifier:
                identifiers.append(i)
        if identifiers and self.identifiers == "fresh":
            found = [self.names[i] for i in identifiers]
            raise ValueError(
                f"Columns {found} look like identifiers (almost every value is unique), and "
                "identifiers='fresh' cannot be fitted in one pass: fresh values are guaranteed "
                "to differ from every training value only when the identifier column sees all "
                "of them at once. Name them in column_encoders as 'drop' (left out of the "
                "decoded tables) or 'categorical' (kept as data), or use fit."
            )
        for i, look in decided.items():  # identifiers="drop": fit's warning when it starts
            if look.identifier and not self.watched[i].identifier:
                identifier_encoder(look.series, name=self.names[i], identifiers="drop")
            elif self.watched[i].identifier and not look.identifier:
                warnings.warn(
                    f"Column {self.names[i]!r} no longer looks like an identifier on the "
                    "chunks seen so far: it is encoded as data again (identifiers='drop').",
                    UserWarning, stacklevel=3)
        for acc, contribution in zip(self.columns, prepared, strict=True):
            acc.commit(contribution)
        for i, look in decided.items():
            self.watched[i].commit(look)
            if look.settled:  # decided for good: an identifier accumulates nothing more
                del self.watched[i]
                if look.identifier:
                    self.columns[i] = _Dropped(self.names[i])

    def build(self, settings):
        """The fitted column encoders of the chunks so far."""
        return [DroppedColumn().fit(None, name=acc.name, settings=settings)
                if i in self.watched and self.watched[i].identifier else acc.build(settings)
                for i, acc in enumerate(self.columns)]


def _param_signature(encoder):
    return {k: repr(v) for k, v in encoder.get_params(deep=False).items()}


def _common_dtype(a, b):
    """The dtype :func:`pandas.concat` gives to a column of dtype ``a`` followed by ``b``."""
    if a == b:
        return a
    return pd.concat([pd.Series([], dtype=a), pd.Series([], dtype=b)]).dtype


def _accumulator(template, name, series, how, settings, *, seed):
    """The accumulator of one column, from its unfitted column encoder."""
    if isinstance(template, DatetimeColumn):
        return _Datetimes(template, name, series, how, settings, seed=seed)
    if isinstance(template, NumericalColumn):
        template._values_at_fit(series.iloc[:0], name, settings)  # refuses datetimes as fit
        return _Numbers(template, name, series, how, settings, seed=seed)
    if isinstance(template, CategoricalColumn):
        return _Counts(template, name, series, how)
    if isinstance(template, DroppedColumn):
        return _Dropped(name)
    raise ValueError(
        f"Column {name!r} is encoded as {type(template).__name__}, which partial_fit cannot "
        "fit in one pass (it fits numerical, datetime, categorical and dropped columns from "
        "counts and sketches; an identifier column needs all its values at once). Use fit, or "
        "encode the column as 'drop' or 'categorical' in column_encoders."
    )


class _Column:
    """What partial_fit keeps of one column: its plan, its dtype so far, its accumulation.

    ``prepare(series)`` checks a chunk and computes its contribution without changing
    anything; ``commit(contribution)`` folds it in; ``build(settings)`` makes a fitted column
    encoder (a new object each time: a fitted column never changes).
    """

    def __init__(self, template, name, series, how):
        self.template = template
        self.name = name
        self.how = how
        self.dtype = series.dtype
        self.kind = column_kind(series, name=name) if how == "inferred" else None

    def _merged_dtype(self, series):
        """The column's dtype with this chunk, after checking that its kind still agrees."""
        all_missing = bool(series.isna().all())
        merged = _common_dtype(self.dtype, series.dtype)
        if self.kind is None:
            return merged
        first = f"decided on the first partial_fit chunk, dtype {self.dtype}"
        if not all_missing:
            kind = column_kind(series, name=self.name)
            if kind != self.kind:
                if self.kind == NUMERICAL:  # quote a value that is not a number
                    numeric_values(series, column=self.name, what=f"is {self.kind} ({first})")
                raise ValueError(
                    f"Column {self.name!r} is {self.kind} ({first}), but this chunk has dtype "
                    f"{series.dtype}, which makes it {kind}. Give every chunk the same dtype, "
                    "or name the column in categorical_columns or numerical_columns."
                )
        if column_kind(pd.Series([], dtype=merged), name=self.name) != self.kind:
            if all_missing:  # a chunk of missing values agrees with any kind
                return self.dtype
            raise ValueError(
                f"Column {self.name!r} is {self.kind} ({first}), but with this chunk's dtype "
                f"{series.dtype} the column would have dtype {merged}, which is not {self.kind}."
                " Give every chunk the same dtype."
            )
        return merged

    def has_values(self, contribution):
        return True

    def _fresh(self):
        return clone(self.template) if hasattr(self.template, "get_params") else copy.deepcopy(
            self.template)


class _Counts(_Column):
    """A categorical column: exact counts of its levels (in order of first appearance)."""

    def __init__(self, template, name, series, how):
        super().__init__(template, name, series, how)
        self.counts = {}
        self.n_missing = 0

    def prepare(self, series):
        dtype = self._merged_dtype(series)
        observed = series.dropna()
        chunk = observed.value_counts(sort=False)
        counts = dict(self.counts)
        for v, c in zip(chunk.index, chunk.to_numpy().tolist(), strict=True):
            if c:
                v = _py(v)
                counts[v] = counts.get(v, 0) + c
        return dtype, counts, len(series) - len(observed)

    def has_values(self, contribution):
        return bool(contribution[1])

    def commit(self, contribution):
        self.dtype, self.counts, n_missing = contribution
        self.n_missing += n_missing

    def build(self, settings):
        return self._fresh().fit_counts(
            list(self.counts), list(self.counts.values()), name=self.name, dtype=self.dtype,
            n_missing=self.n_missing, settings=settings)


class _Numbers(_Column):
    """A numerical column: a quantile sketch of its values (missing ones counted)."""

    def __init__(self, template, name, series, how, settings, *, seed):
        super().__init__(template, name, series, how)
        k = settings.min_count or 0
        masses = 0 if settings.point_masses is None else int(np.ceil(1 / settings.point_masses))
        # exact tails wide enough for min_count's clip bounds once the masses are left out
        self.sketch = QuantileSketch(n_extremes=max(64, k + masses + 1), random_state=seed,
                                     name=name)

    def _values(self, series):
        values = numeric_values(series, column=self.name, what="is numerical")
        if np.isinf(values).any():
            raise ValueError(f"Column {self.name!r} holds infinite values; replace them first.")
        return values

    def prepare(self, series):
        return self._merged_dtype(series), self._values(series)

    def has_values(self, contribution):
        return self.sketch.n > 0 or not np.isnan(contribution[1]).all()

    def commit(self, contribution):
        self.dtype, values = contribution
        self.sketch.update(values)

    def build(self, settings):
        template = self._fresh()
        summary = NumericalSummary.from_sketch(
            self.sketch, encoding=template._encoding(settings),
            n_quantiles=settings.n_quantiles, point_masses=settings.point_masses,
            min_count=settings.min_count)
        return template.fit_summary(summary, name=self.name, dtype=self.dtype)


class _Datetimes(_Numbers):
    """A datetime column: a sketch of nanoseconds from the first chunk's earliest value, and
    the exact resolution, earliest values and (for a tiny column) the values in order."""

    def __init__(self, template, name, series, how, settings, *, seed):
        super().__init__(template, name, series, how, settings, seed=seed)
        self.k = settings.min_count or 1
        self.reference = None
        self.unit = 0  # index into the units, coarsest first
        self.lowest = np.empty(0, dtype=np.int64)  # the 2k - 1 smallest values (ns), sorted
        self.head = np.empty(0, dtype=np.int64)  # the first 2 k values, in order

    def _merged_dtype(self, series):
        merged = super()._merged_dtype(series)
        if not _is_datetime(merged):
            if series.isna().all():
                return self.dtype
            raise ValueError(
                f"Column {self.name!r} holds datetimes of dtype {self.dtype}, but with this "
                f"chunk's dtype {series.dtype} the column would have dtype {merged}. Give every "
                "chunk the same dtype (and time zone)."
            )
        return merged

    def prepare(self, series):
        dtype = self._merged_dtype(series)
        ns, mask = datetime_ns(series, column=self.name)
        return dtype, ns, mask

    def has_values(self, contribution):
        return self.sketch.n > 0 or not contribution[2].all()

    def commit(self, contribution):
        self.dtype, ns, mask = contribution
        valid = ns[~mask]
        if valid.size:
            if self.reference is None:
                self.reference = int(valid.min())
            self.unit = max(self.unit, next(
                i for i, (_, step) in enumerate(_DATETIME_UNITS) if np.all(valid % step == 0)))
            k = self.k
            keep = 2 * k - 1
            low = np.partition(valid, keep - 1)[:keep] if valid.size > keep else valid
            self.lowest = np.sort(np.concatenate([self.lowest, low]))[:keep]
            self.head = np.concatenate([self.head, valid[: max(0, 2 * k - self.head.size)]])
        offsets = (ns - (self.reference or 0)).astype(np.float64)
        offsets[mask] = np.nan
        self.sketch.update(offsets)

    def build(self, settings):
        unit, step = _DATETIME_UNITS[self.unit]
        k, n = settings.min_count, self.sketch.n
        if k is None:
            origin = int(self.lowest[0])
        elif n >= 2 * k:  # on the unit grid below the lower clip bound, as fit
            window = self.lowest[k - 1:2 * k - 1].astype(np.float64)
            origin = int(np.floor(window.mean() / step)) * step
        else:  # the column collapses to its mean: every value is in head, in order
            origin = int(np.floor(self.head.astype(np.float64).mean() / step)) * step
        reference = self.reference

        def to_scale(x):
            ns = reference + np.rint(np.asarray(x, dtype=np.float64)).astype(np.int64)
            return DatetimeColumn._offsets(ns, np.zeros(ns.shape, dtype=bool), origin, unit)

        template = self._fresh()
        summary = NumericalSummary.from_sketch(
            self.sketch, encoding=template._encoding(settings),
            n_quantiles=settings.n_quantiles, point_masses=settings.point_masses,
            min_count=settings.min_count, to_scale=to_scale)
        return template.fit_summary(summary, name=self.name, dtype=self.dtype, integer=True,
                                    origin=origin, unit=unit)


class _Dropped:
    """A dropped column: nothing is accumulated."""

    def __init__(self, name):
        self.name = name

    def prepare(self, series):
        return None

    def has_values(self, contribution):
        return True

    def commit(self, contribution):
        pass

    def build(self, settings):
        return DroppedColumn().fit(None, name=self.name, settings=settings)


def _identifier_mode(dtype):
    """``"levels"`` (strings: the categorical counts), ``"integers"`` (a counter of its own)
    or None (a dtype that cannot hold an identifier, as looks_like_identifier says)."""
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
        return None
    if isinstance(dtype, pd.StringDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "O"):
        return "levels"
    if pd.api.types.is_integer_dtype(dtype):
        return "integers"
    return None


class _Look:
    """The identifier check of one column on one chunk, before anything changes."""

    def __init__(self, identifier, settled, counts=None, series=None):
        self.identifier = identifier
        self.settled = settled
        self.counts = counts
        self.series = series


class _IdentifierWatch:
    """Exact distinct counts of a column that may be an identifier, while it has at most
    :data:`IDENTIFIER_WATCH_LEVELS` distinct values."""

    def __init__(self, acc):
        self.counts = {} if isinstance(acc, _Numbers) else None
        self.identifier = False  # whether it looks like one on the chunks so far

    def look(self, contribution):
        if self.counts is None:  # a categorical column: its own counts
            dtype, counts = contribution[0], contribution[1]
        else:
            dtype, values = contribution[0], contribution[1]
            values = values[~np.isnan(values)]
            uniq, n = np.unique(values, return_counts=True)
            counts = dict(self.counts)
            for v, c in zip(uniq.tolist(), n.tolist(), strict=True):
                v = int(v)
                counts[v] = counts.get(v, 0) + c
        n_values = sum(counts.values())
        series = None
        identifier = False
        # every rule of looks_like_identifier needs most values distinct (90 %)
        if n_values and 2 * len(counts) >= n_values:
            levels = np.empty(len(counts), dtype=object)
            levels[:] = list(counts)
            series = pd.Series(np.repeat(levels, list(counts.values()))).astype(dtype)
            from ._protection import looks_like_identifier

            identifier = bool(looks_like_identifier(series))
        settled = len(counts) > IDENTIFIER_WATCH_LEVELS
        return _Look(identifier, settled, counts if self.counts is not None else None, series)

    def commit(self, look):
        self.identifier = look.identifier
        if self.counts is not None:
            self.counts = look.counts
