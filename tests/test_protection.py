"""Identifier columns: the detection rule, and fresh values that never equal a training value."""

import itertools
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skmixsynth._protection import IdentifierColumn, looks_like_identifier

LETTERS = list("abcdefghijklmnopqrstuvwxyz")


def emails(n, seed=0):
    rng = np.random.default_rng(seed)
    users = ["".join(rng.choice(LETTERS, 8)) for _ in range(n)]
    domains = rng.choice(["gmail.com", "yahoo.fr", "corp.example.org"], n)
    return pd.Series([f"{u}.{i}@{d}" for i, (u, d) in enumerate(zip(users, domains, strict=True))])


def fit(series, min_count=5, random_state=0):
    return IdentifierColumn().fit(
        series,
        name="id",
        settings=SimpleNamespace(min_count=min_count, random_state=random_state),
    )


def decode(column, n, seed=0):
    return column.decode(
        np.empty((n, 0)), np.empty((n, 0), dtype=np.int64), np.random.RandomState(seed)
    )


def json_scalars(obj):
    """Every string and number inside a JSON-like object."""
    if isinstance(obj, dict):
        for value in obj.values():
            yield from json_scalars(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from json_scalars(value)
    else:
        yield obj


# ------------------------------------------------------------------------------ the rule
def test_identifiers_are_detected():
    assert looks_like_identifier(emails(100))
    assert looks_like_identifier(pd.Series(np.arange(1, 51)))  # row numbers
    ids = pd.Series(np.arange(1000, 1100), dtype="Int64")
    ids[::10] = pd.NA
    assert looks_like_identifier(ids)
    assert looks_like_identifier(pd.Series([int(i) for i in range(60)], dtype=object))
    assert looks_like_identifier(emails(30).astype("string"))
    # a random half of the row numbers still fills half of its range
    rng = np.random.default_rng(0)
    assert looks_like_identifier(pd.Series(np.sort(rng.permutation(2000)[:1000])))


def test_ordinary_columns_are_not_identifiers():
    rng = np.random.default_rng(0)
    n = 500
    assert not looks_like_identifier(pd.Series(rng.integers(18, 90, n)))  # ages
    assert not looks_like_identifier(pd.Series(rng.poisson(3, n)))  # counts
    assert not looks_like_identifier(pd.Series(rng.normal(size=n)))  # floats, all distinct
    assert not looks_like_identifier(pd.Series(rng.choice(["a", "b", "c"], n)))
    assert not looks_like_identifier(pd.Series(rng.random(n) > 0.5))
    assert not looks_like_identifier(emails(n).astype("category"))
    assert not looks_like_identifier(pd.Series(pd.date_range("2020", periods=n, freq="h")))
    # unique integers spread over a range far wider than their number: a measurement
    assert not looks_like_identifier(pd.Series(rng.choice(10**6, n, replace=False)))
    # too few values to tell
    assert not looks_like_identifier(emails(19))
    assert not looks_like_identifier(pd.Series(np.arange(49)))
    # mixed objects
    assert not looks_like_identifier(pd.Series(["a", 1] * 50, dtype=object))
    with pytest.raises(TypeError, match="pandas Series"):
        looks_like_identifier(["a", "b"])


def test_small_range_counts_are_rarely_identifiers():
    """50 draws from any small range: flagged well under 1 % of the time."""
    rng = np.random.default_rng(1)
    flagged = sum(
        looks_like_identifier(pd.Series(rng.integers(0, size, 50)))
        for size in range(50, 200)
        for _ in range(10)
    )
    assert flagged <= 3


def test_the_series_is_not_modified():
    series = emails(60)
    series[3] = None
    before = series.copy()
    looks_like_identifier(series)
    fit(series)
    pd.testing.assert_series_equal(series, before)


@pytest.mark.datasets
def test_no_adult_column_is_an_identifier(data_home):
    adult = pd.read_csv(data_home / "adult" / "data.csv.gz")
    assert adult["fnlwgt"].nunique() == 21_648
    assert not any(looks_like_identifier(adult[c]) for c in adult.columns)
    # fnlwgt is 96-98 % distinct in small samples: a measurement, not a key
    for n in (1000, 2000):
        sample = adult.sample(n, random_state=0)
        assert sample["fnlwgt"].nunique() > 0.9 * n
        assert [c for c in adult.columns if looks_like_identifier(sample[c])] == []
    with_ids = adult.assign(row=np.arange(len(adult)), email=emails(len(adult)))
    split = with_ids.sample(frac=0.8, random_state=0)
    assert [c for c in split.columns if looks_like_identifier(split[c])] == ["row", "email"]


# ------------------------------------------------------------------ the fresh values
def test_fresh_emails_keep_the_format_and_are_new():
    train = emails(800)
    column = fit(train)
    fresh = decode(column, 5000)
    assert fresh.dtype == object
    assert not fresh.isin(set(train)).any()
    # the frequent domains are kept, the user names and numbers are new
    pattern = r"[a-z]{8}\.[0-9]{1,3}@(gmail\.com|yahoo\.fr|corp\.example\.org)"
    assert fresh.str.fullmatch(pattern).all()
    shares = fresh.str.split("@").str[1].value_counts(normalize=True)
    expected = train.str.split("@").str[1].value_counts(normalize=True)
    assert shares.reindex(expected.index).to_numpy() == pytest.approx(expected, abs=0.03)
    assert fresh.nunique() == len(fresh)  # distinct with high probability
    assert repr(column) == "IdentifierColumn(name='id', mode='string', templates=7)"


def test_without_min_count_the_format_only_is_kept():
    train = emails(200)
    fresh = decode(fit(train, min_count=None), 500)
    assert not fresh.isin(set(train)).any()
    assert fresh.str.fullmatch(r"[a-z]{8}\.[0-9]{1,3}@[a-z]+(\.[a-z]+)+").all()
    assert not fresh.str.contains("gmail").any()


def test_every_two_letter_prefix_is_taken():
    """The markers need three letters when every two-letter beginning is taken."""
    rng = np.random.default_rng(0)
    pairs = ["".join(p) for p in itertools.product(LETTERS, repeat=2)]
    train = pd.Series([p + "".join(rng.choice(LETTERS, 4)) for p in pairs * 3])
    column = fit(train)
    (template,) = column.templates
    assert template.marker_length >= 3
    fresh = decode(column, 20_000)
    assert fresh.str.len().eq(6).all()
    assert not fresh.isin(set(train)).any()


def test_a_format_with_every_value_taken_falls_back():
    """Every three-letter word is a training value: the format has no fresh value, so the
    generic template (8 letters or the median length) is used."""
    train = pd.Series(["".join(p) for p in itertools.product(LETTERS, repeat=3)])
    column = fit(train)
    fresh = decode(column, 2000)
    assert fresh.str.fullmatch("[a-z]{8}").all()
    assert not fresh.isin(set(train)).any()


def test_a_frequent_value_is_never_emitted():
    """A value held by many rows (a placeholder) is not an identifier's format: its
    letters are drawn afresh. A run of letters and digits has one class (``user0042`` is
    eight characters of [a-z0-9]), which keeps hexadecimal keys in one format."""
    train = pd.Series(["unknown"] * 200 + [f"user{i:04d}" for i in range(300)])
    fresh = decode(fit(train), 5000)
    assert not fresh.isin(set(train)).any()
    assert fresh.str.fullmatch(r"[a-z0-9]{8}|[a-z]{7}").all()
    assert fresh.str.len().eq(7).mean() == pytest.approx(0.4, abs=0.03)
    uuids = pd.Series([f"{i:08x}-{(7 * i) % 65536:04x}" for i in range(3000, 3400)])
    fresh = decode(fit(uuids), 1000)
    assert fresh.str.fullmatch(r"[a-z0-9]{8}-[a-z0-9]{4}").mean() > 0.9


def test_integer_ids():
    train = pd.Series(np.arange(1, 1001))  # every 1-, 2- and 3-digit id is taken
    column = fit(train)
    fresh = decode(column, 3000)
    assert fresh.dtype == np.int64
    assert not fresh.isin(train).any()
    assert fresh.between(1000, 9999).all()  # one digit more than the median
    negative = pd.Series(-np.arange(10_000, 10_400))
    fresh = decode(fit(negative), 1000)
    assert (fresh < 0).all() and not fresh.isin(negative).any()
    assert fresh.astype(str).str.len().eq(6).all()


@pytest.mark.parametrize(
    "dtype", [object, "string", pd.StringDtype("python", na_value=np.nan), "Int64"]
)
def test_dtype_and_missing_share_are_kept(dtype):
    if dtype == "Int64":
        values = list(range(5_000_000, 5_000_300))
    else:
        values = [f"ID-{i:05d}" for i in range(300)]
    train = pd.Series(values + [None] * 100, dtype=dtype)
    fresh = decode(fit(train), 8000)
    assert fresh.dtype == train.dtype
    assert fresh.isna().mean() == pytest.approx(0.25, abs=0.02)
    assert not fresh.dropna().isin(set(train.dropna())).any()


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.int16])
def test_fresh_integers_fit_the_dtype(dtype):
    train = pd.Series(np.arange(0, 60, dtype=dtype))
    fresh = decode(fit(train), 2000)
    assert fresh.dtype == dtype
    assert not fresh.isin(train).any()


