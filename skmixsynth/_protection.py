"""Identifier columns: detection, and fresh values that never equal a training value.

A column whose values are (almost) all distinct -- e-mail addresses, customer numbers, names,
row ids -- names the people of the training table. Modelled as a categorical column, its
levels are stored in the model file and sampled back verbatim; modelled as a number, a dense
id range comes back as training ids. :func:`looks_like_identifier` says which columns are
such identifiers, and :class:`IdentifierColumn` replaces one by fresh values in the format of
the training values, learnt without keeping any value.

The format is a *template*: the value cut into runs of letters and digits (each run becomes
its length and its character classes: lower-case ``a``, upper-case ``A``, digits ``9``) and
the other characters, kept as they are (``"@"``, ``"."``, ``"-"``, spaces). ``"Ann.Lee-42@x.org"``
has the template ``aA{3} . aA{3} - 9{2} @ a{1} . a{3}``. Integers have the template "sign
and number of digits".
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from ._columns import from_json, to_json

__all__ = ["IdentifierColumn", "identifier_columns", "looks_like_identifier"]

# --- the detection rule (see looks_like_identifier) ------------------------------------------
MIN_STRING_VALUES = 20
MIN_INTEGER_VALUES = 50
MIN_DISTINCT_SHARE = 0.9
MIN_INTEGER_DENSITY = 0.5

# --- the fresh values (see IdentifierColumn) ------------------------------------------------
N_MARKERS = 16  # markers kept per template
MAX_TEMPLATES = 256  # the most frequent templates kept per column
MIN_GENERIC_LENGTH = 8  # length of the fallback template of a string column

LOWER = "abcdefghijklmnopqrstuvwxyz"
UPPER = LOWER.upper()
DIGITS = "0123456789"
_CLASSES = {"a": LOWER, "A": UPPER, "9": DIGITS}
# a run of letters and digits ([^\W_] is str.isalnum), or a run of other characters
_TOKENS = re.compile(r"[^\W_]+|[\W_]+")


# ============================================================================== detection
def _value_mode(series):
    """``"string"``, ``"integer"`` or None (a column that cannot be an identifier)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
        return None
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        values = series.dropna()
        if all(isinstance(v, str) for v in values):
            return "string"
        if all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))
               for v in values):
            return "integer"
    return None


def looks_like_identifier(series):
    """Whether a column looks like an identifier: almost every value is distinct.

    The rule:

    - **strings** (``object`` columns of ``str`` values, or the ``string`` dtype): at least
      20 non-missing values, of which at least 90 % are distinct
      (``n_distinct >= 0.9 * n_non_missing``);
    - **integers** (integer dtypes, nullable ``Int64`` and friends, or ``object`` columns of
      Python integers): at least 50 non-missing values, at least 90 % of them distinct, *and*
      the distinct values fill at least half of the integers between the smallest and the
      largest (``n_distinct >= 0.5 * (max - min + 1)``): a key counted up from some start,
      such as row numbers or customer numbers, even after a random split;
    - everything else is not an identifier: floats, booleans, categoricals, datetimes, and
      ``object`` columns that mix types.

    Why the extra condition on integers: a measurement stored as an integer (a weight, an
    amount in cents, adult's ``fnlwgt``) is as unique as a key in a small sample (``fnlwgt``
    has 98 % distinct values in 1,000 rows), but its values are spread over a range much
    wider than their number, and a numerical encoding gives back fresh numbers for it. A
    dense range of integers is what a numerical encoding would give back as training values.
    The larger minimum (50 instead of 20) keeps small-range counts out: 20 draws from 36
    equally likely values are 90 % distinct about one time in ten, 50 draws about once in
    two hundred.

    On adult (32,561 rows) no column is an identifier: ``fnlwgt`` has 21,648 distinct values
    (66 %), and ages, hours and counts fill their ranges with many repeats.

    Parameters
    ----------
    series : pandas Series
        The column. It is not modified.

    Returns
    -------
    bool

    Examples
    --------
    >>> import pandas as pd
    >>> from skmixsynth._protection import looks_like_identifier
    >>> emails = pd.Series([f"user{i}@example.org" for i in range(100)])
    >>> looks_like_identifier(emails)
    True
    >>> looks_like_identifier(pd.Series(range(1000, 1100)))  # row numbers
    True
    >>> looks_like_identifier(pd.Series([10_007 * i for i in range(100)]))  # spread out
    False
    >>> looks_like_identifier(pd.Series(["a", "b"] * 50))
    False
    """
    if not isinstance(series, pd.Series):
        raise TypeError(f"series must be a pandas Series; got {type(series).__name__}.")
    mode = _value_mode(series)
    if mode is None:
        return False
    values = series.dropna()
    n = len(values)
    if n < (MIN_STRING_VALUES if mode == "string" else MIN_INTEGER_VALUES):
        return False
    n_distinct = values.nunique()
    if n_distinct < MIN_DISTINCT_SHARE * n:
        return False
    if mode == "integer":
        span = int(values.max()) - int(values.min()) + 1  # Python ints: no overflow
        return n_distinct >= MIN_INTEGER_DENSITY * span
    return True


