"""Tests of MixedTypeEncoder.partial_fit: a one-pass fit over chunks against fit on the rows."""

import copy
import json
import re
import sys
import types
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_estimators_partial_fit_n_features,
    check_n_features_in_after_fitting,
)

from skmixsynth import MixedTypeEncoder, NumericalColumn
from skmixsynth._columns import (
    EXACT_SKETCH_ROWS,
    CategoricalColumn,
    EncoderSettings,
    NumericalSummary,
)
from skmixsynth._sketch import QuantileSketch, rank_error_bound


def chunks_of(df, n_chunks, order=None):
    """The rows of ``df`` in ``n_chunks`` consecutive chunks (in ``order`` if given)."""
    parts = np.array_split(np.arange(len(df)), n_chunks)
    order = range(n_chunks) if order is None else order
    return [df.iloc[parts[i]] for i in order]


def partial(chunks, **params):
    enc = MixedTypeEncoder(**params)
    for chunk in chunks:
        enc.partial_fit(chunk)
    return enc


def sketch_of(enc, column):
    """The working sketch of a numerical column (the private working state)."""
    acc = enc._partial.columns[enc._names.index(column)]
    return acc.sketch


def knot_rank_deviation(values, knots, levels=None):
    """How far each knot's true rank among ``values`` is from its level's target rank (the
    knots at ``linspace(0, 1, len(knots))`` unless ``levels`` are given)."""
    s = np.sort(values)
    levels = np.linspace(0.0, 1.0, knots.size) if levels is None else np.asarray(levels)
    target = levels * (s.size - 1)
    low = np.searchsorted(s, knots, side="left")  # ranks of the values equal to the knot
    high = np.searchsorted(s, knots, side="right") - 1
    return np.maximum(0, np.maximum(low - target, target - high))


@pytest.fixture
def mixed():
    """1,500 rows of every kind: small enough for every sketch to be exact."""
    rng = np.random.RandomState(0)
    n = 1500
    return pd.DataFrame({
        "x": rng.normal(size=n),
        "gain": np.where(rng.rand(n) < 0.4, 0.0, rng.lognormal(size=n).round(1)),
        "k": rng.randint(0, 50, size=n),
        "f": np.where(rng.rand(n) < 0.1, np.nan, rng.gamma(2.0, size=n)),
        "i": pd.array(np.where(rng.rand(n) < 0.2, None, rng.randint(0, 9, size=n)),
                      dtype="Int64"),
        "c": rng.choice(np.array(["a", "b", "zz", "rare", np.nan], dtype=object), size=n,
                        p=[0.4, 0.3, 0.2, 0.002, 0.098]),
        "b": rng.rand(n) < 0.3,
        "cat": pd.Categorical(rng.choice(["lo", "mid", "hi"], size=n),
                              categories=["lo", "mid", "hi", "none"]),
        "s": pd.array(rng.choice(["u", "v", "w"], size=n), dtype="string"),
        "when": pd.to_datetime("2020-01-01")
        + pd.to_timedelta(rng.randint(0, 2000, size=n), unit="D"),
        "stamp": pd.to_datetime("2021-06-01", utc=True)
        + pd.to_timedelta(rng.randint(0, 10**6, size=n), unit="s"),
    })


PARAMS = [
    {},
    {"numerical_encoding": "minmax"},
    {"point_masses": 0.2},
    {"min_count": 5},
    {"min_count": 5, "point_masses": 0.2, "max_categories": 3, "random_state": 0},
    {"n_quantiles": 7, "categorical_columns": ["k"], "numerical_columns": ["b"]},
]


# ============================================================================ exact regime
@pytest.mark.parametrize("params", PARAMS)
def test_small_data_is_fitted_exactly_as_fit(mixed, params):
    """Data small enough for the sketches to be exact: the same encoder, bit for bit."""
    full = MixedTypeEncoder(**params).fit(mixed)
    enc = partial(chunks_of(mixed, 7), **params)
    assert json.dumps(enc.get_state()) == json.dumps(full.get_state())
    np.testing.assert_array_equal(enc.transform(mixed), full.transform(mixed))
    for a, b in zip(enc.transform_columns(mixed), full.transform_columns(mixed), strict=True):
        np.testing.assert_array_equal(a, b)
    Z = np.random.RandomState(1).rand(50, full.layout_.width)
    pd.testing.assert_frame_equal(enc.inverse_transform(Z, random_state=0),
                                  full.inverse_transform(Z, random_state=0))
    row = mixed.iloc[:3][["c", "x"]]
    if params.get("min_count") is None:
        for a, b in zip(enc.encode_partial(row), full.encode_partial(row), strict=True):
            np.testing.assert_array_equal(a, b)
    assert enc.get_feature_names_out().tolist() == full.get_feature_names_out().tolist()
    assert enc.n_features_in_ == full.n_features_in_
    assert enc.feature_names_in_.tolist() == full.feature_names_in_.tolist()