def test_object_integers_stay_python_integers():
    train = pd.Series([*range(100, 400), None], dtype=object)
    fresh = decode(fit(train), 3000)
    assert fresh.dtype == object
    assert all(isinstance(v, int) for v in fresh.dropna())
    assert not fresh.dropna().isin(set(range(100, 400))).any()


def test_no_room_in_the_dtype_is_a_clear_error():
    with pytest.raises(ValueError, match=r"Column 'id'.*uint8.*identifiers='drop'"):
        fit(pd.Series(np.arange(100, 200, dtype=np.uint8)))


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.text(alphabet="ab1-", min_size=1, max_size=4), min_size=1, max_size=300),
    min_count=st.sampled_from([None, 1, 2, 5]),
    seed=st.integers(0, 2**31 - 1),
)
def test_fresh_strings_never_equal_a_training_value(values, min_count, seed):
    """Adversarial training sets: few characters, short values, most formats exhausted."""
    train = pd.Series(values)
    fresh = decode(fit(train, min_count=min_count, random_state=seed), 500, seed=seed)
    assert not fresh.isin(set(values)).any()


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(-999, 99_999), min_size=1, max_size=300),
    min_count=st.sampled_from([None, 2, 5]),
    seed=st.integers(0, 2**31 - 1),
)
def test_fresh_integers_never_equal_a_training_value(values, min_count, seed):
    train = pd.Series(values, dtype=np.int64)
    fresh = decode(fit(train, min_count=min_count, random_state=seed), 500, seed=seed)
    assert fresh.dtype == np.int64
    assert not fresh.isin(set(values)).any()