# ========================================================================= the templates
@dataclass(frozen=True)
class _Template:
    """One format: ``tokens`` (``("text", s)`` kept as it is, or ``("chars", alphabet,
    length)``), its share of the generated values, and the markers written on its first
    ``marker_length`` variable positions."""

    tokens: tuple
    weight: float
    marker_length: int
    markers: tuple

    def alphabets(self):
        """Per character position: the alphabet (str) of a variable position, or the
        character kept (a tuple of one str) of a fixed one."""
        out = []
        for token in self.tokens:
            if token[0] == "text":
                out.extend((c,) for c in token[1])
            else:
                out.extend([token[1]] * token[2])
        return out

    def to_dict(self):
        tokens = [
            {"text": t[1]} if t[0] == "text" else {"chars": t[1], "length": t[2]}
            for t in self.tokens
        ]
        return {
            "tokens": tokens,
            "weight": self.weight,
            "marker_length": self.marker_length,
            "markers": list(self.markers),
        }

    @classmethod
    def from_dict(cls, d):
        tokens = tuple(
            ("text", t["text"]) if "text" in t else ("chars", t["chars"], int(t["length"]))
            for t in d["tokens"]
        )
        return cls(tokens, float(d["weight"]), int(d["marker_length"]), tuple(d["markers"]))


def _run_class(run):
    """The alphabet of a run of letters and digits: the union of its characters' classes."""
    lower = upper = digit = False
    for char in run:
        if char.isupper():
            upper = True
        elif char.isalpha():
            lower = True  # lower-case, and letters without case
        else:
            digit = True  # digits and other numeric characters
    return ("a" if lower else "") + ("A" if upper else "") + ("9" if digit else "")


def _alphabet(key):
    return "".join(_CLASSES[c] for c in key)


def _string_tokens(text):
    """(template key, run texts): the key is a tuple of ("text", s) and ("chars",
    alphabet, length) tokens; the run texts are the letters-and-digits runs, in order."""
    key, runs = [], []
    for match in _TOKENS.finditer(text):
        part = match.group()
        if part[0].isalnum():
            key.append(("chars", _alphabet(_run_class(part)), len(part)))
            runs.append(part)
        else:
            key.append(("text", part))
    return tuple(key), runs


def _integer_tokens(digits, negative, max_digits, max_first):
    """Tokens of an integer template, or None when no such integer fits the dtype."""
    if digits == 1:
        first = DIGITS[1:] if negative else DIGITS
    else:
        first = DIGITS[1:]
    if digits > max_digits:
        return None
    if digits == max_digits:
        first = "".join(c for c in first if int(c) < max_first)
    if not first:
        return None
    tokens = [("text", "-")] if negative else []
    tokens.append(("chars", first, 1))
    if digits > 1:
        tokens.append(("chars", DIGITS, digits - 1))
    return tuple(tokens)


class _ByLength:
    """Training values grouped by length, as arrays of code points (never stored)."""

    def __init__(self, texts):
        self._groups = {}
        self._used = {}
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        order = np.argsort(lengths, kind="stable")
        bounds = np.flatnonzero(np.diff(lengths[order])) + 1
        for rows in np.split(order, bounds):
            length = int(lengths[rows[0]]) if rows.size else 0
            if length == 0:
                continue
            raw = np.array([texts[i] for i in rows], dtype=f"<U{length}")
            self._groups[length] = raw.view(np.uint32).reshape(rows.size, length)

    def used_codes(self, length, positions, alphabets):
        """Sorted distinct mixed-radix codes of the characters at ``positions`` of the
        values of that length; a value with a character outside the alphabet there cannot
        equal a marker and is left out."""
        key = (length, tuple(positions), tuple(alphabets))
        if key not in self._used:
            group = self._groups.get(length, np.empty((0, length), dtype=np.uint32))
            self._used[key] = _used_codes(group[:, list(positions)], alphabets)
        return self._used[key]


