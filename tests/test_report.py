"""evaluate() and EvaluationReport: scores, tables, figures, text, HTML and JSON forms."""

import json
import re
import sys

import pytest

matplotlib = pytest.importorskip("matplotlib")

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from skmixsynth.datasets import make_mixed  # noqa: E402
from skmixsynth.metrics import (  # noqa: E402
    EvaluationReport,
    column_pair_trends,
    column_shapes,
    dcr_ratio,
    detection_score,
    evaluate,
    exact_copy_rate,
    marginal_agreement_summary,
    quality_score,
    rare_value_copy_rate,
)
from skmixsynth.report import SCORE_INFO  # noqa: E402

ALWAYS = [
    "quality",
    "column_shapes",
    "column_pair_trends",
    "marginal_agreement",
    "marginal_agreement_r2",
    "detection",
]
FULL = [
    *ALWAYS,
    "correlation_maintenance",
    "ml_efficacy_macro_f1",
    "ml_efficacy_weighted_f1",
    "privacy_exact_copies",
    "privacy_rare_values",
    "privacy_dcr",
]


@pytest.fixture(autouse=True)
def _close_figures():
    with threadpool_limits(limits=1):
        yield
    plt.close("all")


@pytest.fixture(scope="module")
def split():
    data = make_mixed(350, random_state=0)
    return {
        "real": data.iloc[:200].reset_index(drop=True),
        "holdout": data.iloc[200:].reset_index(drop=True),
        "fake": make_mixed(200, random_state=1),
    }


@pytest.fixture(scope="module")
def full(split):
    return evaluate(
        split["real"], split["fake"], holdout=split["holdout"], target="plan", train=split["real"]
    )


def shuffled(frame, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {c: frame[c].to_numpy()[rng.permutation(len(frame))] for c in frame.columns}
    ).astype(frame.dtypes.to_dict())


def test_full_report_has_every_score_table_and_figure(full):
    assert list(full.scores) == FULL
    assert all(isinstance(v, float) and np.isfinite(v) for v in full.scores.values())
    for name, value in full.scores.items():
        assert value <= 1.0, name
        if SCORE_INFO[name][0] == "[0, 1]":
            assert value >= 0.0, name
    assert set(full.tables) == {
        "column_shapes",
        "column_pair_trends",
        "marginal_agreement",
        "correlation_maintenance",
        "ml_efficacy",
        "privacy",
        "privacy_columns",
    }
    assert all(isinstance(t, pd.DataFrame) for t in full.tables.values())
    assert set(full.figures) == {
        "marginal_agreement",
        "correlation_maintenance",
        "distributions",
        "association_difference",
    }
    assert all(isinstance(f, Figure) for f in full.figures.values())
    assert full.info["task"] == "classification"
    efficacy = full.tables["ml_efficacy"]
    assert list(efficacy.columns) == [
        "estimator",
        "metric",
        "trained_on_synthetic",
        "trained_on_real",
    ]
    mean = efficacy[(efficacy["estimator"] == "mean") & (efficacy["metric"] == "macro_f1")]
    assert mean["trained_on_synthetic"].item() == full.scores["ml_efficacy_macro_f1"]


def test_scores_are_the_metrics(split, full):
    real, fake, holdout = split["real"], split["fake"], split["holdout"]
    scores = full.scores
    assert scores["quality"] == pytest.approx(quality_score(real, fake))
    assert scores["column_shapes"] == pytest.approx(column_shapes(real, fake))
    assert scores["column_pair_trends"] == pytest.approx(column_pair_trends(real, fake))
    summary = marginal_agreement_summary(real, fake)
    assert scores["marginal_agreement"] == pytest.approx(summary["score"])
    assert scores["marginal_agreement_r2"] == pytest.approx(summary["r2_diagonal"])
    assert scores["detection"] == pytest.approx(detection_score(real, fake, random_state=0))
    errors = full.tables["correlation_maintenance"]
    gap = (errors["e_real"] - errors["e_fake"]).abs().mean()
    assert scores["correlation_maintenance"] == pytest.approx(1 - gap)
    assert scores["privacy_exact_copies"] == pytest.approx(1 - exact_copy_rate(real, fake))
    assert scores["privacy_rare_values"] == pytest.approx(1 - rare_value_copy_rate(real, fake))
    assert scores["privacy_dcr"] == pytest.approx(min(1.0, dcr_ratio(real, fake, holdout)))


def test_without_holdout_target_or_train(split):
    report = evaluate(split["real"], split["fake"], figures=False)
    assert list(report.scores) == ALWAYS
    assert report.figures == {}
    assert "correlation_maintenance" not in report.tables
    joined = " ".join(report.notes)
    assert "no holdout" in joined
    assert "no train" in joined


