"""Privacy checks: copies of training rows and distances to the closest training record."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state

from ._common import check_pair, is_numeric_kind, joint_codes, numeric_values

__all__ = ["dcr_ratio", "exact_copy_rate"]

_MAX_SAMPLES = 2000
# encodings up to this many entries (~400 MB of float64) are made dense
_MAX_DENSE_ENTRIES = 50_000_000


def _row_hashes(frames, kinds):
    """A 64-bit hash per row, equal for rows with equal values (compared per column across
    the tables: ``1 == 1.0``, missing equals missing)."""
    codes_per_frame = [{} for _ in frames]
    for column, kind in kinds.items():
        if is_numeric_kind(kind):
            parts = [numeric_values(f[column], kind, column=column) for f in frames]
            values = np.concatenate(parts)
            codes, _ = pd.factorize(values, use_na_sentinel=True)
            codes = np.split(codes.astype(np.int64), np.cumsum([len(p) for p in parts])[:-1])
        else:
            codes, _ = joint_codes(*(f[column] for f in frames))
        for out, code in zip(codes_per_frame, codes, strict=True):
            out[column] = code
    return [
        pd.util.hash_pandas_object(pd.DataFrame(c), index=False).to_numpy() for c in codes_per_frame
    ]


def exact_copy_rate(train, synthetic):
    """Share of synthetic rows that are exact copies of some training row.

    Rows are compared on all columns at once, by hashing: values are equal when they compare
    equal in Python (``1 == 1.0``) and missing values equal each other. Numerical values must
    match exactly, so a synthesizer that returns training values after a lossy round trip is
    not flagged; this measures memorisation, not closeness (see :func:`dcr_ratio`).

    A real hold-out drawn from the same population gives the baseline: low-entropy tables
    (few categorical columns) contain duplicates by nature.

    Parameters
    ----------
    train : DataFrame
        The synthesizer's training rows (or any reference table).
    synthetic : DataFrame
        Synthetic rows, same columns.

    Returns
    -------
    rate : float
        In [0, 1], lower is better for privacy (the scorer ``"neg_exact_copy_rate"``
        negates it).

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth.metrics import exact_copy_rate
    >>> train = pd.DataFrame({"x": [1, 2, 3], "c": ["a", "b", None]})
    >>> synthetic = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "a", None, "a"]})
    >>> exact_copy_rate(train, synthetic)
    0.5
    """
    train, (synthetic,), kinds = check_pair(train, synthetic, names=("train", "synthetic"))
    hash_train, hash_synthetic = _row_hashes([train, synthetic], kinds)
    return float(np.isin(hash_synthetic, hash_train).mean())


def _mixed_encoding(frames, kinds):
    """Min-max numericals (range of the first table; a missing value is 0 plus a 0/1
    indicator column) and one-hot categoricals scaled by 1/sqrt(2), so that a different
    category adds exactly 1 to the squared Euclidean distance, like a numerical gap spanning
    the whole training range."""
    blocks = [[] for _ in frames]
    for column, kind in kinds.items():
        if is_numeric_kind(kind):
            parts = [numeric_values(f[column], kind, column=column) for f in frames]
            present = parts[0][~np.isnan(parts[0])]
            low = present.min() if present.size else 0.0
            span = (present.max() - low) if present.size else 0.0
            span = span if span > 0 else 1.0
            any_missing = any(np.isnan(p).any() for p in parts)
            for out, values in zip(blocks, parts, strict=True):
                missing = np.isnan(values)
                scaled = np.where(missing, 0.0, (values - low) / span)
                out.append(sparse.csr_matrix(scaled[:, None]))
                if any_missing:
                    out.append(sparse.csr_matrix(missing.astype(np.float64)[:, None]))
        else:
            codes, levels = joint_codes(*(f[column] for f in frames))
            for out, code in zip(blocks, codes, strict=True):
                one_hot = sparse.csr_matrix(
                    (np.full(code.size, 1 / np.sqrt(2)), (np.arange(code.size), code)),
                    shape=(code.size, len(levels)),
                )
                out.append(one_hot)
    matrices = [sparse.hstack(b, format="csr") for b in blocks]
    # dense matrices go through BLAS (about 10x faster than sparse products) when they fit
    if sum(m.shape[0] for m in matrices) * matrices[0].shape[1] <= _MAX_DENSE_ENTRIES:
        matrices = [m.toarray() for m in matrices]
    return matrices


def _subsample(n_rows, max_samples, rng):
    if n_rows <= max_samples:
        return np.arange(n_rows)
    return np.sort(rng.choice(n_rows, size=max_samples, replace=False))


def dcr_ratio(train, synthetic, holdout, *, max_samples=_MAX_SAMPLES, random_state=0):
    """Distance to closest record: synthetic rows versus real hold-out rows.

    For each synthetic row, and for each real hold-out row, the Euclidean distance to the
    closest training row is computed on a mixed encoding: numericals min-max scaled with the
    training range (missing values get an indicator column), categoricals one-hot with a
    mismatch costing 1 (missing values a category of their own). The ratio of the median
    synthetic distance to the median hold-out distance is returned.

    ~1 means synthetic rows are no closer to the training rows than unseen real rows are;
    ~0 means the synthesizer copies (or nearly copies) training rows. A ratio well above 1
    means the synthetic rows are far from the real data (a fidelity problem, not a privacy
    one). When the median hold-out distance is 0 (a table full of duplicates) the ratio is 1
    if the synthetic median is also 0, else ``inf``.

    Parameters
    ----------
    train : DataFrame
        The synthesizer's training rows; all of them are used as the reference set.
    synthetic : DataFrame
        Synthetic rows, same columns.
    holdout : DataFrame
        Real rows the synthesizer did not see, same columns.
    max_samples : int, default=2000
        Cap on the synthetic and on the hold-out rows whose distances are computed (drawn
        at random without replacement), which bounds the cost at about
        ``2 * max_samples * len(train)`` distance evaluations (brute force, through BLAS).
    random_state : int, RandomState or None, default=0
        Seed of the subsampling.

    Returns
    -------
    ratio : float
        Non-negative; around 1 is the goal, near 0 flags copies.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skmixsynth.metrics import dcr_ratio
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.normal(size=400), "c": rng.choice(["a", "b"], 400)})
    >>> train, holdout = df.iloc[:200], df.iloc[200:]
    >>> dcr_ratio(train, train.sample(200, replace=True, random_state=0), holdout)
    0.0
    >>> fresh = pd.DataFrame({"x": rng.normal(size=200), "c": rng.choice(["a", "b"], 200)})
    >>> 0.5 < dcr_ratio(train, fresh, holdout) < 2
    True
    """
    if (
        isinstance(max_samples, bool)
        or not isinstance(max_samples, numbers.Integral)
        or max_samples < 1
    ):
        raise ValueError(f"max_samples must be a positive integer; got {max_samples!r}.")
    train, (synthetic, holdout), kinds = check_pair(
        train, synthetic, names=("train", "synthetic"), extra=[(holdout, "holdout")]
    )
    rng = check_random_state(random_state)
    synthetic = synthetic.iloc[_subsample(len(synthetic), max_samples, rng)]
    holdout = holdout.iloc[_subsample(len(holdout), max_samples, rng)]
    X_train, X_syn, X_hold = _mixed_encoding([train, synthetic, holdout], kinds)
    nn = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(X_train)
    d_syn = nn.kneighbors(X_syn, return_distance=True)[0][:, 0]
    d_hold = nn.kneighbors(X_hold, return_distance=True)[0][:, 0]
    med_syn, med_hold = float(np.median(d_syn)), float(np.median(d_hold))
    # Euclidean distances through BLAS carry round-off of ~1e-8 for identical rows.
    tol = 1e-6
    med_syn = 0.0 if med_syn < tol else med_syn
    med_hold = 0.0 if med_hold < tol else med_hold
    if med_hold == 0.0:
        return 1.0 if med_syn == 0.0 else float("inf")
    return med_syn / med_hold
