"""Input checks and vectorised column encodings shared by the metrics.

Every metric sees only DataFrames. The helpers here never modify their inputs: they read
columns and build new arrays.
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .._validation import (
    CATEGORICAL,
    DATETIME,
    NUMERICAL,
    check_frame,
    datetime_ns,
    infer_column_kinds,
)
from .._validation import numeric_values as _numeric_values

__all__ = [
    "check_pair",
    "codes_by_frequency",
    "joint_codes",
    "numeric_values",
]

# HistGradientBoosting needs categorical codes below max_bins (255); rarer levels are pooled.
MAX_TREE_CATEGORIES = 254
# Below this many training rows, HistGradientBoosting fits run on one OpenMP thread: the
# threads' start-up and synchronisation cost more than they save on small tables, and on a
# loaded machine their spin-waiting makes a sub-second fit take tens of seconds.
SINGLE_THREAD_ROWS = 20_000


def check_pair(reference, other, *, names=("real", "synthetic"), extra=()):
    """Check that two (or more) tables share their columns; return them and the column kinds.

    The kinds are inferred from ``reference`` (see :func:`skmixsynth._validation.
    infer_column_kinds`); the other tables are reordered to the columns of ``reference``
    (a new frame, the caller's is untouched).

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


def tree_threads(n_rows):
    """Context limiting OpenMP to one thread for fits on fewer than 20,000 rows."""
    if n_rows < SINGLE_THREAD_ROWS:
        return threadpool_limits(limits=1, user_api="openmp")
    return nullcontext()


def is_numeric_kind(kind):
    """Numerical and datetime columns are both compared on a numeric scale."""
    return kind in (NUMERICAL, DATETIME)


def numeric_values(series, kind, *, column=None):
    """Return a column as a float64 array with NaN for missing values.

    Datetimes become int64 nanoseconds since the epoch (time-zone aware ones in UTC); a column
    that is a datetime in the reference table but holds something else here has its
    unparseable values as missing. The conversion is :func:`skmixsynth._validation.
    numeric_values`, shared with the encoder.

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
    return _numeric_values(series, column=name, what="is numerical in the reference table")


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


def codes_by_frequency(codes, n_levels, *, reference_size, cap=MAX_TREE_CATEGORIES):
    """Re-number codes by decreasing frequency in the first ``reference_size`` rows.

    Codes at or above ``cap`` are pooled into ``cap`` so that tree models with native
    categorical support (at most 255 categories) accept them.
    """
    counts = np.bincount(codes[:reference_size], minlength=n_levels)
    # a stable order: frequency first, then code
    order = np.lexsort((np.arange(n_levels), -counts))
    rank = np.empty(n_levels, dtype=np.int64)
    rank[order] = np.arange(n_levels)
    return np.minimum(rank[codes], cap)


def kind_of(kinds, column):
    """The kind used for comparisons: ``"numerical"`` (datetimes too) or ``"categorical"``."""
    return NUMERICAL if is_numeric_kind(kinds[column]) else CATEGORICAL
