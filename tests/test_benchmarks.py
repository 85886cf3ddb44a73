"""Smoke tests of the benchmark harness (``benchmarks/``): tiny quick runs into a tmp dir.

They exercise the real path (worker subprocesses, metrics, JSON, report, figures) on tables
of a few hundred rows, so they take seconds; the measured numbers are not checked.
"""

import json
import sys
from pathlib import Path

import pytest

# The harness lives at the repository root, outside the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _cli, _figures, _paths, _worker, report, run, scaling
from benchmarks._results import SCHEMA, jsonable, number
from benchmarks._tables import read_table, table_schema, write_table
from skmixsynth.datasets import make_mixed


def _only_run(folder):
    paths = sorted(Path(folder).glob("*.json"))
    assert len(paths) == 1, paths
    return json.loads(paths[0].read_text(encoding="utf-8"))


def test_parse_params():
    params = _cli.parse_params(
        ["mixgan.epochs=10", "ctgan.generator_dim=(64, 64)", "tvae.name=abc"]
    )
    assert params == {
        "mixgan": {"epochs": 10},
        "ctgan": {"generator_dim": (64, 64)},
        "tvae": {"name": "abc"},
    }
    with pytest.raises(ValueError, match=r"MODEL\.NAME=VALUE"):
        _cli.parse_params(["epochs=3"])
    with pytest.raises(ValueError, match="unknown model"):
        _cli.parse_params(["gan.epochs=3"])


def test_table_round_trip(tmp_path):
    frame = make_mixed(200, missing_rate=0.1, random_state=0)
    write_table(frame, tmp_path / "t.csv", tmp_path / "t.json")
    back = read_table(tmp_path / "t.csv", table_schema(frame))
    assert list(back.dtypes.astype(str)) == [
        "category",
        "int64",
        "object",
        "float64",
        "bool",
        "object",
        "float64",
        "category",
    ]
    for column in frame:
        left, right = frame[column].astype(object), back[column].astype(object)
        assert left.isna().equals(right.isna())
        assert (left[left.notna()] == right[right.notna()]).all(), column


def test_json_numbers():
    doc = jsonable({"a": float("nan"), "b": float("inf"), "c": (1, 2.5)})
    assert doc == {"a": None, "b": "inf", "c": [1, 2.5]}
    assert number(doc["b"]) == float("inf") and number(doc["a"]) is None


def test_worker_reports_failures(tmp_path):
    frame = make_mixed(50, random_state=0)
    write_table(frame, tmp_path / "train.csv", tmp_path / "schema.json")
    job = {
        "model": "independent",
        "params": {"n_bins": 0},
        "seed": 0,
        "train_csv": str(tmp_path / "train.csv"),
        "schema": str(tmp_path / "schema.json"),
        "n_samples": 10,
        "output_csv": None,
    }
    result = _worker.run_job(job)
    assert result["status"] == "failed"
    assert "n_bins" in result["error"]
    assert result["peak_rss_mb"] > 0


@pytest.mark.slow
def test_quick_run(tmp_path):
    path = run.main(
        [
            "--quick",
            "--datasets",
            "mixed",
            "grid",
            "--models",
            "identity",
            "independent",
            "--max-rows",
            "300",
            "--figure-datasets",
            "mixed",
            "--out",
            str(tmp_path),
        ]
    )
    doc = _only_run(tmp_path)
    assert Path(path).parent == tmp_path
    assert doc["schema"] == SCHEMA and doc["quick"] and doc["complete"]
    # The --out folder is shown as display_path shows it, which depends on where the checkout
    # lives relative to pytest's temporary folder (test_display_path covers each case); no
    # absolute path of the machine is recorded.
    assert doc["command"] == (
        f"python -m benchmarks.run --quick --datasets mixed grid --models identity independent "
        f"--max-rows 300 --figure-datasets mixed --out {_paths.display_path(tmp_path)}"
    )
    assert str(tmp_path) not in json.dumps(doc)
    assert doc["versions"]["torch"] and doc["machine"]["cpu_count"]
    assert {(r["dataset"], r["model"]) for r in doc["records"]} == {
        (d, m) for d in ("mixed", "grid") for m in ("identity", "independent")
    }
    for record in doc["records"]:
        assert record["status"] == "ok", record.get("error")
        assert record["metric_errors"] == {}, record["metric_errors"]
        assert record["n_synthetic"] == record["n_train"]
        assert record["fit_seconds"] >= 0 and record["peak_rss_mb"] > 0
    by_key = {(r["dataset"], r["model"]): r for r in doc["records"]}
    assert by_key["mixed", "identity"]["metrics"]["exact_copy_rate"] == 1.0
    # the training rows again: none of them is a held-out row of this continuous table
    assert by_key["mixed", "identity"]["metrics"]["holdout_copy_rate"] == 0.0
    assert "macro_f1" in by_key["mixed", "independent"]["metrics"]["efficacy"]
    assert "l_test" in by_key["grid", "independent"]["metrics"]["likelihood"]
    assert by_key["mixed", "independent"]["metrics"]["marginal_agreement"]["points"]
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    for heading in ("GTCoder Table 1", "GTCoder Table 2", "All metrics", "mixGAN figures"):
        assert heading in readme
    assert (tmp_path / "fig3_marginal_agreement_mixed.png").stat().st_size > 0
    assert (tmp_path / "fig4_correlation_maintenance_mixed.png").stat().st_size > 0
    assert not (tmp_path / "tmp").exists()


