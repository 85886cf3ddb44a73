"""Input checks and vectorised column encodings shared by the metrics.

Every metric sees only DataFrames. The helpers here never modify their inputs: they read
columns and build new arrays. The table helpers the plots need as well (``check_pair``,
``joint_codes``, ``is_numeric_kind``, ``numeric_values``) live in :mod:`skmixsynth._validation`
and are re-exported here under their metric names.
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
from threadpoolctl import threadpool_limits

from .._validation import CATEGORICAL, NUMERICAL, is_numeric_kind, joint_codes
from .._validation import check_tables as check_pair
from .._validation import kind_values as numeric_values

__all__ = [
    "check_pair",
    "codes_by_frequency",
    "is_numeric_kind",
    "joint_codes",
    "numeric_values",
]

# HistGradientBoosting needs categorical codes below max_bins (255); rarer levels are pooled.
MAX_TREE_CATEGORIES = 254
# Below this many training rows, HistGradientBoosting fits run on one OpenMP thread: the
# threads' start-up and synchronisation cost more than they save on small tables, and on a
# loaded machine their spin-waiting makes a sub-second fit take tens of seconds.
SINGLE_THREAD_ROWS = 20_000


def tree_threads(n_rows):
    """Context limiting OpenMP to one thread for fits on fewer than 20,000 rows."""
    if n_rows < SINGLE_THREAD_ROWS:
        return threadpool_limits(limits=1, user_api="openmp")
    return nullcontext()


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
