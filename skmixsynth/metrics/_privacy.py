"""Privacy checks: copies of training rows, of rare values and of identifiers, and distances
to the closest training record.

Identifier columns (see :func:`skmixsynth._protection.looks_like_identifier`: e-mails,
customer numbers, row ids) name the people of the training table. The checks here treat them
as such: a synthetic row that carries a training identifier copies that person's key,
whatever its other columns say, and a row whose identifier is fresh is compared with the
training rows on its other columns (a fresh identifier differs from every training row, and
a real unseen row's identifier does too, so comparing it would say nothing).
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state

from .._protection import identifier_columns, looks_like_identifier
from ._common import check_pair, is_numeric_kind, joint_codes, numeric_values

__all__ = ["dcr_ratio", "exact_copy_rate", "rare_value_copy_details", "rare_value_copy_rate"]

_MAX_SAMPLES = 2000
# encodings up to this many entries (~400 MB of float64) are made dense
_MAX_DENSE_ENTRIES = 50_000_000


def _value_codes(frames, column, kind):
    """Integer codes of one column shared by several tables: equal codes for equal values
    (``1 == 1.0``; numbers exactly), -1 for a missing value."""
    if is_numeric_kind(kind):
        parts = [numeric_values(f[column], kind, column=column) for f in frames]
    else:
        parts = [np.asarray(f[column].astype(object), dtype=object) for f in frames]
    codes, _ = pd.factorize(np.concatenate(parts), use_na_sentinel=True)
    return np.split(codes.astype(np.int64), np.cumsum([len(p) for p in parts])[:-1])


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


def _identifier_columns(train, identifiers):
    """The identifier columns: detected (``"auto"``), listed, or none (``None``)."""
    return identifier_columns(train, identifiers, table="train")


def _carries_training_identifier(train, others, kinds, id_columns):
    """Per other table, whether each row carries, in some identifier column, a value of the
    training table (a missing value is no identifier)."""
    out = [np.zeros(len(f), dtype=bool) for f in others]
    for column in id_columns:
        train_codes, *codes = _value_codes([train, *others], column, kinds[column])
        seen = np.unique(train_codes[train_codes >= 0])
        for flags, code in zip(out, codes, strict=True):
            flags |= np.isin(code, seen)
    return out


def exact_copy_rate(train, synthetic, *, identifiers="auto"):
    """Share of synthetic rows that are exact copies of some training row.

    Rows are compared on all columns at once, by hashing: values are equal when they compare
    equal in Python (``1 == 1.0``) and missing values equal each other. Numerical values must
    match exactly, so a synthesizer that returns training values after a lossy round trip is
    not flagged; this measures memorisation, not closeness (see :func:`dcr_ratio`).

    Identifier columns count honestly: a synthetic row is a copy when it carries, in an
    identifier column, a value of the training table (the identifier names a training row,
    so the row points at that person whatever its other columns say), or when it equals a
    training row on every other column (a training row whose identifier was replaced by a
    fresh one is still a copy of the person's data). Without identifier columns this is
    the plain whole-row comparison.

    A real hold-out drawn from the same population gives the baseline: low-entropy tables
    (few categorical columns) contain duplicates by nature.

    Parameters
    ----------
    train : DataFrame
        The synthesizer's training rows (or any reference table).
    synthetic : DataFrame
        Synthetic rows, same columns.
    identifiers : "auto", list of str or None, default="auto"
        The identifier columns: those of ``train`` that
        :func:`~skmixsynth._protection.looks_like_identifier` flags (``"auto"``), the
        columns listed, or none (``None``: every column is compared as any other).

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

    A training e-mail in a synthetic row is a copy, whatever the rest of the row:

    >>> train = pd.DataFrame({"email": [f"u{i}@x.org" for i in range(30)], "n": range(30)})
    >>> fake = pd.DataFrame({"email": ["u3@x.org", "new@x.org"], "n": [7, 8]})
    >>> exact_copy_rate(train, fake), exact_copy_rate(train, fake, identifiers=None)
    (1.0, 0.0)
    """
    train, (synthetic,), kinds = check_pair(train, synthetic, names=("train", "synthetic"))
    id_columns = _identifier_columns(train, identifiers)
    (copies,) = _carries_training_identifier(train, [synthetic], kinds, id_columns)
    rest = {c: k for c, k in kinds.items() if c not in set(id_columns)}
    if rest:
        hash_train, hash_synthetic = _row_hashes([train, synthetic], rest)
        copies |= np.isin(hash_synthetic, hash_train)
    return float(copies.mean())


def rare_value_copy_details(train, synthetic, *, min_count=5):
    """Per column: how many synthetic rows carry a value that is rare in the training rows.

    A value is rare when fewer than ``min_count`` training rows hold it (missing values are
    not values). Values are compared exactly, as in :func:`exact_copy_rate` (``1 == 1.0``;
    numbers must be equal, so a continuous column counts only values copied exactly).

    Parameters
    ----------
    train : DataFrame
        The synthesizer's training rows.
    synthetic : DataFrame
        Synthetic rows, same columns.
    min_count : int, default=5
        A training value held by fewer rows than this is rare (5 is the synthesizers'
        default rare-value protection).

    Returns
    -------
    details : DataFrame
        One row per column: ``column``, ``kind``, ``identifier`` (whether
        :func:`~skmixsynth._protection.looks_like_identifier` flags it in ``train``),
        ``n_rare_values`` (distinct rare training values), ``copy_rate`` (share of synthetic
        rows that carry one) and ``n_values_copied`` (how many distinct rare values they
        carry). No value itself is reported.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth.metrics import rare_value_copy_details
    >>> train = pd.DataFrame({"job": ["clerk"] * 6 + ["astronaut"], "n": [1] * 7})
    >>> fake = pd.DataFrame({"job": ["astronaut", "clerk", "clerk", "clerk"], "n": [1] * 4})
    >>> rare_value_copy_details(train, fake)[["column", "n_rare_values", "copy_rate"]]
      column  n_rare_values  copy_rate
    0    job              1       0.25
    1      n              0       0.00
    """
    return _rare_values(train, synthetic, min_count)[1]


def rare_value_copy_rate(train, synthetic, *, min_count=5):
    """Share of synthetic rows that carry, in some column, a value rare in the training rows.

    A value is rare when fewer than ``min_count`` training rows hold it: an identifier (each
    e-mail is held by one row), a category that few people have, an exact number that one
    row holds. Such a value in a synthetic row points at the few training rows that hold
    it. Values are compared exactly, as in :func:`exact_copy_rate`; missing values are not
    values. :func:`rare_value_copy_details` gives the columns.

    A real hold-out gives the baseline: unseen rows carry the training table's rare values
    by chance too (a rare category of the population; an integer column with many distinct
    values, such as adult's ``fnlwgt``), never its identifiers.

    Parameters
    ----------
    train : DataFrame
        The synthesizer's training rows.
    synthetic : DataFrame
        Synthetic rows, same columns.
    min_count : int, default=5
        A training value held by fewer rows than this is rare.

    Returns
    -------
    rate : float
        In [0, 1], lower is better for privacy (the scorer ``"neg_rare_value_copy_rate"``
        negates it).

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth.metrics import rare_value_copy_rate
    >>> train = pd.DataFrame({"email": [f"u{i}@x.org" for i in range(10)], "c": ["a"] * 10})
    >>> copied = pd.DataFrame({"email": ["u1@x.org", "u2@x.org"], "c": ["a", "a"]})
    >>> fresh = pd.DataFrame({"email": ["zq1@x.org", "zq2@x.org"], "c": ["a", "a"]})
    >>> rare_value_copy_rate(train, copied), rare_value_copy_rate(train, fresh)
    (1.0, 0.0)
    """
    return _rare_values(train, synthetic, min_count)[0]


def _rare_values(train, synthetic, min_count):
    if (
        isinstance(min_count, bool)
        or not isinstance(min_count, numbers.Integral)
        or min_count < 1
    ):
        raise ValueError(f"min_count must be a positive integer; got {min_count!r}.")
    train, (synthetic,), kinds = check_pair(train, synthetic, names=("train", "synthetic"))
    carries = np.zeros(len(synthetic), dtype=bool)
    rows = []
    for column, kind in kinds.items():
        train_codes, codes = _value_codes([train, synthetic], column, kind)
        counts = np.bincount(train_codes[train_codes >= 0], minlength=1)
        rare = np.flatnonzero((counts > 0) & (counts < min_count))
        hit = np.isin(codes, rare)
        carries |= hit
        rows.append(
            (
                column,
                kind,
                bool(looks_like_identifier(train[column])),
                int(rare.size),
                float(hit.mean()) if hit.size else 0.0,
                int(np.unique(codes[hit]).size),
            )
        )
    details = pd.DataFrame(
        rows,
        columns=["column", "kind", "identifier", "n_rare_values", "copy_rate", "n_values_copied"],
    )
    return float(carries.mean()) if carries.size else 0.0, details


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


def dcr_ratio(
    train, synthetic, holdout, *, max_samples=_MAX_SAMPLES, random_state=0, identifiers="auto"
):
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

    Identifier columns are not part of the encoding: a one-hot block of values that are all
    different adds the same mismatch to every unseen row and hides the rest. A row (synthetic
    or hold-out) that carries, in an identifier column, a value of the training table is at
    distance 0: it points at the training row that holds that identifier. The other rows are
    measured on the other columns (at distance 1 when every column is an identifier).

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
    identifiers : "auto", list of str or None, default="auto"
        The identifier columns, as in :func:`exact_copy_rate`.

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
    id_columns = _identifier_columns(train, identifiers)
    rng = check_random_state(random_state)
    synthetic = synthetic.iloc[_subsample(len(synthetic), max_samples, rng)]
    holdout = holdout.iloc[_subsample(len(holdout), max_samples, rng)]
    carry_syn, carry_hold = _carries_training_identifier(
        train, [synthetic, holdout], kinds, id_columns
    )
    rest = {c: k for c, k in kinds.items() if c not in set(id_columns)}
    if rest:
        X_train, X_syn, X_hold = _mixed_encoding([train, synthetic, holdout], rest)
        nn = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(X_train)
        d_syn = nn.kneighbors(X_syn, return_distance=True)[0][:, 0]
        d_hold = nn.kneighbors(X_hold, return_distance=True)[0][:, 0]
    else:
        d_syn, d_hold = np.ones(len(synthetic)), np.ones(len(holdout))
    d_syn = np.where(carry_syn, 0.0, d_syn)
    d_hold = np.where(carry_hold, 0.0, d_hold)
    med_syn, med_hold = float(np.median(d_syn)), float(np.median(d_hold))
    # Euclidean distances through BLAS carry round-off of ~1e-8 for identical rows.
    tol = 1e-6
    med_syn = 0.0 if med_syn < tol else med_syn
    med_hold = 0.0 if med_hold < tol else med_hold
    if med_hold == 0.0:
        return 1.0 if med_syn == 0.0 else float("inf")
    return med_syn / med_hold
