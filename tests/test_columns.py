"""Tests of the per-column encoders (skmixsynth._columns) and of the encoder built on them."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from skmixsynth import (
    CategoricalColumn,
    DatetimeColumn,
    MixedTypeEncoder,
    NumericalColumn,
)
from skmixsynth._columns import (
    EncoderSettings,
    NumericalSummary,
    column_encoder_class,
    column_encoder_from_dict,
    default_column_encoder,
)
from skmixsynth._validation import column_kind

SETTINGS = EncoderSettings()
RNG = np.random.RandomState(0)


def fit(col, series, **settings):
    return col.fit(series, name="col", settings=EncoderSettings(**settings))


def round_trip(col, series):
    """encode -> decode gives the series back; so does the JSON twin."""
    numerical, codes = col.encode(series)
    assert numerical.dtype == np.float64 and codes.dtype == np.int64
    assert numerical.shape == (len(series), col.n_numerical)
    assert codes.shape == (len(series), 0 if col.discrete_labels is None else 1)
    assert_series_equal(col.decode(numerical, codes, RNG), series, check_names=False)
    twin = column_encoder_from_dict(json.loads(json.dumps(col.to_dict())))
    assert type(twin) is type(col)
    assert twin.discrete_labels == col.discrete_labels
    assert_series_equal(twin.decode(numerical, codes, RNG), series, check_names=False)
    np.testing.assert_array_equal(twin.encode(series)[0], numerical)
    return numerical, codes


# ----------------------------------------------------------------------- numerical
@pytest.mark.parametrize("encoding", ["quantile", "minmax"])
def test_numerical_column_round_trip(encoding):
    s = pd.Series([3.5, np.nan, 0.25, 7.0, 0.25])
    col = fit(NumericalColumn(), s, numerical_encoding=encoding)
    assert col.type_name == "numerical" and col.n_numerical == 1
    assert col.state_.encoding == encoding
    assert col.discrete_labels == ("present", "missing")
    numerical, codes = round_trip(col, s)
    assert codes.ravel().tolist() == [0, 1, 0, 0, 0]
    assert ((numerical >= 0) & (numerical <= 1)).all()
    # the column's own encoding overrides the encoder's
    assert fit(NumericalColumn(encoding="minmax"), s).state_.quantiles is None
    forced = fit(NumericalColumn(encoding="quantile"), s, numerical_encoding="minmax")
    assert forced.state_.encoding == "quantile"


def test_numerical_column_point_masses_and_integers():
    s = pd.Series([0, 0, 0, 5, 9, 0, 0, 12])
    col = fit(NumericalColumn(), s, point_masses=0.5)
    assert col.state_.masses == (0.0,) and col.state_.integer
    assert col.discrete_labels == ("present", "=0")
    _, codes = round_trip(col, s)
    assert codes.ravel().tolist() == [1, 1, 1, 0, 0, 1, 1, 0]
    # model outputs: rounded into the range of the values on the scale
    out = col.decode(np.array([[0.01], [0.99]]), np.array([[0], [0]]), RNG)
    assert out.tolist() == [5, 12] and out.dtype == np.int64


def test_numerical_state_is_frozen():
    col = fit(NumericalColumn(), pd.Series([1.0, 2.0, 3.0]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        col.state_.minimum = 0.0
    with pytest.raises(ValueError, match="read-only"):
        col.state_.quantiles[0] = 0.0


def test_numerical_column_errors_name_the_column():
    with pytest.raises(ValueError, match=r"Column 'col' holds infinite values"):
        fit(NumericalColumn(), pd.Series([1.0, np.inf]))
    with pytest.raises(ValueError, match=r"Column 'col' has only missing values"):
        fit(NumericalColumn(), pd.Series([np.nan, np.nan]))
    with pytest.raises(TypeError, match=r"Column 'col' holds datetimes; .*DatetimeColumn"):
        fit(NumericalColumn(), pd.Series(pd.to_datetime(["2020-01-01"])))
    with pytest.raises(ValueError, match=r"encoding of NumericalColumn must be 'quantile' or "
                                         r"'minmax'; got 'rank'"):
        fit(NumericalColumn(encoding="rank"), pd.Series([1.0]))
    col = fit(NumericalColumn(), pd.Series([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"Column 'col' has 1 missing value\(s\), but had none"):
        col.encode(pd.Series([1.0, np.nan]))
    with pytest.raises(ValueError, match=r"Column 'col' is numerical but holds non-numeric .*'x'"):
        col.encode(pd.Series(["1", "x"]))


@pytest.mark.parametrize("encoding", ["quantile", "minmax"])
def test_fit_summary_gives_the_same_column_as_fit(encoding):
    rng = np.random.default_rng(0)
    values = np.where(rng.random(300) < 0.1, np.nan, rng.gamma(2.0, size=300))
    values[rng.random(300) < 0.3] = 0.0
    s = pd.Series(values)
    col = fit(NumericalColumn(), s, numerical_encoding=encoding, point_masses=0.2)
    summary = NumericalSummary.from_values(values, encoding=encoding, point_masses=0.2)
    other = NumericalColumn().fit_summary(summary, name="col", dtype=s.dtype)
    assert other.to_dict() == col.to_dict()
    # without a fill, the scaled middle knot (or 0.5) stands in for the median
    rough = dataclasses.replace(summary, fill=None)
    approx = NumericalColumn().fit_summary(rough, name="col", dtype=s.dtype)
    assert abs(approx.state_.fill - col.state_.fill) < 0.05 or encoding == "minmax"
    assert 0.0 <= approx.state_.fill <= 1.0


@pytest.mark.filterwarnings("ignore:Could not infer format")
def test_datetime_column_round_trip_with_a_time_zone():
    s = pd.Series(pd.to_datetime(["2021-03-01 10:00", None, "2021-03-04 16:00"]))
    s = s.dt.tz_localize("UTC").dt.tz_convert("Europe/Paris")
    col = fit(DatetimeColumn(), s)
    assert col.state_.unit == "h" and col.type_name == "datetime"
    assert col.to_dict()["origin"] == pd.Timestamp("2021-03-01 10:00", tz="UTC").value
    round_trip(col, s)
    with pytest.raises(ValueError, match=r"Column 'col' should hold datetimes"):
        col.encode(pd.Series(["not a date", "2020-01-01", None]))


# ----------------------------------------------------------------------- categorical
def test_categorical_column_round_trip_and_labels():
    s = pd.Series(["b", np.nan, "a", "b"], dtype=object)
    col = fit(CategoricalColumn(), s)
    assert col.type_name == "categorical" and col.n_numerical == 0
    assert col.discrete_labels == ("a", "b", "nan")
    _, codes = round_trip(col, s)
    assert codes.ravel().tolist() == [1, 2, 0, 1]


def test_categorical_column_keeps_a_category_dtype():
    dtype = pd.CategoricalDtype(["z", "y", "x"], ordered=True)
    s = pd.Series(pd.Categorical(["y", "x", "y"], dtype=dtype))
    col = fit(CategoricalColumn(), s)
    assert col.discrete_labels == ("z", "y", "x")  # unused categories keep their level
    round_trip(col, s)
    with pytest.raises(dataclasses.FrozenInstanceError):
        col.state_.levels = ()


def test_categorical_column_max_categories_and_unknowns():
    s = pd.Series(list("aaaabbbcd"), dtype=object)
    col = fit(CategoricalColumn(), s, max_categories=3)
    assert col.discrete_labels == ("a", "b", "infrequent")
    assert col.state_.grouped == ("c", "d") and col.state_.grouped_p == (0.5, 0.5)
    _, codes = col.encode(pd.Series(["c", "a", "d"]))
    assert codes.ravel().tolist() == [2, 0, 2]
    drawn = col.decode(np.empty((1000, 0)), np.full((1000, 1), 2), np.random.RandomState(0))
    assert set(drawn) == {"c", "d"}
    with pytest.raises(ValueError, match=r"Column 'col' has categories not seen at fit: \['q'\]"):
        col.encode(pd.Series(["q"]))
    assert col.encode(pd.Series(["q"]), handle_unknown="ignore")[1].ravel().tolist() == [-1]


def test_bool_column_is_categorical():
    s = pd.Series([True, False, True])
    assert column_kind(s, name="b") == "categorical"
    col = fit(default_column_encoder("categorical"), s)
    assert col.discrete_labels == ("False", "True")
    round_trip(col, s)


# ----------------------------------------------------------------------- registry
def test_registry_and_unknown_types():
    assert column_encoder_class("numerical") is NumericalColumn
    assert column_encoder_class("datetime") is DatetimeColumn
    assert column_encoder_class("categorical") is CategoricalColumn
    with pytest.raises(ValueError, match=r"Unknown column encoder type 'ordinal'"):
        column_encoder_from_dict({"type": "ordinal", "name": "x"})
    assert isinstance(default_column_encoder("numerical"), NumericalColumn)
    with pytest.raises(ValueError, match="Unknown column kind"):
        default_column_encoder("text")


# ----------------------------------------------------------------------- the encoder
def test_encoder_holds_one_column_encoder_per_column():
    df = pd.DataFrame({
        "x": [0.5, 1.5, np.nan], "c": ["a", "b", "a"], "d": pd.to_datetime(["2020-01-01"] * 3),
    })
    enc = MixedTypeEncoder().fit(df)
    assert [type(c) for c in enc.column_encoders_] == [
        NumericalColumn, CategoricalColumn, DatetimeColumn]
    assert [c.name_ for c in enc.column_encoders_] == ["x", "c", "d"]
    assert enc.columns_[0] == enc.column_encoders_[0].to_dict()
    state = enc.get_state()
    assert state["version"] == 2
    assert [c["type"] for c in state["columns"]] == ["numerical", "categorical", "datetime"]


def test_transform_columns_does_not_build_the_one_hot_matrix(monkeypatch):
    df = pd.DataFrame({"x": [1.0, 2.0, np.nan], "c": ["b", "a", "b"]})
    enc = MixedTypeEncoder().fit(df)
    expected = enc.encoded_to_columns(enc.transform(df))

    def forbidden(*args, **kwargs):
        raise AssertionError("transform_columns built the one-hot matrix")

    monkeypatch.setattr(enc, "columns_to_encoded", forbidden)
    monkeypatch.setattr(enc, "transform", forbidden)
    numerical, codes = enc.transform_columns(df)
    np.testing.assert_array_equal(numerical, expected[0])
    np.testing.assert_array_equal(codes, expected[1])


# A state written by skmixsynth 0.1 (version 1: string-keyed column dicts), for this table.
V1_STATE = {
    "params": {"categorical_columns": None, "dtype": "float64", "handle_unknown": "error",
               "max_categories": 2, "n_quantiles": 3, "numerical_columns": None,
               "numerical_encoding": "quantile", "point_masses": 0.4, "random_state": 0},
    "columns": [
        {"name": "x", "kind": "numerical", "dtype": {"name": "float64"}, "masses": [],
         "min": 0.5, "max": 2.5, "has_missing": True, "integer": False,
         "quantiles": [0.5, 1.0, 2.5], "fill": 0.5},
        {"name": "c", "kind": "categorical", "dtype": {"name": "category"},
         "categories": ["a", "b", "z"], "kept": ["a"], "rare": ["b", "z"], "rare_p": [1.0, 0.0],
         "has_missing": True, "ordered": False},
        {"name": "k", "kind": "numerical", "dtype": {"name": "int64"}, "masses": [], "min": 1.0,
         "max": 4.0, "has_missing": False, "integer": True, "quantiles": [1.0, 2.5, 4.0],
         "fill": 0.5},
        {"name": "d", "kind": "datetime", "dtype": {"name": "datetime64[ns]"},
         "origin": 1577836800000000000, "unit": "D", "masses": [0.0], "min": 1.0, "max": 2.0,
         "has_missing": False, "integer": True, "quantiles": [1.0, 2.0], "fill": 0.5},
    ],
    "names_are_str": True,
}


def test_a_version_1_state_still_loads():
    df = pd.DataFrame({
        "x": [0.5, np.nan, 2.5, 1.0],
        "c": pd.Categorical(["a", "b", None, "a"], categories=["a", "b", "z"]),
        "k": [1, 2, 3, 4],
        "d": pd.to_datetime(["2020-01-01", "2020-01-03", "2020-01-02", "2020-01-01"]),
    })
    old = MixedTypeEncoder.from_state(json.loads(json.dumps(V1_STATE)))
    new = MixedTypeEncoder(n_quantiles=3, max_categories=2, point_masses=0.4,
                           random_state=0).fit(df)
    assert old.layout_ == new.layout_
    np.testing.assert_array_equal(old.transform(df), new.transform(df))
    assert_frame_equal(old.inverse_transform_columns(*old.transform_columns(df)),
                       new.inverse_transform_columns(*new.transform_columns(df)))
    future = dict(new.get_state(), version=99)
    with pytest.raises(ValueError, match="version 99"):
        MixedTypeEncoder.from_state(future)


# ----------------------------------------------------------------------- encode_partial
@pytest.fixture
def conditioned():
    df = pd.DataFrame({
        "x": [1.0, 2.0, 5.0, np.nan, 3.0, 4.0],
        "k": [0, 0, 0, 7, 9, 0],
        "c": ["a", "b", "a", None, "b", "a"],
        "g": pd.Categorical(list("uuuvwu")),
        "d": pd.to_datetime(["2020-01-01", "2020-01-05", "2020-01-02", "2020-01-03",
                             "2020-01-01", "2020-01-04"]),
        "f": [True, False, True, True, False, True],
    })
    enc = MixedTypeEncoder(numerical_encoding="minmax", point_masses=0.5, max_categories=2)
    return df, enc.fit(df)


def test_encode_partial_of_a_dict_is_one_row(conditioned):
    _, enc = conditioned
    lay = enc.layout_
    numerical, codes = enc.encode_partial({"c": "b", "x": 2.0})
    assert numerical.dtype == np.float64 and codes.dtype == np.int64
    assert numerical.shape == (1, lay.n_numerical)
    assert codes.shape == (1, len(lay.discrete_spans))
    expected_num = np.full((1, lay.n_numerical), np.nan)
    expected_num[0, lay.numerical_position("x")] = 0.25
    np.testing.assert_array_equal(numerical, expected_num)
    expected = np.full((1, len(lay.discrete_spans)), -1)
    expected[0, lay.discrete_position("c")] = 1
    expected[0, lay.discrete_position("x")] = 0  # present
    np.testing.assert_array_equal(codes, expected)


def test_encode_partial_agrees_with_transform_columns_on_the_given_columns(conditioned):
    df, enc = conditioned
    lay = enc.layout_
    given = ["x", "c", "g", "d", "f", "k"]
    numerical, codes = enc.encode_partial(df[given])
    full_num, full_codes = enc.transform_columns(df)
    np.testing.assert_array_equal(codes, full_codes)  # every discrete span is fixed
    # the scale is fixed only where it is used: not for missing values or point masses
    on_scale = np.ones_like(numerical, dtype=bool)
    on_scale[:, lay.numerical_position("x")] = df["x"].notna()
    on_scale[:, lay.numerical_position("k")] = df["k"] != 0
    np.testing.assert_array_equal(np.isnan(numerical), ~on_scale)
    np.testing.assert_array_equal(numerical[on_scale], full_num[on_scale])
    # a subset fixes only its own slots
    numerical, codes = enc.encode_partial(df[["g"]])
    assert np.isnan(numerical).all()
    free = np.ones(len(lay.discrete_spans), dtype=bool)
    free[lay.discrete_position("g")] = False
    assert (codes[:, free] == -1).all()
    assert (codes[:, ~free] >= 0).all()


def test_encode_partial_point_masses_missing_values_and_groups(conditioned):
    _, enc = conditioned
    lay = enc.layout_
    numerical, codes = enc.encode_partial(pd.DataFrame({"k": [0, 7], "x": [np.nan, 4.0]}))
    k, x = lay.numerical_position("k"), lay.numerical_position("x")
    assert np.isnan(numerical[0, k]) and numerical[1, k] == 0.0
    assert np.isnan(numerical[0, x]) and numerical[1, x] == 0.75
    kd, xd = lay.discrete_position("k"), lay.discrete_position("x")
    assert codes[:, kd].tolist() == [1, 0]  # "=0", present
    assert codes[:, xd].tolist() == [1, 0]  # missing, present
    # a level grouped by max_categories gets the shared code
    assert lay.discrete_spans[lay.discrete_position("g")].labels == ("u", "infrequent")
    assert enc.encode_partial({"g": "w"})[1][0, lay.discrete_position("g")] == 1
    assert enc.encode_partial({"c": None})[1][0, lay.discrete_position("c")] == 2
    # datetimes as timestamps or strings
    d = enc.encode_partial({"d": pd.Timestamp("2020-01-03")})[0][0, lay.numerical_position("d")]
    assert d == 0.5
    assert enc.encode_partial({"d": "2020-01-03"})[0][0, lay.numerical_position("d")] == 0.5


@pytest.mark.parametrize("X, match", [
    ({"nope": 1}, r"Columns \['nope'\] were not seen at fit"),
    ({"c": "zz"}, r"Column 'c' has no level 'zz' to condition on; its levels are \['a', 'b'\]"),
    ({"f": 1}, r"Column 'f' has no level 1"),
    ({"g": None}, r"Column 'g' had no missing values at fit"),
    ({"k": np.nan}, r"Column 'k' had no missing values at fit"),
    ({"k": 8.5}, r"Column 'k' cannot be conditioned on 8.5: .*training range \[7.0, 9.0\], "
                 r"in whole units"),
    ({"x": 9.0}, r"Column 'x' cannot be conditioned on 9.0: .*training range \[1.0, 5.0\]"),
    ({"x": "nine"}, r"Column 'x' is numerical but holds non-numeric values such as 'nine'"),
    ({"x": np.inf}, r"Column 'x' cannot be conditioned on an infinite value"),
    ({"d": "2020-02-01"}, r"Column 'd' cannot be conditioned on '2020-02-01'.*2020-01-05"),
    ({"d": "2020-01-02 12:00"}, r"Column 'd' cannot be conditioned on '2020-01-02 12:00'"),
])
def test_encode_partial_errors_name_the_column_and_the_value(conditioned, X, match):
    _, enc = conditioned
    with pytest.raises(ValueError, match=match):
        enc.encode_partial(X)


def test_encode_partial_ignores_handle_unknown_and_checks_its_input(conditioned):
    df, _ = conditioned
    enc = MixedTypeEncoder(handle_unknown="ignore").fit(df)
    with pytest.raises(ValueError, match=r"Column 'c' has no level 'zz'"):
        enc.encode_partial({"c": "zz"})
    with pytest.raises(TypeError, match=r"a DataFrame or a dict.*got list"):
        enc.encode_partial([("c", "a")])
    # a dict of sequences is several rows
    assert enc.encode_partial({"c": ["a", "b", "a"]})[1].shape[0] == 3
    # nothing given: nothing fixed
    numerical, codes = enc.encode_partial(pd.DataFrame(index=range(2)))
    assert np.isnan(numerical).all() and (codes == -1).all() and codes.shape[0] == 2


# ----------------------------------------------------------------------- min_count
def _leaky_table(n=400, seed=0):
    rng = np.random.default_rng(seed)
    income = np.round(rng.lognormal(10, 0.5, n), 2)
    income[17] = 987654321.5  # one person's outlier
    when = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    when = pd.Series(when)
    when[5] = pd.Timestamp("1901-02-03")  # one person's outlier date
    return pd.DataFrame({
        "email": [f"person{i}@mail.example" for i in range(n)],
        "income": income,
        "city": rng.choice(["Oslo", "Rome", "Lima"], n),
        "when": when,
    })


def _decoded_samples(enc, n=3000, seed=0):
    rng = np.random.default_rng(seed)
    lay = enc.layout_
    numerical = rng.uniform(-0.5, 1.5, (n, lay.n_numerical))
    numerical[:50] = 0.0
    numerical[50:100] = 1.0
    codes = np.zeros((n, len(lay.cardinalities)), dtype=np.int64)
    for j, d in enumerate(lay.cardinalities):
        codes[:, j] = rng.integers(0, d, n)
    return enc.inverse_transform_columns(numerical, codes, random_state=seed)


@pytest.mark.parametrize("encoding", ["quantile", "minmax"])
def test_rare_values_never_leave_the_training_table(encoding):
    df = _leaky_table()
    enc = MixedTypeEncoder(categorical_columns=["email"], numerical_encoding=encoding,
                           min_count=5, random_state=0).fit(df)
    text = json.dumps(enc.get_state())
    assert "@mail.example" not in text and "person" not in text
    assert "987654321" not in text and "9.87654321" not in text
    assert str(pd.Timestamp("1901-02-03").value) not in text
    assert enc.layout_.discrete_spans[0].labels == ("_RARE_",)  # the email span
    for out in (_decoded_samples(enc), enc.inverse_transform(enc.transform(df))):
        assert set(out["email"]) == {"_RARE_"}
        assert out["income"].max() < 1e6
        assert out["when"].min() >= pd.Timestamp("2020-01-01")
        assert set(out["city"]) <= {"Oslo", "Rome", "Lima"}
    # without protection the state holds them all (the leak this guards against)
    plain = json.dumps(MixedTypeEncoder(categorical_columns=["email"]).fit(df).get_state())
    assert "person0@mail.example" in plain and "987654321.5" in plain


def test_protected_numerical_state_holds_no_single_persons_value():
    rng = np.random.default_rng(1)
    values = rng.normal(size=200).round(6)
    k = 5
    enc = MixedTypeEncoder(min_count=k, n_quantiles=1000).fit(pd.DataFrame({"x": values}))
    st = enc.column_encoders_[0].state_
    ordered = np.sort(values)
    # the bounds are means of the ranks k..2k-1 from either end: no training value, and
    # the k - 1 most extreme values do not move them
    assert st.minimum == pytest.approx(ordered[k - 1:2 * k - 1].mean())
    assert st.maximum == pytest.approx(ordered[-2 * k + 1:len(ordered) - k + 1].mean())
    assert not np.isin([st.minimum, st.maximum], values).any()
    clipped = np.clip(values, st.minimum, st.maximum)
    # 200 // 5 = 40 disjoint groups of 5 sorted values
    assert st.quantiles.size == 40
    np.testing.assert_allclose(st.quantiles, np.sort(clipped).reshape(40, 5).mean(axis=1))
    for v in [*st.quantiles, st.minimum, st.maximum]:
        assert (clipped == v).sum() >= k or not np.isin(v, values), v
    # decoded values stay in the clipped range
    out = _decoded_samples(enc)["x"]
    assert out.between(st.minimum, st.maximum).all()
    # values beyond the range encode like the bounds (minmax clips too)
    mm = MixedTypeEncoder(min_count=k, numerical_encoding="minmax").fit(pd.DataFrame({"x": values}))
    Z = mm.transform(pd.DataFrame({"x": [ordered[0], ordered[-1]]}))
    np.testing.assert_array_equal(Z[:, 0], [0.0, 1.0])


def test_protected_point_masses_need_min_count_rows():
    df = pd.DataFrame({"g": [0] * 6 + list(range(100, 124))})  # 0 held by 6 of 30 rows
    assert MixedTypeEncoder(point_masses=0.1, min_count=5).fit(df).layout_.cardinalities == (2,)
    assert MixedTypeEncoder(point_masses=0.1, min_count=7).fit(df).layout_.cardinalities == ()


def test_a_protected_column_with_few_values_collapses_to_their_mean():
    df = pd.DataFrame({"x": [1.0, 2.0, 6.0, np.nan], "k": pd.array([1, 2, 4, 4], dtype="Int64")})
    enc = MixedTypeEncoder(min_count=5).fit(df)
    out = _decoded_samples(enc, n=50)
    assert set(out["x"].dropna()) == {3.0}
    assert set(out["k"].dropna()) == {3}  # a whole number, like the column's values
    assert out["k"].dtype == "Int64"


def test_protected_categorical_levels_by_dtype():
    rng = np.random.default_rng(0)
    common = rng.choice(["a", "b"], 60).tolist()
    df = pd.DataFrame({
        "obj": [*common, "rare1", "rare2"],
        "str": pd.Series([*common, "rare1", "rare2"], dtype="string"),
        "cat": pd.Categorical([*common, "rare1", "rare2"], categories=["b", "a", "rare1",
                                                                          "rare2", "unused"]),
        "code": [1, 2] * 30 + [77, 78],
        "flag": [True] * 61 + [False],
    })
    enc = MixedTypeEncoder(categorical_columns=["code"], min_count=3).fit(df)
    text = json.dumps(enc.get_state())
    for secret in ("rare1", "rare2", "unused", "77", "78"):
        assert secret not in text, secret
    assert enc.layout_.cardinalities == (3, 3, 3, 3, 2)
    assert enc.layout_.discrete_spans[0].labels == ("a", "b", "_RARE_")
    back = enc.inverse_transform(enc.transform(df))
    rare = np.arange(len(df)) >= 60
    assert back["obj"][rare].tolist() == ["_RARE_", "_RARE_"]
    assert back["str"][rare].tolist() == ["_RARE_", "_RARE_"] and back["str"].dtype == "string"
    assert list(back["cat"].cat.categories) == ["b", "a", "_RARE_"]
    assert back["cat"][rare].tolist() == ["_RARE_", "_RARE_"]
    # a dtype that cannot hold a string gets a missing value (and the dtype that holds it)
    assert back["code"][rare].isna().all() and back["code"].dtype == np.float64
    assert back["code"][~rare].tolist() == df["code"][~rare].tolist()
    assert back["flag"].isna().tolist() == [False] * 61 + [True]
    # the same dtype whatever the sample
    assert _decoded_samples(enc, n=5)["code"].dtype == np.float64
    # transform cannot tell a protected level from a new one: both share its code
    _, codes = enc.transform_columns(df.assign(obj=["new"] * len(df)))
    assert (codes[:, 0] == 2).all()
    with pytest.raises(ValueError, match=r"Column 'obj' has no level 'rare1'"):
        enc.encode_partial({"obj": "rare1"})
    with pytest.raises(ValueError, match=r"Column 'code' has no level 77"):
        enc.encode_partial({"code": 77})


def test_max_categories_keeps_and_draws_only_levels_seen_min_count_times():
    counts = {"l0": 50, "l1": 40, "l2": 30, "l3": 10, "l4": 6, "r1": 2, "r2": 1, "r3": 1}
    df = pd.DataFrame({"c": np.repeat(list(counts), list(counts.values())).astype(object)})
    enc = MixedTypeEncoder(max_categories=3, min_count=5, random_state=0).fit(df)
    col = enc.column_encoders_[0]
    assert col.discrete_labels == ("l0", "l1", "infrequent")
    assert col.state_.grouped == ("l2", "l3", "l4") and col.state_.protected
    np.testing.assert_allclose(col.state_.grouped_p, np.array([30, 10, 6, 4]) / 50)
    drawn = col.decode(np.empty((20_000, 0)), np.full((20_000, 1), 2), np.random.RandomState(0))
    freq = drawn.value_counts(normalize=True)
    assert set(freq.index) == {"l2", "l3", "l4", "_RARE_"}
    assert abs(freq["_RARE_"] - 0.08) < 0.01
    assert "r1" not in json.dumps(enc.get_state())
    # the grouped levels are still recognised; protected ones fall in the same bucket
    _, codes = enc.transform_columns(pd.DataFrame({"c": ["l3", "r1", "l0"]}))
    assert codes.ravel().tolist() == [2, 2, 0]


def test_min_count_is_validated_and_none_changes_nothing():
    df = _leaky_table(60)
    with pytest.raises(ValueError, match="min_count"):
        MixedTypeEncoder(min_count=0).fit(df)
    a = MixedTypeEncoder().fit(df)
    b = MixedTypeEncoder(min_count=None).fit(df)
    assert a.get_state()["columns"] == b.get_state()["columns"]
    # min_count=1 protects nothing categorical
    one = MixedTypeEncoder(min_count=1).fit(df)
    assert one.layout_.cardinalities == a.layout_.cardinalities


# ----------------------------------------------------------------------- identifiers
class StandInIdentifierColumn:
    """A tiny stand-in for skmixsynth._protection.IdentifierColumn (the same protocol)."""

    type_name = "identifier"
    n_numerical = 0
    discrete_labels = None

    def fit(self, series, *, name, settings):
        self.name = name
        self.prefix = "id-"
        return self

    def encode(self, series):
        n = len(series)
        return np.empty((n, 0)), np.empty((n, 0), dtype=np.int64)

    def decode(self, numerical, codes, rng):
        return pd.Series([f"{self.prefix}{i}" for i in range(numerical.shape[0])], dtype=object)

    def to_dict(self):
        return {"type": self.type_name, "name": self.name, "prefix": self.prefix}

    @classmethod
    def from_dict(cls, data):
        col = cls()
        col.name, col.prefix = data["name"], data["prefix"]
        return col


@pytest.fixture
def stand_in_protection(monkeypatch):
    """skmixsynth._protection replaced by a stand-in module (PROT writes the real one)."""
    import sys
    import types

    module = types.ModuleType("skmixsynth._protection")
    module.IdentifierColumn = StandInIdentifierColumn
    module.looks_like_identifier = lambda s: s.nunique() == len(s) and s.dtype == object
    monkeypatch.setitem(sys.modules, "skmixsynth._protection", module)
    return module


@pytest.fixture
def with_ids():
    return pd.DataFrame({
        "email": [f"p{i}@x.org" for i in range(8)],
        "code": [f"c{i}" for i in range(8)],
        "x": np.arange(8.0),
        "c": list("abababab"),
    })


def test_identifier_columns_decode_to_fresh_values(stand_in_protection, with_ids):
    with pytest.warns(UserWarning, match=r"Column 'email' looks like an identifier.*"
                                         r"fresh ones.*identifiers='fresh'"):
        enc = MixedTypeEncoder(identifiers="fresh", categorical_columns=["code"]).fit(with_ids)
    assert [type(c).__name__ for c in enc.column_encoders_] == [
        "StandInIdentifierColumn", "CategoricalColumn", "NumericalColumn", "CategoricalColumn"]
    assert enc.layout_.column_spans("email") == ()  # no span: the model never sees it
    assert not any(n.startswith("email") for n in enc.get_feature_names_out())
    back = enc.inverse_transform(enc.transform(with_ids))
    assert list(back.columns) == list(with_ids.columns)
    assert back["email"].tolist() == [f"id-{i}" for i in range(8)]
    assert_frame_equal(back.drop(columns="email"), with_ids.drop(columns="email"))
    # through the JSON state, the registry finds the identifier class
    twin = MixedTypeEncoder.from_state(json.loads(json.dumps(enc.get_state())))
    assert type(twin.column_encoders_[0]) is StandInIdentifierColumn
    assert_frame_equal(twin.inverse_transform(enc.transform(with_ids)), back)
    # transform does not need the column; conditions cannot use it
    np.testing.assert_array_equal(enc.transform(with_ids.drop(columns="email")),
                                  enc.transform(with_ids))
    with pytest.raises(ValueError, match=r"Column 'email' cannot be a condition"):
        enc.encode_partial({"email": "p1@x.org"})


def test_identifier_columns_dropped(stand_in_protection, with_ids):
    with pytest.warns(UserWarning) as record:
        enc = MixedTypeEncoder(identifiers="drop").fit(with_ids)
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2
    assert messages[0].startswith("Column 'code' looks like an identifier")
    assert "left out of the decoded tables (identifiers='drop')" in messages[1]
    assert [c["type"] for c in enc.get_state()["columns"]] == ["drop", "drop", "numerical",
                                                               "categorical"]
    back = enc.inverse_transform(enc.transform(with_ids))
    assert list(back.columns) == ["x", "c"]
    assert_frame_equal(back, with_ids[["x", "c"]])
    assert enc.n_features_in_ == 4
    twin = MixedTypeEncoder.from_state(json.loads(json.dumps(enc.get_state())))
    assert list(twin.inverse_transform(enc.transform(with_ids[["x", "c"]])).columns) == ["x",
                                                                                          "c"]


def test_identifiers_none_detects_nothing(stand_in_protection, with_ids):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc = MixedTypeEncoder().fit(with_ids)
    assert enc.layout_.discrete_position("email") is not None
    with pytest.raises(ValueError, match="identifiers"):
        MixedTypeEncoder(identifiers="hash").fit(with_ids)


# ----------------------------------------------------------------------- column_encoders
@pytest.fixture
def people():
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "age": rng.integers(18, 90, 50),
        "income": rng.lognormal(10, 1, 50),
        "zip": rng.choice([1000, 2000, 3000], 50),
        "when": pd.Series(pd.date_range("2020-01-01", periods=50, freq="D")),
        "city": rng.choice(["Oslo", "Rome"], 50),
    })


def test_column_encoders_choose_the_encoding_of_named_columns(people):
    original = NumericalColumn(encoding="minmax")
    enc = MixedTypeEncoder(column_encoders=[
        ("scaled", original, ["age"]),
        ("codes", "categorical", "zip"),
        ("dates", "minmax", ["when"]),
    ]).fit(people)
    kinds = [type(c).__name__ for c in enc.column_encoders_]
    assert kinds == ["NumericalColumn", "NumericalColumn", "CategoricalColumn", "DatetimeColumn",
                     "CategoricalColumn"]
    age, income = enc.column_encoders_[:2]
    assert age.state_.encoding == "minmax" and income.state_.encoding == "quantile"
    assert enc.column_encoders_[3].state_.encoding == "minmax"
    assert not hasattr(original, "state_")  # the user's instance is copied, never fitted
    assert set(enc.named_encoders_) == {"scaled", "codes", "dates"}
    assert enc.named_encoders_.scaled == [age]
    assert enc.named_encoders_["codes"][0].discrete_labels == ("1000", "2000", "3000")
    # the integer code is a categorical span; feature names keep their form
    assert "zip__2000" in enc.get_feature_names_out().tolist()
    Z = enc.transform(people)
    np.testing.assert_allclose(Z[:, 0], (people["age"] - people["age"].min())
                               / np.ptp(people["age"]))
    assert_frame_equal(enc.inverse_transform(Z), people)
    # through the JSON state, and through clone
    twin = MixedTypeEncoder.from_state(json.loads(json.dumps(enc.get_state())))
    assert list(twin.named_encoders_) == ["scaled", "codes", "dates"]
    assert [(n, c) for n, _, c in twin.column_encoders] == [
        ("scaled", ["age"]), ("codes", ["zip"]), ("dates", ["when"])]
    assert [e for _, e, _ in twin.column_encoders][1:] == ["categorical", "minmax"]
    assert isinstance(twin.column_encoders[0][1], NumericalColumn)
    assert twin.column_encoders[0][1].encoding == "minmax"
    np.testing.assert_array_equal(twin.transform(people), Z)
    from sklearn.base import clone

    again = clone(enc).fit(people)
    np.testing.assert_array_equal(again.transform(people), Z)


def test_column_encoders_identifier_and_drop(people, stand_in_protection):
    enc = MixedTypeEncoder(column_encoders=[("ids", "identifier", ["zip"]),
                                            ("gone", "drop", "city")]).fit(people)
    assert type(enc.named_encoders_.ids[0]) is StandInIdentifierColumn
    back = enc.inverse_transform(enc.transform(people))
    assert list(back.columns) == ["age", "income", "zip", "when"]
    assert back["zip"].str.startswith("id-").all()


def test_named_columns_escape_identifier_detection(people, stand_in_protection):
    import warnings

    df = people.assign(city=[f"c{i}" for i in range(50)])  # looks like an identifier
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc = MixedTypeEncoder(identifiers="fresh",
                               column_encoders=[("kept", "categorical", ["city"])]).fit(df)
    assert enc.layout_.discrete_position("city") is not None


@pytest.mark.parametrize("column_encoders, error, match", [
    ([("a", "minmax", ["nope"])], ValueError,
     r"Columns \['nope'\] of column_encoders entry 'a' are not in the data"),
    ([("a", "minmax", ["age"]), ("b", "categorical", ["age"])], ValueError,
     r"Column 'age' is in two column_encoders entries, 'a' and 'b'"),
    ([("a", "minmax", ["age"]), ("a", "categorical", ["zip"])], ValueError,
     r"column_encoders names must be unique; 'a' is used twice"),
    ([("a", "ordinal", ["age"])], ValueError,
     r"column_encoders entry 'a' has the unknown encoder 'ordinal'"),
    ([("a", object(), ["age"])], TypeError, r"column_encoders entry 'a' has the encoder"),
    ([("a", "minmax")], ValueError, r"list of \(name, encoder, columns\) triples"),
    ([("a", "quantile", ["city"])], ValueError,
     r"Column 'city' is encoded as 'quantile' in column_encoders but holds non-numeric"),
])
def test_column_encoders_errors(people, column_encoders, error, match):
    with pytest.raises(error, match=match):
        MixedTypeEncoder(column_encoders=column_encoders).fit(people)


@pytest.mark.parametrize("lists, where", [
    ({"categorical_columns": ["age"]}, "categorical_columns"),
    ({"numerical_columns": ["age"]}, "numerical_columns"),
])
def test_column_encoders_conflict_with_the_kind_lists(people, lists, where):
    with pytest.raises(ValueError, match=rf"Column 'age' is named both in column_encoders "
                                         rf"\(entry 'a'\) and in {where}"):
        MixedTypeEncoder(column_encoders=[("a", "minmax", ["age"])], **lists).fit(people)