def test_usable_after_every_call(mixed):
    """After each call the encoder is fit's encoder of the chunks so far."""
    enc = MixedTypeEncoder(point_masses=0.2)
    seen = []
    for chunk in chunks_of(mixed, 4):
        enc.partial_fit(chunk)
        seen.append(chunk)
        rows = pd.concat(seen)
        full = MixedTypeEncoder(point_masses=0.2).fit(rows)
        assert enc.get_state() == full.get_state()
        Z = enc.transform(chunk)
        pd.testing.assert_frame_equal(
            enc.inverse_transform(Z).reset_index(drop=True), chunk.reset_index(drop=True),
            check_exact=False, rtol=1e-12)
        twin = MixedTypeEncoder.from_state(json.loads(json.dumps(enc.get_state())))
        np.testing.assert_array_equal(twin.transform(chunk), Z)


def test_levels_and_layout_match_fit(mixed):
    """Categorical levels (sorted, or a category dtype's categories as they are), missing
    levels and the layout are fit's, whatever the numerical sketches do."""
    big = pd.concat([mixed] * 3, ignore_index=True)  # 4,500 rows: the sketches compact
    for params in ({}, {"min_count": 20, "max_categories": 3}):
        full = MixedTypeEncoder(**params).fit(big)
        enc = partial(chunks_of(big, 9), **params)
        assert enc.layout_ == full.layout_
        for name in ("c", "b", "cat", "s"):
            i = full._names.index(name)
            assert enc.columns_[i] == full.columns_[i]
        assert enc.columns_[full._names.index("cat")]["categories"][:3] == ["lo", "mid", "hi"]
    # levels that cannot be sorted keep their order of first appearance across chunks
    odd = pd.DataFrame({"m": pd.Series(["b", 2, "a", 1, None, 3.5], dtype=object)})
    full = MixedTypeEncoder().fit(odd)
    enc = partial(chunks_of(odd, 3))
    assert enc.columns_ == full.columns_
    assert enc.layout_.discrete_spans[0].labels == ("b", "2", "a", "1", "3.5", "nan")


# ===================================================================== approximate regime
@pytest.fixture(scope="module")
def skewed():
    """40,000 rows: 30 % zeros and 10 % of 40 in a lognormal column, a datetime column."""
    rng = np.random.RandomState(3)
    n = 40_000
    u = rng.rand(n)
    x = np.where(u < 0.3, 0.0, np.where(u < 0.4, 40.0, rng.lognormal(2.0, size=n)))
    when = pd.Timestamp("2001-01-01") + pd.to_timedelta(rng.randint(0, 10**8, size=n), unit="s")
    return pd.DataFrame({"x": x, "y": rng.normal(size=n), "when": when})


@pytest.mark.parametrize("point_masses", [None, 0.05])
def test_knots_within_the_rank_error(skewed, point_masses):
    """Each knot's true rank is within the documented bound of its level's target, and so
    within it of fit's knot; the range is exact."""
    full = MixedTypeEncoder(point_masses=point_masses).fit(skewed)
    enc = partial(chunks_of(skewed, 10), point_masses=point_masses)
    for i, name in enumerate(["x", "y"]):
        sketch = sketch_of(enc, name)
        e = sketch.rank_error
        assert 0 < e <= rank_error_bound(len(skewed), 2048)
        ours, fits = enc.columns_[i], full.columns_[i]
        assert ours["masses"] == fits["masses"]
        assert (ours["min"], ours["max"]) == (fits["min"], fits["max"])
        values = skewed[name].to_numpy()
        rest = values[~np.isin(values, fits["masses"])]
        knots = np.asarray(ours["quantiles"])
        assert knots.size == len(fits["quantiles"]) == 1000
        bound = (1 + 2 * len(fits["masses"])) * e + 1
        assert knot_rank_deviation(rest, knots).max() <= bound
        # compared with fit's knots: ranks, not values
        s = np.sort(rest)
        gap = np.abs(np.searchsorted(s, knots) - np.searchsorted(s, fits["quantiles"]))
        assert gap.max() <= bound + 1
        # the fill is the scaled median, within the same bound
        col = enc.column_encoders_[i]
        median = col._decode_values(np.array([[ours["fill"]]]), np.zeros((1, 1), int))[0]
        assert knot_rank_deviation(rest, median, [0.5])[0] <= bound + 1