def _choose_markers(alphabets, by_length, rng):
    """Markers for one template, or None when the template has no room for them.

    ``alphabets`` as returned by :meth:`_Template.alphabets`; ``by_length`` the training
    values (a :class:`_ByLength`). The marker positions
    are the first ``k`` variable positions, with ``k`` the smallest number for which at
    least half of the ``k``-character markers, and at least ``N_MARKERS`` of them, are free
    (carried by no training value of that length). ``N_MARKERS`` free ones are drawn from
    ``rng``.
    """
    variable = [i for i, a in enumerate(alphabets) if isinstance(a, str)]
    for k in range(1, len(variable) + 1):
        positions = variable[:k]
        radices = [len(alphabets[i]) for i in positions]
        space = math.prod(radices)
        used = by_length.used_codes(len(alphabets), positions, [alphabets[i] for i in positions])
        free = space - used.size
        if free >= max(N_MARKERS, used.size):
            break
    else:
        return None
    if free <= 10_000:
        ranks = rng.choice(free, size=N_MARKERS, replace=False)
    else:  # draw distinct ranks without building a permutation of them all
        seen = []
        while len(seen) < N_MARKERS:
            r = int(rng.randint(free))
            if r not in seen:
                seen.append(r)
        ranks = np.asarray(seen, dtype=np.int64)
    # the r-th free code: r plus the number of used codes at or below it
    below = used - np.arange(used.size)
    codes = np.asarray(ranks, dtype=np.int64) + np.searchsorted(below, ranks, side="right")
    markers = []
    for code in sorted(int(c) for c in codes):
        chars = []
        for i, radix in zip(reversed(positions), reversed(radices), strict=True):
            code, digit = divmod(code, radix)
            chars.append(alphabets[i][digit])
        markers.append("".join(reversed(chars)))
    return k, tuple(markers)


def _used_codes(points_at, alphabets):
    """See :meth:`_ByLength.used_codes`; ``points_at`` holds the code points at the
    positions, one column per position."""
    if points_at.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    codes = np.zeros(points_at.shape[0], dtype=np.int64)
    keep = np.ones(points_at.shape[0], dtype=bool)
    for column, alphabet in enumerate(alphabets):
        radix = len(alphabet)
        table = np.full(128, -1, dtype=np.int64)
        table[[ord(c) for c in alphabet]] = np.arange(radix)
        points = points_at[:, column]
        index = np.where(points < 128, table[np.minimum(points, 127)], -1)
        keep &= index >= 0
        codes = codes * radix + np.maximum(index, 0)
    return np.unique(codes[keep])


