"""MixedTypeEncoder: a DataFrame <-> float matrix map with an exact inverse."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._layout import CATEGORICAL, MISSING, NUMERICAL, Layout, Span
from ._validation import DATETIME, check_frame, has_feature_names, infer_column_kinds

__all__ = ["MixedTypeEncoder"]

_RARE_LABEL = "infrequent"
_DATETIME_UNITS = (  # coarsest first; (name, nanoseconds)
    ("D", 86_400 * 10**9),
    ("h", 3_600 * 10**9),
    ("min", 60 * 10**9),
    ("s", 10**9),
    ("ms", 10**6),
    ("us", 10**3),
    ("ns", 1),
)


class MixedTypeEncoder(TransformerMixin, BaseEstimator):
    """Encode a mixed-type table as a float matrix, with an exact inverse.

    Numerical columns become one scalar each in (0, 1); categorical columns become one-hot
    blocks. The output is laid out as one contiguous numerical block followed by the discrete
    blocks, and :attr:`layout_` describes every block (source column, kind, slice, activation)
    so that models, losses and metrics never hard-code positions.

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
    max_categories : int, default=None
        High-cardinality policy. ``None`` keeps every level (exact round trip). An integer
        ``k >= 2`` keeps the ``k - 1`` most frequent levels of a column and groups the rest into
        one ``"infrequent"`` level; the inverse draws a grouped level from the grouped levels'
        training frequencies, so the grouping is reversible in distribution (not row by row).
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
    columns_ : list of dict
        Per input column: name, kind, dtype and the fitted statistics (JSON-serialisable).
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
        "numerical_encoding": [StrOptions({"quantile", "minmax"})],
        "n_quantiles": [Interval(numbers.Integral, 2, None, closed="left")],
        "point_masses": [Interval(numbers.Real, 0, 1, closed="neither"), None],
        "max_categories": [Interval(numbers.Integral, 2, None, closed="left"), None],
        "handle_unknown": [StrOptions({"error", "ignore"})],
        "dtype": "no_validation",  # checked in fit
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        categorical_columns=None,
        numerical_columns=None,
        numerical_encoding="quantile",
        n_quantiles=1000,
        point_masses=None,
        max_categories=None,
        handle_unknown="error",
        dtype=np.float64,
        random_state=None,
    ):
        self.categorical_columns = categorical_columns
        self.numerical_columns = numerical_columns
        self.numerical_encoding = numerical_encoding
        self.n_quantiles = n_quantiles
        self.point_masses = point_masses
        self.max_categories = max_categories
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
        kinds = infer_column_kinds(
            frame,
            categorical_columns=self.categorical_columns,
            numerical_columns=self.numerical_columns,
        )
        columns = []
        for col, kind in kinds.items():
            series = frame[col]
            if series.isna().all():
                raise ValueError(
                    f"Column {col!r} has only missing values; drop it or fill it before fitting."
                )
            info = {"name": col, "kind": kind, "dtype": _dtype_to_json(series.dtype)}
            if kind == CATEGORICAL:
                info.update(self._fit_categorical(series, col))
            else:
                info.update(self._fit_numerical(series, col, kind))
            columns.append(info)
        self.columns_ = columns
        self.n_features_in_ = frame.shape[1]
        names = np.asarray(frame.columns, dtype=object)
        # scikit-learn convention: only a DataFrame with all-string names has feature names
        # (an array gets the internal names x0, x1, ... which are not feature names).
        if has_feature_names(frame):
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.layout_ = self._build_layout()
        return self

    def _fit_numerical(self, series, col, kind):
        values, extra = _numeric_values(series, col, kind)
        finite = values[~np.isnan(values)]
        if np.isinf(finite).any():
            raise ValueError(f"Column {col!r} holds infinite values; replace them first.")
        info = dict(extra)
        info["masses"] = []
        if self.point_masses is not None:
            levels, counts = np.unique(finite, return_counts=True)
            masses = levels[counts >= self.point_masses * finite.size]
            rest = finite[~np.isin(finite, masses)]
            if masses.size and rest.size:  # a column of point masses only keeps its scale
                info["masses"] = [float(v) for v in masses]
                finite = rest
        info["min"] = float(finite.min())
        info["max"] = float(finite.max())
        info["has_missing"] = bool(np.isnan(values).any())
        # Datetimes are counted in whole units of their resolution, so they round like ints.
        # Bools forced numerical round to 0/1 too (casting 0.3 to "boolean" would fail).
        info["integer"] = bool(
            kind == DATETIME
            or pd.api.types.is_integer_dtype(series.dtype)
            or pd.api.types.is_bool_dtype(series.dtype)
        )
        if self.numerical_encoding == "quantile":
            n_q = int(min(self.n_quantiles, max(finite.size, 2)))
            levels = np.linspace(0.0, 1.0, n_q)
            info["quantiles"] = np.quantile(finite, levels).tolist()
        encoded = self._scale(finite, info)
        info["fill"] = float(np.median(encoded))
        return info

    def _fit_categorical(self, series, col):
        has_missing = bool(series.isna().any())
        observed = series.dropna()
        if isinstance(series.dtype, pd.CategoricalDtype):
            levels = list(series.dtype.categories)
            counts = observed.value_counts(sort=False).reindex(levels, fill_value=0)
        else:
            counts = observed.value_counts(sort=False)
            levels = list(counts.index)
            try:
                order = np.argsort(np.asarray(levels, dtype=object), kind="stable")
                levels = [levels[i] for i in order]
            except TypeError:  # mixed, unorderable types: keep the order of appearance
                pass
            counts = counts.reindex(levels)
        levels = [_py(v) for v in levels]
        kept, rare, rare_p = levels, [], []
        if self.max_categories is not None and len(levels) > self.max_categories:
            order = np.argsort(-counts.to_numpy(), kind="stable")
            keep_idx = np.sort(order[: self.max_categories - 1])
            rare_idx = np.sort(order[self.max_categories - 1 :])
            kept = [levels[i] for i in keep_idx]
            rare = [levels[i] for i in rare_idx]
            c = counts.to_numpy()[rare_idx].astype(float)
            rare_p = (c / c.sum()).tolist() if c.sum() > 0 else [1.0 / len(rare)] * len(rare)
        return {
            "categories": levels,
            "kept": kept,
            "rare": rare,
            "rare_p": rare_p,
            "has_missing": has_missing,
            "ordered": bool(getattr(series.dtype, "ordered", False)),
        }

    def _build_layout(self):
        spans, pos = [], 0
        for info in self.columns_:
            if info["kind"] != CATEGORICAL:
                spans.append(Span(str(info["name"]), NUMERICAL, pos, pos + 1, "sigmoid", ("",)))
                pos += 1
        for info in self.columns_:
            name = str(info["name"])
            if info["kind"] == CATEGORICAL:
                labels = [str(v) for v in info["kept"]]
                if info["rare"]:
                    labels.append(_RARE_LABEL)
                if info["has_missing"]:
                    labels.append("nan")
                spans.append(Span(name, CATEGORICAL, pos, pos + len(labels), "softmax",
                                  tuple(labels)))
                pos += len(labels)
            elif info["has_missing"] or info.get("masses"):
                labels = _state_labels(info)
                spans.append(Span(name, MISSING, pos, pos + len(labels), "softmax", labels))
                pos += len(labels)
        return Layout(tuple(spans))

    # ------------------------------------------------------------ transform
    def transform(self, X):
        """Encode a table with the fitted layout.

        Parameters
        ----------
        X : DataFrame or 2-D array-like
            Must hold every column seen at fit (extra columns are ignored).

        Returns
        -------
        Z : ndarray of shape (n_samples, layout_.width) and type ``dtype``
        """
        frame = self._check_columns(X)
        n = frame.shape[0]
        Z = np.zeros((n, self.layout_.width), dtype=self.dtype)
        spans = {(s.column, s.kind): s for s in self.layout_.spans}
        for info in self.columns_:
            name, col = str(info["name"]), info["name"]
            if info["kind"] == CATEGORICAL:
                span = spans[(name, CATEGORICAL)]
                codes = self._category_codes(frame[col], info)
                rows = np.flatnonzero(codes >= 0)
                Z[rows, span.start + codes[rows]] = 1.0
                continue
            values, _ = _numeric_values(frame[col], col, info["kind"], info)
            missing = np.isnan(values)
            if np.isinf(values).any():
                raise ValueError(f"Column {col!r} holds infinite values; replace them first.")
            if missing.any() and not info["has_missing"]:
                raise ValueError(
                    f"Column {col!r} has {int(missing.sum())} missing value(s), but had none when "
                    "the encoder was fitted, so it has no missing-value indicator. Refit on data "
                    "with missing values in this column, or fill them first."
                )
            state = _numerical_state(values, missing, info)
            on_scale = state == 0
            enc = np.full(n, info["fill"])
            enc[on_scale] = self._scale(values[on_scale], info)
            Z[:, spans[(name, NUMERICAL)].start] = enc
            if (name, MISSING) in spans:
                Z[np.arange(n), spans[(name, MISSING)].start + state] = 1.0
        return Z

    def _category_codes(self, series, info):
        """Index of each row's level inside the column's span; -1 for an ignored unknown."""
        kept = info["kept"]
        n_kept = len(kept)
        codes = np.full(len(series), -1, dtype=np.int64)
        isna = series.isna().to_numpy()
        if isna.any():
            if not info["has_missing"]:
                if self.handle_unknown == "error":
                    raise ValueError(
                        f"Column {info['name']!r} has missing values, but had none when the "
                        "encoder was fitted. Use handle_unknown='ignore' to encode them as "
                        "all-zero blocks."
                    )
            else:
                codes[isna] = n_kept + (1 if info["rare"] else 0)
        values = series[~isna].astype(object).to_numpy()
        idx = _lookup(kept, values)
        unknown = idx < 0
        if info["rare"] and unknown.any():
            in_rare = _lookup(info["rare"], values[unknown]) >= 0
            sub = idx[unknown]
            sub[in_rare] = n_kept
            idx[unknown] = sub
            unknown = idx < 0
        if unknown.any() and self.handle_unknown == "error":
            examples = pd.unique(values[unknown])[:5].tolist()
            raise ValueError(
                f"Column {info['name']!r} has categories not seen at fit: {examples}. "
                "Use handle_unknown='ignore' to encode them as all-zero blocks."
            )
        codes[~isna] = idx
        return codes

    def _scale(self, values, info):
        if "quantiles" in info:
            q = np.asarray(info["quantiles"])
            levels = np.linspace(0.0, 1.0, q.size)
            # Average the forward and the reversed interpolation so that a value repeated
            # over several knots (a point mass) maps to the middle of its CDF interval.
            up = np.interp(values, q, levels)
            down = -np.interp(-values, -q[::-1], -levels[::-1])
            return 0.5 * (up + down)
        lo, hi = info["min"], info["max"]
        if hi == lo:
            return np.full(values.shape, 0.5)
        return (values - lo) / (hi - lo)

    def _unscale(self, u, info):
        u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
        if "quantiles" in info:
            # Linear interpolation between the knots, which sit on the uniform grid
            # linspace(0, 1, n): the segment index is floor(u * (n - 1)), no search needed
            # (np.interp's binary search took half of the decoding time of a sample).
            q = np.asarray(info["quantiles"], dtype=np.float64)  # at least 2 knots (fit)
            pos = u * (q.size - 1)
            j = np.minimum(pos.astype(np.intp), q.size - 2)
            low, high = q[j], q[j + 1]
            # clipped to the segment: round-off must not step outside the training range
            return np.clip(low + (pos - j) * (high - low), low, high)
        lo, hi = info["min"], info["max"]
        return np.clip(lo + u * (hi - lo), lo, hi)

    # ---------------------------------------------------- inverse_transform
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
        position = {(s.column, s.kind): j for j, s in enumerate(lay.discrete_spans)}
        position.update({(s.column, s.kind): s.start for s in lay.numerical_spans})
        out = {}
        for info in self.columns_:
            name = str(info["name"])
            if info["kind"] == CATEGORICAL:
                code = codes[:, position[(name, CATEGORICAL)]]
                out[info["name"]] = self._decode_categorical(code, info, rng)
            else:
                u = numerical[:, position[(name, NUMERICAL)]]
                state = None
                if (name, MISSING) in position:
                    state = codes[:, position[(name, MISSING)]]
                out[info["name"]] = self._decode_numerical(u, state, info)
        return pd.DataFrame(out, columns=[c["name"] for c in self.columns_])

    def _decode_numerical(self, u, state, info):
        """Series of a numerical column from its scaled value and its state level (or None)."""
        values = self._unscale(u, info)
        dtype = _dtype_from_json(info["dtype"])
        missing = None
        if state is not None and info["has_missing"]:
            # level 1, or no level at all (-1, an all-zero block), is missing
            missing = (state == 1) | (state < 0)
        if info["integer"]:
            values = np.clip(np.round(values), info["min"], info["max"])
        if state is not None and info.get("masses"):
            # after the clip: a mass may lie outside the scale's range
            level = state - _mass_offset(info)
            at_mass = level >= 0
            values[at_mass] = np.asarray(info["masses"], dtype=np.float64)[level[at_mass]]
        if info["kind"] == DATETIME:
            units = values.astype(np.int64)
            ns = units * _DATETIME_UNITS_NS[info["unit"]] + info["origin"]
            result = pd.Series(pd.to_datetime(ns, unit="ns"))
            if missing is not None:
                result[missing] = pd.NaT
            if isinstance(dtype, pd.DatetimeTZDtype):
                result = result.dt.tz_localize("UTC").dt.tz_convert(dtype.tz)
            return result.astype(dtype)
        series = pd.Series(values)
        if missing is not None and missing.any():
            series[missing] = np.nan
        if isinstance(dtype, np.dtype) and dtype.kind == "O":
            if info["integer"]:
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

    def _decode_categorical(self, code, info, rng):
        """Series of a categorical column from its level indices (-1: missing)."""
        kept, rare = info["kept"], info["rare"]
        n_kept = len(kept)
        # ``level``: index into kept + rare, -1 for missing.
        level = code.astype(np.int64, copy=True)
        missing = level < 0
        if info["has_missing"]:
            missing |= level == n_kept + (1 if rare else 0)
        if rare:
            rows = np.flatnonzero(level == n_kept)
            level[rows] = n_kept + rng.choice(len(rare), size=rows.size, p=info["rare_p"])
        level[missing] = -1
        dtype = _dtype_from_json(info["dtype"], info)
        if isinstance(dtype, pd.CategoricalDtype):
            # Integer codes straight into the categories: no hashing of labels.
            to_category = _lookup(list(dtype.categories), [*kept, *rare])
            if (to_category >= 0).all():
                return pd.Series(pd.Categorical.from_codes(
                    np.where(level >= 0, to_category[level], -1), dtype=dtype))
        labels = np.empty(n_kept + len(rare) + 1, dtype=object)
        labels[: n_kept + len(rare)] = [*kept, *rare]
        labels[-1] = np.nan
        values = labels[level]  # -1 picks the trailing NaN
        # A column that had missing values keeps the dtype that holds them in every sample;
        # -1 codes (unknown categories) can bring missing values into any column.
        has_missing = info["has_missing"] or bool(missing.any())
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

    # ------------------------------------------------ per-column views (GTCoder)
    def transform_columns(self, X):
        """Per-column views: a scalar per numerical column, a level index per discrete span.

        This is the input of a feature tokenizer (one token per column, FT-Transformer style):
        ``numerical`` holds the numerical block of :meth:`transform`, ``codes`` the index of
        the active level of each discrete span (categorical columns and missing indicators,
        in layout order; ``-1`` for an ignored unknown category).

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
        return self.encoded_to_columns(self.transform(X))

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
            frame.columns = [c["name"] for c in self.columns_]
        names = [c["name"] for c in self.columns_]
        missing = [c for c in names if c not in frame.columns]
        if missing:
            raise ValueError(
                f"Columns {missing} were seen at fit but are missing from the data to transform "
                f"(it has {list(frame.columns)})."
            )
        return frame

    def get_state(self):
        """The fitted state as JSON-serialisable data (see :meth:`from_state`).

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
                params[key] = [_to_json(v) for v in params[key]]
        return {
            "params": params,
            "columns": [_info_to_json(c) for c in self.columns_],
            "names_are_str": hasattr(self, "feature_names_in_"),
        }

    @classmethod
    def from_state(cls, state):
        """Rebuild a fitted encoder from :meth:`get_state`'s output.

        Parameters
        ----------
        state : dict

        Returns
        -------
        encoder : MixedTypeEncoder
        """
        params = dict(state["params"])
        for key in ("categorical_columns", "numerical_columns"):
            if params[key] is not None:
                params[key] = [_from_json(v) for v in params[key]]
        params["dtype"] = np.dtype(params["dtype"]).type
        enc = cls(**params)
        enc.columns_ = [_info_from_json(c) for c in state["columns"]]
        enc.n_features_in_ = len(enc.columns_)
        if state.get("names_are_str"):
            enc.feature_names_in_ = np.asarray([c["name"] for c in enc.columns_], dtype=object)
        enc.layout_ = enc._build_layout()
        return enc

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags


_DATETIME_UNITS_NS = dict(_DATETIME_UNITS)


def _numeric_values(series, col, kind, info=None):
    """Float64 values of a numerical or datetime column (NaN for missing), plus fit metadata."""
    extra = {}
    if kind == DATETIME:
        s = series
        if not (isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(
            s.dtype
        )):
            try:
                s = pd.to_datetime(s)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"Column {col!r} should hold datetimes: {exc}") from exc
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        ns = s.astype("datetime64[ns]").to_numpy().astype(np.int64)
        mask = s.isna().to_numpy()
        if info is None:
            valid = ns[~mask]
            origin = int(valid.min())
            unit = "ns"
            for name, step in _DATETIME_UNITS:
                if np.all((valid - origin) % step == 0) and origin % step == 0:
                    unit = name
                    break
            extra = {"origin": origin, "unit": unit}
        else:
            origin, unit = info["origin"], info["unit"]
        # Offsets in whole units of the column's resolution: exact in float64 below 2**53.
        step = _DATETIME_UNITS_NS[unit]
        offset = ns - origin
        values = (offset // step).astype(np.float64) + (offset % step) / step
        values[mask] = np.nan
        return values, extra
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float).to_numpy(), extra
    if pd.api.types.is_numeric_dtype(series.dtype) and not isinstance(
        series.dtype, pd.CategoricalDtype
    ):
        return series.to_numpy(dtype=np.float64, na_value=np.nan), extra
    converted = pd.to_numeric(series.astype(object), errors="coerce")
    bad = series.notna().to_numpy() & converted.isna().to_numpy()
    if bad.any():
        raise ValueError(
            f"Column {col!r} is numerical but holds non-numeric values such as "
            f"{series[bad].iloc[0]!r}."
        )
    return converted.to_numpy(dtype=np.float64, na_value=np.nan), extra