def test_point_masses_found_as_fit_finds_them(skewed):
    full = MixedTypeEncoder(point_masses=0.08).fit(skewed)
    enc = partial(chunks_of(skewed, 8), point_masses=0.08)
    assert full.columns_[0]["masses"] == [0.0, 40.0]
    assert enc.columns_[0]["masses"] == [0.0, 40.0]
    assert enc.layout_ == full.layout_
    # the point masses are encoded as levels, exactly as fit encodes them
    head = skewed.iloc[:500]
    np.testing.assert_array_equal(enc.transform_columns(head)[1], full.transform_columns(head)[1])
    # a share far below the threshold is never a mass
    assert partial(chunks_of(skewed, 8), point_masses=0.5).columns_[0]["masses"] == []


def test_chunk_order_changes_nothing_beyond_the_bound(skewed, mixed):
    orders = [None, [9, 3, 0, 7, 1, 8, 2, 6, 4, 5], list(range(9, -1, -1))]
    states = []
    for order in orders:
        enc = partial(chunks_of(skewed, 10, order), point_masses=0.05)
        e = sketch_of(enc, "x").rank_error
        values = skewed["x"].to_numpy()
        rest = values[~np.isin(values, [0.0, 40.0])]
        knots = np.asarray(enc.columns_[0]["quantiles"])
        assert knot_rank_deviation(rest, knots).max() <= 5 * e + 1
        states.append(enc.get_state())
    assert all(s["columns"][0]["masses"] == [0.0, 40.0] for s in states)
    assert all(s["columns"][0]["min"] == states[0]["columns"][0]["min"] for s in states)
    # exact sketches: any order gives fit's encoder
    full = MixedTypeEncoder(min_count=5).fit(mixed)
    for order in ([4, 2, 0, 1, 3], [3, 4, 2, 1, 0]):
        chunks = chunks_of(mixed, 5, order)
        assert partial(chunks, min_count=5).columns_ == MixedTypeEncoder(min_count=5).fit(
            pd.concat(chunks)).columns_
    assert partial(chunks_of(mixed, 5), min_count=5).columns_ == full.columns_


def test_deterministic(skewed):
    """The same chunks give the same encoder (the sketches' coins come from random_state)."""
    a = partial(chunks_of(skewed, 6), min_count=5, random_state=3)
    b = partial(chunks_of(skewed, 6), min_count=5, random_state=3)
    assert json.dumps(a.get_state()) == json.dumps(b.get_state())
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (the global generator is the subject)
    c = partial(chunks_of(skewed, 6), min_count=5)
    d = partial(chunks_of(skewed, 6), min_count=5)
    assert c.get_state() == d.get_state()
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


# ======================================================================== missing values
def test_missing_values(mixed):
    # a column whose missing values come in a later chunk only gets its indicator then
    df = pd.DataFrame({"v": [1.0, 2.0, 3.0, np.nan, 5.0, np.nan],
                       "c": ["a", "b", "a", None, "b", "a"]})
    enc = MixedTypeEncoder().partial_fit(df.iloc[:3])
    assert enc.get_feature_names_out().tolist() == ["v", "c__a", "c__b"]
    with pytest.raises(ValueError, match="'v' has 1 missing value"):
        enc.transform(df.iloc[3:4])
    enc.partial_fit(df.iloc[3:])
    assert enc.get_feature_names_out().tolist() == [
        "v", "v__present", "v__missing", "c__a", "c__b", "c__nan"]
    full = MixedTypeEncoder().fit(df)
    assert enc.get_state() == full.get_state()
    out = enc.inverse_transform(enc.transform(df))
    assert out["v"].isna().tolist() == df["v"].isna().tolist()
    assert out["c"].isna().tolist() == df["c"].isna().tolist()
    # a chunk whose column is all missing agrees with any kind (even as an object column)
    enc.partial_fit(pd.DataFrame({"v": pd.Series([None, None], dtype=object),
                                  "c": [np.nan, np.nan]}))
    assert enc.columns_[0]["type"] == "numerical"
    assert enc.columns_[1]["dtype"] == {"name": "object"}
    assert sketch_of(enc, "v").n_missing == 4