# ===================================================================== IdentifierColumn
class IdentifierColumn:
    """An identifier column: fresh values in the training values' format, never a training
    value.

    A column encoder (the per-column protocol of :class:`~skmixsynth.MixedTypeEncoder`) that
    contributes nothing to the model (``n_numerical = 0``, ``discrete_labels = None``) and
    decodes to new values.

    **What fit keeps.** For a string column, the template of each value (see the module
    docstring) and how often it occurs; only templates seen at least ``settings.min_count``
    times are kept (at most the 256 most frequent), with their frequencies. A run of letters
    and digits whose exact text is shared by at least ``min_count`` values of a template at
    the same place (the ``gmail`` and ``com`` of ``@gmail.com``) is kept as text, as a
    categorical level seen that often would be; such variants are themselves kept only when
    seen ``min_count`` times, else they count for the template with every run variable.
    With ``min_count=None`` every template is kept and no run is kept as text (the format
    only). When no template is kept (free text, formats that are all different), the
    fallback is one generic template: lower-case letters, as many as the median length of
    the training values and at least 8. For an integer column, the sign and number of
    digits of each value, kept in the same way; the fallback is the median number of digits
    plus one. The share of missing values is kept; no value, no hash of a value, no length
    or count of a single value.

    **The guarantee: a fresh value never equals a training value.** At fit, each template
    gets ``N_MARKERS = 16`` *markers*: strings for its first ``k`` variable positions (the
    positions of its letter and digit runs, in order) that no training value of the same
    length carries at those positions, drawn at random from ``settings.random_state`` among
    the free ones; ``k`` is the smallest number for which at least half of the possible
    markers, and at least 16, are free. Only the markers are stored. Every fresh value of a
    template has the template's length and one of its markers at those positions. Proof: a
    training value of another length differs from it; a training value of the same length
    carries at those positions a string that is not a marker (the markers were chosen among
    the strings no training value of that length carries), so it differs at one of them.
    Hence no fresh value equals a training value, whatever the draws, without the training
    values being kept. Integers are compared through their decimal writing (no leading
    zeros), which is one-to-one. A template with no room for markers (too few variable
    positions: ``"N/A"``, or two-digit codes that are nearly all taken) is dropped, and so
    is one whose integers would not fit the dtype. The markers say only that a few
    strings are *not* the beginning of a training value; drawing them at random (rather
    than taking the first free ones) keeps them from telling which ones are.

    **Distinct from one another with high probability.** Each fresh value is a marker drawn
    uniformly among 16 and its other variable positions drawn uniformly from their
    alphabets, so two fresh values of a template with ``N`` possible values are equal with
    probability ``1 / N``, and ``n`` of them are all distinct with probability at least
    ``1 - n**2 / (2 N)``. An e-mail template with eight letters before the ``@`` and a
    three-letter marker has ``N`` at least ``16 * 26**5``, about 190 million: 1,000 values
    repeat one with probability under 0.3 %. Short formats (a 5-digit code) have few fresh
    values and repeat them.

    Missing values are drawn with the training share of missing values. The dtype is kept:
    ``object`` (of ``str`` or of Python ``int``), ``string``, integer dtypes (values fit the
    dtype's range) and nullable integers (``Int64``).

    Attributes
    ----------
    type_name : str
        ``"identifier"``, the key stored in :meth:`to_dict`.
    n_numerical : int
        0.
    discrete_labels : None
    name_ : hashable
        The column, set by :meth:`fit`.
    mode : {"string", "integer"}
    missing_share : float
    templates : tuple
        The kept templates (frozen), each with its tokens, weight and markers.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from types import SimpleNamespace
    >>> from skmixsynth._protection import IdentifierColumn
    >>> emails = pd.Series([f"user{i:03d}@example.org" for i in range(200)])
    >>> column = IdentifierColumn().fit(
    ...     emails, name="email", settings=SimpleNamespace(min_count=5, random_state=0))
    >>> fresh = column.decode(np.empty((4, 0)), np.empty((4, 0), dtype=np.int64),
    ...                       np.random.RandomState(0))
    >>> bool(fresh.str.fullmatch(r"[a-z0-9]{7}@example\\.org").all())
    True
    >>> bool(fresh.isin(emails).any())
    False
    """

    type_name = "identifier"
    n_numerical = 0
    discrete_labels = None

    # ----------------------------------------------------------------------------- fit
    def fit(self, series, *, name, settings=None):
        """Learn the format of the values (never the values).

        Parameters
        ----------
        series : pandas Series
            The training column (``str``/``string`` or integer values). Not modified.
        name : hashable
            The column's name, for messages and :meth:`to_dict`.
        settings : EncoderSettings or None
            Read: ``min_count`` (int or None) and ``random_state`` (the seed of the
            markers). None means ``min_count=None`` and an unseeded draw.

        Returns
        -------
        self : IdentifierColumn

        Raises
        ------
        TypeError
            If the column is not a string or integer column.
        ValueError
            If it has only missing values, or no fresh value fits its dtype.
        """
        if not isinstance(series, pd.Series):
            raise TypeError(f"series must be a pandas Series; got {type(series).__name__}.")
        mode = _value_mode(series)
        if mode is None:
            raise TypeError(
                f"Column {name!r} has dtype {series.dtype} with values that are not all "
                "strings or all integers; an identifier column must hold strings or integers "
                "(convert it, e.g. series.astype(str))."
            )
        min_count = getattr(settings, "min_count", None)
        if min_count is not None and (
            isinstance(min_count, bool)
            or not isinstance(min_count, numbers.Integral)
            or min_count < 1
        ):
            raise ValueError(f"min_count must be a positive integer or None; got {min_count!r}.")
        rng = check_random_state(getattr(settings, "random_state", None))
        present = series.dropna()
        if present.empty:
            raise ValueError(
                f"Column {name!r} has only missing values; drop it or fill it before fitting."
            )
        texts = [str(int(v)) for v in present] if mode == "integer" else [str(v) for v in present]
        by_length = _ByLength(texts)
        threshold = 1 if min_count is None else int(min_count)
        if mode == "string":
            templates = _string_templates(
                texts, threshold, by_length, rng, literal_runs=threshold >= 2
            )
        else:
            bounds = _integer_bounds(series.dtype)
            templates = _integer_templates(texts, threshold, bounds, by_length, rng)
        templates = _normalised(templates)
        if not templates:
            templates = _fallback(texts, mode, series.dtype, by_length, rng, name)
        self.name_ = name
        self.mode = mode
        self.dtype = series.dtype
        self.missing_share = float(1.0 - len(present) / len(series))
        self.templates = templates
        return self

    # ------------------------------------------------------------------ encode / decode
    def encode(self, series):
        """Nothing to encode: ``(n, 0)`` numericals and ``(n, 0)`` codes.

        Parameters
        ----------
        series : pandas Series

        Returns
        -------
        numerical : ndarray of shape (n, 0), float64
        codes : ndarray of shape (n, 0), int64
        """
        n = len(series)
        return np.empty((n, 0), dtype=np.float64), np.empty((n, 0), dtype=np.int64)

    def decode(self, numerical, codes, rng):
        """Fresh values, one per row of ``numerical``; none equals a training value.

        Parameters
        ----------
        numerical : ndarray of shape (n, 0)
            Only its number of rows is read.
        codes : ndarray of shape (n, 0)
            Ignored.
        rng : numpy RandomState, int or None
            Source of the draws.

        Returns
        -------
        values : pandas Series of n rows, with the training dtype
        """
        self._check_fitted()
        rng = check_random_state(rng)
        n = int(np.shape(numerical)[0])
        missing = rng.random_sample(n) < self.missing_share
        weights = np.array([t.weight for t in self.templates])
        which = rng.choice(len(self.templates), size=n, p=weights / weights.sum())
        texts = np.empty(n, dtype=object)
        for index, template in enumerate(self.templates):
            rows = np.flatnonzero(which == index)
            texts[rows] = _draw(template, rows.size, rng)
        return self._to_series(texts, missing)

    def _to_series(self, texts, missing):
        dtype = self.dtype
        n = texts.size
        if self.mode == "integer":
            values = np.array([int(t) for t in texts], dtype=object)
            if not missing.any() and not (isinstance(dtype, np.dtype) and dtype.kind == "O"):
                return pd.Series(values.astype(np.int64)).astype(dtype)
            if isinstance(dtype, np.dtype) and dtype.kind == "O":
                values[missing] = np.nan
                return pd.Series(values, dtype=object)
            if isinstance(dtype, pd.api.extensions.ExtensionDtype):
                out = pd.array(values.astype(np.int64), dtype=dtype)
                out[missing] = pd.NA
                return pd.Series(out)
            # a numpy integer column had no missing values at fit
            return pd.Series(values.astype(np.int64)).astype(dtype)  # pragma: no cover
        values = texts.copy() if n else np.empty(0, dtype=object)
        values[missing] = np.nan
        if isinstance(dtype, pd.StringDtype):
            return pd.Series(values, dtype=object).astype(dtype)
        return pd.Series(values, dtype=object)

    # --------------------------------------------------------------------------- JSON
    def to_dict(self):
        """The fitted state as JSON-able plain objects; it holds no training value.

        Returns
        -------
        state : dict
            ``{"type": "identifier", "name", "dtype", "mode", "missing_share",
            "templates": [{"tokens", "weight", "marker_length", "markers"}]}``.
        """
        self._check_fitted()
        return {
            "type": self.type_name,
            "name": to_json(self.name_),
            "dtype": _dtype_to_json(self.dtype),
            "mode": self.mode,
            "missing_share": self.missing_share,
            "templates": [t.to_dict() for t in self.templates],
        }

    @classmethod
    def from_dict(cls, d):
        """Rebuild a fitted column from :meth:`to_dict`.

        Parameters
        ----------
        d : dict

        Returns
        -------
        column : IdentifierColumn
        """
        if d.get("type") != cls.type_name:
            raise ValueError(
                f"Not an identifier column's state: its type is {d.get('type')!r}, expected "
                f"{cls.type_name!r}."
            )
        column = cls()
        column.name_ = from_json(d["name"])
        column.mode = d["mode"]
        column.dtype = _dtype_from_json(d["dtype"])
        column.missing_share = float(d["missing_share"])
        column.templates = tuple(_Template.from_dict(t) for t in d["templates"])
        return column

    def _check_fitted(self):
        if not hasattr(self, "templates"):
            raise ValueError("This IdentifierColumn is not fitted yet; call fit first.")

    def __repr__(self):
        if not hasattr(self, "templates"):
            return "IdentifierColumn()"
        return (
            f"IdentifierColumn(name={self.name_!r}, mode={self.mode!r}, "
            f"templates={len(self.templates)})"
        )