def test_target_and_train_without_holdout(split):
    report = evaluate(
        split["real"], split["fake"], target="plan", train=split["real"], figures=False
    )
    assert list(report.scores) == [*ALWAYS, "privacy_exact_copies", "privacy_rare_values"]
    joined = " ".join(report.notes)
    assert "ml_efficacy skipped" in joined
    assert "privacy_dcr skipped" in joined
    assert report.tables["privacy"]["metric"].tolist() == [
        "exact_copy_rate",
        "rare_value_copy_rate",
    ]


def test_regression_target():
    rng = np.random.default_rng(0)
    x = rng.normal(size=240)
    df = pd.DataFrame({"x": x, "y": 2 * x + rng.normal(scale=0.3, size=240), "c": x > 0})
    real, holdout = df.iloc[:150], df.iloc[150:]
    report = evaluate(real, real, holdout=holdout, target="y", figures=False)
    assert report.info["task"] == "regression"
    assert report.scores["ml_efficacy_r2"] > 0.8
    assert "ml_efficacy_macro_f1" not in report.scores


def test_one_column_table(split):
    columns = ["age"]
    report = evaluate(
        split["real"][columns], split["fake"][columns], holdout=split["holdout"][columns]
    )
    assert report.scores["quality"] == report.scores["column_shapes"]
    assert np.isnan(report.scores["column_pair_trends"])
    assert "correlation_maintenance" not in report.scores
    assert set(report.figures) == {"marginal_agreement", "distributions"}
    assert any("two columns" in note for note in report.notes)


def test_input_errors(split):
    real, fake = split["real"], split["fake"]
    with pytest.raises(ValueError, match="same columns"):
        evaluate(real, fake.drop(columns="age"))
    with pytest.raises(ValueError, match="same columns"):
        evaluate(real, fake, holdout=split["holdout"].drop(columns="age"))
    with pytest.raises(ValueError, match="not a column"):
        evaluate(real, fake, target="nope")
    with pytest.raises(ValueError, match="without a target"):
        evaluate(real, fake, task="regression")
    with pytest.raises(TypeError, match="figures"):
        evaluate(real, fake, figures="yes")


def test_perfect_copy_beats_a_shuffled_table(split):
    real, holdout = split["real"], split["holdout"]
    copy = evaluate(real, real, holdout=holdout, figures=False).scores
    broken = evaluate(real, shuffled(real), holdout=holdout, figures=False).scores
    for name in ("quality", "column_pair_trends", "detection", "correlation_maintenance"):
        assert copy[name] > broken[name], name
    for name in ("column_shapes", "marginal_agreement", "marginal_agreement_r2"):
        # shuffling each column keeps its marginal exactly
        assert copy[name] == pytest.approx(1.0)
        assert broken[name] == pytest.approx(1.0)
    assert copy["detection"] == pytest.approx(1.0)
    assert copy["correlation_maintenance"] == pytest.approx(1.0)


def test_text_form_lists_the_scores(full):
    text = str(full)
    assert repr(full) == text
    lines = text.splitlines()
    for name, value in full.scores.items():
        (line,) = [line for line in lines if line.split()[:1] == [name]]
        assert f"{value:.4f}" in line
    # aligned: every score value starts in the same column
    starts = {
        line.index(f"{full.scores[line.split()[0]]:.4f}")
        for line in lines
        if line.split()[:1] and line.split()[0] in full.scores
    }
    assert len(starts) == 1
    assert "greater is better" in text.lower()
    assert "holdout: 150 rows" in text


def test_html_is_one_self_contained_file(full, tmp_path):
    path = tmp_path / "report.html"
    page = full.to_html(path)
    assert path.read_text(encoding="utf-8") == page
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('<img src="data:image/png;base64,') == len(full.figures)
    for name in full.scores:
        assert name in page
    for name in full.tables:
        assert name in page
    # nothing loaded from elsewhere
    assert all(src.startswith("data:") for src in re.findall(r"src=[\"']([^\"']*)", page))
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "<script" not in page and "@import" not in page
    assert "greater is better" in page.lower()


def test_to_dict_is_json(full):
    out = json.loads(json.dumps(full.to_dict()))
    assert out["scores"] == pytest.approx(full.scores)
    assert set(out["tables"]) == set(full.tables)
    assert len(out["tables"]["column_shapes"]) == len(full.tables["column_shapes"])
    assert out["figures"] == list(full.figures)
    assert out["info"]["n_holdout"] == 150


def test_missing_matplotlib_skips_figures_with_a_note(split, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    report = evaluate(split["real"], split["fake"])
    assert report.figures == {}
    assert any('pip install "skmixsynth[plot]"' in note for note in report.notes)
    assert list(report.scores) == ALWAYS
    assert "<img" not in report.to_html()


def test_empty_report_renders():
    report = EvaluationReport()
    assert str(report).startswith("EvaluationReport")
    assert report.to_dict() == {"scores": {}, "tables": {}, "figures": [], "notes": [], "info": {}}
    assert "<h1>" in report.to_html()


# ----------------------------------------------------------------------------- privacy
def _with_emails(frame, seed):
    rng = np.random.default_rng(seed)
    users = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), 8)) for _ in frame.index]
    return frame.assign(email=[f"{u}.{seed}.{i}@example.org" for i, u in enumerate(users)])