def test_a_column_needs_a_value_in_the_first_chunk():
    df = pd.DataFrame({"v": [np.nan, np.nan], "c": ["a", "b"]})
    enc = MixedTypeEncoder()
    with pytest.raises(ValueError, match="Column 'v' has only missing values in the chunks"):
        enc.partial_fit(df)
    assert not hasattr(enc, "layout_") and not hasattr(enc, "_partial")
    with pytest.raises(ValueError, match="Column 'c' has only missing values"):
        MixedTypeEncoder().partial_fit(pd.DataFrame({"v": [1.0, 2.0], "c": [None, None]}))


def test_dtypes_combine_as_concat():
    """int64 then float64 (a chunk with NaN, as read_csv gives) is a float column, as fit on
    the concatenation; bool then object holds the missing level."""
    a = pd.DataFrame({"n": [1, 2, 3, 4], "b": [True, False, True, True]})
    b = pd.DataFrame({"n": [5.0, np.nan], "b": pd.Series([None, False], dtype=object)})
    enc = MixedTypeEncoder().partial_fit(a).partial_fit(b)
    full = MixedTypeEncoder().fit(pd.concat([a, b], ignore_index=True))
    assert enc.get_state() == full.get_state()
    assert enc.columns_[0]["integer"] is False and enc.columns_[0]["dtype"]["name"] == "float64"


# ============================================================================= datetimes
def test_datetimes(skewed):
    # the resolution is the finest any chunk needs; aware columns keep their zone
    days = pd.DataFrame({"t": pd.to_datetime(["2020-01-01", "2020-03-05", "2020-02-01"])})
    hours = pd.DataFrame({"t": pd.to_datetime(["2019-12-31 13:00", None])})
    enc = MixedTypeEncoder().partial_fit(days)
    assert enc.column_encoders_[0].state_.unit == "D"
    enc.partial_fit(hours)
    full = MixedTypeEncoder().fit(pd.concat([days, hours], ignore_index=True))
    assert enc.column_encoders_[0].state_.unit == "h"
    assert enc.get_state() == full.get_state()
    both = pd.concat([days, hours], ignore_index=True)
    pd.testing.assert_frame_equal(enc.inverse_transform(enc.transform(both)), both)
    # many rows: the origin (the k-th earliest with min_count) and the range are exact
    for params in ({}, {"min_count": 5}):
        full = MixedTypeEncoder(**params).fit(skewed[["when"]])
        enc = partial(chunks_of(skewed[["when"]], 10, [5, 1, 9, 0, 2, 8, 3, 7, 4, 6]),
                      **params)
        ours, fits = enc.column_encoders_[0].state_, full.column_encoders_[0].state_
        assert (ours.origin, ours.unit, ours.minimum, ours.maximum) == (
            fits.origin, fits.unit, fits.minimum, fits.maximum)
        e = sketch_of(enc, "when").rank_error
        assert e > 0
        units = np.sort(full.column_encoders_[0]._values(skewed["when"]))
        if params:  # the group means of min_count: between the ranks a - e and b - 1 + e
            units = np.clip(units, fits.minimum, fits.maximum)
        dev = knot_rank_deviation(units, ours.quantiles)
        group = len(units) / ours.quantiles.size if params else 0
        assert dev.max() <= e + 1 + group


# ============================================================================= min_count
def test_min_count_protects_as_fit_does(skewed):
    """Rare levels are stored nowhere; numerical clip bounds are exact; no knot is a value
    held by fewer than min_count rows, and the state holds no training value fit's would
    not hold."""
    rng = np.random.RandomState(5)
    n = len(skewed)
    df = skewed[["y"]].assign(
        email=np.where(rng.rand(n) < 0.01, [f"u{i}@mail.org" for i in range(n)], "common"),
        z=rng.normal(size=n) * 1e3,
    )
    full = MixedTypeEncoder(min_count=10, point_masses=0.3).fit(df)
    enc = partial(chunks_of(df, 10), min_count=10, point_masses=0.3)
    assert enc.columns_[1] == full.columns_[1]
    assert enc.columns_[1]["levels"] == ["common"]
    text = json.dumps(enc.get_state())
    assert "@mail.org" not in text
    for i in (0, 2):
        assert (enc.columns_[i]["min"], enc.columns_[i]["max"]) == (
            full.columns_[i]["min"], full.columns_[i]["max"])
        knots = np.asarray(enc.columns_[i]["quantiles"])[1:-1]
        values, counts = np.unique(df.iloc[:, i], return_counts=True)
        held = dict(zip(values.tolist(), counts.tolist(), strict=True))
        assert all(held.get(v, 10) >= 10 for v in knots.tolist())
    training = set(df["y"].tolist()) | set(df["z"].tolist())

    def numbers(state):
        found = set()
        for col in state["columns"]:
            for key in ("min", "max", "masses", "quantiles"):
                found.update(np.ravel(col.get(key, [])).tolist())
        return found & training

    assert numbers(enc.get_state()) <= numbers(full.get_state())