# ------------------------------------------------------------------ fit helpers
def _string_templates(texts, threshold, by_length, rng, *, literal_runs):
    """The string templates kept, with markers and their counts as weights (not yet
    normalised): see IdentifierColumn."""
    keys, runs = [], []
    for text in texts:
        key, run = _string_tokens(text)
        keys.append(key)
        runs.append(run)
    groups = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    # (count, tokens, general key or None for a general template)
    candidates = []
    general = {}
    for key, members in groups.items():
        if len(members) < threshold:
            continue
        variants = _variants(key, members, runs, threshold) if literal_runs else {}
        general[key] = len(members) - sum(variants.values())
        candidates.extend((count, tokens, key) for tokens, count in variants.items())
    # only the most frequent variants are tried; the others count with every run variable
    candidates.sort(key=lambda c: (-c[0], repr(c[1])))
    out = []
    for rank, (count, tokens, key) in enumerate(candidates):
        template = None
        if rank < MAX_TEMPLATES:
            template = _with_markers(tokens, count, by_length, rng)
        if template is None:
            general[key] += count
        else:
            out.append(template)
    ranked = sorted(general.items(), key=lambda item: (-item[1], repr(item[0])))
    for key, count in ranked[:MAX_TEMPLATES]:
        template = _with_markers(key, count, by_length, rng)
        if template is not None:
            out.append(template)
    return out