@pytest.fixture(scope="module")
def email_split():
    # small: the report's correlation_maintenance predicts every column, the e-mail too
    data = make_mixed(450, random_state=3)
    return {
        "train": _with_emails(data.iloc[:150].reset_index(drop=True), 1),
        "holdout": _with_emails(data.iloc[150:300].reset_index(drop=True), 2),
        "other": _with_emails(data.iloc[300:].reset_index(drop=True), 3),
    }


def test_copied_emails_read_as_a_leak(email_split):
    """Measured before: every synthetic e-mail a training e-mail (the other columns drawn
    on their own), and both privacy scores read 1.0."""
    train, holdout = email_split["train"], email_split["holdout"]
    fake = shuffled(train)
    report = evaluate(train, fake, holdout=holdout, train=train, figures=False)
    assert report.scores["privacy_exact_copies"] == 0.0
    assert report.scores["privacy_rare_values"] == 0.0
    assert report.scores["privacy_dcr"] == 0.0
    assert report.info["privacy_verdict"] == "leak"
    privacy = report.tables["privacy"].set_index("metric")
    assert privacy["verdict"].tolist() == ["leak", "leak", "leak"]
    assert privacy.loc["dcr_ratio", "synthetic"] == 0.0  # the raw ratio, uncapped
    columns = report.tables["privacy_columns"].set_index("column")
    assert columns.loc["email", "identifier"]
    assert columns.loc["email", ["synthetic", "holdout"]].tolist() == [1.0, 0.0]
    assert columns.loc["email", "verdict"] == "leak"
    (note,) = [n for n in report.notes if n.startswith("privacy verdict")]
    assert "LEAK" in note and "'email'" in note and "100.0%" in note
    assert "privacy verdict: LEAK" in str(report)
    # the privacy section names no training e-mail
    written = " ".join(
        [*report.notes, report.tables["privacy"].to_string(),
         report.tables["privacy_columns"].to_string()]
    )
    assert not any(email in written for email in train["email"])
    # without a hold-out, a copied identifier is still a leak
    alone = evaluate(train, fake, train=train, figures=False)
    assert alone.info["privacy_verdict"] == "leak"


def test_a_few_copied_identifiers_are_a_leak(email_split):
    train, holdout, other = email_split["train"], email_split["holdout"], email_split["other"]
    fake = other.copy()
    fake.loc[:1, "email"] = train["email"].iloc[:2].to_numpy()  # 2 rows of 150
    report = evaluate(train, fake, holdout=holdout, train=train, figures=False)
    columns = report.tables["privacy_columns"].set_index("column")
    assert columns.loc["email", "synthetic"] == pytest.approx(2 / 150)
    assert columns.loc["email", "verdict"] == "leak"
    # rare ages are carried by unseen rows too: not a leak
    assert columns.loc["age", "holdout"] > 0.05
    assert columns.loc["age", "verdict"] == "safe"
    assert report.info["privacy_verdict"] == "leak"


def test_fresh_emails_and_a_holdout_read_as_safe(email_split):
    from types import SimpleNamespace

    from skmixsynth._protection import IdentifierColumn

    train, holdout, other = email_split["train"], email_split["holdout"], email_split["other"]
    column = IdentifierColumn().fit(
        train["email"], name="email", settings=SimpleNamespace(min_count=5, random_state=0)
    )
    emails = column.decode(np.empty((len(other), 0)), None, np.random.RandomState(0))
    fresh = other.assign(email=emails.to_numpy())
    for rows in (fresh, other):
        report = evaluate(train, rows, holdout=holdout, train=train, figures=False)
        assert report.info["privacy_verdict"] == "safe", report.tables["privacy"]
        assert report.scores["privacy_exact_copies"] == 1.0
        assert report.scores["privacy_dcr"] > 0.8
        assert (report.tables["privacy_columns"]["verdict"] == "safe").all()
        assert report.tables["privacy_columns"].set_index("column").loc["email", "synthetic"] == 0
        assert "privacy verdict: SAFE" in str(report)


def test_privacy_verdict_without_a_baseline(split):
    real = split["real"]
    report = evaluate(real, split["fake"], train=real, figures=False)
    rates = report.tables["privacy"].set_index("metric")["synthetic"]
    expected = {0.0: "safe"}.get(rates["rare_value_copy_rate"], "no baseline")
    assert report.tables["privacy"].set_index("metric").loc["rare_value_copy_rate", "verdict"] == (
        expected
    )
    assert report.info["privacy_verdict"] in {"safe", "no baseline"}
    assert "privacy_verdict" in json.loads(json.dumps(report.to_dict()))["info"]
