"""Input checks shared by the encoder, the synthesizers and the metrics.

Every check raises a ``ValueError`` or ``TypeError`` whose message names the column and the
problem; nothing here modifies the caller's data.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["check_frame", "has_feature_names", "infer_column_kinds"]

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


def infer_column_kinds(X, *, categorical_columns=None, numerical_columns=None):
    """Decide, for each column, whether it is numerical, categorical or a datetime.

    Rules (the same everywhere in skmixsynth): bool, object, string and category dtypes are
    categorical; integer and float dtypes are numerical; datetime dtypes (with or without a
    time zone) are ``"datetime"``, modelled as numerical on a time scale. Explicit lists
    override the dtype rule.

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
    kinds = {}
    for col in X.columns:
        dtype = X[col].dtype
        if col in cat:
            kinds[col] = CATEGORICAL
        elif col in num:
            if not (pd.api.types.is_numeric_dtype(dtype) or _is_datetime(dtype)) or (
                pd.api.types.is_bool_dtype(dtype)
            ):
                kinds[col] = _numerical_from_values(X[col], col)
            else:
                kinds[col] = DATETIME if _is_datetime(dtype) else NUMERICAL
        elif _is_datetime(dtype):
            kinds[col] = DATETIME
        elif pd.api.types.is_bool_dtype(dtype):
            kinds[col] = CATEGORICAL
        elif pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
            if pd.api.types.is_complex_dtype(dtype):
                raise TypeError(
                    f"Column {col!r} has complex dtype {dtype}, which is not supported."
                )
            kinds[col] = NUMERICAL
        elif pd.api.types.is_timedelta64_dtype(dtype):
            raise TypeError(
                f"Column {col!r} has timedelta dtype {dtype}; convert it to a number "
                "(for instance seconds) first."
            )
        else:
            kinds[col] = CATEGORICAL
    return kinds


def _is_datetime(dtype):
    return isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(dtype)


def _numerical_from_values(series, col):
    """A column forced numerical whose dtype is not numeric: its values must parse as numbers."""
    converted = pd.to_numeric(series, errors="coerce")
    bad = series.notna() & converted.isna()
    if bad.any():
        example = series[bad].iloc[0]
        raise ValueError(
            f"Column {col!r} is listed in numerical_columns but holds non-numeric values "
            f"such as {example!r}."
        )
    return NUMERICAL