def _variants(key, members, runs, threshold):
    """{tokens: count} of the variants of one template seen at least ``threshold`` times:
    the runs whose text at least ``threshold`` of its values share at that place are text."""
    slots = [j for j, token in enumerate(key) if token[0] == "chars"]
    frequent = []
    for r in range(len(slots)):
        counts = pd.Series([runs[i][r] for i in members]).value_counts()
        frequent.append(set(counts.index[counts >= threshold]))
    counts = {}
    for i in members:
        variant = tuple(runs[i][r] if runs[i][r] in frequent[r] else None
                        for r in range(len(slots)))
        if any(text is not None for text in variant):
            counts[variant] = counts.get(variant, 0) + 1
    out = {}
    for variant, count in sorted(counts.items(), key=lambda item: (-item[1], repr(item[0]))):
        if count < threshold:
            continue
        tokens = list(key)
        for r, text in enumerate(variant):
            if text is not None:
                tokens[slots[r]] = ("text", text)
        out[_merge_texts(tokens)] = count
    return out


def _merge_texts(tokens):
    """Adjacent text tokens joined into one."""
    out = []
    for token in tokens:
        if token[0] == "text" and out and out[-1][0] == "text":
            out[-1] = ("text", out[-1][1] + token[1])
        else:
            out.append(token)
    return tuple(out)


def _with_markers(tokens, count, by_length, rng):
    """The template with its markers, or None when it has no room for them."""
    if count <= 0:
        return None
    alphabets = _Template(tokens, 0.0, 0, ()).alphabets()
    chosen = _choose_markers(alphabets, by_length, rng)
    if chosen is None:
        return None
    return _Template(tokens, float(count), *chosen)


def _normalised(templates):
    templates = sorted(templates, key=lambda t: (-t.weight, repr(t.tokens)))[:MAX_TEMPLATES]
    total = sum(t.weight for t in templates)
    return tuple(
        _Template(t.tokens, t.weight / total, t.marker_length, t.markers) for t in templates
    )


def _integer_bounds(dtype):
    """(number of digits, first digit) of the dtype's largest magnitude that both signs
    reach (Python ints in an object column: unbounded)."""
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        return 10**6, 10
    numpy_dtype = dtype.numpy_dtype if hasattr(dtype, "numpy_dtype") else np.dtype(dtype)
    info = np.iinfo(numpy_dtype)
    text = str(int(info.max))
    return len(text), int(text[0])


