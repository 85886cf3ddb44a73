"""``sample_to_parquet``: a Parquet dataset written part by part, equal to ``sample``.

The Dask cluster tests are in ``test_dask.py``. Models here sample in chunks of 64 rows
(``_sample_chunk_size`` set on the instance) so that a few hundred rows make several parts.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyarrow", reason="pyarrow is not installed (the parquet extra)")

import pyarrow.parquet as pq

from skmixsynth import (
    GTCoderSynthesizer,
    IndependentSynthesizer,
    MixGANSynthesizer,
    MixtureSynthesizer,
    _scale,
)
from skmixsynth.datasets import make_mixed

BLOCK = 64

pytestmark = pytest.mark.filterwarnings("ignore:Column 'customer' looks like an identifier")

TINY = {
    "independent": lambda: IndependentSynthesizer(random_state=0),
    "mixgan": lambda: MixGANSynthesizer(
        latent_dim=8, encoder_dims=(16,), decoder_dims=(16,), generator_dims=(16,),
        discriminator_dims=(16,), batch_size=64, ae_epochs=1, epochs=1, device="cpu",
        random_state=0),
    "gtcoder": lambda: GTCoderSynthesizer(
        d_token=8, n_layers=1, n_heads=2, latent_dim=4, decoder_dims=(16,), mlp_dims=(16,),
        n_components=3, batch_size=64, epochs=1, device="cpu", random_state=0),
    "mixture": lambda: MixtureSynthesizer(
        n_components=3, n_subcomponents=2, n_groups=2, epochs=2, batch_size=64, device="cpu",
        random_state=0),
}


def training_table():
    """make_mixed with missing values, an identifier column and a rare region."""
    frame = make_mixed(200, missing_rate=0.05, random_state=0)
    frame["customer"] = [f"cust-{i:06d}" for i in range(len(frame))]
    frame["region"] = frame["region"].cat.add_categories("atlantis")
    frame.loc[:1, "region"] = "atlantis"  # 2 rows: below min_count=5
    return frame


@pytest.fixture(scope="module")
def real():
    return training_table()


@pytest.fixture(scope="module", params=list(TINY))
def fitted(request, real):
    return fit(request.param, real)


def fit(name, real):
    model = TINY[name]().fit(real)
    model._sample_chunk_size = BLOCK
    return model


def parts_of(path):
    return sorted(os.listdir(path))


def assert_same_rows(got, expected):
    """Equal frames, dtypes and categories included, a missing value matching a missing value
    (Parquet gives None where an object column of pandas held NaN)."""
    assert got.dtypes.equals(expected.dtypes)
    pd.testing.assert_frame_equal(got.isna(), expected.isna())
    pd.testing.assert_frame_equal(_none_for_missing(got), _none_for_missing(expected))


def _none_for_missing(frame):
    out = frame.copy()
    for column in out.select_dtypes(include="object").columns:
        out[column] = out[column].where(out[column].notna(), None)
    return out


# ------------------------------------------------------------------ the rows of sample
def test_dataset_is_the_sample_of_every_synthesizer(fitted, real, tmp_path):
    path = fitted.sample_to_parquet(300, tmp_path / "out.parquet", chunk_rows=2 * BLOCK,
                                    random_state=3)
    assert path == str(tmp_path / "out.parquet")
    assert parts_of(path) == [f"part-0000{i}.parquet" for i in range(3)]  # 128 + 128 + 44
    assert [pq.read_metadata(os.path.join(path, f)).num_rows for f in parts_of(path)] == [
        128, 128, 44]
    got = pd.read_parquet(path)
    expected = fitted.sample(300, random_state=3)
    assert list(got["region"].cat.categories) == list(expected["region"].cat.categories)
    assert_same_rows(got, expected)
    # the privacy post-processing holds in every part: fresh identifiers, no rare value
    assert not got["customer"].isin(real["customer"]).any()
    assert got["customer"].nunique() == len(got)
    assert "atlantis" not in set(got["region"].dropna())
    schemas = {pq.read_schema(os.path.join(path, f)) for f in parts_of(path)}
    assert len(schemas) == 1


def test_rows_do_not_depend_on_chunk_rows(real, tmp_path):
    model = fit("independent", real)
    small = model.sample_to_parquet(500, tmp_path / "small", chunk_rows=1, random_state=0)
    large = model.sample_to_parquet(500, tmp_path / "large", chunk_rows=10_000,
                                    random_state=0)
    assert len(parts_of(small)) == 8 and len(parts_of(large)) == 1  # 500 / 64 -> 8 chunks
    pd.testing.assert_frame_equal(pd.read_parquet(small), pd.read_parquet(large))
    other = model.sample_to_parquet(500, tmp_path / "other", random_state=1)
    assert not pd.read_parquet(other).equals(pd.read_parquet(large))


def test_without_a_seed_the_models_stream_continues(real, tmp_path):
    a, b = fit("independent", real), fit("independent", real)
    for i in range(2):  # successive calls differ, as successive sample() calls do
        path = a.sample_to_parquet(100, tmp_path / f"s{i}", chunk_rows=BLOCK)
        assert_same_rows(pd.read_parquet(path), b.sample(100))
    assert not pd.read_parquet(tmp_path / "s0").equals(pd.read_parquet(tmp_path / "s1"))


def test_zero_rows_is_one_empty_part_with_the_columns(real, tmp_path):
    model = fit("independent", real)
    path = model.sample_to_parquet(0, tmp_path / "empty", random_state=0)
    assert parts_of(path) == ["part-00000.parquet"]
    got = pd.read_parquet(path)
    assert got.shape == (0, real.shape[1])
    assert list(got.columns) == list(real.columns)
    expected = model.sample(0, random_state=0)
    # a Parquet file of no row stores no dictionary: the categories themselves are lost
    assert isinstance(got["region"].dtype, pd.CategoricalDtype)
    assert got.drop(columns=["region", "plan"]).dtypes.equals(
        expected.drop(columns=["region", "plan"]).dtypes)


def test_a_chunk_where_an_object_column_is_all_missing_keeps_the_schema(tmp_path):
    # "note" is missing in 3 rows of 4 at fit: some 2-row chunks have only missing values
    frame = make_mixed(200, random_state=0)
    frame["note"] = np.where(np.arange(200) % 4 == 0, "seen", None)
    model = IndependentSynthesizer(min_count=None, random_state=0).fit(frame)
    model._sample_chunk_size = 2
    path = model.sample_to_parquet(40, tmp_path / "notes", chunk_rows=2, random_state=0)
    tables = [pq.read_table(os.path.join(path, f)) for f in parts_of(path)]
    assert any(t.column("note").null_count == t.num_rows for t in tables)  # the case occurs
    assert len({t.schema for t in tables}) == 1
    got = pd.read_parquet(path)
    expected = model.sample(40, random_state=0)
    assert got["note"].isna().equals(expected["note"].isna())
    assert (got["note"].dropna() == "seen").all()


# ------------------------------------------------------------------------- conditions
def test_conditions_hold_in_every_part(real, tmp_path):
    model = fit("independent", real)
    path = model.sample_to_parquet(150, tmp_path / "north", chunk_rows=50,
                                   conditions={"region": "north"}, random_state=0)
    got = pd.read_parquet(path)
    assert len(parts_of(path)) == 3 and len(got) == 150
    assert set(got["region"]) == {"north"} and got["education"].nunique() > 1
    again = model.sample_to_parquet(150, tmp_path / "again", chunk_rows=50,
                                    conditions={"region": "north"}, random_state=0)
    pd.testing.assert_frame_equal(pd.read_parquet(again), got)


def test_a_dataframe_of_conditions_is_cut_into_the_parts(real, tmp_path):
    model = fit("independent", real)
    wanted = pd.DataFrame({"region": ["north", "south", "east"] * 30},
                          index=np.arange(90) + 1000)
    path = model.sample_to_parquet(None, tmp_path / "rows", chunk_rows=40,
                                   conditions=wanted, random_state=0)
    got = pd.read_parquet(path)
    assert len(parts_of(path)) == 3
    assert got["region"].astype(str).tolist() == wanted["region"].tolist()


def test_bad_conditions_fail_before_any_file(real, tmp_path):
    model = fit("independent", real)
    with pytest.raises(ValueError, match="mars"):
        model.sample_to_parquet(10, tmp_path / "x", conditions={"region": "mars"})
    with pytest.raises(ValueError, match="n_samples=5"):
        model.sample_to_parquet(5, tmp_path / "x", conditions=pd.DataFrame({"age": [30, 40]}))
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------- the output folder
def test_an_existing_path_needs_overwrite(real, tmp_path):
    model = fit("independent", real)
    target = tmp_path / "out.parquet"
    model.sample_to_parquet(100, target, random_state=0)
    with pytest.raises(ValueError, match=r"non-empty folder.*overwrite=True"):
        model.sample_to_parquet(50, target, random_state=1)
    assert len(pd.read_parquet(target)) == 100  # untouched
    model.sample_to_parquet(50, target, random_state=1, overwrite=True)
    assert_same_rows(pd.read_parquet(target), model.sample(50, random_state=1))

    a_file = tmp_path / "file.parquet"
    a_file.write_bytes(b"old")
    with pytest.raises(ValueError, match=r"exists; pass overwrite=True"):
        model.sample_to_parquet(10, a_file)
    model.sample_to_parquet(10, a_file, overwrite=True)
    assert len(pd.read_parquet(a_file)) == 10

    empty = tmp_path / "empty"
    empty.mkdir()
    model.sample_to_parquet(10, empty)  # an empty folder is used as is
    assert len(pd.read_parquet(empty)) == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "file.parquet",
                                                          "out.parquet"]


def test_overwrite_never_removes_a_folder_of_other_files(real, tmp_path):
    model = fit("independent", real)
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("precious")
    with pytest.raises(ValueError, match=r"thesis\.tex"):
        model.sample_to_parquet(10, home, overwrite=True)
    assert (home / "thesis.tex").read_text() == "precious"


def test_a_failure_leaves_nothing(real, tmp_path, monkeypatch):
    model = fit("independent", real)
    calls = []

    def failing(*args, **kwargs):
        if calls:
            raise RuntimeError("disk full")
        calls.append(1)
        return write_part(*args, **kwargs)

    write_part = _scale.write_part
    monkeypatch.setattr(_scale, "write_part", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        model.sample_to_parquet(300, tmp_path / "out.parquet", chunk_rows=BLOCK)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(chunk_rows=0), ValueError, "chunk_rows must be a positive integer; got 0"),
    (dict(chunk_rows=2.5), ValueError, "chunk_rows .* got 2.5"),
    (dict(n_samples=-1), ValueError, "n_samples must be a non-negative integer; got -1"),
    (dict(n_samples=None), ValueError, "n_samples is needed"),
    (dict(path=3), TypeError, "path must be a str or path-like; got int"),
    (dict(n_jobs=2, client=object()), ValueError, "n_jobs or client, not both"),
    (dict(client=object()), TypeError, "client must be a dask.distributed.Client; got object"),
    (dict(conditions=["north"]), TypeError, "conditions must be a dict"),
])
def test_bad_arguments(real, tmp_path, kwargs, error, match):
    model = fit("independent", real)
    call = {"n_samples": 10, "path": tmp_path / "out", **kwargs}
    with pytest.raises(error, match=match):
        model.sample_to_parquet(call.pop("n_samples"), call.pop("path"), **call)
    assert not os.path.exists(tmp_path / "out")


def test_a_missing_parent_folder_is_an_error(real, tmp_path):
    model = fit("independent", real)
    with pytest.raises(ValueError, match=r"does not exist"):
        model.sample_to_parquet(10, tmp_path / "no" / "out.parquet")


def test_unfitted_model_is_refused(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        IndependentSynthesizer().sample_to_parquet(10, tmp_path / "out")


# --------------------------------------------------------------------- optional engines
def test_without_pyarrow_the_error_names_the_extra(real, tmp_path, monkeypatch):
    model = fit("independent", real)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError, match=r'pip install "skmixsynth\[parquet\]"'):
        model.sample_to_parquet(10, tmp_path / "out")
    assert not os.path.exists(tmp_path / "out")


def test_without_dask_the_error_names_the_extra(real, tmp_path, monkeypatch):
    model = fit("independent", real)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(ImportError, match=r'pip install "skmixsynth\[dask\]"'):
        model.sample_to_parquet(10, tmp_path / "out", client=object())
    assert not os.path.exists(tmp_path / "out")


def test_pyproject_declares_the_scale_extras():
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python >= 3.11")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "pyproject.toml"), "rb") as handle:
        extras = tomllib.load(handle)["project"]["optional-dependencies"]

    def names(extra):
        return {r.split(">")[0].split("[")[0] for r in extras[extra]}

    assert names("parquet") == {"pyarrow"}
    assert names("dask") == {"dask"} and "distributed" in extras["dask"][0]
    assert names("scale") == {"pyarrow", "dask"}
    assert {"pyarrow", "dask"} <= names("dev")


# ------------------------------------------------------------------ worker processes
@pytest.mark.slow
def test_rows_do_not_depend_on_n_jobs(real, tmp_path):
    model = fit("mixgan", real)
    serial = model.sample_to_parquet(500, tmp_path / "serial", chunk_rows=BLOCK,
                                     random_state=0, n_jobs=1)
    _, records = _scale.sample_to_parquet(model, 500, tmp_path / "two", chunk_rows=BLOCK,
                                          random_state=0, n_jobs=2)
    assert {r["pid"] for r in records}.isdisjoint({os.getpid()})  # written by workers
    assert parts_of(serial) == parts_of(tmp_path / "two")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "two"), pd.read_parquet(serial))
    assert_same_rows(pd.read_parquet(serial), model.sample(500, random_state=0))
    # conditional parts too: one seed per part, drawn up front
    wanted = {"region": "north"}
    one = model.sample_to_parquet(200, tmp_path / "c1", chunk_rows=50, conditions=wanted,
                                  random_state=0, n_jobs=1)
    two = model.sample_to_parquet(200, tmp_path / "c2", chunk_rows=50, conditions=wanted,
                                  random_state=0, n_jobs=2)
    pd.testing.assert_frame_equal(pd.read_parquet(one), pd.read_parquet(two))


# ------------------------------------------------------------------------ the seeds
class _RepeatingRandomState:
    """A RandomState whose first draw repeats seeds (what 31-bit draws do, rarely)."""

    def __init__(self):
        self.rng = np.random.RandomState(0)
        self.first = True

    def randint(self, high, size=None):
        if self.first and size is not None:
            self.first = False
            return np.array([[5, 9], [7, 9], [5, 8], [5, 9]])
        return self.rng.randint(high, size=size)


def test_the_seeds_of_a_call_are_distinct():
    from skmixsynth._sampling import plan_blocks

    blocks = plan_blocks(100, 25, _RepeatingRandomState())
    assert [b[:2] for b in blocks] == [(0, 25), (25, 50), (50, 75), (75, 100)]
    torch_seeds, decode_seeds = [b[2] for b in blocks], [b[3] for b in blocks]
    assert len(set(torch_seeds)) == 4 and len(set(decode_seeds)) == 4
    assert torch_seeds[:2] == [5, 7] and decode_seeds[:1] == [9]  # first draws are kept
    # without a repeat the seeds are those of one randint draw, as sample() always drew them
    expected = np.random.RandomState(3).randint(2**31 - 1, size=(4, 2))
    assert [b[2:] for b in plan_blocks(100, 25, np.random.RandomState(3))] == [
        tuple(int(v) for v in row) for row in expected]


# ---------------------------------------------------------------------- command line
def cli(*argv):
    """Run ``skmixsynth`` in this process; its exit status, stdout and stderr."""
    import contextlib
    import io

    from skmixsynth.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "model.pt"
    IndependentSynthesizer(random_state=0).fit(make_mixed(300, random_state=0)).save(path)
    return path


def test_cli_parquet_output_is_a_dataset_of_parts(model_file, tmp_path):
    import skmixsynth

    out = tmp_path / "big.parquet"
    code, stdout, _ = cli("sample", model_file, "-n", 40_000, "--seed", 4, "--chunk-size",
                          1, "-o", out)
    assert code == 0
    assert "wrote 40000 rows x 8 columns" in stdout and "2 Parquet files" in stdout
    assert parts_of(out) == ["part-00000.parquet", "part-00001.parquet"]  # 32,768 + 7,232
    expected = skmixsynth.load(model_file).sample(40_000, random_state=4)
    assert_same_rows(pd.read_parquet(out), expected)
    # the same command again replaces the dataset, as it replaces a CSV file
    code, _, err = cli("sample", model_file, "-n", 10, "--seed", 4, "-o", out, "-q")
    assert code == 0, err
    assert parts_of(out) == ["part-00000.parquet"] and len(pd.read_parquet(out)) == 10
    # and fit (evaluate likewise) reads the folder
    code, _, err = cli("fit", out, "-m", "independent", "-o", tmp_path / "m.pt", "-q")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.parquet", "m.pt"]


def test_cli_jobs_reach_sample_to_parquet(model_file, tmp_path, monkeypatch):
    seen = {}
    real_call = _scale.sample_to_parquet

    def recording(*args, **kwargs):
        seen.update(kwargs)
        return real_call(*args, **{**kwargs, "n_jobs": None})

    monkeypatch.setattr(_scale, "sample_to_parquet", recording)
    code, _, err = cli("sample", model_file, "-n", 100, "--jobs", 2, "--conditions",
                       "region=north", "-o", tmp_path / "o.parquet", "-q")
    assert code == 0, err
    assert seen["n_jobs"] == 2 and seen["conditions"] == {"region": "north"}
    assert set(pd.read_parquet(tmp_path / "o.parquet")["region"]) == {"north"}


@pytest.mark.parametrize("argv, fragment", [
    (["--jobs", 2, "-o", "out.csv"], "--jobs writes the parts of a Parquet output"),
    (["--jobs", 0, "-o", "out.parquet"], "--jobs must be a number of processes"),
    (["-o", "home.parquet"], "besides Parquet files"),
])
def test_cli_parquet_errors_are_one_line(model_file, tmp_path, argv, fragment):
    home = tmp_path / "home.parquet"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    argv = [tmp_path / a if str(a).startswith(("out", "home")) else a for a in argv]
    code, _, err = cli("sample", model_file, "-n", 10, *argv)
    assert code == 1
    assert err.startswith("skmixsynth: error: ") and err.count("\n") == 1, err
    assert fragment in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home.parquet"]
    assert (home / "notes.txt").read_text() == "mine"


# ------------------------------------------------------------------------- benchmark
@pytest.mark.slow
def test_benchmark_script_at_a_tiny_size(tmp_path):
    import json

    from benchmarks import sample_scale

    path = sample_scale.main(["--quick", "--rows", "10000", "--jobs", "1", "--dataset",
                              "mixed", "--model", "independent", "--out", str(tmp_path)])
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["kind"] == "sample_scale" and doc["complete"]
    assert doc["fit"]["dataset"] == "mixed" and doc["fit"]["n_columns"] == 8
    (record,) = doc["records"]
    assert record["status"] == "ok", record
    assert record["rows"] == 10_000 and record["n_files"] == 1 and record["n_jobs"] == 1
    assert record["rows_per_second"] > 0 and record["peak_rss_mb"] > 0
    assert record["bytes_on_disk"] > 0
    assert doc["same_rows_for_every_n_jobs"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # scratch removed
