"""Tests of skmixsynth.MixedTypeEncoder: exact round trip, model outputs, errors, views, sklearn."""

import copy
import datetime
import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from _names import DATASET_NAMES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from skmixsynth import MixedTypeEncoder
from skmixsynth._validation import check_frame

FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# ======================================================================== strategies
WORDS = ["a", "b", "zeta", "Øre", "with space", "", "x__y", "10", "émile", "Z"]
TIMEZONES = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Asia/Kolkata",
    datetime.timezone(datetime.timedelta(hours=-3)),
]
NS = {"D": 86_400 * 10**9, "h": 3_600 * 10**9, "min": 60 * 10**9, "s": 10**9, "ms": 10**6,
      "us": 10**3, "ns": 1}
KINDS = [
    "int64",
    "int32",
    "float64",
    "float32",
    "bool",
    "object",
    "string",
    "str",
    "category",
    "category_int",
    "datetime",
    "Int64",
    "Float64",
    "boolean",
]
# kinds whose dtype cannot hold a missing value
NO_MISSING = {"int64", "int32", "bool"}
# kinds that are numerical by dtype (and so may be forced categorical)
NUMERIC_KINDS = {"int64", "int32", "float64", "float32", "datetime", "Int64", "Float64"}


@st.composite
def _values(draw, n, elements):
    """n values: independent draws, or draws from a small pool (ties, constant columns)."""
    if draw(st.booleans()):
        pool = draw(st.lists(elements, min_size=1, max_size=4))
        return draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    return draw(st.lists(elements, min_size=n, max_size=n))


@st.composite
def _missing_mask(draw, n, kind):
    if kind in NO_MISSING or not draw(st.booleans()):
        return np.zeros(n, dtype=bool)
    mask = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    mask[draw(st.integers(0, n - 1))] = False  # at least one value present
    return mask


