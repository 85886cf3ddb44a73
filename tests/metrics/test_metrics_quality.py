"""SDMetrics-style column shapes, pair trends and quality (definitions, without sdmetrics)."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from scipy.stats.contingency import association

from skmixsynth.metrics import (
    column_pair_trends,
    column_pair_trends_details,
    column_shapes,
    column_shapes_details,
    quality_score,
)


def test_ks_complement_matches_scipy(real, variants):
    details = column_shapes_details(real, variants["noisy"]).set_index("column")
    for column in ("x", "y", "z"):
        expected = 1 - ks_2samp(real[column].dropna(), variants["noisy"][column].dropna()).statistic
        assert details.loc[column, "score"] == pytest.approx(expected, abs=1e-12)
        assert details.loc[column, "metric"] == "KSComplement"


def test_tv_complement_ignores_missing_values_like_sdmetrics():
    real = pd.DataFrame({"c": ["a", "a", "b", "b"]})
    fake = pd.DataFrame({"c": ["a", "b", None, None]})
    assert column_shapes(real, fake) == 1.0
    fake = pd.DataFrame({"c": ["a", "a", "a", "z"]})
    # TV = (|0.75 - 0.5| + |0 - 0.5| + |0.25 - 0|) / 2 = 0.5
    assert column_shapes(real, fake) == pytest.approx(0.5, abs=1e-6)


def test_all_missing_column_is_left_out_of_the_mean():
    real = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})
    fake = pd.DataFrame({"x": [np.nan] * 3, "c": ["a", "b", "a"]})
    details = column_shapes_details(real, fake)
    assert np.isnan(details["score"].iloc[0])
    assert column_shapes(real, fake) == 1.0


def test_pair_trend_details_layout_and_associations(real, holdout):
    details = column_pair_trends_details(real, holdout)
    assert details.columns.tolist() == [
        "column_1",
        "column_2",
        "metric",
        "score",
        "real_association",
        "synthetic_association",
        "meets_threshold",
    ]
    assert len(details) == 15  # 6 columns
    pairs = details.set_index(["column_1", "column_2"])
    assert pairs.loc[("x", "y"), "metric"] == "CorrelationSimilarity"
    assert pairs.loc[("x", "y"), "real_association"] == pytest.approx(
        np.corrcoef(real["x"], real["y"])[0, 1]
    )
    assert pairs.loc[("c", "d"), "metric"] == "ContingencySimilarity"
    table = pd.crosstab(real["c"], real["d"]).to_numpy()
    assert pairs.loc[("c", "d"), "real_association"] == pytest.approx(
        association(table, method="cramer")
    )
    assert details["meets_threshold"].dtype == bool


def test_thresholds_select_the_pairs_that_count():
    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    real = pd.DataFrame({"x": x, "y": x + rng.normal(size=500) * 0.2, "w": rng.normal(size=500)})
    fake = real.assign(w=real["x"])  # the only change is in pairs with no real trend
    details = column_pair_trends_details(real, fake)
    assert details["meets_threshold"].tolist() == [True, False, False]
    assert column_pair_trends(real, fake) == 1.0  # only (x, y) counts, and it is intact
    everything = column_pair_trends(
        real, fake, real_correlation_threshold=0, real_association_threshold=0
    )
    assert everything < 0.8
    with pytest.raises(ValueError, match="real_correlation_threshold"):
        column_pair_trends(real, fake, real_correlation_threshold=2)


def test_mixed_pairs_bin_each_table_on_its_own_range():
    """SDMetrics' discretisation: a shifted copy has the same bin labels, so a mixed pair
    does not see the shift (the column shape does)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    real = pd.DataFrame({"x": x, "c": np.where(x > 0, "p", "n")})
    shifted = real.assign(x=real["x"] + 10)
    assert column_pair_trends_details(real, shifted)["score"].iloc[0] == pytest.approx(1.0)
    assert column_shapes(real, shifted) < 0.6


def test_constant_numerical_pair_scores_nan_and_does_not_count():
    real = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [5.0] * 4})
    details = column_pair_trends_details(real, real)
    assert np.isnan(details["score"].iloc[0])
    assert not details["meets_threshold"].iloc[0]
    assert np.isnan(column_pair_trends(real, real))
    assert quality_score(real, real) == 1.0


def test_quality_is_the_mean_of_shapes_and_trends(real, variants):
    fake = variants["noisy"]
    assert quality_score(real, fake) == pytest.approx(
        (column_shapes(real, fake) + column_pair_trends(real, fake)) / 2
    )
