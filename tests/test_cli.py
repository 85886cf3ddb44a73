"""The ``skmixsynth`` command line, driven as a user drives it.

The fast tests call :func:`skmixsynth.cli.main` in this process (the same code path as the
console script, without paying the ~5 s import of torch per command); the tests marked
``slow`` run ``python -m skmixsynth`` in a subprocess, as a shell does.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import skmixsynth
from skmixsynth.cli import available_models, main
from skmixsynth.datasets import make_mixed

ROOT = Path(__file__).resolve().parents[1]


class Result:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    def __repr__(self):
        return f"Result(code={self.code}, out={self.out!r}, err={self.err!r})"


def cli(*argv):
    """Run the command line in this process; its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return Result(code, out.getvalue(), err.getvalue())


def run(*argv, cwd):
    """Run ``python -m skmixsynth`` in a subprocess, as a user does."""
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "skmixsynth", *map(str, argv)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_one_line_error(result, *fragments):
    assert result.code != 0, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("skmixsynth: error: "), lines[0]
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A training table, a hold-out table and an IndependentSynthesizer fit on the first."""
    folder = tmp_path_factory.mktemp("cli")
    data = make_mixed(300, missing_rate=0.02, random_state=0)
    paths = {"dir": folder, "real": folder / "real.csv", "holdout": folder / "holdout.csv",
             "model": folder / "model.pt"}
    data.iloc[:240].to_csv(paths["real"], index=False)
    data.iloc[240:].to_csv(paths["holdout"], index=False)
    result = cli("fit", paths["real"], "--model", "independent", "--seed", 0, "-o",
                 paths["model"], "-q")
    assert result.code == 0, result
    return paths


# ------------------------------------------------------------------------ the round trip
def test_fit_sample_evaluate_round_trip(files, tmp_path):
    synthetic, report = tmp_path / "synthetic.csv", tmp_path / "report.json"
    fit = cli("fit", files["real"], "--model", "independent", "--set", "n_bins=50", "--seed", 1,
              "-o", tmp_path / "m.pt")
    assert fit.code == 0, fit
    assert "fitted IndependentSynthesizer on 240 rows x 8 columns" in fit.out
    model = skmixsynth.load(tmp_path / "m.pt")
    assert type(model).__name__ == "IndependentSynthesizer"
    assert model.n_bins == 50 and model.random_state == 1  # --set parsed as a literal

    sample = cli("sample", tmp_path / "m.pt", "-n", 500, "--seed", 0, "-o", synthetic)
    assert sample.code == 0, sample
    assert "wrote 500 rows x 8 columns" in sample.out
    fake = pd.read_csv(synthetic)
    real = pd.read_csv(files["real"])
    assert list(fake.columns) == list(real.columns) and len(fake) == 500

    # (--holdout, --target and --report: test_subprocess_round_trip_with_mixgan, slow)
    evaluation = cli("evaluate", files["real"], synthetic, "--json", report)
    assert evaluation.code == 0, evaluation
    assert "quality" in evaluation.out and "detection" in evaluation.out
    scores = json.loads(report.read_text())["scores"]
    assert 0.5 < scores["quality"] <= 1
    assert scores["privacy_exact_copies"] is not None  # REAL is taken as the training rows
    assert not list(tmp_path.glob("*.partial"))


def test_sample_same_seed_same_file_and_as_in_python(files, tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    for path, seed in ((a, 7), (b, 7), (c, 8)):
        assert cli("sample", files["model"], "-n", 300, "--seed", seed, "-o", path,
                   "-q").code == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    expected = io.StringIO()
    skmixsynth.load(files["model"]).sample(300, random_state=7).to_csv(expected, index=False)
    assert a.read_text() == expected.getvalue()


def test_sample_in_chunks_gives_the_rows_of_one_call(files, tmp_path, monkeypatch):
    # 40,000 rows in chunks of whole sampling blocks (32,768 + 7,232) or in one piece
    chunked, whole = tmp_path / "chunked.csv", tmp_path / "whole.csv"
    calls, sample = [], skmixsynth.BaseSynthesizer.sample

    def recording(self, n_samples=None, **kwargs):
        calls.append(n_samples)
        return sample(self, n_samples, **kwargs)

    monkeypatch.setattr(skmixsynth.BaseSynthesizer, "sample", recording)
    assert cli("sample", files["model"], "-n", 40_000, "--seed", 3, "--chunk-size", 1, "-o",
               chunked, "-q").code == 0
    assert calls == [32_768, 7_232]  # memory bounded by the chunk, not by -n
    assert cli("sample", files["model"], "-n", 40_000, "--seed", 3, "-o", whole,
               "-q").code == 0
    assert chunked.read_bytes() == whole.read_bytes()
    assert len(pd.read_csv(chunked)) == 40_000


def test_sample_without_seed_uses_the_models_stream(files, tmp_path):
    a, b = tmp_path / "a.csv.gz", tmp_path / "b.csv.gz"
    for path in (a, b):
        assert cli("sample", files["model"], "-n", 50, "-o", path, "-q").code == 0
    expected = skmixsynth.load(files["model"]).sample(50)
    pd.testing.assert_frame_equal(pd.read_csv(a), pd.read_csv(b))
    assert len(pd.read_csv(a)) == 50
    assert pd.read_csv(a)["age"].tolist() == expected["age"].tolist()


def test_sample_zero_rows_writes_the_header(files, tmp_path):
    out = tmp_path / "empty.csv"
    assert cli("sample", files["model"], "-n", 0, "-o", out, "-q").code == 0
    assert list(pd.read_csv(out).columns) == list(pd.read_csv(files["real"]).columns)


def test_conditions_are_honoured_and_parsed_by_dtype(files, tmp_path):
    out = tmp_path / "north.csv"
    result = cli("sample", files["model"], "-n", 200, "--seed", 0, "--conditions",
                 "region=north", "age=40", "owns_home=yes", "income=40000", "-o", out, "-q")
    assert result.code == 0, result
    fake = pd.read_csv(out)
    assert len(fake) == 200
    assert set(fake["region"]) == {"north"}
    assert set(fake["age"]) == {40}
    assert set(fake["owns_home"]) == {True}
    assert np.allclose(fake["income"], 40000.0)
    assert fake["education"].nunique() > 1  # the other columns are still drawn
    result = cli("sample", files["model"], "-n", 100, "--seed", 0, "--conditions",
                 "age=30..39", "-o", out, "-q")
    assert result.code == 0, result
    assert pd.read_csv(out)["age"].between(30, 39).all()


@pytest.mark.parametrize("text, value", [
    ("300", 300), ("0.5", 0.5), ("(256, 256)", (256, 256)), ("None", None), ("True", True),
    ("minmax", "minmax"), ("cuda:0", "cuda:0"), ("['a', 'b']", ["a", "b"]),
])
def test_set_values_are_python_literals_or_text(text, value):
    from skmixsynth.cli import _literal

    assert _literal(text) == value and type(_literal(text)) is type(value)


def test_parse_conditions_reads_each_dtype():
    from skmixsynth.cli import CLIError, parse_conditions

    template = pd.DataFrame({
        "c": pd.Categorical([], categories=[1, 2, 3]),
        "s": pd.Categorical([], categories=["a", "b"]),
        "i": pd.Series([], dtype="int64"),
        "f": pd.Series([], dtype="float64"),
        "b": pd.Series([], dtype=bool),
        "t": pd.Series([], dtype="datetime64[ns]"),
        "o": pd.Series([], dtype=object),
    })
    got = parse_conditions(["c=2", "s=b", "i=7", "f=2.5", "b=False", "t=2020-01-02", "o=x"],
                           template)
    assert got == {"c": 2, "s": "b", "i": 7, "f": 2.5, "b": False,
                   "t": pd.Timestamp("2020-01-02"), "o": "x"}
    assert type(got["c"]) is int and type(got["i"]) is int
    assert np.isnan(parse_conditions(["f="], template)["f"])
    ranges = parse_conditions(["i=30..40", "f=..2.5"], template)
    assert ranges == {"i": pd.Interval(30.0, 40.0, closed="both"),
                      "f": pd.Interval(-np.inf, 2.5, closed="both")}
    with pytest.raises(CLIError, match="low end is above"):
        parse_conditions(["i=40..30"], template)
    with pytest.raises(CLIError, match=r"a range is LOW\.\.HIGH"):
        parse_conditions(["f=a..b"], template)


def test_warnings_are_one_line(tmp_path):
    data = make_mixed(200, random_state=0)
    data.insert(0, "customer_id", np.arange(1000, 1200))  # an identifier: warned about
    data.to_csv(tmp_path / "ids.csv", index=False)
    result = cli("fit", tmp_path / "ids.csv", "-m", "independent", "-o", tmp_path / "m.pt",
                 "-q")
    assert result.code == 0, result
    warned = [line for line in result.err.splitlines() if line.strip()]
    assert warned and all(line.startswith("skmixsynth: warning: ") for line in warned)
    assert any("customer_id" in line for line in warned)


# ---------------------------------------------------------------------------- the models
def test_models_come_from_the_registry():
    models = available_models()
    assert models["mixgan"] is skmixsynth.MixGANSynthesizer
    assert models["independent"] is skmixsynth.IndependentSynthesizer

    class LaterSynthesizer(skmixsynth.IndependentSynthesizer):  # a model added later
        pass

    LaterSynthesizer.__module__ = "skmixsynth.later"
    try:
        assert available_models()["later"] is LaterSynthesizer
        assert "later" in cli("fit", "--help").out
    finally:
        del LaterSynthesizer
        gc.collect()
    assert "later" not in available_models()


def test_model_names_are_case_insensitive_and_accept_class_names(files, tmp_path):
    result = cli("fit", files["real"], "-m", "IndependentSynthesizer", "-o", tmp_path / "m.pt",
                 "-q")
    assert result.code == 0, result


# ------------------------------------------------------------------------------ errors
def _not_a_model(tmp_path):
    path = tmp_path / "model.pt"
    path.write_text("this is not a model\n")
    return ["sample", path, "-n", 5, "-o", tmp_path / "out.csv"]


ERRORS = {
    "not a model file": (_not_a_model, ["is not a skmixsynth model file"]),
    "a CSV as the model": (
        lambda t, f: ["sample", f["real"], "-n", 5, "-o", t / "out.csv"],
        ["is not a skmixsynth model file"]),
    "missing model file": (
        lambda t, f: ["sample", t / "nope.pt", "-n", 5, "-o", t / "out.csv"],
        ["model", "nope.pt: no such file"]),
    "missing data file": (
        lambda t, f: ["fit", t / "nope.csv", "-m", "independent", "-o", t / "m.pt"],
        ["data", "nope.csv: no such file"]),
    "unknown model": (
        lambda t, f: ["fit", f["real"], "-m", "tvae", "-o", t / "m.pt"],
        ["unknown model 'tvae'", "mixgan", "independent"]),
    "unknown parameter": (
        lambda t, f: ["fit", f["real"], "-m", "independent", "--set", "n_bin=3", "-o",
                      t / "m.pt"],
        ["unknown parameter 'n_bin'", "did you mean 'n_bins'?", "min_count"]),
    "bad parameter value": (
        lambda t, f: ["fit", f["real"], "-m", "independent", "--set", "n_bins=-1", "-o",
                      t / "m.pt"],
        ["n_bins", "-1"]),
    "seed given twice": (
        lambda t, f: ["fit", f["real"], "-m", "independent", "--set", "random_state=1",
                      "--seed", "2", "-o", t / "m.pt"],
        ["--seed and --set random_state"]),
    "missing column": (
        lambda t, f: ["fit", f["real"], "-m", "independent", "--categorical", "zip", "-o",
                      t / "m.pt"],
        ["'zip'", "region"]),
    "output folder missing": (
        lambda t, f: ["fit", f["real"], "-m", "independent", "-o", t / "no" / "m.pt"],
        ["does not exist"]),
    "unknown output format": (
        lambda t, f: ["sample", f["model"], "-n", 5, "-o", t / "out.txt"],
        ["out.txt", ".csv", ".parquet"]),
    "not a CSV": (
        lambda t, f: ["fit", f["model"].with_suffix(".pt"), "-m", "independent", "-o",
                      t / "m.pt"],
        ["cannot tell the table format"]),
    "unreadable CSV": (
        lambda t, f: ["fit", _write(t / "bad.csv", b"\xff\xfe\x00garbage\x81\n\x00"), "-m",
                      "independent", "-o", t / "m.pt"],
        ["bad.csv", "cannot be read as CSV"]),
    "condition on an unknown column": (
        lambda t, f: ["sample", f["model"], "-n", 5, "--conditions", "zip=1", "-o",
                      t / "out.csv"],
        ["zip=1", "no column 'zip'"]),
    "condition of the wrong type": (
        lambda t, f: ["sample", f["model"], "-n", 5, "--conditions", "age=old", "-o",
                      t / "out.csv"],
        ["age=old", "integers"]),
    "condition on an unknown level": (
        lambda t, f: ["sample", f["model"], "-n", 5, "--conditions", "region=mars", "-o",
                      t / "out.csv"],
        ["region", "mars", "north"]),
    "condition without a value": (
        lambda t, f: ["sample", f["model"], "-n", 5, "--conditions", "region", "-o",
                      t / "out.csv"],
        ["'region' is not COLUMN=VALUE"]),
    "negative row count": (
        lambda t, f: ["sample", f["model"], "-n", -3, "-o", t / "out.csv"],
        ["-n must be a non-negative"]),
    "unknown target": (
        lambda t, f: ["evaluate", f["real"], f["holdout"], "--target", "salary"],
        ["salary", "not a column"]),
    "tables with different columns": (
        lambda t, f: ["evaluate", f["real"], _drop_column(f["holdout"], t, "age")],
        ["age", "missing from synthetic"]),
    # command-line errors (argparse): exit status 2, one line too
    "unknown command": (lambda t, f: ["fitt", "x.csv"], ["invalid choice"]),
    "no output": (lambda t, f: ["fit", f["real"], "-m", "independent"], ["-o/--output"]),
    "not a number": (
        lambda t, f: ["sample", f["model"], "-n", "many", "-o", t / "o.csv"],
        ["-n", "many"]),
    "bad --set": (
        lambda t, f: ["fit", f["real"], "-m", "independent", "--set", "epochs", "-o",
                      t / "m.pt"],
        ["'epochs' is not KEY=VALUE"]),
}


def _write(path, data):
    path.write_bytes(data)
    return path


def _drop_column(path, folder, column):
    out = folder / f"without_{column}.csv"
    pd.read_csv(path).drop(columns=column).to_csv(out, index=False)
    return out


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_are_one_line_with_a_non_zero_status(case, files, tmp_path):
    make, fragments = ERRORS[case]
    argv = make(tmp_path, files) if case != "not a model file" else make(tmp_path)
    result = cli(*argv)
    assert_one_line_error(result, *fragments)
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_one_line(files, tmp_path):
    result = cli("fit", files["real"], "-m", "independent", "--device", "cuda", "-o",
                 tmp_path / "m.pt")
    assert_one_line_error(result, "CUDA")


def test_debug_shows_the_exception(files, tmp_path):
    with pytest.raises(ValueError, match="unknown model"):
        cli("fit", files["real"], "-m", "tvae", "-o", tmp_path / "m.pt", "--debug")


def _has_pyarrow():
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(_has_pyarrow(), reason="pyarrow is installed")
def test_parquet_without_pyarrow_names_the_extra(files, tmp_path):
    result = cli("sample", files["model"], "-n", 5, "-o", tmp_path / "out.parquet")
    assert_one_line_error(result, "pyarrow", "skmixsynth[parquet]")
    pd.read_csv(files["real"]).to_csv(tmp_path / "data.parquet")  # a name is enough
    result = cli("fit", tmp_path / "data.parquet", "-m", "independent", "-o", tmp_path / "m.pt")
    assert_one_line_error(result, "pyarrow", "skmixsynth[parquet]")


@pytest.mark.skipif(not _has_pyarrow(), reason="pyarrow is not installed (the parquet extra)")
def test_parquet_round_trip(files, tmp_path):
    out = tmp_path / "synthetic.parquet"
    assert cli("sample", files["model"], "-n", 40_000, "--seed", 0, "--chunk-size", 1, "-o",
               out, "-q").code == 0
    expected = skmixsynth.load(files["model"]).sample(40_000, random_state=0)
    got = pd.read_parquet(out)
    assert got.dtypes.equals(expected.dtypes)
    pd.testing.assert_frame_equal(_none_for_missing(got), _none_for_missing(expected))
    assert cli("fit", out, "-m", "independent", "-o", tmp_path / "m.pt", "-q").code == 0


def _none_for_missing(frame):
    """Missing cells as None (Parquet gives None where pandas wrote NaN in object columns)."""
    return frame.astype(object).where(frame.notna(), None)


# ------------------------------------------------------------------------ help, version
@pytest.mark.parametrize("command", ["fit", "sample", "evaluate", "demo"])
def test_help_of_each_command_has_an_example(command):
    result = cli(command, "--help")
    assert result.code == 0 and result.err == ""
    assert "examples:" in result.out
    assert f"skmixsynth {command} " in result.out.split("examples:")[1]


def test_help_and_version():
    top = cli("--help")
    assert top.code == 0
    assert all(c in top.out for c in ("fit", "sample", "evaluate", "demo"))
    assert "mixgan" in cli("fit", "--help").out
    version = cli("--version")
    assert version.code == 0 and version.out.strip() == f"skmixsynth {skmixsynth.__version__}"
    assert cli().code == 2  # a command is required


def test_pyproject_declares_the_script_and_the_parquet_extra():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["skmixsynth"] == "skmixsynth.cli:main"
    assert any(r.startswith("pyarrow") for r in project["optional-dependencies"]["parquet"])
    assert not any(r.startswith("pyarrow") for r in project["dependencies"])


# ------------------------------------------------------------------- as a shell runs it
@pytest.mark.slow
def test_subprocess_round_trip_with_mixgan(files, tmp_path):
    real, holdout = files["real"], files["holdout"]
    fit = run("fit", real, "--model", "mixgan", "--set", "epochs=1", "--set", "ae_epochs=1",
              "--seed", 0, "-o", "model.pt", cwd=tmp_path)
    assert fit.code == 0, fit
    assert "fitted MixGANSynthesizer" in fit.out and "2 epochs" in fit.out
    sample = run("sample", "model.pt", "-n", 400, "--seed", 0, "-o", "a.csv", cwd=tmp_path)
    assert sample.code == 0, sample
    expected = io.StringIO()
    skmixsynth.load(tmp_path / "model.pt").sample(400, random_state=0).to_csv(expected,
                                                                             index=False)
    assert (tmp_path / "a.csv").read_text() == expected.getvalue()
    evaluation = run("evaluate", real, "a.csv", "--holdout", holdout, "--target", "plan",
                     "--report", "report.html", cwd=tmp_path)
    assert evaluation.code == 0, evaluation
    assert "column_pair_trends" in evaluation.out
    page = (tmp_path / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page


@pytest.mark.slow
def test_subprocess_errors(tmp_path):
    (tmp_path / "model.pt").write_text("not a model")
    result = run("sample", "model.pt", "-n", 5, "-o", "out.csv", cwd=tmp_path)
    assert_one_line_error(result, "model.pt is not a skmixsynth model file")
    assert result.code == 1
    usage = run("sample", "model.pt", cwd=tmp_path)
    assert_one_line_error(usage, "required")
    assert usage.code == 2


@pytest.mark.slow
def test_subprocess_demo(tmp_path):
    result = run("demo", "--rows", 400, "--set", "epochs=1", "--set", "ae_epochs=1",
                 "--output-dir", ".", "-q", cwd=tmp_path)
    assert result.code == 0, result
    assert "floor: independent marginals" in result.out
    assert "ceiling: real training rows" in result.out
    for name in ("train.csv", "holdout.csv", "model.pt"):
        assert (tmp_path / name).exists()


def test_interrupted_fit_keeps_the_last_finished_epoch(files, tmp_path, monkeypatch):
    import skmixsynth._training as training

    def interrupt(bar, record, verbose):  # Ctrl-C right after the first epoch ends
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "_report", interrupt)
    out = tmp_path / "m.pt"
    result = cli("fit", files["real"], "-m", "independent", "--seed", 0, "-o", out, "-q")
    assert result.code == 130
    assert "last finished epoch" in result.err and "Traceback" not in result.err
    assert skmixsynth.load(out).n_iter_ == 1


def test_progress_without_tqdm_is_one_log_line_per_epoch(files, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now fails
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    result = cli("fit", files["real"], "-m", "independent", "-o", tmp_path / "m.pt")
    assert result.code == 0, result
    lines = result.err.strip().splitlines()
    assert len(lines) == skmixsynth.load(tmp_path / "m.pt").n_iter_ == 1
    assert lines[0].startswith("skmixsynth: statistics epoch 0")