def test_state_holds_no_working_state(skewed, mixed):
    """The sketches (raw values) never reach get_state(): after partial_fit its columns have
    fit's keys, and hold no training value beyond the knots, range and masses fit would
    store; with min_count none that fit's would not hold."""
    for df, params in ((skewed, {}), (skewed, {"min_count": 5}), (mixed, {"min_count": 5})):
        full = MixedTypeEncoder(**params).fit(df)
        enc = partial(chunks_of(df, 5), **params)
        state = enc.get_state()
        assert state.keys() == full.get_state().keys()
        assert [c.keys() for c in state["columns"]] == [
            c.keys() for c in full.get_state()["columns"]]
        text = json.dumps(state)
        assert "QuantileSketch" not in text and "rank_error" not in text
        for col in state["columns"]:
            if col["type"] not in ("numerical", "datetime"):
                continue
            stored = np.ravel([col["min"], col["max"], *col["masses"],
                               *col.get("quantiles", [])])
            assert stored.size <= 2 + len(col["masses"]) + 1000
        if params:
            floats = {float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", text)}
            fits = {float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?",
                                                   json.dumps(full.get_state()))}
            training = set(df.select_dtypes("number").stack().tolist())
            assert (floats & training) <= (fits & training)
        # the fitted encoder without the working state
        clean = MixedTypeEncoder.from_state(state)
        assert not hasattr(clean, "_partial")
        np.testing.assert_array_equal(clean.transform(df.iloc[:100]), enc.transform(df.iloc[:100]))


def test_protected_knots_of_a_sketch_hold_enough_rows():
    """from_sketch with min_count: every knot averages at least k rows of the sketch, so on
    unique values no knot is a training value."""
    rng = np.random.RandomState(7)
    values = rng.standard_cauchy(200_000)
    sketch = QuantileSketch(k=256, random_state=0)
    for chunk in np.array_split(values, 20):
        sketch.update(chunk)
    assert sketch.rank_error > 0
    k = 5
    summary = NumericalSummary.from_sketch(sketch, encoding="quantile", n_quantiles=1000,
                                           min_count=k)
    s = np.sort(values)
    # the clip bounds are the means of ranks k..2k-1 from either end, exact in the tails
    assert summary.minimum == pytest.approx(s[k - 1:2 * k - 1].mean())
    assert summary.maximum == pytest.approx(s[-2 * k + 1:len(s) - k + 1].mean())
    assert not np.isin([summary.minimum, summary.maximum], values).any()
    assert 2 <= summary.quantiles.size <= 1000
    inner = summary.quantiles[1:-1]
    assert not np.isin(inner, values).any()
    assert np.all(np.diff(summary.quantiles) >= 0)
    # a sketch too small for groups of k collapses like fit
    tiny = NumericalSummary.from_sketch(QuantileSketch().update([1.0, 2.0, 9.0]),
                                        encoding="quantile", min_count=2)
    assert (tiny.minimum, tiny.maximum, tiny.quantiles.tolist()) == (4.0, 4.0, [4.0, 4.0])


def test_from_sketch_is_from_values_while_exact():
    rng = np.random.RandomState(2)
    values = np.r_[rng.normal(size=3000), np.zeros(900), np.full(50, np.nan)]
    sketch = QuantileSketch().update(values)
    assert sketch.rank_error > 0
    small = QuantileSketch().update(values[:1500])
    assert small.rank_error == 0 and small.n <= EXACT_SKETCH_ROWS
    for kw in ({}, {"point_masses": 0.1}, {"min_count": 3, "point_masses": 0.1}):
        a = NumericalSummary.from_sketch(small, encoding="quantile", **kw)
        b = NumericalSummary.from_values(values[:1500], encoding="quantile", **kw)
        assert (a.n_missing, a.minimum, a.maximum, a.masses, a.fill, a.clip) == (
            b.n_missing, b.minimum, b.maximum, b.masses, b.fill, b.clip)
        np.testing.assert_array_equal(a.quantiles, b.quantiles)
        c = NumericalSummary.from_sketch(sketch, encoding="minmax", **kw)
        assert c.quantiles is None and c.masses == (0.0,) * bool(kw)


