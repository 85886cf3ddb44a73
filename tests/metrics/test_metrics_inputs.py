"""Behaviour shared by every metric: column checks, no mutation, missing values, constant
columns, categories absent from one side, datetimes."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from skmixsynth.metrics import (
    column_pair_trends,
    column_pair_trends_details,
    column_shapes,
    column_shapes_details,
    correlation_maintenance,
    correlation_maintenance_gap,
    dcr_ratio,
    detection_score,
    exact_copy_rate,
    likelihood_fitness,
    marginal_agreement,
    marginal_agreement_score,
    marginal_agreement_summary,
    ml_efficacy,
    quality_score,
)

# every public metric as f(real, synthetic, third) with a third table where one is needed
CALLS = {
    "marginal_agreement": lambda r, s, h: marginal_agreement(r, s),
    "marginal_agreement_score": lambda r, s, h: marginal_agreement_score(r, s),
    "marginal_agreement_summary": lambda r, s, h: marginal_agreement_summary(r, s),
    "correlation_maintenance": lambda r, s, h: correlation_maintenance(r, s, h),
    "correlation_maintenance_gap": lambda r, s, h: correlation_maintenance_gap(r, s, h),
    "column_shapes": lambda r, s, h: column_shapes(r, s),
    "column_shapes_details": lambda r, s, h: column_shapes_details(r, s),
    "column_pair_trends": lambda r, s, h: column_pair_trends(r, s),
    "column_pair_trends_details": lambda r, s, h: column_pair_trends_details(r, s),
    "quality_score": lambda r, s, h: quality_score(r, s),
    "detection_score": lambda r, s, h: detection_score(r, s),
    "ml_efficacy": lambda r, s, h: ml_efficacy(s, r, target="c"),
    "exact_copy_rate": lambda r, s, h: exact_copy_rate(r, s),
    "dcr_ratio": lambda r, s, h: dcr_ratio(r, s, h),
}


@pytest.fixture(scope="module")
def awkward(make_frame):
    """Real and synthetic tables with everything awkward at once: missing values in
    numerical and categorical columns, a constant column, a datetime column, a pandas
    category column, a category seen only on one side, a nullable integer column."""
    real = make_frame(200, seed=10)
    fake = make_frame(150, seed=11)
    holdout = make_frame(120, seed=12)
    for frame, seed in ((real, 0), (fake, 1), (holdout, 2)):
        rng = np.random.default_rng(seed)
        frame["const"] = 3.0
        frame["when"] = pd.Timestamp("2021-01-01") + pd.to_timedelta(
            rng.integers(0, 365, len(frame)), unit="D"
        )
        frame["count"] = pd.array(rng.integers(0, 5, len(frame)), dtype="Int64")
        frame.loc[frame.index[:7], "count"] = pd.NA
        frame.loc[frame.index[:5], "d"] = None
    real["cat"] = pd.Categorical(np.where(real["x"] > 0, "a", "b"))
    holdout["cat"] = pd.Categorical(np.where(holdout["x"] > 0, "a", "b"))
    fake["cat"] = pd.Categorical(np.where(fake["x"] > 0, "a", "new"))  # "new" only here
    fake.loc[fake.index[:3], "when"] = pd.NaT
    return real, fake, holdout


@pytest.mark.parametrize("name", list(CALLS))
def test_inputs_are_not_modified(name, awkward):
    real, fake, holdout = awkward
    copies = [real.copy(deep=True), fake.copy(deep=True), holdout.copy(deep=True)]
    CALLS[name](real, fake, holdout)
    for before, after in zip(copies, (real, fake, holdout), strict=True):
        pd.testing.assert_frame_equal(before, after)


@pytest.mark.parametrize("name", list(CALLS))
def test_awkward_tables_give_finite_scores(name, awkward):
    real, fake, holdout = awkward
    result = CALLS[name](real, fake, holdout)
    if isinstance(result, pd.DataFrame):
        numbers = result.select_dtypes("number").drop(
            columns=["real_association", "synthetic_association", "score"], errors="ignore"
        )
        assert np.isfinite(numbers.to_numpy(dtype=float)).all()
    elif isinstance(result, dict):
        values = [v for v in result.values() if isinstance(v, float)]
        assert values and all(np.isfinite(values))
    else:
        assert np.isfinite(result)


@pytest.mark.parametrize("name", list(CALLS))
def test_column_mismatch_names_the_columns(name, make_frame):
    real = make_frame(60, seed=0)
    fake = make_frame(60, seed=1).drop(columns="z").assign(extra=1.0)
    with pytest.raises(ValueError, match=r"missing from synthetic: \['z'\]|\['z'\]") as info:
        CALLS[name](real, fake, real)
    assert "extra" in str(info.value)


def test_column_order_does_not_matter(make_frame):
    real, fake = make_frame(200, seed=0), make_frame(200, seed=1)
    reordered = fake[fake.columns[::-1]]
    assert quality_score(real, fake) == quality_score(real, reordered)
    pd.testing.assert_frame_equal(
        marginal_agreement(real, fake), marginal_agreement(real, reordered)
    )


def test_empty_synthetic_table_is_refused(make_frame):
    real = make_frame(50)
    with pytest.raises(ValueError, match="no rows"):
        quality_score(real, real.iloc[:0])


def test_numerical_column_with_text_in_synthetic_is_refused(make_frame):
    real = make_frame(50)
    fake = real.astype({"x": object})
    fake.loc[0, "x"] = "oops"
    with pytest.raises(ValueError, match=r"'x'.*non-numeric.*'oops'"):
        column_shapes(real, fake)


def test_missing_values_are_a_category_and_a_rate(make_frame):
    real = make_frame(100, seed=0)
    fake = real.copy()
    fake.loc[:49, "d"] = None  # half missing in a categorical
    fake.loc[:49, "x"] = np.nan  # half missing in a numerical
    points = marginal_agreement(real, fake)
    d_missing = points[(points["column"] == "d") & points["level"].isna()]
    assert d_missing[["p_real", "p_fake"]].to_numpy().tolist() == [[0.0, 0.5]]
    x_missing = points[(points["column"] == "x") & points["level"].isna()]
    assert x_missing[["p_real", "p_fake"]].to_numpy().tolist() == [[0.0, 0.5]]
    # the numerical bins are computed on the present values and still sum to one
    x_bins = points[(points["column"] == "x") & points["level"].notna()]
    assert x_bins["p_fake"].sum() == pytest.approx(1.0)


def test_constant_column_scores_perfect_against_itself_and_worse_otherwise():
    real = pd.DataFrame({"k": [2.0] * 50, "c": ["a"] * 50})
    assert column_shapes(real, real) == 1.0
    assert marginal_agreement_score(real, real) == 1.0
    other = pd.DataFrame({"k": [2.0] * 25 + [5.0] * 25, "c": ["a"] * 25 + ["b"] * 25})
    assert column_shapes(real, other) == pytest.approx(0.5)
    assert marginal_agreement_score(real, other) < 1.0
    # no pair can show a trend in constant data: no pair counts, quality = shapes
    assert np.isnan(column_pair_trends(real, other))
    assert quality_score(real, other) == column_shapes(real, other)


def test_datetime_columns_are_compared_on_a_time_scale():
    days = pd.to_timedelta(np.arange(100), unit="D")
    real = pd.DataFrame({"t": pd.Timestamp("2020-01-01") + days})
    later = pd.DataFrame({"t": pd.Timestamp("2020-01-01") + days + pd.Timedelta(days=50)})
    aware = pd.DataFrame({"t": (pd.Timestamp("2020-01-01") + days).tz_localize("UTC")})
    assert column_shapes(real, real) == 1.0
    assert column_shapes(real, later) == pytest.approx(0.5)
    assert column_shapes(aware, aware) == 1.0
    assert marginal_agreement(real, later)["kind"].unique().tolist() == ["numerical"]


def test_likelihood_fitness_refuses_categorical_columns():
    frame = pd.DataFrame({"a": [0.0, 1.0], "c": ["u", "v"]})
    with pytest.raises(ValueError, match=r"numerical columns only.*\['c'\]"):
        likelihood_fitness(frame, frame, multivariate_normal(mean=[0, 0]).logpdf)
