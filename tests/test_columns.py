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