def test_display_path(tmp_path, monkeypatch):
    """Paths in run files are relative to the checkout or its parent, else a bare name."""
    repo = tmp_path / "parent" / "repo"
    monkeypatch.setattr(_paths, "REPO_ROOT", repo)
    assert _paths.display_path(repo / "benchmarks" / "results") == "benchmarks/results"
    assert _paths.display_path(repo.parent / "shared" / "datasets") == "../shared/datasets"
    assert _paths.display_path(tmp_path / "elsewhere" / "out") == "out"
    command = _cli.command_line("run", ["--out", str(repo / "x"), "--data-home", "rel/dir"])
    assert command == "python -m benchmarks.run --out x --data-home rel/dir"


def test_missing_dataset_is_skipped(tmp_path):
    run.main(
        [
            "--quick",
            "--datasets",
            "adult",
            "--models",
            "identity",
            "--data-home",
            str(tmp_path / "nowhere"),
            "--out",
            str(tmp_path),
            "--no-report",
        ]
    )
    (record,) = _only_run(tmp_path)["records"]
    assert record["status"] == "skipped" and "FileNotFoundError" in record["error"]


@pytest.mark.slow
def test_quick_scaling(tmp_path):
    scaling.main(
        [
            "--quick",
            "--models",
            "identity",
            "--rows",
            "100",
            "200",
            "--column-copies",
            "1",
            "2",
            "--column-rows",
            "100",
            "--out",
            str(tmp_path),
        ]
    )
    doc = _only_run(tmp_path)
    assert doc["kind"] == "scaling"
    points = {(r["axis"], r["n_rows"], r["n_columns"]) for r in doc["records"]}
    assert points == {("rows", 100, 8), ("rows", 200, 8), ("columns", 100, 8), ("columns", 100, 16)}
    assert all(r["status"] == "ok" and r["fit_us_per_row"] >= 0 for r in doc["records"])
    assert "## Scaling" in (tmp_path / "README.md").read_text(encoding="utf-8")


def _fake_record(model, seed, fit, quality, run_id="r1"):
    return {
        "model": model,
        "label": model,
        "overrides": {},
        "dataset": "adult",
        "seed": seed,
        "target": "income",
        "task": "classification",
        "n_train": 100,
        "n_test": 25,
        "status": "ok",
        "fit_seconds": fit,
        "peak_rss_mb": 100.0,
        "sample_rows_per_second": 1000.0,
        "metrics": {"quality": quality, "efficacy": {"macro_f1": 0.5, "weighted_f1": 0.6}},
    }


def test_report_means_and_ratios(tmp_path):
    records = [_fake_record("independent", s, 1.0, 0.80 + s / 100) for s in (0, 1)]
    records += [_fake_record("ctgan", s, 10.0, 0.70) for s in (0, 1)]
    doc = {
        "schema": SCHEMA,
        "kind": "run",
        "run_id": "r1",
        "quick": False,
        "command": "python -m benchmarks.run",
        "duration_seconds": 60,
        "records": records,
    }
    (tmp_path / "r1.json").write_text(json.dumps(doc), encoding="utf-8")
    readme = report.build_report(tmp_path).read_text(encoding="utf-8")
    assert "| independent | 0.500 ± 0.000 / 0.600 ± 0.000 | — | — |" in readme
    assert "| ctgan | 0.500 ± 0.000 / 0.600 ± 0.000 | 0.69 / 0.79 |" in readme
    assert "gtcoder (not run here)" in readme
    assert "| independent | 0.100 ± 0.000 | 0.105 ± 0.007 |" in readme  # fit ratio, quality diff
    assert "uncommitted changes" not in readme