# ============================================================================= mismatches
def test_mismatched_chunks_are_clear_errors(mixed):
    enc = MixedTypeEncoder().partial_fit(mixed.iloc[:100])
    before = json.dumps(enc.get_state())
    with pytest.raises(ValueError, match=r"X has 10 features, but MixedTypeEncoder is "
                                         r"expecting 11 features as input"):
        enc.partial_fit(mixed.iloc[100:200, :-1])
    with pytest.raises(ValueError, match=r"missing \['stamp'\], unexpected \['other'\]"):
        enc.partial_fit(mixed.iloc[100:200].rename(columns={"stamp": "other"}))
    bad = mixed.iloc[100:200].astype({"x": object})
    bad.iloc[3, 0] = "n/a"
    with pytest.raises(ValueError, match=r"Column 'x' is numerical \(decided on the first "
                                         r"partial_fit chunk, dtype float64\) but holds "
                                         r"non-numeric values such as 'n/a'"):
        enc.partial_fit(bad)
    text = mixed.iloc[100:200].astype({"k": str})
    with pytest.raises(ValueError, match=r"Column 'k' is numerical .* this chunk has dtype "
                                         r"object, which makes it categorical"):
        enc.partial_fit(text)
    naive = mixed.iloc[100:200].assign(stamp=mixed["stamp"].iloc[100:200].dt.tz_localize(None))
    with pytest.raises(ValueError, match=r"Column 'stamp' is datetime .* would have dtype "
                                         r"object"):
        enc.partial_fit(naive)
    with pytest.raises(ValueError, match=r"Column 'f' holds infinite values"):
        enc.partial_fit(mixed.iloc[100:200].assign(f=np.inf))
    enc.set_params(n_quantiles=10)
    with pytest.raises(ValueError, match=r"parameters \['n_quantiles'\] changed"):
        enc.partial_fit(mixed.iloc[100:200])
    enc.set_params(n_quantiles=1000)
    assert json.dumps(enc.get_state()) == before  # a call that raises changes nothing
    dates = mixed.iloc[100:200].assign(when=mixed["when"].iloc[100:200].astype(str))
    with pytest.raises(ValueError, match=r"Column 'when' is datetime .* this chunk has dtype "
                                         r"object, which makes it categorical"):
        enc.partial_fit(dates)
    # reordered columns are fine, and an empty chunk changes nothing
    enc.partial_fit(mixed.iloc[100:200][mixed.columns[::-1]])
    assert enc._names == list(mixed.columns)
    after = enc.get_state()
    assert enc.partial_fit(mixed.iloc[:0]).get_state() == after
    with pytest.raises(ValueError, match="X has no rows"):
        MixedTypeEncoder().partial_fit(mixed.iloc[:0])
    # forced numerical columns take numbers written as text, and quote what is not one
    df = pd.DataFrame({"t": ["1", "2", "3"]})
    forced = MixedTypeEncoder(numerical_columns=["t"]).partial_fit(df)
    forced.partial_fit(pd.DataFrame({"t": ["4.5"]}))
    assert forced.columns_[0]["max"] == 4.5
    with pytest.raises(ValueError, match=r"Column 't' is numerical but holds non-numeric "
                                         r"values such as 'x'"):
        forced.partial_fit(pd.DataFrame({"t": ["x"]}))


def test_fit_starts_afresh_and_ends_a_pass(mixed):
    enc = MixedTypeEncoder().partial_fit(mixed.iloc[:300])
    enc.fit(mixed)
    assert not hasattr(enc, "_partial")
    np.testing.assert_array_equal(enc.transform(mixed), MixedTypeEncoder().fit(mixed).transform(
        mixed))
    enc.partial_fit(mixed.iloc[:300])  # a new pass
    assert enc.get_state() == MixedTypeEncoder().fit(mixed.iloc[:300]).get_state()
    assert not hasattr(clone(enc), "_partial")


