"""Tests of skmixsynth.datasets.load_dataset / list_datasets / get_data_home."""

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skmixsynth.datasets import get_data_home, list_datasets, load_dataset

REAL = ("abalone", "adult", "ionosphere", "lending_club", "mushroom", "news", "sonar")


def write_dataset(home, name, csv_text, columns, target="y", task="classification"):
    """Write <home>/<name>/data.csv.gz and meta.json; ``columns`` maps name -> type."""
    folder = Path(home) / name
    folder.mkdir(parents=True)
    with gzip.open(folder / "data.csv.gz", "wt", encoding="utf-8") as fh:
        fh.write(csv_text)
    meta = {
        "name": name,
        "rows": csv_text.strip().count("\n"),
        "columns": [{"name": c, "type": t} for c, t in columns.items()],
        "target": target,
        "task": task,
        "source": {"repo": "nobody/nothing", "commit": "0" * 40, "path": "x.csv"},
        "notes": "test table",
    }
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


TOY_CSV = (
    "n_int,n_whole_float,n_frac,n_missing,flag,code,label,y\n"
    "1,2.0,0.5,1,0,NA,a,yes\n"
    "2,3.0,1.5,,1,x,,no\n"
    "3,4.0,2.25,3,1,10,b,yes\n"
    "4,5.0,3.0,4,0,2,a,no\n"
)
TOY_TYPES = {
    "n_int": "numerical",
    "n_whole_float": "numerical",
    "n_frac": "numerical",
    "n_missing": "numerical",
    "flag": "categorical",
    "code": "categorical",
    "label": "categorical",
    "y": "categorical",
}