def test_report_marks_a_run_from_a_dirty_tree(tmp_path):
    for run_id, dirty in (("clean", False), ("dirty", True)):
        doc = {"schema": SCHEMA, "kind": "run", "run_id": run_id, "quick": False,
               "command": "python -m benchmarks.run", "duration_seconds": 60,
               "code": {"commit": f"{run_id}0000", "dirty": dirty},
               "records": [_fake_record("independent", 0, 1.0, 0.8)]}
        (tmp_path / f"{run_id}.json").write_text(json.dumps(doc), encoding="utf-8")
    readme = report.build_report(tmp_path).read_text(encoding="utf-8")
    assert "| dirty0000 *+ uncommitted changes* |" in readme
    assert "| clean0000 |" in readme
    assert "ran on a tree with changes that are not in that commit" in readme


def test_report_has_the_stream_and_sampling_runs(tmp_path):
    big = {"measure": "big", "model": "mixgan", "n_rows": 10_000_000, "n_columns": 30,
           "file_mb": 682.0, "encoder_seconds": 42.0, "train_seconds": 868.0,
           "train_rows_per_second": 23042.0, "peak_rss_mb": 818.0, "status": "ok"}
    adult = [{"measure": "adult", "source": source, "seed": seed, "status": "ok",
              "fit_seconds": 100.0, "metrics": {"quality": quality, "detection_xgb": 0.3,
                                                "efficacy": {"macro_f1": 0.74}}}
             for source, quality in (("memory", 0.92), ("parquet", 0.90)) for seed in (0, 1)]
    docs = [{"schema": SCHEMA, "kind": "stream", "run_id": "s1", "quick": False,
             "command": "python -m benchmarks.stream_fit", "records": [big, *adult]},
            {"schema": SCHEMA, "kind": "sample_scale", "run_id": "p1", "quick": False,
             "command": "python -m benchmarks.sample_scale",
             "records": [{"model": "mixgan", "rows": 100_000_000, "n_jobs": 2,
                          "rows_per_second": 451630.0, "total_peak_rss_mb": 1511.0,
                          "bytes_on_disk": 769262035, "status": "ok"}]}]
    for doc in docs:
        (tmp_path / f"{doc['run_id']}.json").write_text(json.dumps(doc), encoding="utf-8")
    readme = report.build_report(tmp_path).read_text(encoding="utf-8")
    assert "| s1 | mixgan | 10,000,000 x 30 | 682 MiB | 42 s | 868 s | 23,042 | 818 MiB |" in readme
    assert "| parquet | 2 | 0.900 ± 0.000 | 0.300 ± 0.000 | 0.740 ± 0.000 |" in readme
    assert "| p1 | mixgan | 100,000,000 | 2 | 451,630 | 1,511 MiB | 734 MiB |" in readme


def test_figure_fallback(tmp_path):
    points = [
        {"column": "x", "kind": "numerical", "p_real": 0.5, "p_fake": 0.4},
        {"column": "c", "kind": "categorical", "p_real": 0.2, "p_fake": 0.3},
    ]
    fig = _figures.draw_fallback("marginal_agreement", "t", [("m", points, 0.1)])
    fig.savefig(tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 0


@pytest.mark.slow
def test_peer_adapter(tmp_path):
    pytest.importorskip("ctgan")
    frame = make_mixed(120, missing_rate=0.05, random_state=0)
    write_table(frame, tmp_path / "train.csv", tmp_path / "schema.json")
    job = {
        "model": "tvae",
        "params": {"epochs": 1},
        "seed": 0,
        "train_csv": str(tmp_path / "train.csv"),
        "schema": str(tmp_path / "schema.json"),
        "n_samples": 30,
        "output_csv": str(tmp_path / "out.csv"),
    }
    result = _worker.run_job(job)
    assert result["status"] == "ok", result.get("traceback")
    assert result["dropped_rows"] == int(frame[["income", "spending"]].isna().any(axis=1).sum())
    assert result["effective_params"]["epochs"] == 1
    back = read_table(tmp_path / "out.csv", table_schema(frame))
    assert back.shape == (30, frame.shape[1])


def test_untracked_result_files_do_not_make_a_tree_dirty(monkeypatch):
    from benchmarks import _environment

    status = {"value": "?? benchmarks/results/20261129T000000Z-run.json"}
    monkeypatch.setattr(_environment, "_git",
                        lambda *args: status["value"] if args[0] == "status" else "abc")
    assert _environment.code_version() == {"commit": "abc", "dirty": False}
    status["value"] += "\n M skmixsynth/base.py"
    assert _environment.code_version()["dirty"] is True
    status["value"] = "?? skmixsynth/new_module.py"
    assert _environment.code_version()["dirty"] is True


def test_run_ids_started_in_the_same_second_differ():
    # two runs launched together shared one result file and one job folder before
    from concurrent.futures import ThreadPoolExecutor

    from benchmarks._results import new_run_id

    with ThreadPoolExecutor(3) as pool:
        ids = list(pool.map(lambda _: new_run_id("test"), range(3)))
    assert len(set(ids)) == 3
    assert all(i.endswith("Z-test") for i in ids)