def _state_labels(info):
    """Levels of a numerical column's state block: present, missing, then its point masses."""
    labels = ["present"] + (["missing"] if info["has_missing"] else [])
    masses = [int(v) if info["integer"] else v for v in info.get("masses", [])]
    return tuple(labels + [f"={v}" for v in masses])


def _mass_offset(info):
    """Index of a numerical column's first point-mass level in its state block."""
    return 2 if info["has_missing"] else 1


def _numerical_state(values, missing, info):
    """Level of each row in the state block: 0 on the scale, 1 missing, then the masses."""
    state = np.zeros(values.shape[0], dtype=np.int64)
    masses = np.asarray(info.get("masses", []), dtype=np.float64)
    if masses.size:
        offset = _mass_offset(info)
        at = np.searchsorted(masses, values)
        hit = (at < masses.size) & (masses[np.minimum(at, masses.size - 1)] == values)
        state[hit] = offset + at[hit]
    if info["has_missing"]:
        state[missing] = 1
    return state


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


def _to_json(v):
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


def _from_json(v):
    if isinstance(v, dict):
        if "float" in v:
            return float(v["float"])
        if "timestamp" in v:
            ts = pd.Timestamp(v["timestamp"])
            return ts.tz_convert(v["tz"]) if v.get("tz") else ts
    return v


def _info_to_json(info):
    out = dict(info)
    out["name"] = _to_json(info["name"])
    for key in ("categories", "kept", "rare"):
        if key in out:
            out[key] = [_to_json(v) for v in out[key]]
    return out


def _info_from_json(info):
    out = dict(info)
    out["name"] = _from_json(info["name"])
    for key in ("categories", "kept", "rare"):
        if key in out:
            out[key] = [_from_json(v) for v in out[key]]
    return out


def _dtype_to_json(dtype):
    if isinstance(dtype, pd.CategoricalDtype):
        return {"name": "category"}
    if isinstance(dtype, pd.StringDtype):
        na = dtype.na_value
        return {"name": "string", "storage": dtype.storage,
                "na_nan": bool(isinstance(na, float) and np.isnan(na))}
    return {"name": str(dtype)}


def _dtype_from_json(d, info=None):
    name = d["name"]
    if name == "category":
        return pd.CategoricalDtype(info["categories"], ordered=info["ordered"])
    if name == "string":
        return pd.StringDtype(d["storage"], na_value=np.nan if d["na_nan"] else pd.NA)
    return pd.api.types.pandas_dtype(name)
