"""evaluate() and EvaluationReport: scores, tables, figures, text, HTML and JSON forms."""

import json
import re
import shutil
import subprocess
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
from skmixsynth.report import MAX_HTML_ROWS, SCORE_INFO, format_number  # noqa: E402

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


# ------------------------------------------------------------------- the report as a surface
def test_the_report_lives_outside_metrics_and_composes_public_names():
    import ast
    import pathlib

    import skmixsynth.metrics
    import skmixsynth.report

    assert skmixsynth.metrics.evaluate is skmixsynth.report.evaluate
    assert skmixsynth.metrics.EvaluationReport is skmixsynth.report.EvaluationReport
    root = pathlib.Path(skmixsynth.report.__file__).parent
    def imported(path):
        """'module.name' of every import of a file (relative modules as written)."""
        tree = ast.parse(path.read_text(encoding="utf-8"))
        out = []
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                out += [f"{node.module or ''}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                out += [alias.name for alias in node.names]
        return out

    for path, forbidden in (
        (root / "report.py", ("metrics._", "plotting._")),
        (root / "plotting.py", ("metrics._",)),
        # metrics/__init__ re-exports the report's two names lazily; nothing else imports it
        *((path, ("plotting",) if path.name == "__init__.py" else ("plotting", "report"))
          for path in (root / "metrics").glob("*.py")),
    ):
        for text in imported(path):
            assert not any(f in text for f in forbidden), (path.name, text)


@pytest.fixture(scope="module")
def fitted(split):
    from skmixsynth import IndependentSynthesizer

    return IndependentSynthesizer(random_state=0).fit(split["real"])


@pytest.mark.slow
def test_html_header_names_the_synthesizer_its_parameters_date_and_sizes(split, fitted):
    markupsafe = pytest.importorskip("markupsafe")  # Jinja2's escaping
    report = evaluate(split["real"], fitted.sample(200, random_state=0), holdout=split["holdout"],
                      target="plan", train=split["real"], synthesizer=fitted, figures=False)
    assert report.info["synthesizer"] == "IndependentSynthesizer"
    assert report.info["parameters"] == fitted.get_params(deep=False)
    page = report.to_html()
    assert "<code>IndependentSynthesizer</code>" in page
    for name, value in fitted.get_params(deep=False).items():
        assert f'<td class="name">{name}</td>' in page
        assert f"<code>{markupsafe.escape(repr(value))}</code>" in page
    assert re.search(r"<dt>date</dt><dd>\d{4}-\d\d-\d\d \d\d:\d\d UTC</dd>", page)
    for name, rows in (("real", 200), ("synthetic", 200), ("holdout", 150), ("train", 200)):
        assert f"<dt>{name}</dt><dd>{rows} rows &times; 8 columns</dd>" in page
    assert "synthesizer: IndependentSynthesizer" in str(report)
    json.dumps(report.to_dict())  # the parameters are JSON too
    assert report.to_dict()["info"]["parameters"]["n_bins"] == fitted.n_bins


def _score_row(page, name):
    (row,) = re.findall(rf"<tr><td class=\"name\">{name}</td>(.*?)</tr>", page)
    return re.findall(r"<td[^>]*>(.*?)</td>", row)


@pytest.fixture(scope="module")
def page(full):
    return full.to_html()


@pytest.mark.slow
def test_scores_are_read_beside_their_ceiling_raw_ratio_and_floor(full, page):
    info = full.info
    value, reference, _, _ = _score_row(page, "ml_efficacy_macro_f1")
    assert value == format_number(full.scores["ml_efficacy_macro_f1"])
    assert reference.startswith(f"ceiling {format_number(info['ml_efficacy_macro_f1_ceiling'])}")
    efficacy = full.tables["ml_efficacy"].set_index(["estimator", "metric"])
    assert info["ml_efficacy_macro_f1_ceiling"] == efficacy.loc[("mean", "macro_f1"),
                                                                "trained_on_real"]
    value, reference, _, _ = _score_row(page, "privacy_dcr")
    assert reference == f"raw DCR ratio {format_number(info['dcr_ratio'])}"
    assert full.scores["privacy_dcr"] == min(1.0, info["dcr_ratio"])
    value, reference, _, _ = _score_row(page, "correlation_maintenance")
    assert f"independent columns about {format_number(info['correlation_maintenance_floor'])}" \
        in reference
    # the same references in the text form
    text = str(full)
    assert f"raw DCR ratio {format_number(info['dcr_ratio'])}" in text
    assert f"ceiling {format_number(info['ml_efficacy_macro_f1_ceiling'])}" in text


@pytest.mark.slow
def test_a_dcr_ratio_above_one_is_shown_uncapped(split):
    real, holdout = split["real"], split["holdout"]
    far = real.assign(income=real["income"] * 50, spending=real["spending"] * 50)
    report = evaluate(real, far, holdout=holdout, train=real, figures=False)
    assert report.info["dcr_ratio"] > 1 and report.scores["privacy_dcr"] == 1.0
    assert f"raw DCR ratio {format_number(report.info['dcr_ratio'])}" in report.to_html()


@pytest.mark.slow
def test_one_number_format_everywhere(full, page):
    cells = re.findall(r'<td class="num">(.*?)</td>', page)
    assert cells
    pattern = re.compile(r"^(-?\d{1,3}(,\d{3})*|-?\d+\.\d{4}|-?\d\.\d{4}e[+-]\d\d|nan|-?inf)$")
    assert all(pattern.match(cell) for cell in cells), [c for c in cells if not pattern.match(c)]
    shapes = full.tables["column_shapes"]
    for value in shapes["score"]:
        assert f'<td class="num">{format_number(value)}</td>' in page
    assert format_number(0.5) == "0.5000" and format_number(np.int64(1500)) == "1,500"
    assert format_number(np.nan) == "nan" and format_number(-np.inf) == "-inf"


def test_long_tables_show_their_largest_rows_first(split):
    rng = np.random.default_rng(0)
    real = split["real"].assign(city=rng.integers(0, 80, size=200).astype(str))
    fake = split["fake"].assign(city=rng.integers(0, 80, size=200).astype(str))
    report = evaluate(real, fake, identifiers=None, figures=False)
    points = report.tables["marginal_agreement"]
    assert len(points) > MAX_HTML_ROWS
    page = report.to_html()
    (table,) = re.findall(r'<table class="data" id="table-marginal_agreement">(.*?)</table>',
                          page, flags=re.S)
    assert table.count("<tr>") == MAX_HTML_ROWS + 1  # the header row too
    assert f"The first {MAX_HTML_ROWS} of {len(points)} rows" in page
    first_row = re.findall(r"<tbody>\s*<tr>(.*?)</tr>", table, flags=re.S)[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", first_row)
    row = points.iloc[(points["p_real"] - points["p_fake"]).abs().argmax()]
    assert cells[0] == str(row["column"])


@pytest.mark.slow
def test_identifier_columns_are_left_out_of_fidelity_and_kept_for_privacy(email_split):
    train, holdout = email_split["train"], email_split["holdout"]
    fake = shuffled(train)  # copies every training e-mail
    report = evaluate(train, fake, holdout=holdout, train=train, target="plan")
    assert report.info["identifier_columns"] == ["email"]
    for name in ("column_shapes", "correlation_maintenance"):
        assert "email" not in set(report.tables[name]["column"]), name
    assert "email" not in set(report.tables["marginal_agreement"]["column"])
    pairs = report.tables["column_pair_trends"]
    assert "email" not in set(pairs["column_1"]) | set(pairs["column_2"])
    assert any("identifier columns ['email'] left out" in note for note in report.notes)
    assert report.info["privacy_verdict"] == "leak"  # the copied e-mails still count
    page = report.to_html()
    assert "<dt>identifiers</dt><dd><code>email</code>" in page
    assert all(
        "email" not in ax.get_xticklabels()[0].get_text()
        for ax in report.figures["association_difference"].axes[:1]
    )
    # None keeps every column (the e-mail becomes a categorical column of 150 levels)
    everything = evaluate(train, fake, identifiers=None, figures=False)
    assert "email" in set(everything.tables["column_shapes"]["column"])
    with pytest.raises(ValueError, match="not columns of real"):
        evaluate(train, fake, identifiers=["nope"])


@pytest.mark.slow
@pytest.mark.slow
def test_the_report_shows_the_training_losses_of_the_synthesizer(split):
    from skmixsynth import MixtureSynthesizer

    real = split["real"]
    model = MixtureSynthesizer(n_components=2, n_subcomponents=2, epochs=2,
                               random_state=0).fit(real)
    report = evaluate(real, model.sample(200, random_state=0), synthesizer=model)
    assert "history" in report.figures
    assert [ax.get_title() for ax in report.figures["history"].axes] == ["adam (2 epochs)"]
    assert "<b>history</b>" in report.to_html()
    assert "history" not in evaluate(real, split["fake"], synthesizer=model, figures=False).figures


def test_the_synthesizer_says_which_columns_are_identifiers(email_split):
    from skmixsynth import IndependentSynthesizer

    train = email_split["train"]
    with pytest.warns(UserWarning, match="'email' looks like an identifier"):
        model = IndependentSynthesizer(random_state=0).fit(train)
    fake = model.sample(150, random_state=0)
    # "contact" is no identifier for the model; listed, it would be left out
    report = evaluate(train, fake, synthesizer=model, figures=False)
    assert report.info["identifier_columns"] == ["email"]
    assert "email" not in set(report.tables["column_shapes"]["column"])
    bare = IndependentSynthesizer(random_state=0, identifiers=None).fit(train.drop(columns="email"))
    report = evaluate(train.drop(columns="email"), bare.sample(150, random_state=0),
                      synthesizer=bare, figures=False)
    assert report.info["identifier_columns"] == []


def _many_columns(n_rows, n_columns, seed):
    """A sonar-like table: weakly related numerical columns on a small range, and a class."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n_rows, 1))
    smooth = np.cumsum(rng.normal(size=(n_rows, n_columns)), axis=1) / np.sqrt(
        np.arange(1, n_columns + 1))
    values = 0.3 / (1 + np.exp(-(0.4 * base + 0.6 * smooth)))
    frame = pd.DataFrame(values, columns=[f"attribute_{i:02d}" for i in range(n_columns)])
    return frame.assign(label=np.where(base[:, 0] + 0.5 * smooth[:, 3] > 0, "M", "R"))


@pytest.mark.slow
def test_correlation_maintenance_is_flagged_where_it_is_compressed():
    data = _many_columns(300, 20, 0)
    real, holdout = data.iloc[:150].reset_index(drop=True), data.iloc[150:].reset_index(drop=True)
    rng = np.random.default_rng(1)
    independent = real.apply(lambda s: rng.permutation(s.to_numpy()))
    report = evaluate(real, independent, holdout=holdout, figures=False)
    floor = report.info["correlation_maintenance_floor"]
    score = report.scores["correlation_maintenance"]
    assert floor > 0.9 and score > 0.9  # independent marginals score high: compressed
    assert abs(score - floor) < 0.03  # ... and about the floor
    assert report.info["correlation_maintenance_kept"] < 0.3
    (note,) = [n for n in report.notes if "compressed" in n]
    assert format_number(floor) in note
    copy = evaluate(real, real, holdout=holdout, figures=False)
    assert copy.info["correlation_maintenance_kept"] == pytest.approx(1.0)
    errors = report.tables["correlation_maintenance"]
    assert list(errors.columns) == ["column", "kind", "e_real", "e_fake", "e_null"]


def test_without_jinja2_the_html_says_which_extra(full, monkeypatch):
    monkeypatch.setitem(sys.modules, "jinja2", None)
    with pytest.raises(ImportError, match=re.escape('pip install "skmixsynth[report]"')):
        full.to_html()
    assert full._repr_html_() is None  # a notebook falls back to the text form
    assert str(full).startswith("EvaluationReport")


def test_template_ships_as_package_data():
    import pathlib

    import skmixsynth

    root = pathlib.Path(skmixsynth.__file__).parent
    assert (root / "templates" / "report.html").is_file()
    assert (root / "templates" / "report_body.html").is_file()
    pyproject = (root.parent / "pyproject.toml").read_text(encoding="utf-8")
    section = r"\[tool\.setuptools\.package-data\]\s*(#.*\n)*"
    assert re.search(section + r'skmixsynth = \["templates/\*\.html"\]', pyproject)
    assert re.search(r'^report = \["matplotlib>=3\.7", "jinja2>=3\.1"\]$', pyproject, re.M)
    dev = re.search(r"^dev = \[(.*?)\]", pyproject, re.M | re.S).group(1)
    assert '"jinja2>=3.1"' in dev


# ------------------------------------------------------------------ a real headless browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(tmp_path, *args):
    profile = tmp_path / "profile"
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={profile}", *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install -y chromium)")
def test_the_report_loads_in_a_headless_browser_with_no_broken_image(full, tmp_path):
    import base64

    path = tmp_path / "report.html"
    full.to_html(path)
    # Every image decodes as a PNG, and the browser lays it out at its declared size: an
    # image that failed to load would have naturalWidth 0 (written into the DOM dump).
    check = tmp_path / "check.html"
    check.write_text(
        path.read_text(encoding="utf-8").replace(
            "</body>",
            "<script>window.addEventListener('load', () => {"
            "const bad = [...document.images].filter(i => !i.complete || i.naturalWidth === 0);"
            "document.body.setAttribute('data-broken', String(bad.length));"
            "document.body.setAttribute('data-images', String(document.images.length));});"
            "</script></body>",
        ),
        encoding="utf-8",
    )
    result = _chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", check.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert f'data-images="{len(full.figures)}"' in dom, dom[:500]
    assert 'data-broken="0"' in dom
    for name in full.tables:
        assert f'id="table-{name}"' in dom
    assert "<h1>Evaluation report</h1>" in dom
    sources = re.findall(r'<img src="data:image/png;base64,([^"]+)"', dom)
    assert len(sources) == len(full.figures)
    for encoded in sources:
        assert base64.b64decode(encoded).startswith(b"\x89PNG\r\n\x1a\n")
    shot = tmp_path / "shot.png"
    result = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", path.as_uri())
    assert result.returncode == 0 and shot.read_bytes().startswith(b"\x89PNG")