@st.composite
def columns(draw, n, kind):
    """A Series of length n and the given kind, possibly with missing values."""
    miss = draw(_missing_mask(n, kind))
    if kind in ("int64", "int32", "Int64"):
        bound = 2**40 if kind != "int32" else 2**31 - 1
        vals = draw(_values(n, st.integers(-bound, bound)))
        if kind == "Int64":
            return pd.Series(pd.array(vals, dtype="Int64")).mask(miss)
        return pd.Series(np.array(vals, dtype=kind))
    if kind in ("float64", "Float64"):
        vals = draw(_values(n, st.floats(-1e9, 1e9, allow_nan=False)))
        s = pd.Series(np.array(vals, dtype=np.float64))
        s[miss] = np.nan
        return s.astype(kind)
    if kind == "float32":
        vals = draw(_values(n, st.floats(-1e6, 1e6, width=32, allow_nan=False)))
        s = pd.Series(np.array(vals, dtype=np.float32))
        s[miss] = np.nan
        return s
    if kind == "bool":
        return pd.Series(np.array(draw(_values(n, st.booleans())), dtype=bool))
    if kind == "boolean":
        vals = draw(_values(n, st.booleans()))
        return pd.Series(pd.array(vals, dtype="boolean")).mask(miss)
    if kind in ("object", "string", "str"):
        vals = draw(_values(n, st.sampled_from(WORDS)))
        if kind == "object":
            na = draw(st.sampled_from([None, np.nan]))
            cells = [na if m else v for v, m in zip(vals, miss, strict=True)]
            return pd.Series(cells, dtype=object)
        dtype = pd.StringDtype("python") if kind == "string" else pd.StringDtype(na_value=np.nan)
        return pd.Series(vals, dtype=dtype).mask(miss)
    if kind in ("category", "category_int"):
        if kind == "category":
            cats = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6, unique=True))
        else:
            cats = draw(st.lists(st.integers(-50, 50), min_size=1, max_size=6, unique=True))
        n_used = draw(st.integers(1, len(cats)))  # the others are unused categories
        vals = draw(_values(n, st.sampled_from(cats[:n_used])))
        dtype = pd.CategoricalDtype(cats, ordered=draw(st.booleans()))
        return pd.Series(pd.Categorical(vals, dtype=dtype)).mask(miss)
    if kind == "datetime":
        unit = draw(st.sampled_from(["s", "ms", "us", "ns"]))
        # a step no finer than the resolution; offsets stay below 2**40 steps and within
        # about +-150 years of 1970 (the datetime64[ns] range)
        step = draw(st.sampled_from([k for k, v in NS.items() if v >= NS[unit]]))
        bound = min(2**40, (150 * 365 * NS["D"]) // NS[step])
        base = draw(st.integers(-bound, bound))
        offsets = draw(_values(n, st.integers(-bound // 2, bound // 2)))
        ns = (base // 2 + np.array(offsets, dtype=np.int64)) * NS[step]
        arr = (ns // NS[unit]).astype(f"datetime64[{unit}]")
        arr[miss] = np.datetime64("NaT")
        s = pd.Series(arr)
        tz = draw(st.sampled_from([None, *TIMEZONES]))
        if tz is not None:
            s = s.dt.tz_localize("UTC").dt.tz_convert(tz)
        return s
    raise AssertionError(kind)


@st.composite
def frames(draw, min_rows=1, max_rows=40, kinds=KINDS, force=True):
    """A DataFrame mixing the supported dtypes, and the encoder's column-kind overrides."""
    n = draw(st.integers(min_rows, max_rows))
    chosen = draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=7))
    names = draw(
        st.lists(
            st.one_of(st.text(min_size=1, max_size=4), st.integers(0, 9)),
            min_size=len(chosen),
            max_size=len(chosen),
            unique_by=str,
        )
    )
    pairs = list(zip(names, chosen, strict=True))
    df = pd.DataFrame({name: draw(columns(n, kind)) for name, kind in pairs})
    forced_cat, forced_num = [], []
    if force:
        for name, kind in pairs:
            choice = draw(st.sampled_from(["dtype", "dtype", "dtype", "force"]))
            if choice == "force" and kind in NUMERIC_KINDS:
                forced_cat.append(name)
            elif choice == "force" and kind in ("bool", "boolean"):
                forced_num.append(name)
    return df, forced_cat or None, forced_num or None


# ======================================================================== helpers
def assert_same_table(back, df, *, rtol=1e-9):
    """Same columns, order, dtypes, missing cells; equal values (floats up to round-off).

    Floats are compared with ``rtol`` and an absolute tolerance of 1e-12 of the column's range.
    """
    assert isinstance(back, pd.DataFrame)
    assert list(back.columns) == list(df.columns)
    assert back.shape == df.shape
    assert isinstance(back.index, pd.RangeIndex)
    for col in df.columns:
        a, b = back[col], df[col]
        assert a.dtype == b.dtype, (col, a.dtype, b.dtype)
        if isinstance(b.dtype, pd.CategoricalDtype):
            assert list(a.cat.categories) == list(b.cat.categories)
            assert a.cat.ordered == b.cat.ordered
        na = b.isna().to_numpy()
        np.testing.assert_array_equal(a.isna().to_numpy(), na, err_msg=f"missing of {col!r}")
        got, want = a[~na], b[~na]
        if pd.api.types.is_float_dtype(b.dtype):
            got = got.to_numpy(dtype=np.float64)
            want = want.to_numpy(dtype=np.float64)
            span = float(want.max() - want.min()) if want.size else 0.0
            np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-12 * span, err_msg=col)
        else:
            assert got.tolist() == want.tolist(), col
            assert [type(v) for v in got.tolist()] == [type(v) for v in want.tolist()], col


def roundtrip_checks(df, check_state=True, **params):
    """Fit, transform, inverse, and the same through a JSON state; return the fitted encoder."""
    original = copy.deepcopy(df)
    enc = MixedTypeEncoder(**params).fit(df)
    Z = enc.transform(df)
    assert Z.shape == (len(df), enc.layout_.width)
    assert Z.dtype == np.dtype(enc.dtype)
    assert np.isfinite(Z).all()
    assert (Z >= 0).all() and (Z <= 1).all()
    assert len(enc.get_feature_names_out()) == enc.layout_.width
    back = enc.inverse_transform(Z)
    assert_same_table(back, df)
    # the per-column views decode to the same table (the sampling path)
    assert_same_table(enc.inverse_transform_columns(*enc.transform_columns(df)), df)

    if check_state:
        twin = MixedTypeEncoder.from_state(json.loads(json.dumps(enc.get_state())))
        assert twin.layout_ == enc.layout_
        np.testing.assert_array_equal(twin.get_feature_names_out(), enc.get_feature_names_out())
        np.testing.assert_array_equal(twin.transform(df), Z)
        assert_same_table(twin.inverse_transform(Z), df)
        assert twin.n_features_in_ == enc.n_features_in_
        assert hasattr(twin, "feature_names_in_") == hasattr(enc, "feature_names_in_")

    # the caller's frame is untouched
    assert_frame_equal(df, original, check_exact=True)
    return enc


# ======================================================================== 1. round trip
@pytest.mark.parametrize("point_masses", [None, 0.2])
@pytest.mark.parametrize("numerical_encoding", ["quantile", "minmax"])
@FAST
@given(data=frames())
def test_round_trip_random_frames(data, numerical_encoding, point_masses):
    df, cat, num = data
    roundtrip_checks(
        df, numerical_encoding=numerical_encoding, categorical_columns=cat, numerical_columns=num,
        point_masses=point_masses,
    )


def test_subnormal_values_between_knots_encode_finite():
    # found by hypothesis: knots a subnormal distance apart made np.interp's slope inf and
    # the encoded value of the lower knot nan
    values = [0.0] * 14 + [1.0] * 5 + [2.40054461e-308, 2.22507386e-313]
    df = pd.DataFrame({"x": pd.array(values, dtype="Float64"), "c": ["a"] * 21})
    roundtrip_checks(df, numerical_encoding="quantile", point_masses=None)


def test_point_masses_become_levels_of_the_state_block():
    n = 400
    rng = np.random.default_rng(0)
    gain = np.where(rng.random(n) < 0.8, 0, rng.integers(1000, 5000, n))
    hours = np.where(rng.random(n) < 0.3, 40.0, rng.uniform(10, 80, n))
    hours[:7] = np.nan
    df = pd.DataFrame({"gain": gain, "hours": hours, "x": rng.normal(size=n)})
    enc = MixedTypeEncoder(point_masses=0.25, numerical_encoding="minmax").fit(df)
    states = {s.column: s.labels for s in enc.layout_.discrete_spans}
    assert states == {"gain": ("present", "=0"), "hours": ("present", "missing", "=40.0")}
    # the scale is fitted on the other values: minmax over the non-zero gains
    info = enc.columns_[0]
    assert info["masses"] == [0.0] and info["min"] == gain[gain > 0].min()
    num, codes = enc.transform_columns(df)
    assert (codes[:, 0] == (gain == 0) * 1).all()
    assert ((codes[:, 1] == 1) == np.isnan(hours)).all()
    assert ((codes[:, 1] == 2) == (hours == 40.0)).all()
    assert_frame_equal(enc.inverse_transform_columns(num, codes), df)
    # model outputs: the mass level gives the mass exactly, even outside the scale's range
    # (0 < min of the other gains) -- it is not clipped into it
    u = np.full((3, 3), 0.5)
    out = enc.inverse_transform_columns(u, np.array([[1, 2], [0, 0], [1, 1]]))
    others = gain[gain > 0]
    assert out["gain"].tolist() == [0, round(others.min() + 0.5 * np.ptp(others)), 0]
    assert out["hours"].iloc[0] == 40.0 and np.isnan(out["hours"].iloc[2])
    assert out["gain"].dtype == df["gain"].dtype
    # a column made only of point masses keeps its scale; None turns the feature off
    binary = pd.DataFrame({"b": np.tile([0.0, 1.0], 50)})
    assert MixedTypeEncoder(point_masses=0.25).fit(binary).layout_.discrete_spans == ()
    assert MixedTypeEncoder().fit(df).layout_.discrete_spans[0].labels == ("present", "missing")
    with pytest.raises(ValueError, match="point_masses"):
        MixedTypeEncoder(point_masses=1.5).fit(df)


def test_round_trip_constant_and_single_category_columns():
    df = pd.DataFrame(
        {
            "const_f": [2.5] * 5,
            "const_i": np.full(5, -7, dtype=np.int64),
            "const_d": pd.Series(pd.to_datetime(["2020-02-02"] * 5)),
            "one_cat": pd.Categorical(["u"] * 5),
            "one_obj": ["only"] * 5,
            "one_bool": [True] * 5,
            "const_missing": [1.5, np.nan, 1.5, np.nan, 1.5],
        }
    )
    for encoding in ("quantile", "minmax"):
        enc = roundtrip_checks(df, numerical_encoding=encoding)
        Z = enc.transform(df)
        for s in enc.layout_.numerical_spans:
            assert np.unique(Z[:, s.start]).size == 1  # one point, encoded inside [0, 1]
        assert enc.layout_.cardinalities == (1, 1, 1, 2)


def test_round_trip_single_row_and_custom_index():
    df = pd.DataFrame({"x": [3.25], "k": [4], "c": ["a"]})
    roundtrip_checks(df)
    df = pd.DataFrame(
        {"x": [0.5, 1.5, np.nan, 4.0], "c": ["a", None, "b", "a"]}, index=[10, 3, 3, -1]
    )
    enc = MixedTypeEncoder().fit(df)
    plain = df.reset_index(drop=True)
    np.testing.assert_array_equal(enc.transform(df), enc.transform(plain))
    assert_same_table(enc.inverse_transform(enc.transform(df)), plain)


def test_transform_selects_columns_by_name():
    df = pd.DataFrame({"x": [0.5, 1.5, 2.5], "c": ["a", "b", "a"], "k": [1, 2, 3]})
    enc = MixedTypeEncoder().fit(df)
    shuffled = df[["k", "c", "x"]].assign(extra=[9, 9, 9])
    np.testing.assert_array_equal(enc.transform(shuffled), enc.transform(df))
    # an array of the right width is read by position
    np.testing.assert_array_equal(enc.transform(df.to_numpy(dtype=object)), enc.transform(df))


def test_float32_output_dtype():
    df = pd.DataFrame({"x": np.linspace(-3, 8, 30), "c": list("ab") * 15})
    enc = MixedTypeEncoder(dtype=np.float32).fit(df)
    Z = enc.transform(df)
    assert Z.dtype == np.float32
    back = enc.inverse_transform(Z)
    np.testing.assert_allclose(back["x"], df["x"], atol=1e-5 * 11)
    assert back["c"].tolist() == df["c"].tolist()


# ================================================================ feature names (sklearn)
def test_feature_names_in_only_for_string_named_dataframes():
    X = np.array([[0.5, 1.0], [1.5, 2.0], [2.5, 0.0]])
    enc = MixedTypeEncoder().fit(X)
    assert enc.n_features_in_ == 2
    assert not hasattr(enc, "feature_names_in_")
    np.testing.assert_array_equal(enc.get_feature_names_out(), ["x0", "x1"])
    back = enc.inverse_transform(enc.transform(X))
    assert list(back.columns) == ["x0", "x1"]
    np.testing.assert_allclose(back.to_numpy(), X, rtol=1e-12)
    state = json.loads(json.dumps(enc.get_state()))
    assert not hasattr(MixedTypeEncoder.from_state(state), "feature_names_in_")

    df = pd.DataFrame(X, columns=["a", "b"])
    enc.fit(df)
    assert isinstance(enc.feature_names_in_, np.ndarray)
    assert enc.feature_names_in_.dtype == object
    np.testing.assert_array_equal(enc.feature_names_in_, ["a", "b"])
    state = json.loads(json.dumps(enc.get_state()))
    np.testing.assert_array_equal(MixedTypeEncoder.from_state(state).feature_names_in_, ["a", "b"])

    enc.fit(X)  # refitting on an array removes the names
    assert not hasattr(enc, "feature_names_in_")
    enc.fit(check_frame(X))  # the x0, x1 of a wrapped array are not feature names either
    assert not hasattr(enc, "feature_names_in_")
    enc.fit(pd.DataFrame(X))  # integer column names are not feature names
    assert not hasattr(enc, "feature_names_in_")
    np.testing.assert_array_equal(enc.get_feature_names_out(), ["0", "1"])


def test_object_arrays_are_categorical():
    X = np.array([["a", 1.0], ["b", 2.0], ["a", 3.0]], dtype=object)
    enc = MixedTypeEncoder().fit(X)
    # object-dtype columns are categorical by design, whatever they hold
    assert enc.layout_.n_numerical == 0
    assert enc.layout_.cardinalities == (2, 3)
    np.testing.assert_array_equal(
        enc.get_feature_names_out(), ["x0__a", "x0__b", "x1__1.0", "x1__2.0", "x1__3.0"]
    )
    back = enc.inverse_transform(enc.transform(X))
    assert back.to_numpy().tolist() == X.tolist()
    # forced numerical, the same column is one scalar
    enc = MixedTypeEncoder(numerical_columns=["x1"]).fit(X)
    assert enc.layout_.n_numerical == 1
    back = enc.inverse_transform(enc.transform(X))
    np.testing.assert_allclose(back["x1"].astype(float), X[:, 1].astype(float))


def test_get_feature_names_out():
    df = pd.DataFrame({"age": [23, 45, 31, None], "city": ["Oslo", "Rome", "Oslo", "Rome"]})
    enc = MixedTypeEncoder(numerical_encoding="minmax").fit(df)
    names = enc.get_feature_names_out()
    assert names.dtype == object
    assert names.tolist() == ["age", "age__present", "age__missing", "city__Oslo", "city__Rome"]


# ======================================================================== 2. real datasets
@functools.cache
def _read_dataset(home, name):
    folder = Path(home) / name
    df = pd.read_csv(folder / "data.csv.gz")
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    cats = [c["name"] for c in meta["columns"] if c["type"] == "categorical"]
    return df, cats


def read_dataset(data_home, name):
    df, cats = _read_dataset(str(data_home), name)
    return df.copy(), list(cats)


@pytest.mark.datasets
@pytest.mark.parametrize("numerical_encoding", ["quantile", "minmax"])
@pytest.mark.parametrize("name", DATASET_NAMES)
def test_round_trip_real_dataset(data_home, name, numerical_encoding):
    df, cats = read_dataset(data_home, name)
    enc = roundtrip_checks(
        df,
        categorical_columns=cats,
        numerical_encoding=numerical_encoding,
        check_state=numerical_encoding == "quantile",  # once per dataset is enough
    )
    kinds = {s.column: s.kind for s in enc.layout_.spans if s.kind != "missing"}
    assert {c for c, k in kinds.items() if k == "categorical"} == {str(c) for c in cats}
    assert enc.layout_.n_numerical == df.shape[1] - len(cats)
    for col in cats:  # one output per level, plus one for missing values
        span = next(s for s in enc.layout_.discrete_spans if s.column == col)
        assert span.dim == df[col].nunique() + int(df[col].isna().any())


@pytest.mark.datasets
def test_lending_club_max_categories(data_home):
    df, cats = read_dataset(data_home, "lending_club")
    original = copy.deepcopy(df)
    enc = MixedTypeEncoder(categorical_columns=cats, max_categories=20, random_state=0).fit(df)
    lay = enc.layout_
    # every categorical block is bounded: 19 kept levels + "infrequent" (+ "nan")
    assert all(d <= 21 for d in lay.cardinalities)
    zip_span = next(s for s in lay.discrete_spans if s.column == "zip_code")
    assert zip_span.dim == 20
    assert zip_span.labels[-1] == "infrequent"
    assert lay.width < 120
    top19 = df["zip_code"].value_counts().index[:19]
    assert set(zip_span.labels[:-1]) == set(top19)

    Z = enc.transform(df)
    back = enc.inverse_transform(Z)
    assert_frame_equal(df, original)
    assert list(back.columns) == list(df.columns)
    assert (back.dtypes == df.dtypes).all()
    for col in cats:
        assert set(back[col].dropna()) <= set(df[col].dropna()), col
        np.testing.assert_array_equal(back[col].isna(), df[col].isna())
    # kept levels come back row by row, grouped ones are drawn from their frequencies
    kept = df["zip_code"].isin(top19).to_numpy()
    assert (back["zip_code"][kept] == df["zip_code"][kept]).all()
    assert not back["zip_code"][~kept].isin(top19).any()
    p = df["zip_code"].value_counts(normalize=True)
    q = back["zip_code"].value_counts(normalize=True).reindex(p.index, fill_value=0.0)
    tvd = 0.5 * np.abs(p - q).sum()
    assert tvd < 0.06, tvd
    assert back["zip_code"].nunique() > 200  # the grouped levels are not collapsed onto one
    # numerical columns are untouched by the grouping
    np.testing.assert_allclose(back["annual_inc"], df["annual_inc"], rtol=1e-9)
    # the same seed gives the same draws, another seed other draws
    again = MixedTypeEncoder(categorical_columns=cats, max_categories=20, random_state=0)
    assert_frame_equal(again.fit(df).inverse_transform(Z), back)
    assert_frame_equal(enc.inverse_transform(Z, random_state=0), back)
    other = enc.inverse_transform(Z, random_state=1)
    assert not other["zip_code"].equals(back["zip_code"])
    assert (other["zip_code"][kept] == df["zip_code"][kept]).all()


# ======================================================================== 3. model outputs
def _softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("point_masses", [None, 0.2])
@FAST
@given(data=frames(), seed=st.integers(0, 2**32 - 1))
def test_noise_decodes_into_the_training_range(data, seed, point_masses):
    df, cat, num = data
    enc = MixedTypeEncoder(categorical_columns=cat, numerical_columns=num,
                           point_masses=point_masses).fit(df)
    Z = np.random.default_rng(seed).uniform(-0.5, 1.5, size=(50, enc.layout_.width))
    out = enc.inverse_transform(Z)
    assert list(out.columns) == list(df.columns)
    assert out.shape == (50, df.shape[1])
    numerical = {s.column for s in enc.layout_.numerical_spans}
    for col in df.columns:
        got, ref = out[col], df[col]
        assert got.dtype == ref.dtype, col
        if not ref.isna().any():
            assert not got.isna().any(), col
        got, ref = got.dropna(), ref.dropna()
        if str(col) in numerical:
            assert (got >= ref.min()).all() and (got <= ref.max()).all(), col
            if pd.api.types.is_float_dtype(ref.dtype) and str(col) not in map(str, cat or []):
                continue
            # ints, datetimes and bools only take values of their resolution
            if ref.dtype.kind == "M" or isinstance(ref.dtype, pd.DatetimeTZDtype):
                step = NS[enc.columns_[list(df.columns).index(col)]["unit"]]
                ns = got.dt.tz_convert("UTC").dt.tz_localize(None) if got.dt.tz else got
                assert (ns.astype("datetime64[ns]").astype("int64") % step == 0).all()
        else:
            levels = (
                list(ref.cat.categories)
                if isinstance(ref.dtype, pd.CategoricalDtype)
                else ref.unique().tolist()
            )
            assert set(got.tolist()) <= set(levels), col


def test_model_outputs_on_a_known_table():
    rng = np.random.default_rng(0)
    n = 200
    df = pd.DataFrame(
        {
            "age": rng.integers(18, 91, n),
            "income": rng.lognormal(10, 1, n),
            "children": pd.array(
                np.where(rng.random(n) < 0.2, None, rng.integers(0, 5, n)), dtype="Int64"
            ),
            "when": pd.Series(pd.date_range("2020-01-01", periods=n, freq="D")),
            "city": pd.Categorical(
                rng.choice(["Oslo", "Rome", "Lima"], n), categories=["Oslo", "Rome", "Lima", "Kyiv"]
            ),
            "smoker": rng.random(n) < 0.3,
            "note": rng.choice(["x", "y"], n).astype(object),
        }
    )
    for encoding in ("quantile", "minmax"):
        enc = MixedTypeEncoder(numerical_encoding=encoding).fit(df)
        Z = rng.uniform(-0.5, 1.5, size=(1000, enc.layout_.width))
        out = enc.inverse_transform(Z)
        assert (out.dtypes == df.dtypes).all()
        assert out["age"].between(18, 90).all() and out["age"].nunique() > 20
        assert out["age"].min() >= df["age"].min() and out["age"].max() <= df["age"].max()
        assert out["income"].between(df["income"].min(), df["income"].max()).all()
        assert out["children"].dropna().between(0, 4).all()
        assert out["children"].isna().any() and out["children"].notna().any()
        assert out["when"].between(df["when"].min(), df["when"].max()).all()
        assert (out["when"] == out["when"].dt.normalize()).all()  # whole days, like the data
        assert set(out["city"]) <= {"Oslo", "Rome", "Lima", "Kyiv"}
        assert list(out["city"].cat.categories) == ["Oslo", "Rome", "Lima", "Kyiv"]
        assert set(out["note"]) == {"x", "y"}
        assert out["smoker"].dtype == bool
        # the extremes of the sigmoid range map onto the extremes of the data
        Z_lo = np.zeros((1, enc.layout_.width))
        Z_hi = np.ones((1, enc.layout_.width))
        assert enc.inverse_transform(Z_lo)["age"].item() == df["age"].min()
        assert enc.inverse_transform(Z_hi)["age"].item() == df["age"].max()
        assert enc.inverse_transform(Z_lo - 5)["income"].item() == df["income"].min()
        assert enc.inverse_transform(Z_hi + 5)["income"].item() == df["income"].max()


def test_bools_forced_numerical_decode_model_outputs():
    df = pd.DataFrame(
        {"b": pd.array([True, False, None, True], dtype="boolean"), "c": [True, False] * 2}
    )
    enc = MixedTypeEncoder(numerical_columns=["b", "c"], numerical_encoding="minmax").fit(df)
    assert enc.layout_.n_numerical == 2
    Z = np.zeros((4, enc.layout_.width))
    Z[:, :2] = [[0.2, 0.2], [0.7, 0.7], [-1, -1], [0.49, 0.51]]
    Z[:, 2] = 1  # present
    out = enc.inverse_transform(Z)
    assert out["b"].dtype == "boolean" and out["c"].dtype == bool
    assert out["b"].tolist() == [False, True, False, False]
    assert out["c"].tolist() == [False, True, False, True]


def test_argmax_decoding_of_softmax_blocks():
    df = pd.DataFrame(
        {
            "x": [1.0, np.nan, 3.0, 2.0, 5.0],
            "c": ["p", "q", "r", None, "p"],
            "b": [True, False, True, False, True],
        }
    )
    enc = MixedTypeEncoder().fit(df)
    lay = enc.layout_
    spans = {(s.column, s.kind): s for s in lay.spans}
    rng = np.random.default_rng(1)
    P = rng.uniform(size=(300, lay.width))
    for s in lay.discrete_spans:
        P[:, s.slice] = _softmax(rng.normal(size=(300, s.dim)) * 3)
    out = enc.inverse_transform(P)

    c = spans[("c", "categorical")]
    assert c.labels == ("p", "q", "r", "nan")
    expected = np.array(["p", "q", "r", None], dtype=object)[P[:, c.slice].argmax(axis=1)]
    got = out["c"].to_numpy(dtype=object)
    np.testing.assert_array_equal(pd.isna(got), pd.isna(expected))
    assert (got[~pd.isna(expected)] == expected[~pd.isna(expected)]).all()

    b = spans[("b", "categorical")]
    assert b.labels == ("False", "True")
    np.testing.assert_array_equal(out["b"], P[:, b.slice].argmax(axis=1) == 1)

    m = spans[("x", "missing")]
    np.testing.assert_array_equal(out["x"].isna(), P[:, m.start + 1] > P[:, m.start])
    assert out["x"].isna().any() and out["x"].notna().any()

    # ties (and an all-zero block) go to the first level
    flat = np.zeros((2, lay.width))
    flat[0, c.slice] = 0.25
    assert enc.inverse_transform(flat)["c"].tolist() == ["p", "p"]


# ======================================================================== 4. errors
@pytest.fixture
def table():
    return pd.DataFrame(
        {"x": [0.5, 1.5, 2.5, 3.5], "k": [1, 2, 3, 4], "c": ["a", "b", "a", "b"]}
    )


@pytest.mark.parametrize(
    "X, match",
    [
        (pd.DataFrame({"x": pd.Series([], dtype=float)}), r"no rows.*shape=\(0, 1\)"),
        (pd.DataFrame(index=range(3)), r"no columns.*0 feature\(s\)"),
        (np.empty((4, 0)), r"no columns"),
        (pd.DataFrame([[1, 2], [3, 4]], columns=["a", "a"]), r"duplicate column names: \['a'\]"),
        (pd.DataFrame({1: [1.0, 2.0], "1": [3.0, 4.0]}), r"same once converted to strings"),
        (
            pd.DataFrame({"x": [1.0, 2.0], "dead": [np.nan, np.nan]}),
            r"Column 'dead' has only missing values",
        ),
        (pd.DataFrame({"dead": [None, None], "x": [1, 2]}), r"Column 'dead' has only missing"),
        (pd.DataFrame({"x": [1.0, np.inf, 2.0]}), r"Column 'x' holds infinite values"),
        (pd.DataFrame({"x": [1.0, -np.inf, np.nan]}), r"Column 'x' holds infinite values"),
        (
            pd.DataFrame(np.ones((2, 2)), columns=pd.MultiIndex.from_tuples([("a", 1), ("a", 2)])),
            r"MultiIndex",
        ),
    ],
)
def test_fit_rejects_bad_tables(X, match):
    with pytest.raises(ValueError, match=match):
        MixedTypeEncoder().fit(X)


@pytest.mark.parametrize(
    "X, match",
    [
        (3.0, r"2-D table.*got float"),
        ("a,b\n1,2", r"2-D table.*got str"),
        (None, r"2-D table.*got NoneType"),
        (np.arange(5.0), r"1 dimension\(s\) and shape \(5,\)"),
        (np.zeros((2, 3, 4)), r"3 dimension\(s\)"),
        (pd.Series([1.0, 2.0]), r"got a pandas Series"),
        (sp.csr_matrix(np.eye(3)), r"sparse input is not supported"),
        (pd.DataFrame({"t": pd.to_timedelta([1, 2], unit="s")}), r"Column 't' has timedelta"),
        (pd.DataFrame({"z": [1 + 2j, 3j]}), r"Column 'z' has complex dtype"),
    ],
)
def test_fit_rejects_non_tabular_input(X, match, table):
    with pytest.raises(TypeError, match=match):
        MixedTypeEncoder().fit(X)
    if not isinstance(X, pd.DataFrame):
        enc = MixedTypeEncoder().fit(table)
        with pytest.raises(TypeError, match=match):
            enc.transform(X)


def test_transform_missing_column(table):
    enc = MixedTypeEncoder().fit(table)
    with pytest.raises(ValueError, match=r"Columns \['k'\] were seen at fit but are missing"):
        enc.transform(table.drop(columns="k"))
    with pytest.raises(ValueError, match=r"X has 2 features, but MixedTypeEncoder is expecting 3"):
        enc.transform(table.drop(columns="k").to_numpy(dtype=object))


def test_unknown_category(table):
    new = table.assign(c=["a", "zz", "b", "yy"])
    enc = MixedTypeEncoder().fit(table)
    msg = r"Column 'c' has categories not seen at fit: \['zz', 'yy'\]"
    with pytest.raises(ValueError, match=msg):
        enc.transform(new)
    with pytest.raises(ValueError, match=r"Column 'c' has missing values, but had none"):
        enc.transform(table.assign(c=["a", None, "b", "a"]))

    enc = MixedTypeEncoder(handle_unknown="ignore").fit(table)
    span = enc.layout_.discrete_spans[0]
    Z = enc.transform(new)
    np.testing.assert_array_equal(Z[:, span.slice], [[1, 0], [0, 0], [0, 1], [0, 0]])
    np.testing.assert_array_equal(Z[:, enc.layout_.numerical_slice], enc.transform(table)[:, :2])
    Z = enc.transform(table.assign(c=[None, "a", "b", "a"]))
    np.testing.assert_array_equal(Z[0, span.slice], [0, 0])
    _, codes = enc.transform_columns(new)
    np.testing.assert_array_equal(codes[:, 0], [0, -1, 1, -1])


def test_infinite_and_missing_values_at_transform(table):
    enc = MixedTypeEncoder().fit(table)
    with pytest.raises(ValueError, match=r"Column 'x' holds infinite values"):
        enc.transform(table.assign(x=[0.5, np.inf, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"Column 'x' holds infinite values"):
        enc.transform(table.assign(x=[0.5, -np.inf, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"Column 'x' has 2 missing value\(s\), but had none"):
        enc.transform(table.assign(x=[np.nan, 1.0, np.nan, 2.0]))
    with pytest.raises(ValueError, match=r"Column 'k' has 1 missing value\(s\), but had none"):
        enc.transform(table.assign(k=pd.array([1, None, 2, 3], dtype="Int64")))
    with pytest.raises(ValueError, match=r"Column 'k' is numerical but holds non-numeric"):
        enc.transform(table.assign(k=["1", "two", "3", "4"]))


def test_inverse_transform_wrong_width(table):
    enc = MixedTypeEncoder().fit(table)
    width = enc.layout_.width
    for bad in (np.zeros((3, width + 1)), np.zeros((3, width - 1)), np.zeros(width)):
        with pytest.raises(ValueError, match=rf"Expected an encoded matrix with {width} columns"):
            enc.inverse_transform(bad)


def test_inverse_transform_rejects_nan_and_clips_inf(table):
    enc = MixedTypeEncoder().fit(table)
    Z = enc.transform(table)
    Z[1, 0] = np.nan
    Z[2, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN values .* features \['x', 'c__a'\]"):
        enc.inverse_transform(Z)
    Z = enc.transform(table)
    Z[0, :2] = np.inf
    Z[1, :2] = -np.inf
    back = enc.inverse_transform(Z)
    assert back.loc[0, "x"] == 3.5 and back.loc[0, "k"] == 4
    assert back.loc[1, "x"] == 0.5 and back.loc[1, "k"] == 1


def test_transform_of_an_empty_table_round_trips(table):
    df = table.assign(
        d=pd.to_datetime(["2020-01-01", None, "2020-01-03", "2021-01-01"]).tz_localize("UTC"),
        b=pd.array([True, None, False, True], dtype="boolean"),
        g=pd.Categorical(["u", "v", None, "u"], categories=["v", "u", "w"]),
    )
    enc = MixedTypeEncoder(max_categories=2).fit(df)
    Z = enc.transform(df.iloc[:0])
    assert Z.shape == (0, enc.layout_.width)
    back = enc.inverse_transform(Z)
    assert back.shape == (0, df.shape[1])
    assert (back.dtypes == df.dtypes).all()


def test_column_kind_overrides_are_checked(table):
    with pytest.raises(ValueError, match=r"\['x'\] are listed as both categorical and numerical"):
        MixedTypeEncoder(categorical_columns=["x", "c"], numerical_columns=["x"]).fit(table)
    with pytest.raises(ValueError, match=r"Columns \['nope'\] were given in categorical_columns"):
        MixedTypeEncoder(categorical_columns=["nope"]).fit(table)
    text = table.assign(c=["1.5", "abc", "2", None])
    with pytest.raises(ValueError, match=r"Column 'c' is listed in numerical_columns.*'abc'"):
        MixedTypeEncoder(numerical_columns=["c"]).fit(text)
    # numbers written as text are fine
    enc = MixedTypeEncoder(numerical_columns=["c"]).fit(table.assign(c=["1.5", "-2", "3e2", None]))
    assert enc.layout_.n_numerical == 3


def test_parameter_validation(table):
    with pytest.raises(ValueError, match="numerical_encoding"):
        MixedTypeEncoder(numerical_encoding="rank").fit(table)
    with pytest.raises(ValueError, match="max_categories"):
        MixedTypeEncoder(max_categories=1).fit(table)
    with pytest.raises(ValueError, match="handle_unknown"):
        MixedTypeEncoder(handle_unknown="warn").fit(table)
    with pytest.raises(ValueError, match=r"dtype must be numpy\.float32 or numpy\.float64"):
        MixedTypeEncoder(dtype=np.int32).fit(table)


def test_unfitted_encoder_raises(table):
    from sklearn.exceptions import NotFittedError

    enc = MixedTypeEncoder()
    for call in (
        lambda: enc.transform(table),
        lambda: enc.inverse_transform(np.zeros((1, 3))),
        lambda: enc.get_feature_names_out(),
        lambda: enc.get_state(),
        lambda: enc.encoded_to_columns(np.zeros((1, 3))),
    ):
        with pytest.raises(NotFittedError):
            call()


# ======================================================================== 5. per-column views
@FAST
@given(data=frames(max_rows=25))
def test_per_column_views(data):
    df, cat, num = data
    enc = MixedTypeEncoder(categorical_columns=cat, numerical_columns=num, dtype=np.float32)
    lay = enc.fit(df).layout_
    Z = enc.transform(df)
    numerical, codes = enc.transform_columns(df)
    assert numerical.dtype == np.float32 and codes.dtype == np.int64
    assert numerical.shape == (len(df), lay.n_numerical)
    assert codes.shape == (len(df), len(lay.cardinalities))
    np.testing.assert_array_equal(numerical, Z[:, lay.numerical_slice])
    # every code is a real level of its span, and the active one
    assert (codes >= 0).all()
    assert (codes < np.array(lay.cardinalities, dtype=np.int64)).all()
    for j, s in enumerate(lay.discrete_spans):
        np.testing.assert_array_equal(codes[:, j], Z[:, s.slice].argmax(axis=1))
        np.testing.assert_array_equal(Z[:, s.slice].sum(axis=1), 1.0)
    # the views rebuild the one-hot matrix exactly
    np.testing.assert_array_equal(enc.columns_to_encoded(numerical, codes), Z)
    np.testing.assert_array_equal(enc.columns_to_encoded(*enc.encoded_to_columns(Z)), Z)
    # and the padded gather of the layout reads the same codes
    index, mask = lay.discrete_index()
    if index.size:
        gathered = np.where(mask, Z[:, index], -1.0)
        np.testing.assert_array_equal(gathered.argmax(axis=2), codes)
    # the discrete columns decode from the codes alone
    rebuilt = enc.columns_to_encoded(np.full_like(numerical, 0.5), codes)
    back = enc.inverse_transform(rebuilt)
    for s in lay.discrete_spans:
        col = df.columns[[str(c) for c in df.columns].index(s.column)]
        if s.kind == "categorical":
            assert_same_table(back[[col]], df[[col]])
        else:
            np.testing.assert_array_equal(back[col].isna(), df[col].isna())


def test_per_column_views_on_a_known_table():
    df = pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0, np.nan],
            "c": ["b", "a", "b", "c"],
            "k": [5, 6, 7, 8],
            "f": [True, False, True, True],
        }
    )
    enc = MixedTypeEncoder(numerical_encoding="minmax").fit(df)
    lay = enc.layout_
    assert lay.n_numerical == 2
    assert lay.cardinalities == (2, 3, 2)  # x missing, c, f
    numerical, codes = enc.transform_columns(df)
    np.testing.assert_allclose(numerical[:, 0], [0.0, 0.5, 1.0, 0.5])  # missing -> median
    np.testing.assert_allclose(numerical[:, 1], [0.0, 1 / 3, 2 / 3, 1.0], rtol=1e-6)
    np.testing.assert_array_equal(codes, [[0, 1, 1], [0, 0, 0], [0, 1, 1], [1, 2, 1]])
    with_unknown = np.array([[0, -1, 1]])
    Z = enc.columns_to_encoded(np.array([[0.25, 0.5]]), with_unknown)
    assert Z.dtype == np.float64  # the encoder's dtype
    np.testing.assert_array_equal(Z, [[0.25, 0.5, 1, 0, 0, 0, 0, 0, 1]])
    np.testing.assert_array_equal(enc.encoded_to_columns(Z)[1], with_unknown)


def test_inverse_transform_columns_matches_inverse_transform():
    rng = np.random.default_rng(0)
    levels = [f"l{i:02d}" for i in range(12)]
    df = pd.DataFrame({
        "x": rng.normal(size=300),
        "n": np.where(rng.random(300) < 0.2, np.nan, rng.integers(0, 9, 300)),
        "c": pd.Categorical(rng.choice(levels, 300, p=np.r_[[0.5, 0.3], [0.02] * 10]),
                            categories=[*levels, "never"]),
        "s": rng.choice(["a", "b", None], 300).astype(object),
        "b": rng.random(300) < 0.5,
    })
    enc = MixedTypeEncoder(max_categories=3).fit(df)
    Z = rng.random((500, enc.layout_.width)).astype(np.float32)  # a model's raw outputs
    numerical, codes = enc.encoded_to_columns(Z)
    a = enc.inverse_transform(Z, random_state=1)
    b = enc.inverse_transform_columns(numerical, codes, random_state=1)
    assert_frame_equal(a, b)
    assert b["c"].dtype == df["c"].dtype  # unobserved categories kept
    assert set(b["c"].dropna()) <= set(levels)
    # -1 (an ignored unknown category) decodes as missing
    codes[:, 0] = -1
    out = enc.inverse_transform_columns(numerical, codes)
    assert out[enc.layout_.discrete_spans[0].column].isna().all()


def test_inverse_transform_columns_rejects_bad_views(table):
    enc = MixedTypeEncoder().fit(table)
    numerical, codes = enc.transform_columns(table)
    with pytest.raises(ValueError, match="numerical must have shape"):
        enc.inverse_transform_columns(numerical[:, :1], codes)
    with pytest.raises(ValueError, match="codes must have shape"):
        enc.inverse_transform_columns(numerical, codes[:1])
    with pytest.raises(TypeError, match="codes must hold integers"):
        enc.inverse_transform_columns(numerical, codes.astype(float))
    with pytest.raises(TypeError, match="numerical must hold numbers"):
        enc.inverse_transform_columns(numerical.astype(str), codes)
    bad = codes.copy()
    bad[0, 0] = enc.layout_.cardinalities[0]
    column = enc.layout_.discrete_spans[0].column
    with pytest.raises(ValueError, match=f"column {column!r}.*outside"):
        enc.inverse_transform_columns(numerical, bad)
    nan = numerical.copy()
    nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        enc.inverse_transform_columns(nan, codes)


# ====================================================================== max_categories
def test_max_categories_groups_rare_levels():
    levels = [f"l{i:02d}" for i in range(12)]
    counts = [100, 80, 60, 40, 20, 10, 5, 5, 5, 3, 1, 1]
    values = np.repeat(levels, counts)
    df = pd.DataFrame({"c": np.random.default_rng(0).permutation(values).astype(object)})
    df.loc[[3, 7], "c"] = None
    enc = MixedTypeEncoder(max_categories=4, random_state=3).fit(df)
    span = enc.layout_.discrete_spans[0]
    assert span.labels == ("l00", "l01", "l02", "infrequent", "nan")
    assert enc.get_feature_names_out()[3] == "c__infrequent"
    Z = enc.transform(df)
    rare = ~df["c"].isin(["l00", "l01", "l02"]) & df["c"].notna()
    np.testing.assert_array_equal(Z[:, 3], rare)
    # an "infrequent" output draws a grouped level with the grouped levels' frequencies
    Z_rare = np.zeros((20_000, span.dim))
    Z_rare[:, 3] = 1
    drawn = enc.inverse_transform(Z_rare)["c"]
    freq = drawn.value_counts(normalize=True)
    expected = pd.Series(counts[3:], index=levels[3:]) / sum(counts[3:])
    assert set(freq.index) == set(levels[3:])
    np.testing.assert_allclose(freq.reindex(expected.index), expected, atol=0.02)
    assert enc.inverse_transform(Z_rare, random_state=5).equals(
        enc.inverse_transform(Z_rare, random_state=5)
    )
    # the round trip is exact on the kept levels and on missing values
    back = enc.inverse_transform(Z)
    assert back["c"][~rare].fillna("NA").tolist() == df["c"][~rare].fillna("NA").tolist()
    assert back["c"][rare].isin(levels[3:]).all()
    # and survives the JSON state
    twin = MixedTypeEncoder.from_state(json.loads(json.dumps(enc.get_state())))
    assert_frame_equal(twin.inverse_transform(Z), back)
    # a max_categories above the number of levels changes nothing
    assert MixedTypeEncoder(max_categories=20).fit(df).layout_.cardinalities == (13,)


# scikit-learn's estimator checks for the encoder live in tests/test_common.py.