@pytest.fixture
def isolated_env(monkeypatch, tmp_path):
    """No SKMIXSYNTH_DATA and an empty private cache folder."""
    monkeypatch.delenv("SKMIXSYNTH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path


@pytest.fixture
def toy_home(tmp_path):
    home = tmp_path / "home"
    write_dataset(home, "toy", TOY_CSV, TOY_TYPES)
    return home


# ------------------------------------------------------------------------------ types and result


def test_types_follow_meta(toy_home):
    data = load_dataset("toy", data_home=toy_home)
    df = data.frame
    assert df.shape == (4, 8)
    assert list(df.columns) == list(TOY_TYPES)
    assert df["n_int"].dtype == np.int64
    # whole values without missing cells become int64, even when written "2.0"
    assert df["n_whole_float"].dtype == np.int64
    assert df["n_whole_float"].tolist() == [2, 3, 4, 5]
    assert df["n_frac"].dtype == np.float64
    # a missing cell keeps a whole-valued column float64, and missing
    assert df["n_missing"].dtype == np.float64
    assert df["n_missing"].isna().tolist() == [False, True, False, False]
    for col in ("flag", "code", "label", "y"):
        assert isinstance(df[col].dtype, pd.CategoricalDtype), col
    # 0/1 typed categorical are text levels, not numbers
    assert list(df["flag"].cat.categories) == ["0", "1"]
    assert df["flag"].tolist() == ["0", "1", "1", "0"]
    # only empty cells are missing: the text "NA" is a level
    assert "NA" in df["code"].cat.categories
    assert df["code"].isna().sum() == 0
    assert df["label"].isna().tolist() == [False, True, False, False]
    assert sorted(df["label"].cat.categories) == ["a", "b"]


def test_numeric_levels_are_ordered_numerically(tmp_path):
    csv = "k,y\n10,a\n2,b\n1,a\n"
    write_dataset(tmp_path, "t", csv, {"k": "categorical", "y": "categorical"})
    df = load_dataset("t", data_home=tmp_path).frame
    assert list(df["k"].cat.categories) == ["1", "2", "10"]


def test_bunch_fields(toy_home):
    data = load_dataset("toy", data_home=str(toy_home))
    assert data.target == "y"
    assert data.task == "classification"
    assert data.meta["name"] == "toy"
    assert data.numerical_columns == ["n_int", "n_whole_float", "n_frac", "n_missing"]
    assert data.categorical_columns == ["flag", "code", "label", "y"]


def test_return_X_y(toy_home):
    X, y = load_dataset("toy", data_home=toy_home, return_X_y=True)
    assert isinstance(X, pd.DataFrame)
    assert isinstance(y, pd.Series)
    assert "y" not in X.columns
    assert X.shape == (4, 7)
    assert y.name == "y"
    assert y.tolist() == ["yes", "no", "yes", "no"]
    assert isinstance(y.dtype, pd.CategoricalDtype)


def test_columns_must_match_meta(tmp_path):
    write_dataset(tmp_path, "bad", "a,b\n1,2\n", {"a": "numerical", "c": "numerical"}, target="a")
    with pytest.raises(ValueError, match="do not match"):
        load_dataset("bad", data_home=tmp_path)


def test_non_numeric_value_in_numerical_column(tmp_path):
    write_dataset(tmp_path, "bad", "a,y\n1,u\nzz,v\n", {"a": "numerical", "y": "categorical"})
    with pytest.raises(ValueError, match="'zz'"):
        load_dataset("bad", data_home=tmp_path)


@pytest.mark.parametrize("name", ["../toy", "a/b", "", ".."])
def test_bad_names(toy_home, name):
    with pytest.raises(ValueError, match="folder name"):
        load_dataset(name, data_home=toy_home)


# ------------------------------------------------------------------------------ where to look


def test_missing_dataset_message(isolated_env, monkeypatch, tmp_path):
    env_home = tmp_path / "env_home"
    write_dataset(env_home, "other", "a,y\n1,u\n", {"a": "numerical", "y": "categorical"})
    monkeypatch.setenv("SKMIXSYNTH_DATA", str(env_home))
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("adult")
    msg = str(info.value)
    assert "'adult'" in msg
    # every place looked in
    assert str(env_home / "adult") in msg
    assert str(tmp_path / "xdg" / "skmixsynth" / "adult") in msg
    # how to provide the data and the expected layout
    assert "SKMIXSYNTH_DATA" in msg
    assert "data_home" in msg
    assert "adult/data.csv.gz" in msg
    assert "adult/meta.json" in msg
    # what is there instead
    assert "other" in msg


def test_missing_dataset_explicit_home_only_looks_there(isolated_env, monkeypatch, tmp_path):
    monkeypatch.setenv("SKMIXSYNTH_DATA", str(tmp_path / "env_home"))
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("adult", data_home=tmp_path / "given")
    msg = str(info.value)
    assert str(tmp_path / "given" / "adult") in msg
    assert "data_home argument" in msg
    assert str(tmp_path / "env_home") not in msg


def test_half_present_dataset_is_missing(tmp_path):
    folder = write_dataset(tmp_path, "half", "a,y\n1,u\n", {"a": "numerical", "y": "categorical"})
    (folder / "meta.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"meta\.json missing"):
        load_dataset("half", data_home=tmp_path)
    assert list_datasets(tmp_path) == []


def test_get_data_home_precedence(isolated_env, monkeypatch, tmp_path):
    assert get_data_home() == tmp_path / "xdg" / "skmixsynth"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert get_data_home() == Path.home() / ".cache" / "skmixsynth"
    monkeypatch.setenv("SKMIXSYNTH_DATA", str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env"
    assert get_data_home(tmp_path / "given") == tmp_path / "given"
    assert isinstance(get_data_home(str(tmp_path)), Path)
    monkeypatch.setenv("SKMIXSYNTH_DATA", "")
    assert get_data_home() == Path.home() / ".cache" / "skmixsynth"


def test_env_var_beats_cache_and_argument_beats_env(isolated_env, monkeypatch, tmp_path):
    cache = tmp_path / "xdg" / "skmixsynth"
    env_home = tmp_path / "env_home"
    arg_home = tmp_path / "arg_home"
    for home, value in ((cache, 1), (env_home, 2), (arg_home, 3)):
        write_dataset(home, "same", f"a,y\n{value},u\n", {"a": "numerical", "y": "categorical"})
    assert load_dataset("same").frame["a"].tolist() == [1]
    monkeypatch.setenv("SKMIXSYNTH_DATA", str(env_home))
    assert load_dataset("same").frame["a"].tolist() == [2]
    assert load_dataset("same", data_home=arg_home).frame["a"].tolist() == [3]


def test_cache_is_searched_after_env(isolated_env, monkeypatch, tmp_path):
    write_dataset(
        tmp_path / "xdg" / "skmixsynth",
        "cached",
        "a,y\n7,u\n",
        {"a": "numerical", "y": "categorical"},
    )
    write_dataset(
        tmp_path / "env_home", "env_only", "a,y\n8,u\n", {"a": "numerical", "y": "categorical"}
    )
    monkeypatch.setenv("SKMIXSYNTH_DATA", str(tmp_path / "env_home"))
    assert load_dataset("cached").frame["a"].tolist() == [7]
    assert list_datasets() == ["cached", "env_only"]
    assert list_datasets(tmp_path / "env_home") == ["env_only"]


def test_list_datasets(toy_home, tmp_path):
    (toy_home / "not_a_dataset").mkdir()
    (toy_home / "stray.txt").write_text("x")
    assert list_datasets(toy_home) == ["toy"]
    assert list_datasets(tmp_path / "does_not_exist") == []


# ------------------------------------------------------------------------------ the real tables


@pytest.mark.datasets
def test_real_datasets_are_listed(data_home):
    assert set(REAL) <= set(list_datasets(data_home))


@pytest.mark.datasets
@pytest.mark.parametrize("name", REAL)
def test_real_dataset_types(data_home, name):
    data = load_dataset(name, data_home=data_home)
    meta = json.loads((Path(data_home) / name / "meta.json").read_text(encoding="utf-8"))
    df = data.frame
    assert len(df) == meta["rows"]
    assert list(df.columns) == [c["name"] for c in meta["columns"]]
    assert data.target == meta["target"]
    assert data.task == meta["task"]
    for col in meta["columns"]:
        s = df[col["name"]]
        if col["type"] == "categorical":
            assert isinstance(s.dtype, pd.CategoricalDtype), col["name"]
            assert all(isinstance(v, str) for v in s.cat.categories), col["name"]
        else:
            assert s.dtype in (np.int64, np.float64), (col["name"], s.dtype)
            if s.dtype == np.float64:
                values = s.to_numpy()
                assert s.isna().any() or not (values == np.floor(values)).all(), col["name"]
    assert data.categorical_columns + data.numerical_columns != []
    assert sorted(data.categorical_columns + data.numerical_columns) == sorted(df.columns)


@pytest.mark.datasets
def test_real_dataset_details(data_home):
    iono = load_dataset("ionosphere", data_home=data_home).frame
    assert list(iono["a01"].cat.categories) == ["0", "1"]
    assert list(iono["a02"].cat.categories) == ["0"]
    news = load_dataset("news", data_home=data_home)
    assert len(news.categorical_columns) == 14
    assert list(news.frame["is_weekend"].cat.categories) == ["0", "1"]
    assert news.task == "regression"
    lc = load_dataset("lending_club", data_home=data_home).frame
    assert lc["revol_util"].dtype == np.float64
    assert lc["revol_util"].isna().sum() == 50
    adult = load_dataset("adult", data_home=data_home).frame
    assert adult["workclass"].isna().any()
    assert adult["age"].dtype == np.int64
    mushroom_X, mushroom_y = load_dataset("mushroom", data_home=data_home, return_X_y=True)
    assert mushroom_X.shape == (8124, 22)
    assert sorted(mushroom_y.cat.categories) == ["e", "p"]
