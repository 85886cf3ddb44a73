"""Input checks shared by the encoder, the synthesizers and the metrics.

Every check raises a ``ValueError`` or ``TypeError`` whose message names the column and the
problem; nothing here modifies the caller's data.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = [
    "check_forced_columns",
    "check_frame",
    "check_tables",
    "column_kind",
    "datetime_ns",
    "has_feature_names",
    "infer_column_kinds",
    "is_numeric_kind",
    "joint_codes",
    "kind_values",
    "numeric_values",
    "warn_guessed_kind",
]

NUMERICAL = "numerical"
CATEGORICAL = "categorical"
DATETIME = "datetime"
_FROM_ARRAY = "skmixsynth_from_array"


def check_frame(X, *, name="X", allow_empty=False):
    """Return ``X`` as a :class:`pandas.DataFrame` with checked column names.

    A DataFrame is returned as it is (never copied, never modified); a 2-D array-like is
    wrapped in a new DataFrame with columns ``"x0", "x1", ...`` (flagged in its ``attrs`` so
    that :func:`has_feature_names` does not take them for feature names).

    Parameters
    ----------
    X : DataFrame or 2-D array-like
        The table.
    name : str, default="X"
        How the table is called in error messages.
    allow_empty : bool, default=False
        Accept a table with no rows.

    Returns
    -------
    frame : DataFrame

    Raises
    ------
    TypeError
        If ``X`` is not tabular (a scalar, a string, a 1-D or 3-D array, a dict of scalars).
    ValueError
        If ``X`` has no columns, no rows (unless ``allow_empty``) or duplicate column names.

    Examples
    --------
    >>> import numpy as np
    >>> from skmixsynth._validation import check_frame
    >>> check_frame(np.array([[1, 2], [3, 4]])).columns.tolist()
    ['x0', 'x1']
    """
    if isinstance(X, pd.DataFrame):
        frame = X
    elif isinstance(X, pd.Series):
        raise TypeError(
            f"{name} must be a 2-D table (a pandas DataFrame or a 2-D array); got a pandas "
            "Series. Use series.to_frame() for a one-column table."
        )
    elif sp.issparse(X):
        raise TypeError(
            f"{name} is a scipy sparse {type(X).__name__}; sparse input is not supported. "
            "Pass a dense table instead (X.toarray() or a pandas DataFrame)."
        )
    elif isinstance(X, (str, bytes, numbers.Number)) or X is None:
        raise TypeError(
            f"{name} must be a 2-D table (a pandas DataFrame or a 2-D array); "
            f"got {type(X).__name__}."
        )
    else:
        try:
            arr = np.asarray(X)
        except Exception as exc:  # pragma: no cover - exotic containers
            raise TypeError(
                f"{name} must be a 2-D table (a pandas DataFrame or a 2-D array); "
                f"could not convert {type(X).__name__}: {exc}"
            ) from exc
        if arr.ndim != 2:
            raise TypeError(
                f"{name} must be a 2-D table (a pandas DataFrame or a 2-D array); got an array "
                f"with {arr.ndim} dimension(s) and shape {arr.shape}."
            )
        frame = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
        frame.attrs[_FROM_ARRAY] = True  # x0, x1, ... are not feature names
    if frame.shape[1] == 0:
        raise ValueError(
            f"{name} has no columns: 0 feature(s) (shape={frame.shape}) while a minimum of 1 "
            "is required."
        )
    if frame.shape[0] == 0 and not allow_empty:
        raise ValueError(
            f"{name} has no rows: 0 sample(s) (shape={frame.shape}) while a minimum of 1 is "
            "required."
        )
    if isinstance(frame.columns, pd.MultiIndex):
        raise ValueError(f"{name} has MultiIndex columns; flatten them to single names first.")
    dup = frame.columns[frame.columns.duplicated()].unique().tolist()
    if dup:
        raise ValueError(f"{name} has duplicate column names: {dup}.")
    # The layout and the feature names use str(name): 1 and "1" would share one block.
    as_str = pd.Index([str(c) for c in frame.columns])
    if as_str.has_duplicates:
        clash = frame.columns[as_str.duplicated(keep=False)].tolist()
        raise ValueError(
            f"{name} has column names that are the same once converted to strings: {clash}."
        )
    return frame


def has_feature_names(X):
    """Whether ``X`` carries feature names (the scikit-learn convention).

    True for a DataFrame whose column names are all strings, unless :func:`check_frame` made
    it from an array (its names ``x0, x1, ...`` are internal, not feature names).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skmixsynth._validation import check_frame, has_feature_names
    >>> has_feature_names(pd.DataFrame({"a": [1]})), has_feature_names(pd.DataFrame([[1]]))
    (True, False)
    >>> has_feature_names(check_frame(np.ones((2, 2))))
    False
    """
    return (
        isinstance(X, pd.DataFrame)
        and not X.attrs.get(_FROM_ARRAY, False)
        and all(isinstance(c, str) for c in X.columns)
    )


def check_forced_columns(X, *, categorical_columns=None, numerical_columns=None):
    """Check the ``categorical_columns`` / ``numerical_columns`` overrides against ``X``.

    Returns
    -------
    forced : dict
        ``{column: "categorical" | "numerical"}`` for the listed columns.

    Raises
    ------
    ValueError
        If a column is in both lists or not in ``X``.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth._validation import check_forced_columns
    >>> check_forced_columns(pd.DataFrame({"a": [1]}), categorical_columns=["a"])
    {'a': 'categorical'}
    """
    cat = list(categorical_columns) if categorical_columns is not None else []
    num = list(numerical_columns) if numerical_columns is not None else []
    both = sorted(set(map(str, cat)) & set(map(str, num)))
    if both:
        raise ValueError(f"Columns {both} are listed as both categorical and numerical.")
    missing = [c for c in cat + num if c not in X.columns]
    if missing:
        raise ValueError(
            f"Columns {missing} were given in categorical_columns/numerical_columns but are not "
            f"in the data; its columns are {list(X.columns)}."
        )
    forced = dict.fromkeys(cat, CATEGORICAL)
    forced.update(dict.fromkeys(num, NUMERICAL))
    return forced


def column_kind(series, *, name, forced=None, why="is listed in numerical_columns"):
    """The kind of one column: ``"numerical"``, ``"categorical"`` or ``"datetime"``.

    The one place where skmixsynth decides a column's kind. Rules: bool, object, string and
    category dtypes are categorical; integer and float dtypes are numerical; datetime dtypes
    (with or without a time zone) are ``"datetime"``, modelled as numerical on a time scale.
    ``forced`` overrides the dtype rule (a column forced numerical must hold numbers).

    Parameters
    ----------
    series : Series
    name : object
        The column's name, for error messages.
    forced : {"categorical", "numerical"} or None, default=None
    why : str, default="is listed in numerical_columns"
        Why a column is forced numerical, for the error message.

    Raises
    ------
    TypeError
        For complex and timedelta columns.
    ValueError
        For a column forced numerical whose values are not numbers.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth._validation import column_kind
    >>> column_kind(pd.Series([True, False]), name="b")
    'categorical'
    >>> column_kind(pd.Series(["1", "2.5"]), name="s", forced="numerical")
    'numerical'
    """
    dtype = series.dtype
    if forced == CATEGORICAL:
        return CATEGORICAL
    if forced == NUMERICAL:
        if pd.api.types.is_bool_dtype(dtype) or not (
            pd.api.types.is_numeric_dtype(dtype) or _is_datetime(dtype)
        ):
            numeric_values(series, column=name, what=why)
            return NUMERICAL
        return DATETIME if _is_datetime(dtype) else NUMERICAL
    if _is_datetime(dtype):
        return DATETIME
    if pd.api.types.is_bool_dtype(dtype):
        return CATEGORICAL
    if pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        if pd.api.types.is_complex_dtype(dtype):
            raise TypeError(f"Column {name!r} has complex dtype {dtype}, which is not supported.")
        return NUMERICAL
    if pd.api.types.is_timedelta64_dtype(dtype):
        raise TypeError(
            f"Column {name!r} has timedelta dtype {dtype}; convert it to a number "
            "(for instance seconds) first."
        )
    return CATEGORICAL


_NUMBER_TYPES = ("integer", "floating", "mixed-integer-float", "decimal")


def warn_guessed_kind(series, kind, *, name):
    """Warn when a column's kind comes from its dtype against what its values say.

    The dtype rule of :func:`column_kind` is kept (it is documented and does not depend on
    the values); the guess it makes is said out loud where it is likely wrong: an ``object``
    column whose values are all numbers (what ``np.array(..., dtype=object)`` or a numpy
    array mixing strings and numbers makes of every column) is modelled as categorical, one
    level per distinct number. A ``UserWarning`` names the column and the two ways out
    (``numerical_columns`` to model the numbers as numbers, ``categorical_columns`` to keep
    them as levels and silence the warning). The encoder's ``fit`` calls this for columns
    whose kind is inferred.

    Parameters
    ----------
    series : Series
    kind : str
        The kind :func:`column_kind` gave it.
    name : object
        The column's name.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np, pandas as pd
    >>> from skmixsynth._validation import warn_guessed_kind
    >>> column = pd.Series(np.array([1.5, 2.0, 7.25], dtype=object))
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_guessed_kind(column, "categorical", name="x0")
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    Column 'x0' holds numbers in an object column (3 distinct values): it is modelled as...
    """
    if kind != CATEGORICAL or series.dtype != object:
        return
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred not in _NUMBER_TYPES:
        return
    import warnings

    n_distinct = series.nunique(dropna=True)
    warnings.warn(
        f"Column {name!r} holds numbers in an object column ({n_distinct} distinct values): it "
        "is modelled as categorical, one level per distinct number (a numpy object array, or "
        "one mixing strings and numbers, makes every column an object column). Pass "
        f"numerical_columns=[{name!r}] (or convert it with astype(float)) to model it as "
        f"numbers, or categorical_columns=[{name!r}] to keep it categorical without this "
        "warning.",
        UserWarning,
        stacklevel=4,
    )


def infer_column_kinds(X, *, categorical_columns=None, numerical_columns=None):
    """Decide, for each column, whether it is numerical, categorical or a datetime.

    Applies :func:`column_kind` to every column, after checking the overrides (see
    :func:`check_forced_columns`).

    Parameters
    ----------
    X : DataFrame
        The table.
    categorical_columns, numerical_columns : list of str, default=None
        Columns forced to that kind. A column may not be in both lists.

    Returns
    -------
    kinds : dict
        ``{column: "numerical" | "categorical" | "datetime"}`` in column order.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth._validation import infer_column_kinds
    >>> df = pd.DataFrame({"a": [1.5, 2.0], "b": ["x", "y"], "c": [True, False]})
    >>> infer_column_kinds(df)
    {'a': 'numerical', 'b': 'categorical', 'c': 'categorical'}
    >>> infer_column_kinds(df, categorical_columns=["a"])["a"]
    'categorical'
    """
    forced = check_forced_columns(
        X, categorical_columns=categorical_columns, numerical_columns=numerical_columns
    )
    return {col: column_kind(X[col], name=col, forced=forced.get(col)) for col in X.columns}


def _is_datetime(dtype):
    return isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(dtype)


def datetime_ns(series, *, column=None, errors="raise"):
    """Nanoseconds since the epoch of a datetime column (time-zone aware ones in UTC).

    Parameters
    ----------
    series : Series
        Datetimes, or values :func:`pandas.to_datetime` parses.
    column : object, default=None
        The column's name, for error messages (defaults to ``series.name``).
    errors : {"raise", "coerce"}, default="raise"
        What happens to values that are not datetimes: a ``ValueError`` naming the column, or
        a missing value.

    Returns
    -------
    ns : ndarray of int64
        Exact nanoseconds (meaningless where ``mask``).
    mask : ndarray of bool
        Missing values.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth._validation import datetime_ns
    >>> ns, mask = datetime_ns(pd.Series(["1970-01-01 00:00:01", None]))
    >>> int(ns[0]), mask.tolist()
    (1000000000, [False, True])
    """
    name = series.name if column is None else column
    s = series
    if not _is_datetime(s.dtype):
        if errors == "coerce":
            s = pd.to_datetime(s, errors="coerce")
        else:
            try:
                s = pd.to_datetime(s)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"Column {name!r} should hold datetimes: {exc}") from exc
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    mask = s.isna().to_numpy()
    ns = s.astype("datetime64[ns]").to_numpy().astype(np.int64)
    return ns, mask


def numeric_values(series, *, column=None, what="is numerical"):
    """A column as a float64 array with NaN for missing values: the one numeric conversion.

    Numbers are read as they are, bools as 0/1, datetimes as nanoseconds since the epoch
    (time-zone aware ones in UTC; exact integers are :func:`datetime_ns`), and anything else
    must parse as numbers (numbers written as text are fine).

    Parameters
    ----------
    series : Series
    column : object, default=None
        The column's name, for error messages (defaults to ``series.name``).
    what : str, default="is numerical"
        Why the column should hold numbers, for the error message
        (``"Column 'x' {what} but holds non-numeric values such as 'abc'."``).

    Returns
    -------
    values : ndarray of float64

    Raises
    ------
    ValueError
        If a value is neither missing nor a number.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth._validation import numeric_values
    >>> numeric_values(pd.Series(["1.5", None, "3e2"])).tolist()
    [1.5, nan, 300.0]
    >>> numeric_values(pd.Series([True, False])).tolist()
    [1.0, 0.0]
    """
    name = series.name if column is None else column
    dtype = series.dtype
    if _is_datetime(dtype):
        ns, mask = datetime_ns(series, column=name)
        values = ns.astype(np.float64)
        values[mask] = np.nan
        return values
    if pd.api.types.is_bool_dtype(dtype):
        return series.astype(np.float64).to_numpy()
    if pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    converted = pd.to_numeric(series.astype(object), errors="coerce")
    bad = series.notna().to_numpy() & converted.isna().to_numpy()
    if bad.any():
        raise ValueError(
            f"Column {name!r} {what} but holds non-numeric values such as "
            f"{series[bad].iloc[0]!r}."
        )
    return converted.to_numpy(dtype=np.float64, na_value=np.nan)


# ------------------------------------------------------------------------------------------
# Tables compared column by column (the metrics and the plots)


def check_tables(reference, other, *, names=("real", "synthetic"), extra=()):
    """Check that two (or more) tables share their columns; return them and the column kinds.

    The kinds are inferred from ``reference`` (see :func:`infer_column_kinds`); the other
    tables are reordered to the columns of ``reference`` (a new frame, the caller's is
    untouched).

    Parameters
    ----------
    reference, other : DataFrame
        The tables.
    names : tuple of str
        How ``reference`` and ``other`` are called in error messages.
    extra : sequence of (DataFrame, str)
        Further tables, each with its name, that must have the same columns.

    Returns
    -------
    reference : DataFrame
    others : list of DataFrame
        ``other`` followed by the tables of ``extra``, each with the columns of ``reference``
        in its order.
    kinds : dict
        ``{column: "numerical" | "categorical" | "datetime"}``.
    """
    reference = check_frame(reference, name=names[0])
    tables = [(other, names[1]), *extra]
    out = []
    for frame, name in tables:
        frame = check_frame(frame, name=name)
        ref_cols = list(reference.columns)
        missing = [c for c in ref_cols if c not in frame.columns]
        unexpected = [c for c in frame.columns if c not in set(ref_cols)]
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing from {name}: {missing}")
            if unexpected:
                parts.append(f"in {name} but not in {names[0]}: {unexpected}")
            raise ValueError(
                f"{names[0]} and {name} must have the same columns; " + "; ".join(parts) + "."
            )
        if list(frame.columns) != ref_cols:
            frame = frame[ref_cols]
        out.append(frame)
    kinds = infer_column_kinds(reference)
    return reference, out, kinds


def is_numeric_kind(kind):
    """Numerical and datetime columns are both compared on a numeric scale."""
    return kind in (NUMERICAL, DATETIME)


def kind_values(series, kind, *, column=None):
    """Return a column as a float64 array with NaN for missing values.

    Datetimes become int64 nanoseconds since the epoch (time-zone aware ones in UTC); a column
    that is a datetime in the reference table but holds something else here has its
    unparseable values as missing. The conversion is :func:`numeric_values`, shared with
    the encoder.

    Raises
    ------
    ValueError
        If a column that is numerical in the reference holds non-numeric values here.
    """
    name = series.name if column is None else column
    if kind == DATETIME and not pd.api.types.is_datetime64_any_dtype(series.dtype):
        ns, mask = datetime_ns(series, column=name, errors="coerce")
        values = ns.astype(np.float64)
        values[mask] = np.nan
        return values
    return numeric_values(series, column=name, what="is numerical in the reference table")


def joint_codes(*series):
    """Integer codes shared by several columns, with missing values as a code of their own.

    Values are compared as Python objects (``1 == 1.0 == True``, ``"1" != 1``), whatever the
    dtypes of the inputs. Codes follow the order of first appearance; the missing level, when
    present, gets the last code.

    Returns
    -------
    codes : list of ndarray of int64
        One array per input series.
    levels : list
        The value of each code; the missing level is ``np.nan``.
    """
    lengths = [len(s) for s in series]
    values = np.concatenate([np.asarray(s.astype(object), dtype=object) for s in series])
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    levels = list(uniques)
    missing = codes < 0
    if missing.any():
        codes = codes.copy()
        codes[missing] = len(levels)
        levels.append(np.nan)
    codes = codes.astype(np.int64)
    return list(np.split(codes, np.cumsum(lengths)[:-1])), levels