def test_a_pickled_pass_goes_on(skewed):
    """A pickle keeps the working state: the pass goes on where it was."""
    import pickle

    chunks = chunks_of(skewed, 6)
    enc = partial(chunks[:3], min_count=5)
    twin = pickle.loads(pickle.dumps(enc))
    for chunk in chunks[3:]:
        enc.partial_fit(chunk)
        twin.partial_fit(chunk)
    assert json.dumps(twin.get_state()) == json.dumps(enc.get_state())
    assert json.dumps(enc.get_state()) == json.dumps(partial(chunks, min_count=5).get_state())


def test_column_encoders(mixed):
    named = [("scaled", "minmax", ["x"]), ("codes", "categorical", ["k"]),
             ("gone", "drop", ["f"]), ("inst", NumericalColumn(encoding="minmax"), ["gain"])]
    full = MixedTypeEncoder(column_encoders=named).fit(mixed)
    enc = partial(chunks_of(mixed, 3), column_encoders=named)
    assert enc.get_state() == full.get_state()
    assert sorted(enc.named_encoders_) == ["codes", "gone", "inst", "scaled"]
    assert isinstance(enc.named_encoders_.codes[0], CategoricalColumn)
    # an identifier column needs all its values at once
    identifier = types.SimpleNamespace(fit=None, encode=None, decode=None, to_dict=None)
    with pytest.raises(ValueError, match=r"Column 'c' is encoded as SimpleNamespace, which "
                                         r"partial_fit cannot fit in one pass"):
        MixedTypeEncoder(column_encoders=[("ids", identifier, ["c"])]).partial_fit(mixed)


# =========================================================================== identifiers
def _rule(series):
    """A stand-in for looks_like_identifier: at least 20 values, 90 % distinct, strings or
    integers."""
    kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else "?"
    return (len(series) >= 20 and series.nunique() >= 0.9 * len(series)
            and (kind in "iuO" or isinstance(series.dtype, pd.StringDtype)))


@pytest.fixture
def protection(monkeypatch):
    """skmixsynth._protection replaced by a stand-in (PROT writes the real one)."""
    module = types.ModuleType("skmixsynth._protection")
    module.looks_like_identifier = _rule

    class IdentifierColumn:
        type_name = "identifier"
        n_numerical = 0
        discrete_labels = None

        def fit(self, series, *, name, settings):
            return self

        encode = decode = to_dict = fit

    module.IdentifierColumn = IdentifierColumn
    monkeypatch.setitem(sys.modules, "skmixsynth._protection", module)
    return module


@pytest.fixture
def people():
    rng = np.random.RandomState(0)
    n = 400
    return pd.DataFrame({
        "email": [f"p{i}@x.org" for i in range(n)],
        "id": np.arange(1000, 1000 + n),
        "city": rng.choice([f"c{i}" for i in range(30)], size=n),
        "x": rng.normal(size=n),
    })


