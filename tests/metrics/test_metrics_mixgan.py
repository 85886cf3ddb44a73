"""mixGAN §5.1 marginal agreement and §5.2 correlation maintenance."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from skmixsynth.metrics import (
    correlation_maintenance,
    correlation_maintenance_gap,
    marginal_agreement,
    marginal_agreement_score,
    marginal_agreement_summary,
)


def test_marginal_agreement_layout(real, holdout):
    points = marginal_agreement(real, holdout)
    assert points.columns.tolist() == ["column", "kind", "level", "p_real", "p_fake"]
    assert points["column"].unique().tolist() == real.columns.tolist()
    # 10 bins per numerical column (+ one missing-rate point for z, which has NaN)
    counts = points.groupby("column", sort=False).size().to_dict()
    assert counts["x"] == 10 and counts["y"] == 10 and counts["z"] == 11
    assert counts["c"] == 3 and counts["flag"] == 2
    sums = points.dropna(subset=["level"]).groupby("column")[["p_real", "p_fake"]].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0)


def test_marginal_agreement_uses_the_real_range_and_clips():
    real = pd.DataFrame({"x": np.linspace(0.0, 10.0, 11)})
    fake = pd.DataFrame({"x": [-100.0, 5.0, 100.0, 100.0]})
    points = marginal_agreement(real, fake)
    # -100 is clipped into the first bin, 100 into the last, 5 into the sixth
    np.testing.assert_allclose(points["p_fake"], [0.25, 0, 0, 0, 0, 0.25, 0, 0, 0, 0.5])
    np.testing.assert_allclose(points["p_real"], [1 / 11] * 9 + [2 / 11])


def test_marginal_agreement_n_bins(real):
    assert (marginal_agreement(real, real, n_bins=4)["column"] == "x").sum() == 4
    with pytest.raises(ValueError, match="n_bins"):
        marginal_agreement(real, real, n_bins=0)


def test_marginal_agreement_absent_categories_have_probability_zero():
    real = pd.DataFrame({"c": ["a", "a", "b"]})
    fake = pd.DataFrame({"c": ["a", "z", "z"]})
    points = marginal_agreement(real, fake).set_index("level")
    assert points.loc["b", "p_fake"] == 0.0
    assert points.loc["z", "p_real"] == 0.0
    assert points.loc["z", "p_fake"] == pytest.approx(2 / 3)


def test_marginal_summary_consistent_with_score(real, holdout):
    summary = marginal_agreement_summary(real, holdout)
    assert summary["score"] == marginal_agreement_score(real, holdout)
    assert summary["score"] == pytest.approx(1 - summary["mean_abs_diff"])
    assert summary["n_points"] == len(marginal_agreement(real, holdout))
    perfect = marginal_agreement_summary(real, real)
    assert perfect == {
        "score": 1.0,
        "mean_abs_diff": 0.0,
        "r2_diagonal": 1.0,
        "n_points": perfect["n_points"],
    }


def test_correlation_maintenance_layout(real, holdout, make_frame):
    errors = correlation_maintenance(real, holdout, make_frame(300, seed=7))
    assert errors.columns.tolist() == ["column", "kind", "e_real", "e_fake"]
    assert errors["column"].tolist() == real.columns.tolist()
    assert errors["kind"].tolist() == ["numerical"] * 3 + ["categorical"] * 3
    # errors are losses in [0, 1]: MSE on [0, 1]-scaled values, error rates
    assert ((errors[["e_real", "e_fake"]] >= 0) & (errors[["e_real", "e_fake"]] <= 1)).all().all()
    # dependent columns: y from x is easy, so its error is small with real training rows
    assert errors.set_index("column").loc["y", "e_real"] < 0.01


def test_correlation_maintenance_same_data_gives_zero_gap(real, make_frame):
    assert correlation_maintenance_gap(real, real, make_frame(300, seed=7)) == 0.0


def test_correlation_maintenance_is_seeded(real, variants, make_frame):
    eval_rows = make_frame(100, seed=7)
    train, fake = real.iloc[:200], variants["noisy"].iloc[:200]
    first = correlation_maintenance(train, fake, eval_rows, random_state=3)
    second = correlation_maintenance(train, fake, eval_rows, random_state=3)
    pd.testing.assert_frame_equal(first, second)


def test_correlation_maintenance_custom_estimators(real, variants, make_frame):
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    def pipeline(model):
        encode = make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), lambda X: X.select_dtypes("category").columns),
            (SimpleImputer(), lambda X: X.select_dtypes("number").columns),
        )
        return make_pipeline(encode, model)

    eval_rows = make_frame(200, seed=7)
    pair = (pipeline(LinearRegression()), pipeline(LogisticRegression()))
    train = real.iloc[:200]
    good = correlation_maintenance_gap(
        train, variants["holdout"].iloc[:200], eval_rows, estimator=pair
    )
    bad = correlation_maintenance_gap(
        train, variants["shuffled"].iloc[:200], eval_rows, estimator=pair
    )
    assert good < 0.05 < bad
    seen = []

    def factory(column, kind):
        seen.append((column, kind))
        return pipeline(LinearRegression() if kind == "numerical" else LogisticRegression())

    correlation_maintenance(
        real.iloc[:100], real.iloc[100:200], eval_rows.iloc[:50], estimator=factory
    )
    assert seen[:2] == [("x", "numerical"), ("x", "numerical")]
    assert ("c", "categorical") in seen


def test_correlation_maintenance_single_class_and_constant_targets(make_frame):
    real = make_frame(200, seed=0)
    fake = real.assign(c="low", x=1.0)  # one class, one value
    errors = correlation_maintenance(real, fake, make_frame(100, seed=1)).set_index("column")
    assert np.isfinite(errors[["e_real", "e_fake"]].to_numpy()).all()
    assert errors.loc["c", "e_fake"] > errors.loc["c", "e_real"]


def test_correlation_maintenance_needs_two_columns():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="at least two columns"):
        correlation_maintenance(frame, frame, frame)


def test_correlation_maintenance_bad_estimator(real):
    with pytest.raises(TypeError, match="estimator must be"):
        correlation_maintenance(real, real, real, estimator="forest")