def _integer_templates(texts, threshold, bounds, by_length, rng):
    """The integer templates kept (sign and number of digits), with markers."""
    counts = {}
    for text in texts:
        key = (text.startswith("-"), len(text.lstrip("-")))
        counts[key] = counts.get(key, 0) + 1
    ranked = sorted(
        ((key, count) for key, count in counts.items() if count >= threshold),
        key=lambda item: (-item[1], item[0]),
    )[:MAX_TEMPLATES]
    out = []
    for (negative, digits), count in ranked:
        tokens = _integer_tokens(digits, negative, *bounds)
        template = None if tokens is None else _with_markers(tokens, count, by_length, rng)
        if template is not None:
            out.append(template)
    return out


def _fallback(texts, mode, dtype, by_length, rng, name):
    """One template when no format is kept: see IdentifierColumn."""
    if mode == "string":
        length = max(MIN_GENERIC_LENGTH, int(np.median([len(t) for t in texts])))
        for extra in range(64):
            tokens = (("chars", LOWER, length + extra),)
            chosen = _choose_markers([LOWER] * (length + extra), by_length, rng)
            if chosen is not None:
                return (_Template(tokens, 1.0, *chosen),)
    else:
        negative = sum(t.startswith("-") for t in texts) > len(texts) / 2
        digits = int(np.median([len(t.lstrip("-")) for t in texts])) + 1
        bounds = _integer_bounds(dtype)
        while digits <= bounds[0]:
            tokens = _integer_tokens(digits, negative, *bounds)
            if tokens is not None:
                alphabets = _Template(tokens, 1.0, 0, ()).alphabets()
                chosen = _choose_markers(alphabets, by_length, rng)
                if chosen is not None:
                    return (_Template(tokens, 1.0, *chosen),)
            digits += 1
    raise ValueError(
        f"Column {name!r}: no fresh value in the format of its values fits its dtype "
        f"{dtype}; drop the column (identifiers='drop') or widen its dtype."
    )


def _draw(template, n, rng):
    """n strings of the template: a random marker, then random characters."""
    alphabets = template.alphabets()
    length = len(alphabets)
    points = np.empty((n, length), dtype=np.uint32)
    variable = [i for i, a in enumerate(alphabets) if isinstance(a, str)]
    k = template.marker_length
    marker_points = np.array(
        [[ord(c) for c in m] for m in template.markers], dtype=np.uint32
    ).reshape(len(template.markers), k)
    pick = rng.randint(len(template.markers), size=n)
    points[:, variable[:k]] = marker_points[pick]
    for i, alphabet in enumerate(alphabets):
        if isinstance(alphabet, tuple):
            points[:, i] = ord(alphabet[0])
        elif i not in variable[:k]:
            table = np.array([ord(c) for c in alphabet], dtype=np.uint32)
            points[:, i] = table[rng.randint(len(alphabet), size=n)]
    if length == 0:  # pragma: no cover - a template always has a marker position
        return [""] * n
    return points.view(f"<U{length}").ravel().tolist()


def _dtype_to_json(dtype):
    if isinstance(dtype, pd.StringDtype):
        na = dtype.na_value
        return {
            "name": "string",
            "storage": dtype.storage,
            "na_nan": bool(isinstance(na, float) and np.isnan(na)),
        }
    return {"name": str(dtype)}


def _dtype_from_json(d):
    if d["name"] == "string":
        return pd.StringDtype(d["storage"], na_value=np.nan if d["na_nan"] else pd.NA)
    return pd.api.types.pandas_dtype(d["name"])


def identifier_columns(frame, identifiers, *, table="train"):
    """The identifier columns of ``frame`` in its column order: detected by
    :func:`looks_like_identifier` (``"auto"``), listed (their names are checked), or none
    (``None``). ``table`` names ``frame`` in the errors. Shared by the privacy metrics and the
    report."""
    if identifiers is None:
        return []
    if isinstance(identifiers, str):
        if identifiers != "auto":
            raise ValueError(
                f"identifiers must be 'auto', None or a list of columns; got {identifiers!r}."
            )
        return [c for c in frame.columns if looks_like_identifier(frame[c])]
    try:
        listed = list(identifiers)
    except TypeError:
        raise TypeError(
            f"identifiers must be 'auto', None or a list of columns; got {identifiers!r}."
        ) from None
    unknown = [c for c in listed if c not in frame.columns]
    if unknown:
        raise ValueError(
            f"identifiers {unknown} are not columns of {table}; its columns are "
            f"{list(frame.columns)}."
        )
    return [c for c in frame.columns if c in set(listed)]