# ---------------------------------------------------------------------- state and JSON
def test_state_holds_no_training_value():
    train = emails(600)
    column = fit(train)
    text = json.dumps(column.to_dict())
    assert not any(email in text for email in train)
    assert not any(email.split("@")[0] in text for email in train)
    # the text kept is what at least min_count values share
    for template in column.to_dict()["templates"]:
        for token in template["tokens"]:
            if "text" in token:
                assert train.str.contains(token["text"], regex=False).sum() >= 5
    rng = np.random.default_rng(0)
    ids = pd.Series(rng.choice(np.arange(10**7, 2 * 10**7), 500, replace=False))
    state = fit(ids).to_dict()
    assert not set(json_scalars(state)) & (set(ids.astype(str)) | set(ids))


def test_round_trip_through_json():
    column = fit(emails(300), random_state=3)
    again = IdentifierColumn.from_dict(json.loads(json.dumps(column.to_dict())))
    assert again.to_dict() == column.to_dict()
    pd.testing.assert_series_equal(decode(again, 100, seed=5), decode(column, 100, seed=5))
    with pytest.raises(ValueError, match="'categorical'"):
        IdentifierColumn.from_dict({**column.to_dict(), "type": "categorical"})


def test_seeded_fit_and_decode():
    train = emails(300)
    assert fit(train, random_state=1).to_dict() == fit(train, random_state=1).to_dict()
    assert fit(train, random_state=1).to_dict() != fit(train, random_state=2).to_dict()
    column = fit(train)
    assert decode(column, 50, seed=1).equals(decode(column, 50, seed=1))
    assert not decode(column, 50, seed=1).equals(decode(column, 50, seed=2))


def test_protocol_and_errors():
    column = IdentifierColumn()
    assert repr(column) == "IdentifierColumn()"
    assert (column.type_name, column.n_numerical, column.discrete_labels) == (
        "identifier",
        0,
        None,
    )
    with pytest.raises(ValueError, match="not fitted"):
        column.to_dict()
    train = emails(40)
    fitted = fit(train)
    numerical, codes = fitted.encode(train)
    assert numerical.shape == (40, 0) and numerical.dtype == np.float64
    assert codes.shape == (40, 0) and codes.dtype == np.int64
    assert len(decode(fitted, 0)) == 0
    with pytest.raises(TypeError, match=r"Column 'id' has dtype float64"):
        fit(pd.Series(np.arange(50.0)))
    with pytest.raises(TypeError, match=r"Column 'id' has dtype bool"):
        fit(pd.Series([True, False] * 30))
    with pytest.raises(ValueError, match=r"Column 'id' has only missing values"):
        fit(pd.Series([None] * 30, dtype=object))
    with pytest.raises(ValueError, match="min_count must be a positive integer or None; got 0"):
        fit(train, min_count=0)
    with pytest.raises(TypeError, match="pandas Series"):
        IdentifierColumn().fit(list(train), name="id")