def test_identifiers_drop_decides_on_all_chunks(protection, people):
    with pytest.warns(UserWarning, match="looks like an identifier") as record:
        enc = MixedTypeEncoder(identifiers="drop").partial_fit(people.iloc[:100])
    assert sorted(str(w.message).split("'")[1] for w in record) == ["email", "id"]
    assert [type(c).__name__ for c in enc.column_encoders_] == [
        "DroppedColumn", "DroppedColumn", "CategoricalColumn", "NumericalColumn"]
    assert "p1@x.org" not in json.dumps(enc.get_state())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no new warning: nothing changes for them
        for chunk in chunks_of(people.iloc[100:], 3):
            enc.partial_fit(chunk)
    assert enc.inverse_transform(enc.transform(people)).columns.tolist() == ["city", "x"]
    # a categorical column that only looks unique on a small first chunk comes back
    enc = MixedTypeEncoder(identifiers="drop")
    with pytest.warns(UserWarning, match="'city' looks like an identifier"):
        enc.partial_fit(people.drop_duplicates("city").iloc[:22][["city", "x"]])
    assert type(enc.column_encoders_[0]).__name__ == "DroppedColumn"
    with pytest.warns(UserWarning, match="'city' no longer looks like an identifier"):
        enc.partial_fit(people[["city", "x"]])
    assert isinstance(enc.column_encoders_[0], CategoricalColumn)
    # named columns are data, not identifiers, as in fit
    enc = MixedTypeEncoder(identifiers="drop", categorical_columns=["email"],
                           numerical_columns=["id"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc.partial_fit(people)
    assert enc.layout_.column_spans("email")


def test_identifiers_decided_for_good_past_the_watch(protection, people, monkeypatch):
    import skmixsynth._streaming as streaming

    monkeypatch.setattr(streaming, "IDENTIFIER_WATCH_LEVELS", 50)
    enc = MixedTypeEncoder(identifiers="drop")
    with pytest.warns(UserWarning):
        enc.partial_fit(people.iloc[:100])
    work = enc._partial
    assert 0 not in work.watched and 1 not in work.watched  # identifiers for good
    assert type(work.columns[0]).__name__ == "_Dropped"
    assert 2 in work.watched  # city: 30 distinct values, still watched
    # a column past the watch that does not look like an identifier is data for good
    many = pd.DataFrame({"code": [f"k{i % 60}" for i in range(600)]})
    enc = MixedTypeEncoder(identifiers="drop").partial_fit(many)
    assert not enc._partial.watched
    assert isinstance(enc.column_encoders_[0], CategoricalColumn)


def test_identifiers_fresh_cannot_stream(protection, people):
    enc = MixedTypeEncoder(identifiers="fresh")
    with pytest.raises(ValueError, match=r"Columns \['email', 'id'\] look like identifiers.*"
                                         r"cannot be fitted in one pass"):
        enc.partial_fit(people.iloc[:100])
    assert not hasattr(enc, "layout_")
    enc = MixedTypeEncoder(identifiers="fresh", column_encoders=[
        ("gone", "drop", ["email"]), ("data", "categorical", ["id"])])
    enc.partial_fit(people.iloc[:100]).partial_fit(people.iloc[100:])
    assert enc.get_state() == MixedTypeEncoder(identifiers="fresh", column_encoders=[
        ("gone", "drop", ["email"]), ("data", "categorical", ["id"])]).fit(people).get_state()
    with pytest.raises(ValueError, match="Column 'email' is encoded as IdentifierColumn"):
        MixedTypeEncoder(column_encoders=[("ids", "identifier", ["email"])]).partial_fit(people)


# ========================================================================== a real table
@pytest.mark.datasets
def test_adult_read_in_chunks(data_home):
    """adult read with read_csv(chunksize=...), as a user streams a file, with the
    synthesizers' protection: fit's levels and layout, knots within the bound."""
    path = data_home / "adult" / "data.csv.gz"
    params = {"point_masses": 0.1, "min_count": 5, "max_categories": 20}
    enc = MixedTypeEncoder(**params)
    for chunk in pd.read_csv(path, chunksize=4096):
        enc.partial_fit(chunk)
    df = pd.read_csv(path)
    full = MixedTypeEncoder(**params).fit(df)
    assert enc.layout_ == full.layout_
    for ours, fits, name in zip(enc.columns_, full.columns_, full._names, strict=True):
        if fits["type"] == "categorical":
            assert ours == fits
            continue
        assert (ours["min"], ours["max"], ours["masses"]) == (
            fits["min"], fits["max"], fits["masses"])
        e = sketch_of(enc, name).rank_error
        assert e <= rank_error_bound(len(df), 2048)
        values = df[name].to_numpy(float)
        values = np.clip(values[~np.isin(values, fits["masses"])], fits["min"], fits["max"])
        knots = np.asarray(ours["quantiles"])
        group = values.size / knots.size
        assert knot_rank_deviation(values, knots).max() <= e + group + 1


# ============================================================================ scikit-learn
def test_scikit_learn_partial_fit_checks():
    check_estimators_partial_fit_n_features("MixedTypeEncoder", MixedTypeEncoder())
    check_n_features_in_after_fitting("MixedTypeEncoder", MixedTypeEncoder())


def test_user_data_is_not_modified(mixed):
    original = copy.deepcopy(mixed)
    partial(chunks_of(mixed, 3), min_count=5, point_masses=0.2)
    pd.testing.assert_frame_equal(mixed, original)


def test_fit_counts_is_fit():
    s = pd.Series(["b", "a", None, "b", "c"], dtype="string")
    settings = EncoderSettings(min_count=2)
    a = CategoricalColumn().fit(s, name="s", settings=settings)
    b = CategoricalColumn().fit_counts(["b", "a", "c"], [2, 1, 1], name="s", dtype=s.dtype,
                                       n_missing=1, settings=settings)
    assert a.to_dict() == b.to_dict()
    with pytest.raises(ValueError, match="Column 's' has only missing values"):
        CategoricalColumn().fit_counts([], [], name="s", dtype=object, n_missing=3,
                                       settings=settings)
