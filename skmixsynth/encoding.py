"""MixedTypeEncoder: a DataFrame <-> float matrix map with an exact inverse.

The encoder is a list of per-column encoders (``skmixsynth._columns``: one small class per
column kind) and the :class:`~skmixsynth.Layout` built from them.
"""

from __future__ import annotations

import copy
import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import check_is_fitted

from ._columns import (
    CategoricalColumn,
    DatetimeColumn,
    DroppedColumn,
    EncoderSettings,
    NumericalColumn,
    column_encoder_class,
    column_encoder_from_dict,
    default_column_encoder,
    from_json,
    identifier_encoder,
    to_json,
)
from ._compat import Interval, StrOptions
from ._layout import CATEGORICAL, NUMERICAL, Layout, Span
from ._streaming import OnePass
from ._validation import (
    DATETIME,
    check_forced_columns,
    check_frame,
    column_kind,
    has_feature_names,
    warn_guessed_kind,
)

__all__ = ["MixedTypeEncoder"]

#: version of the :meth:`MixedTypeEncoder.get_state` format
STATE_VERSION = 2
#: string aliases of ``column_encoders``
ENCODER_ALIASES = ("quantile", "minmax", "categorical", "identifier", "drop")

class MixedTypeEncoder(TransformerMixin, BaseEstimator):
    """Encode a mixed-type table as a float matrix, with an exact inverse.

    Numerical columns become one scalar each in (0, 1); categorical columns become one-hot
    blocks. The output is laid out as one contiguous numerical block followed by the discrete
    blocks, and :attr:`layout_` describes every block (source column, kind, slice, activation)
    so that models, losses and metrics never hard-code positions. :meth:`fit` is exact and in
    memory; :meth:`partial_fit` fits in one pass over chunks of a table, in bounded memory,
    with a documented error bound.

    ``inverse_transform(transform(X))`` gives back ``X``: same columns and order, same dtypes
    (int stays int, bool stays bool, category keeps its categories, datetime stays datetime,
    strings stay strings) and the same values (floats up to round-off). Missing values are
    encoded (a two-level present/missing indicator block for a numerical column, a level of
    their own for a categorical column) and come back missing. On model outputs the inverse maps
    numericals back into the training range, rounds integer columns, and takes the argmax of
    each one-hot block.

    Parameters
    ----------
    categorical_columns : list of str, default=None
        Columns to treat as categorical whatever their dtype. By default the kind follows the
        dtype: bool, object, string and category are categorical; numbers are numerical;
        datetimes are numerical on a time scale.
    numerical_columns : list of str, default=None
        Columns to treat as numerical whatever their dtype (their values must parse as numbers).
    column_encoders : list of (name, encoder, columns), default=None
        The encoding of chosen columns, in :class:`~sklearn.compose.ColumnTransformer`'s
        manner; the other columns are inferred as usual. ``encoder`` is an alias --
        ``"quantile"`` or ``"minmax"`` (a numerical column with that scale; a datetime column
        stays on its time scale), ``"categorical"`` (say an integer code), ``"identifier"``
        (fresh values, see ``identifiers``), ``"drop"`` (left out of the decoded table) -- or
        an unfitted column encoder such as ``NumericalColumn(encoding="minmax")``, copied for
        each column before fit. ``columns`` is a column name or a list of names. A column may
        be in one entry only, and not also in ``categorical_columns`` /
        ``numerical_columns``. The fitted encoders are :attr:`named_encoders_`.
    numerical_encoding : {"quantile", "minmax"}, default="quantile"
        ``"minmax"`` scales each column linearly to [0, 1] with its training range (mixGAN
        §4.1). ``"quantile"`` maps each column through its empirical CDF (``n_quantiles``
        knots, linear between them) to [0, 1]: skewed and multi-modal columns become close to
        uniform, and a point mass (say the zeros of a capital-gain column) becomes an interval
        (on adult, zeros at 0.458 and every gain above 0.915: a tail a generator can miss;
        ``point_masses`` makes such values levels instead). Both are exactly invertible on the
        training values.
    n_quantiles : int, default=1000
        Number of CDF knots for ``numerical_encoding="quantile"`` (capped by the number of
        rows).
    point_masses : float in (0, 1) or None, default=None
        A value that a numerical column holds in at least this share of its non-missing rows
        (the zeros of a capital-gain column, the 40 of an hours-per-week column) becomes a
        level of the column's state block (``present``, ``missing`` if any, then one
        ``=value`` level per point mass), and the column's scale (range or quantiles) is
        fitted on its other values. A model then chooses "zero or not" as a categorical
        choice, which a softmax head learns like any other, instead of having to place a
        sigmoid output inside a narrow interval. ``None`` keeps every value on the scale.
    max_categories : int or None, default=None
        High-cardinality policy. ``None`` keeps every level (exact round trip). An integer
        ``k >= 2`` keeps the ``k - 1`` most frequent levels of a column and groups the rest into
        one ``"infrequent"`` level; the inverse draws a grouped level from the grouped levels'
        training frequencies, so the grouping is reversible in distribution (not row by row).
        The rule: the encoder, a transformer, is exact by default (as scikit-learn's
        ``OneHotEncoder``); every synthesizer passes ``max_categories=50`` by default, which
        bounds what one column costs a model (a zip code, numbers in an object column that
        the dtype makes categorical) and changes nothing in a column of at most 49 levels.
    min_count : int or None, default=None
        Rare-value protection, so that no single person's value is stored in the fitted state
        or decoded (the synthesizers default to 5). ``None`` keeps the encoder an exact
        transformer. An integer ``k``:

        - a categorical level seen fewer than ``k`` times is not stored anywhere in the state
          (levels, grouped levels, a category dtype's categories) and never decoded: such
          rows share one protected level (labelled ``"_RARE_"``, or folded into
          ``"infrequent"`` when ``max_categories`` groups levels), which decodes to the
          placeholder ``"_RARE_"`` in columns whose dtype holds strings (object, string,
          category: a category column gets ``"_RARE_"`` as a category in place of the
          protected ones) and to a missing value in the others (numbers, bools and datetimes
          forced categorical), which then decode with the dtype that holds missing values.
          Since the protected levels are unknown, ``transform`` encodes every value that is not
          a stored level as the protected level. ``max_categories`` keeps and draws only
          levels seen at least ``k`` times;
        - a numerical (or datetime) column is clipped to a range whose bounds are the means
          of its ``k`` values of ranks ``k..2k-1`` from either end (no row's own value; the
          ``k - 1`` most extreme values, an outlier, do not move them), its quantile knots
          are means of disjoint groups of at least ``k`` sorted values (see
          :meth:`~skmixsynth._columns.NumericalSummary.from_values`), a point mass must be
          held by at least ``k`` rows, and a datetime's origin is its lower clip bound; a
          column with fewer than ``2 k`` values on its scale collapses to their mean.
    identifiers : {"fresh", "drop"} or None, default=None
        What happens to a column that looks like an identifier (an email, a customer id:
        string or integer values almost all unique; the rule is
        ``skmixsynth._protection.looks_like_identifier``) and is not named in
        ``categorical_columns``, ``numerical_columns`` or ``column_encoders``: ``None`` (the
        default) detects nothing; ``"fresh"`` (the synthesizers' default) decodes it to fresh
        values in the training values' format that never equal a training value; ``"drop"``
        leaves it out of the decoded tables (``inverse_transform`` returns the other columns,
        and ``transform`` does not need it). Either way the column adds nothing to the layout,
        and a ``UserWarning`` names it and its handling.
    handle_unknown : {"error", "ignore"}, default="error"
        What ``transform`` does with a category not seen at fit: raise a ``ValueError`` naming
        the column and the values, or encode it as an all-zero block (as
        :class:`~sklearn.preprocessing.OneHotEncoder` does).
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        Type of the encoded matrix. float64 keeps the round trip exact up to float64
        round-off; the synthesizers use float32, which is what their torch models compute in.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws of grouped levels in ``inverse_transform`` (only used when
        ``max_categories`` groups levels).

    Attributes
    ----------
    layout_ : Layout
        The output blocks.
    column_encoders_ : list
        One fitted column encoder per input column, in order
        (:class:`~skmixsynth.NumericalColumn`, :class:`~skmixsynth.DatetimeColumn`,
        :class:`~skmixsynth.CategoricalColumn`): each holds its frozen fitted state.
    columns_ : list of dict
        Read-only: each column encoder's ``to_dict()`` (JSON-serialisable).
    named_encoders_ : sklearn.utils.Bunch
        Read-only: the fitted column encoders of each ``column_encoders`` entry, by name.
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of str
        Input column names (only when all names are strings).

    See Also
    --------
    skmixsynth.Layout : the output layout.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth import MixedTypeEncoder
    >>> df = pd.DataFrame({"age": [23, 45, 31, None], "city": ["Oslo", "Rome", "Oslo", "Rome"]})
    >>> enc = MixedTypeEncoder(numerical_encoding="minmax").fit(df)
    >>> enc.get_feature_names_out().tolist()
    ['age', 'age__present', 'age__missing', 'city__Oslo', 'city__Rome']
    >>> Z = enc.transform(df)
    >>> Z.shape
    (4, 5)
    >>> enc.inverse_transform(Z).equals(df)
    True
    """

    _parameter_constraints = {
        "categorical_columns": ["array-like", None],
        "numerical_columns": ["array-like", None],
        "column_encoders": [list, tuple, None],
        "numerical_encoding": [StrOptions({"quantile", "minmax"})],
        "n_quantiles": [Interval(numbers.Integral, 2, None, closed="left")],
        "point_masses": [Interval(numbers.Real, 0, 1, closed="neither"), None],
        "max_categories": [Interval(numbers.Integral, 2, None, closed="left"), None],
        "min_count": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "identifiers": [StrOptions({"fresh", "drop"}), None],
        "handle_unknown": [StrOptions({"error", "ignore"})],
        "dtype": "no_validation",  # checked in fit
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        categorical_columns=None,
        numerical_columns=None,
        column_encoders=None,
        numerical_encoding="quantile",
        n_quantiles=1000,
        point_masses=None,
        max_categories=None,
        min_count=None,
        identifiers=None,
        handle_unknown="error",
        dtype=np.float64,
        random_state=None,
    ):
        self.categorical_columns = categorical_columns
        self.numerical_columns = numerical_columns
        self.column_encoders = column_encoders
        self.numerical_encoding = numerical_encoding
        self.n_quantiles = n_quantiles
        self.point_masses = point_masses
        self.max_categories = max_categories
        self.min_count = min_count
        self.identifiers = identifiers
        self.handle_unknown = handle_unknown
        self.dtype = dtype
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None):
        """Learn each column's kind, range or quantiles, and levels.

        Parameters
        ----------
        X : DataFrame or 2-D array-like of shape (n_samples, n_features)
            The table. It is never modified.
        y : None
            Ignored.

        Returns
        -------
        self : MixedTypeEncoder
        """
        self._validate_params()
        if np.dtype(self.dtype) not in (np.float32, np.float64):
            raise ValueError(f"dtype must be numpy.float32 or numpy.float64; got {self.dtype!r}.")
        frame = check_frame(X)
        settings = self._settings()
        encoders, named = [], {}
        self.__dict__.pop("_partial", None)  # fit starts afresh: no one-pass working state
        for col, encoder, group, _ in self._plan(frame):
            series = frame[col]
            if series.isna().all():
                raise ValueError(
                    f"Column {col!r} has only missing values; drop it or fill it before fitting."
                )
            if group is not None:
                named.setdefault(group, []).append(len(encoders))
            encoders.append(encoder.fit(series, name=col, settings=settings))
        self.column_encoders_ = encoders
        self._names = list(frame.columns)
        self._named = named
        self.n_features_in_ = frame.shape[1]
        # scikit-learn convention: only a DataFrame with all-string names has feature names
        # (an array gets the internal names x0, x1, ... which are not feature names).
        if has_feature_names(frame):
            self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.layout_ = _build_layout(self._names, encoders)
        return self

    def partial_fit(self, X, y=None):
        """Fit on one more chunk of the table: a one-pass fit over chunks, in bounded memory.

        Each call adds a chunk to what the encoder has accumulated and rebuilds the fitted
        attributes from it, so after any number of calls the encoder is fitted (``transform``,
        ``inverse_transform``, ``transform_columns``, ``encode_partial``, ``get_state``, ...) as
        if on the chunks so far: there is nothing to call at the end. The first call after
        construction or :meth:`fit` starts a pass; :meth:`fit` stays exact and in memory, and
        ends any pass. A call that raises leaves the encoder as it was (the chunk is not
        counted).

        What is accumulated, per column: a categorical column keeps the exact count of each
        level and of missing values, so its levels (sorted where sortable, a categorical
        dtype's categories as they are), ``max_categories`` and ``min_count`` are those of
        :meth:`fit` on the concatenated chunks. A numerical or datetime column goes through a
        :class:`~skmixsynth._sketch.QuantileSketch` (exact range and tails, frequent values
        for ``point_masses``, quantiles with a certified rank error) and keeps its missing
        count; a datetime column also keeps its exact resolution and origin. Memory is bounded
        per numerical column (about 25,000 floats at a million rows) and grows with the number
        of levels of a categorical one.

        **Error bound.** A numerical column whose sketch is still exact (``rank_error == 0``:
        fewer than 2048 non-missing values, or few distinct ones) and holds at most 100,000
        values is fitted as :meth:`fit` fits it, bit for bit. Beyond, let ``n`` be its number
        of non-missing values and ``e`` the sketch's certified rank error,
        ``e <= (n / 2048) (floor(log2(n / 2048)) + 1)`` (0.40 % of ``n`` at a million values,
        0.61 % at ten million, whatever the chunk order): the range is exact, and so are
        ``min_count``'s clip bounds; each quantile knot at level ``q`` has a true rank within
        ``(1 + 2 p) e + 1`` of ``q (m - 1)`` among the ``m`` values on the scale (``p`` the
        number of point masses), where :meth:`fit`'s knot has rank ``q (m - 1)``, and so has
        the median behind the fill; with ``min_count`` a knot, the mean of the group of ranks
        ``[a, b)``, lies between the values of true ranks ``a - e`` and ``b - 1 + e``; a point
        mass is decided on counts within the sketch's ``count_error`` (exact while the column
        has at most 256 distinct values), so only a value within that many rows of the
        ``point_masses`` threshold can be decided otherwise than by :meth:`fit`
        (:meth:`~skmixsynth._columns.NumericalSummary.from_sketch` has the details).

        **Chunks must agree.** Column kinds are decided on the first chunk, by the rule of
        :meth:`fit`. Every later chunk holds the same columns (in any order; an array the same
        number); a column's kind must not change, neither in the chunk nor once its dtype is
        combined with the earlier ones' as :func:`pandas.concat` would (``int64`` then
        ``float64`` is a float column; a numerical column whose chunk holds strings is a
        ``ValueError`` naming the column and the value); a chunk in which a column is all
        missing agrees with any kind. The parameters may not change between the calls of a
        pass (``clone`` the encoder, or call :meth:`fit`, to start again).

        **Identifiers.** :meth:`fit` decides whether a column looks like an identifier on the
        whole column. With ``identifiers`` set, ``partial_fit`` applies the same rule
        (``skmixsynth._protection.looks_like_identifier``) after every call to every column
        that could be one (kind inferred from the dtype; strings or integers), on the exact
        distinct counts of all the chunks so far: the decision is :meth:`fit`'s on the
        concatenated chunks, remade at each call while the column has at most 10,000 distinct
        values; the call that takes it past 10,000 makes it for good (an e-mail or id column
        is decided by its first large chunk). With ``identifiers="drop"`` a column is left out
        while it looks like an identifier (:meth:`fit`'s warning when that starts, another if
        it stops: a small first chunk can make a categorical column look unique). With
        ``identifiers="fresh"`` a call after which a column looks like an identifier raises a
        ``ValueError`` naming it: fresh values are guaranteed to differ from every training
        value only when the identifier column sees all of them at once, which one pass cannot
        do. Name such a column in ``column_encoders`` (``"drop"``, or ``"categorical"`` to
        keep its values), or use :meth:`fit`; an ``"identifier"`` entry of
        ``column_encoders`` is refused by ``partial_fit`` for the same reason.

        **Working state.** The sketches and counts hold raw values: they live in a private
        attribute that is never part of :meth:`get_state` (nor of a synthesizer's saved
        model), whose columns hold only what :meth:`fit`'s would. Pickling the encoder keeps
        them (to go on with the pass elsewhere); ``MixedTypeEncoder.from_state(
        encoder.get_state())`` is the fitted encoder without them.

        Parameters
        ----------
        X : DataFrame or 2-D array-like of shape (n_samples, n_features)
            One chunk of the table. It is never modified.
        y : None
            Ignored.

        Returns
        -------
        self : MixedTypeEncoder

        Raises
        ------
        ValueError
            A chunk that does not agree with the first (columns, kinds), a column that holds
            only missing values so far, a column detected as an identifier with
            ``identifiers="fresh"``, a column encoder that cannot be fitted in one pass, or
            parameters changed since the first call.

        Examples
        --------
        >>> import pandas as pd
        >>> from skmixsynth import MixedTypeEncoder
        >>> df = pd.DataFrame({"age": [23, 45, 31, None, 52, 38],
        ...                    "city": ["Oslo", "Rome", "Oslo", "Rome", "Lima", "Oslo"]})
        >>> enc = MixedTypeEncoder()
        >>> for start in range(0, len(df), 2):
        ...     enc = enc.partial_fit(df.iloc[start:start + 2])
        >>> enc.get_feature_names_out().tolist()
        ['age', 'age__present', 'age__missing', 'city__Lima', 'city__Oslo', 'city__Rome']
        >>> bool((enc.transform(df) == MixedTypeEncoder().fit(df).transform(df)).all())
        True
        """
        self._validate_params()
        if np.dtype(self.dtype) not in (np.float32, np.float64):
            raise ValueError(f"dtype must be numpy.float32 or numpy.float64; got {self.dtype!r}.")
        work = getattr(self, "_partial", None)
        frame = check_frame(X, allow_empty=work is not None)  # kinds need a first row
        if work is None:
            work = OnePass(self, frame)
        else:
            work.check_params(self)
            frame = work.align(frame, from_array=not isinstance(X, pd.DataFrame))
        work.add(frame)
        self._partial = work
        encoders = work.build(self._settings())
        self.column_encoders_ = encoders
        self._names = list(work.names)
        self._named = {name: list(idx) for name, idx in work.named.items()}
        self.n_features_in_ = len(work.names)
        if work.names_are_str:
            self.feature_names_in_ = np.asarray(work.names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.layout_ = _build_layout(self._names, encoders)
        return self

    def _settings(self):
        seed = self.random_state if isinstance(self.random_state, numbers.Integral) else None
        return EncoderSettings(
            numerical_encoding=self.numerical_encoding,
            n_quantiles=self.n_quantiles,
            point_masses=self.point_masses,
            max_categories=self.max_categories,
            min_count=self.min_count,
            identifiers=self.identifiers,
            random_state=None if seed is None else int(seed),
        )

    def _plan(self, frame, *, detect=True):
        """``(column, unfitted column encoder, column_encoders entry name or None, how)`` for
        every column, in order: the one place where a column's encoder is chosen. ``how`` is
        ``"inferred"`` (kind from the dtype), ``"forced"`` (``categorical_columns`` /
        ``numerical_columns``) or ``"named"`` (``column_encoders``); ``detect=False`` leaves
        identifier detection to the caller (:meth:`partial_fit`)."""
        forced = check_forced_columns(
            frame,
            categorical_columns=self.categorical_columns,
            numerical_columns=self.numerical_columns,
        )
        chosen = self._check_column_encoders(frame, forced)
        plan = []
        for col in frame.columns:
            if col in chosen:
                group, spec = chosen[col]
                plan.append((col, _resolve_encoder(spec, frame[col], col), group, "named"))
                continue
            kind = column_kind(frame[col], name=col, forced=forced.get(col))
            encoder = None
            if detect and self.identifiers is not None and col not in forced:
                encoder = identifier_encoder(frame[col], name=col, identifiers=self.identifiers)
            how = "forced" if col in forced else "inferred"
            if encoder is None and how == "inferred":
                warn_guessed_kind(frame[col], kind, name=col)
            plan.append((col, encoder or default_column_encoder(kind), None, how))
        return plan

    def _check_column_encoders(self, frame, forced):
        """``{column: (entry name, encoder spec)}`` of ``column_encoders``, checked."""
        chosen = {}
        if self.column_encoders is None:
            return chosen
        names = set()
        for entry in self.column_encoders:
            if not (isinstance(entry, (tuple, list)) and len(entry) == 3):
                raise ValueError(
                    "column_encoders must be a list of (name, encoder, columns) triples; got "
                    f"the entry {entry!r}."
                )
            name, spec, columns = entry
            if name in names:
                raise ValueError(f"column_encoders names must be unique; {name!r} is used twice.")
            names.add(name)
            if isinstance(spec, str):
                if spec not in ENCODER_ALIASES:
                    raise ValueError(
                        f"column_encoders entry {name!r} has the unknown encoder {spec!r}; use "
                        f"one of {list(ENCODER_ALIASES)} or a column encoder instance."
                    )
            elif not all(hasattr(spec, a) for a in ("fit", "encode", "decode", "to_dict")):
                raise TypeError(
                    f"column_encoders entry {name!r} has the encoder {spec!r}, which is neither "
                    f"an alias ({list(ENCODER_ALIASES)}) nor a column encoder (an object with "
                    "fit, encode, decode and to_dict, such as skmixsynth.NumericalColumn)."
                )
            if isinstance(columns, str) or np.ndim(columns) == 0:
                columns = [columns]
            unknown = [c for c in columns if c not in frame.columns]
            if unknown:
                raise ValueError(
                    f"Columns {unknown} of column_encoders entry {name!r} are not in the data; "
                    f"its columns are {list(frame.columns)}."
                )
            for c in columns:
                if c in chosen:
                    raise ValueError(
                        f"Column {c!r} is in two column_encoders entries, {chosen[c][0]!r} and "
                        f"{name!r}; name each column once."
                    )
                if c in forced:
                    where = f"{forced[c]}_columns"
                    raise ValueError(
                        f"Column {c!r} is named both in column_encoders (entry {name!r}) and in "
                        f"{where}; name it in one place."
                    )
                chosen[c] = (name, spec)
        return chosen

    @property
    def named_encoders_(self):
        """The fitted column encoders of each ``column_encoders`` entry, by name (like
        :attr:`sklearn.compose.ColumnTransformer.named_transformers_`).

        Returns
        -------
        named : sklearn.utils.Bunch
            ``{name: [fitted column encoder, ...]}``, one per column of the entry.
        """
        check_is_fitted(self, "layout_")
        return Bunch(**{name: [self.column_encoders_[i] for i in idx]
                        for name, idx in self._named.items()})

    @property
    def columns_(self):
        """Per input column, its fitted state as a dict (read-only; see
        :attr:`column_encoders_` for the objects)."""
        check_is_fitted(self, "layout_")
        return [c.to_dict() for c in self.column_encoders_]

    # ------------------------------------------------------------ transform
    def transform(self, X):
        """Encode a table with the fitted layout.

        Parameters
        ----------
        X : DataFrame or 2-D array-like
            Must hold every column seen at fit (extra columns are ignored), except identifier
            and dropped columns, which add nothing to the layout.

        Returns
        -------
        Z : ndarray of shape (n_samples, layout_.width) and type ``dtype``
        """
        return self.columns_to_encoded(*self._encode(self._check_columns(X)))

    def _encode(self, frame):
        """``(numerical float64, codes int64)`` of a checked frame, from the columns' codes."""
        n = frame.shape[0]
        lay = self.layout_
        numerical = np.empty((n, lay.n_numerical), dtype=np.float64)
        codes = np.empty((n, len(lay.discrete_spans)), dtype=np.int64)
        for name, col in zip(self._names, self.column_encoders_, strict=True):
            if not _contributes(col):
                continue  # nothing to encode (an identifier or a dropped column)
            num, code = self._encode_column(col, frame[name])
            if num.shape[1]:
                numerical[:, lay.numerical_position(name)] = num[:, 0]
            if code.shape[1]:
                codes[:, lay.discrete_position(name)] = code[:, 0]
        return numerical, codes

    def _encode_column(self, col, series):
        if isinstance(col, CategoricalColumn):
            return col.encode(series, handle_unknown=self.handle_unknown)
        return col.encode(series)

    def inverse_transform(self, X, *, random_state=None):
        """Map an encoded matrix (or model outputs in the same layout) back to a DataFrame.

        Numerical outputs are clipped to (0, 1) and mapped into the training range; integer
        columns are rounded; each one-hot block is decoded by its argmax (ties go to the first
        level); a row whose missing indicator or missing level wins comes back missing.

        Parameters
        ----------
        X : array-like of shape (n_samples, layout_.width)
            Encoded rows, for instance a model's outputs.
        random_state : int, RandomState instance or None, default=None
            Seeds the draw of grouped levels (``max_categories``); defaults to the encoder's
            ``random_state``.

        Returns
        -------
        frame : DataFrame
            Columns, order and dtypes of the training table.
        """
        check_is_fitted(self, "layout_")
        Z = np.asarray(X)
        if Z.dtype.kind != "f":
            Z = Z.astype(np.float64)
        if Z.ndim != 2 or Z.shape[1] != self.layout_.width:
            raise ValueError(
                f"Expected an encoded matrix with {self.layout_.width} columns (the layout's "
                f"width); got shape {Z.shape}."
            )
        nan_cols = np.isnan(Z).any(axis=0)
        if nan_cols.any():
            raise ValueError(
                "The encoded matrix holds NaN values (a diverged model?) in the features "
                f"{self.get_feature_names_out()[nan_cols][:5].tolist()}; they cannot be decoded."
            )
        lay = self.layout_
        codes = np.zeros((Z.shape[0], len(lay.discrete_spans)), dtype=np.int64)
        for j, s in enumerate(lay.discrete_spans):
            codes[:, j] = Z[:, s.slice].argmax(axis=1)  # ties go to the first level
        return self._decode(Z[:, lay.numerical_slice], codes, random_state)

    def inverse_transform_columns(self, numerical, codes, *, random_state=None):
        """Inverse of :meth:`transform_columns`: per-column views back to a DataFrame.

        The fast path of sampling: a model that produces a level index per discrete span
        (rather than a one-hot block) skips building and re-reading the one-hot matrix, and
        categorical columns are built from integer codes without hashing their labels.
        ``inverse_transform_columns(*transform_columns(X))`` gives back ``X``, like
        :meth:`inverse_transform`.

        Parameters
        ----------
        numerical : array-like of shape (n_samples, layout_.n_numerical)
            The numerical block (values are clipped to [0, 1]).
        codes : array-like of int, shape (n_samples, len(layout_.cardinalities))
            The level index of each discrete span, in layout order; ``-1`` (an ignored unknown
            category in :meth:`transform_columns`) decodes as a missing value.
        random_state : int, RandomState instance or None, default=None
            As in :meth:`inverse_transform`.

        Returns
        -------
        frame : DataFrame
            Columns, order and dtypes of the training table.

        Examples
        --------
        >>> import pandas as pd
        >>> from skmixsynth import MixedTypeEncoder
        >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": pd.Categorical(["b", "a", "b"])})
        >>> enc = MixedTypeEncoder().fit(df)
        >>> enc.inverse_transform_columns([[0.0], [1.0]], [[1], [0]])
             x  c
        0  1.0  b
        1  3.0  a
        """
        check_is_fitted(self, "layout_")
        lay = self.layout_
        numerical = np.asarray(numerical)
        if numerical.dtype.kind not in "fiub":
            raise TypeError(f"numerical must hold numbers; got dtype {numerical.dtype}.")
        if numerical.dtype.kind != "f":
            numerical = numerical.astype(np.float64)
        codes = np.asarray(codes)
        if codes.dtype.kind not in "iu":
            raise TypeError(f"codes must hold integers; got dtype {codes.dtype}.")
        n_disc = len(lay.discrete_spans)
        if numerical.ndim != 2 or numerical.shape[1] != lay.n_numerical:
            raise ValueError(f"numerical must have shape (n_samples, {lay.n_numerical}); got "
                             f"{numerical.shape}.")
        if codes.ndim != 2 or codes.shape != (numerical.shape[0], n_disc):
            raise ValueError(f"codes must have shape ({numerical.shape[0]}, {n_disc}); got "
                             f"{codes.shape}.")
        if np.isnan(numerical).any():
            raise ValueError("numerical holds NaN values; they cannot be decoded.")
        sizes = np.asarray(lay.cardinalities, dtype=np.int64)
        bad = (codes < -1) | (codes >= sizes)
        if bad.any():
            j = int(np.flatnonzero(bad.any(axis=0))[0])
            span = lay.discrete_spans[j]
            raise ValueError(
                f"codes[:, {j}] (column {span.column!r}) holds {int(codes[bad.any(axis=1)][0, j])}"
                f", outside [-1, {span.dim - 1}]."
            )
        return self._decode(numerical, codes, random_state)


    def _decode(self, numerical, codes, random_state):
        """Frame from the numerical block and one level index per discrete span."""
        rng = check_random_state(self.random_state if random_state is None else random_state)
        lay = self.layout_
        n = numerical.shape[0]
        out = {}
        for name, col in zip(self._names, self.column_encoders_, strict=True):
            i, j = lay.numerical_position(name), lay.discrete_position(name)
            num = numerical[:, i:i + 1] if i is not None else numerical[:, :0].reshape(n, 0)
            code = codes[:, j:j + 1] if j is not None else codes[:, :0].reshape(n, 0)
            if getattr(col, "in_output", True):
                out[name] = col.decode(num, code, rng)
        return pd.DataFrame(out, columns=list(out))

    def transform_columns(self, X):
        """Per-column views: a scalar per numerical column, a level index per discrete span.

        This is the input of a feature tokenizer (one token per column, FT-Transformer style):
        ``numerical`` holds the numerical block of :meth:`transform`, ``codes`` the index of
        the active level of each discrete span (categorical columns and missing indicators,
        in layout order; ``-1`` for an ignored unknown category). Level codes are the
        primitive: each column encoder computes them directly, and :meth:`transform` builds
        its one-hot blocks from them.

        Parameters
        ----------
        X : DataFrame or 2-D array-like

        Returns
        -------
        numerical : ndarray of shape (n_samples, layout_.n_numerical)
            Of the encoder's ``dtype`` (float32 for the synthesizers).
        codes : ndarray of shape (n_samples, len(layout_.cardinalities)), int64

        Examples
        --------
        >>> import pandas as pd
        >>> from skmixsynth import MixedTypeEncoder
        >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["b", "a", "b"]})
        >>> enc = MixedTypeEncoder(numerical_encoding="minmax").fit(df)
        >>> num, codes = enc.transform_columns(df)
        >>> num.ravel().tolist(), codes.ravel().tolist()
        ([0.0, 0.5, 1.0], [1, 0, 1])
        """
        numerical, codes = self._encode(self._check_columns(X))
        return numerical.astype(self.dtype), codes

    def encode_partial(self, X):
        """Encode the given columns of some rows, for conditions: the others stay free.

        Parameters
        ----------
        X : DataFrame or dict
            Any subset of the fitted columns: a DataFrame of per-row values, or a dict of
            scalars (one row) or of equal-length sequences.

        Returns
        -------
        numerical : ndarray of shape (n, layout_.n_numerical), float64
            The scaled value of each given numerical column; NaN where the slot is not fixed
            (a column not given, or whose value is missing or a point mass, so that the scale
            is not used).
        codes : ndarray of shape (n, len(layout_.discrete_spans)), int64
            The level of each given column's discrete span (a numerical column's state span
            is fixed too: ``present``, ``missing`` or its point mass); -1 where not fixed. A
            level grouped by ``max_categories`` gets the shared ``infrequent`` code.

        Raises
        ------
        ValueError
            Naming the column and the value, whatever ``handle_unknown`` says: a column not
            seen at fit, a category not seen at fit (or not kept by ``min_count``), a missing
            value in a column that had none, a number that is not one, outside the training
            range or not a whole number of an integer (or datetime) column's unit, or a column
            that contributes nothing to the layout (an identifier column).

        Examples
        --------
        >>> import pandas as pd
        >>> from skmixsynth import MixedTypeEncoder
        >>> df = pd.DataFrame({"x": [1.0, 2.0, 5.0], "c": ["a", "b", "a"]})
        >>> enc = MixedTypeEncoder(numerical_encoding="minmax").fit(df)
        >>> numerical, codes = enc.encode_partial({"c": "b"})
        >>> numerical.tolist(), codes.tolist()
        ([[nan]], [[1]])
        >>> enc.encode_partial(pd.DataFrame({"x": [2.0, 5.0]}))[0].tolist()
        [[0.25], [1.0]]
        """
        check_is_fitted(self, "layout_")
        frame = _partial_frame(X)
        by_name = {str(name): i for i, name in enumerate(self._names)}
        unknown = [c for c in frame.columns if str(c) not in by_name]
        if unknown:
            raise ValueError(
                f"Columns {unknown} were not seen at fit; the fitted columns are "
                f"{list(self._names)}."
            )
        lay = self.layout_
        n = frame.shape[0]
        numerical = np.full((n, lay.n_numerical), np.nan)
        codes = np.full((n, len(lay.discrete_spans)), -1, dtype=np.int64)
        for c in frame.columns:
            i = by_name[str(c)]
            name, col = self._names[i], self.column_encoders_[i]
            if not (_contributes(col) and hasattr(col, "encode_partial")):
                raise ValueError(
                    f"Column {name!r} cannot be a condition: it is encoded as "
                    f"{type(col).__name__}, which contributes nothing to the model (its values "
                    "are not learnt)."
                )
            num, code = col.encode_partial(frame[c])
            if num.shape[1]:
                numerical[:, lay.numerical_position(name)] = num[:, 0]
            if code.shape[1]:
                codes[:, lay.discrete_position(name)] = code[:, 0]
        return numerical, codes

    def encoded_to_columns(self, Z):
        """Split an encoded matrix into per-column views (see :meth:`transform_columns`).

        Parameters
        ----------
        Z : ndarray of shape (n_samples, layout_.width)

        Returns
        -------
        numerical : ndarray of shape (n_samples, layout_.n_numerical)
            Of the encoder's ``dtype`` (float32 for the synthesizers).
        codes : ndarray of shape (n_samples, n_discrete), int64
        """
        check_is_fitted(self, "layout_")
        Z = np.asarray(Z)
        lay = self.layout_
        codes = np.empty((Z.shape[0], len(lay.discrete_spans)), dtype=np.int64)
        for j, s in enumerate(lay.discrete_spans):
            block = Z[:, s.slice]
            codes[:, j] = np.where(block.max(axis=1) > 0, block.argmax(axis=1), -1)
        dtype = Z.dtype if Z.dtype.kind == "f" else np.dtype(self.dtype)
        return Z[:, lay.numerical_slice].astype(dtype), codes

    def columns_to_encoded(self, numerical, codes):
        """Inverse of :meth:`encoded_to_columns`: build the one-hot encoded matrix.

        Parameters
        ----------
        numerical : ndarray of shape (n_samples, layout_.n_numerical)
        codes : ndarray of shape (n_samples, n_discrete), int

        Returns
        -------
        Z : ndarray of shape (n_samples, layout_.width)
            Of the encoder's ``dtype``.
        """
        check_is_fitted(self, "layout_")
        lay = self.layout_
        numerical = np.asarray(numerical)
        codes = np.asarray(codes)
        Z = np.zeros((numerical.shape[0], lay.width), dtype=self.dtype)
        Z[:, lay.numerical_slice] = numerical
        for j, s in enumerate(lay.discrete_spans):
            rows = np.flatnonzero(codes[:, j] >= 0)
            Z[rows, s.start + codes[rows, j]] = 1.0
        return Z

    # ----------------------------------------------------------- utilities
    def get_feature_names_out(self, input_features=None):
        """Names of the encoded features: ``col`` for numericals, ``col__level`` otherwise.

        Parameters
        ----------
        input_features : None
            Ignored; present for scikit-learn API compatibility.

        Returns
        -------
        names : ndarray of str
        """
        check_is_fitted(self, "layout_")
        names = []
        for s in self.layout_.spans:
            if s.kind == NUMERICAL:
                names.append(s.column)
            else:
                names.extend(f"{s.column}__{lab}" for lab in s.labels)
        return np.asarray(names, dtype=object)

    def _check_columns(self, X):
        check_is_fitted(self, "layout_")
        frame = check_frame(X, allow_empty=True)
        if not isinstance(X, pd.DataFrame):
            if frame.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {frame.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input."
                )
            frame.columns = list(self._names)
        missing = [
            c for c, col in zip(self._names, self.column_encoders_, strict=True)
            if c not in frame.columns and _contributes(col)
        ]
        if missing:
            raise ValueError(
                f"Columns {missing} were seen at fit but are missing from the data to transform "
                f"(it has {list(frame.columns)})."
            )
        return frame

    def get_state(self):
        """The fitted state as JSON-serialisable data (see :meth:`from_state`).

        ``{"version": 2, "params": get_params(), "names": [...], "columns": [column
        encoder's to_dict(), ...], "names_are_str": bool}``; each column's keys are documented
        on its class (:class:`~skmixsynth._columns.NumericalColumn`, ...).

        Returns
        -------
        state : dict

        Examples
        --------
        >>> import json, pandas as pd
        >>> from skmixsynth import MixedTypeEncoder
        >>> df = pd.DataFrame({"x": [1, 2, 3], "c": ["a", "b", "a"]})
        >>> enc = MixedTypeEncoder().fit(df)
        >>> twin = MixedTypeEncoder.from_state(json.loads(json.dumps(enc.get_state())))
        >>> twin.inverse_transform(enc.transform(df)).equals(df)
        True
        """
        check_is_fitted(self, "layout_")
        params = self.get_params()
        params["dtype"] = np.dtype(params["dtype"]).name
        if not (params["random_state"] is None or isinstance(params["random_state"], int)):
            params["random_state"] = None
        for key in ("categorical_columns", "numerical_columns"):
            if params[key] is not None:
                params[key] = [to_json(v) for v in params[key]]
        if params["column_encoders"] is not None:
            params["column_encoders"] = [_entry_to_json(e) for e in params["column_encoders"]]
        return {
            "version": STATE_VERSION,
            "params": params,
            "names": [to_json(v) for v in self._names],
            "columns": [c.to_dict() for c in self.column_encoders_],
            "named": [[name, idx] for name, idx in self._named.items()],
            "names_are_str": hasattr(self, "feature_names_in_"),
        }

    @classmethod
    def from_state(cls, state):
        """Rebuild a fitted encoder from :meth:`get_state`'s output.

        States of version 1 (before the per-column encoders) are read too.

        Parameters
        ----------
        state : dict

        Returns
        -------
        encoder : MixedTypeEncoder
        """
        version = state.get("version", 1)
        if version > STATE_VERSION:
            raise ValueError(
                f"This encoder state has version {version}; this skmixsynth reads versions up "
                f"to {STATE_VERSION}. Upgrade skmixsynth to load it."
            )
        params = dict(state["params"])
        for key in ("categorical_columns", "numerical_columns"):
            if params.get(key) is not None:
                params[key] = [from_json(v) for v in params[key]]
        params["dtype"] = np.dtype(params["dtype"]).type
        if params.get("column_encoders") is not None:
            params["column_encoders"] = [_entry_from_json(e) for e in params["column_encoders"]]
        enc = cls(**params)
        columns = state["columns"]
        if version == 1:
            columns = [_upgrade_v1(c) for c in columns]
            names = [from_json(c["name"]) for c in state["columns"]]
        else:
            names = [from_json(v) for v in state["names"]]
        enc.column_encoders_ = [column_encoder_from_dict(c) for c in columns]
        enc._names = names
        enc._named = {name: list(idx) for name, idx in state.get("named", [])}
        enc.n_features_in_ = len(names)
        if state.get("names_are_str"):
            enc.feature_names_in_ = np.asarray(names, dtype=object)
        enc.layout_ = _build_layout(names, enc.column_encoders_)
        return enc

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags



def _resolve_encoder(spec, series, column):
    """An unfitted column encoder for one column of a ``column_encoders`` entry."""
    if isinstance(spec, str):
        if spec in ("quantile", "minmax"):
            kind = column_kind(series, name=column, forced=NUMERICAL,
                               why=f"is encoded as {spec!r} in column_encoders")
            return (DatetimeColumn if kind == DATETIME else NumericalColumn)(encoding=spec)
        if spec == "categorical":
            return CategoricalColumn()
        if spec == "drop":
            return DroppedColumn()
        return column_encoder_class("identifier")()
    # a fresh copy per column: the user's instance is never fitted
    return clone(spec) if hasattr(spec, "get_params") else copy.deepcopy(spec)


def _entry_to_json(entry):
    name, spec, columns = entry
    if not isinstance(spec, str):
        params = spec.get_params(deep=False) if hasattr(spec, "get_params") else {}
        spec = {"type": spec.type_name, "params": params}
    if isinstance(columns, str) or np.ndim(columns) == 0:
        columns = [columns]
    return [name, spec, [to_json(c) for c in columns]]


def _entry_from_json(entry):
    name, spec, columns = entry
    if isinstance(spec, dict):
        spec = column_encoder_class(spec["type"])(**spec["params"])
    return (name, spec, [from_json(c) for c in columns])


def _contributes(col):
    """Whether a column encoder adds anything to the layout (identifier and dropped columns
    do not: ``transform`` skips them, and they may be absent from its input)."""
    return bool(col.n_numerical) or col.discrete_labels is not None


def _partial_frame(X):
    """The rows of :meth:`MixedTypeEncoder.encode_partial` as a DataFrame."""
    if isinstance(X, dict):
        if all(np.ndim(v) == 0 for v in X.values()):
            return pd.DataFrame({k: [v] for k, v in X.items()}, index=[0])
        return pd.DataFrame(X)
    if isinstance(X, pd.DataFrame):
        if X.columns.has_duplicates:
            raise ValueError(
                f"X has duplicate column names: {X.columns[X.columns.duplicated()].tolist()}."
            )
        return X
    raise TypeError(
        f"Conditions must be a DataFrame or a dict of column -> value; got "
        f"{type(X).__name__}."
    )


def _build_layout(names, encoders):
    """One numerical span per scalar (in column order), then one softmax span per column
    with discrete labels (in column order)."""
    spans, pos = [], 0
    for name, col in zip(names, encoders, strict=True):
        for _ in range(col.n_numerical):
            spans.append(Span(str(name), NUMERICAL, pos, pos + 1, "sigmoid", ("",)))
            pos += 1
    for name, col in zip(names, encoders, strict=True):
        labels = col.discrete_labels
        if labels is not None:
            kind = getattr(col, "span_kind", CATEGORICAL)
            spans.append(Span(str(name), kind, pos, pos + len(labels), "softmax",
                              tuple(labels)))
            pos += len(labels)
    return Layout(tuple(spans))


def _upgrade_v1(info):
    """A column dict of a version-1 state (``columns_`` of skmixsynth 0.1) as a version-2
    column encoder dict."""
    info = dict(info)
    kind = info.pop("kind")
    if kind == CATEGORICAL:
        out = {
            "type": "categorical",
            "name": info["name"],
            "dtype": info["dtype"],
            "levels": info["kept"],
            "grouped": info["rare"],
            "grouped_p": info["rare_p"],
            "has_missing": info["has_missing"],
            "ordered": info["ordered"],
        }
        if info["dtype"]["name"] == "category":
            out["categories"] = info["categories"]
        return out
    info["type"] = kind
    info["encoding"] = "quantile" if "quantiles" in info else "minmax"
    info.setdefault("masses", [])
    return info
