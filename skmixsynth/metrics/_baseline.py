"""What correlation maintenance reads on a table whose columns keep nothing of each other."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import check_pair, is_numeric_kind, joint_codes, numeric_values

__all__ = ["correlation_maintenance_baseline"]

# A column whose real error is at least this share of its no-information error is one the
# other columns hardly predict: a synthetic table scores about the same on it whatever it keeps.
WEAK_SHARE = 0.9


def correlation_maintenance_baseline(real, holdout):
    """The hold-out error of predicting each column without the others (mixGAN §5.2's floor).

    :func:`~skmixsynth.metrics.correlation_maintenance` trains, for each column, a model on
    the other columns. A model trained on a table whose columns are independent learns
    nothing from them and does about as well as a constant: the mean of the real column
    (numerical, on the same real min-max scale) or its most frequent level (categorical,
    missing values a level of their own). ``e_null`` is that constant's hold-out error, in
    the units of ``e_real`` and ``e_fake``; ``1 - mean |e_real - e_null|`` is about what a
    synthesizer keeping every marginal and no dependence scores. Columns where
    ``e_real >= 0.9 * e_null`` are ones the other columns hardly predict: on them every
    synthetic table scores about the same, which compresses the score towards 1 (60 weakly
    related numerical columns on a small scale, as in sonar, give independent marginals
    about 0.95).

    Parameters
    ----------
    real : DataFrame
        Real training rows (those the synthesizer was trained on).
    holdout : DataFrame
        Real rows held out from training, same columns.

    Returns
    -------
    baseline : DataFrame
        One row per column with ``column``, ``kind`` (``"numerical"`` or ``"categorical"``)
        and ``e_null`` (NaN when the hold-out has no value of that column).

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skmixsynth.metrics import correlation_maintenance_baseline
    >>> df = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0, 1.0],
    ...                    "c": ["a", "a", "b", "a", "b", "b"]})
    >>> correlation_maintenance_baseline(df.iloc[:4], df.iloc[4:])
      column         kind    e_null
    0      x    numerical  0.361111
    1      c  categorical  1.000000
    """
    real, (holdout,), kinds = check_pair(real, holdout, names=("real", "holdout"))
    rows = []
    for column, raw_kind in kinds.items():
        if is_numeric_kind(raw_kind):
            y_real = numeric_values(real[column], raw_kind, column=column)
            y_hold = numeric_values(holdout[column], raw_kind, column=column)
            present = y_real[~np.isnan(y_real)]
            y_hold = y_hold[~np.isnan(y_hold)]
            if present.size == 0 or y_hold.size == 0:
                rows.append((column, "numerical", np.nan))
                continue
            low = present.min()
            span = present.max() - low
            span = span if span > 0 else 1.0
            guess = (present.mean() - low) / span
            rows.append((column, "numerical", float(np.mean(((y_hold - low) / span - guess) ** 2))))
        else:
            (codes_real, codes_hold), levels = joint_codes(real[column], holdout[column])
            mode = np.bincount(codes_real, minlength=len(levels)).argmax()
            rows.append((column, "categorical", float(np.mean(codes_hold != mode))))
    return pd.DataFrame(rows, columns=["column", "kind", "e_null"])
