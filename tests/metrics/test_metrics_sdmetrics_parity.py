"""Our column shapes / pair trends / quality agree with SDMetrics 0.32 (``bench`` extra).

Skipped only when sdmetrics cannot be imported; CI installs the ``bench`` extra, so it runs
there. Also runnable as a script: ``python tests/metrics/test_metrics_sdmetrics_parity.py``
prints both sets of numbers.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from skmixsynth._validation import infer_column_kinds
from skmixsynth.metrics import (
    column_pair_trends,
    column_pair_trends_details,
    column_shapes,
    column_shapes_details,
    quality_score,
)

TOLERANCE = 0.01


def _metadata(frame):
    sdtypes = {"numerical": "numerical", "datetime": "datetime", "categorical": "categorical"}
    return {
        "columns": {
            column: {"sdtype": sdtypes[kind]} for column, kind in infer_column_kinds(frame).items()
        }
    }


def _sdmetrics_report(real, synthetic, *, thresholds=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation of the single-table report, plotly
        from sdmetrics.reports.single_table import QualityReport

        report = QualityReport()
        if thresholds is not None:
            report.real_correlation_threshold, report.real_association_threshold = thresholds
        report.generate(real.copy(), synthetic.copy(), _metadata(real), verbose=False)
    return report


def _frames():
    """(name, real, synthetic): mixed types with missing values, a datetime, categories on
    one side only, and a synthetic table with broken dependencies."""
    rng = np.random.default_rng(0)
    n = 800

    def table(seed, flip):
        r = np.random.default_rng(seed)
        x = r.normal(size=n)
        y = (-1 if flip else 1) * 2 * x + r.normal(size=n)
        z = np.where(r.random(n) < 0.1, np.nan, np.exp(x))
        c = np.where(x > (0.5 if flip else 0.0), "pos", "neg")
        d = r.choice(["u", "v", "w", None] if not flip else ["u", "v", "new"], n)
        t = pd.Timestamp("2020-01-01") + pd.to_timedelta((x * 30).round(), unit="D")
        k = r.integers(0, 4, n)
        return pd.DataFrame({"x": x, "y": y, "z": z, "c": c, "d": d, "t": t, "k": k})

    real = table(1, flip=False)
    yield "mixed, same distribution", real, table(2, flip=False)
    yield "mixed, broken dependencies", real, table(3, flip=True)
    shuffled = real.apply(lambda s: s.to_numpy()[rng.permutation(n)])
    yield "mixed, columns shuffled", real, shuffled.astype(real.dtypes.to_dict())


FRAMES = list(_frames())


@pytest.mark.parametrize("thresholds", [None, (0.0, 0.0)], ids=["report-defaults", "no-threshold"])
@pytest.mark.parametrize("name, real, synthetic", FRAMES, ids=[f[0] for f in FRAMES])
def test_quality_agrees_with_sdmetrics(name, real, synthetic, thresholds):
    pytest.importorskip("sdmetrics")
    report = _sdmetrics_report(real, synthetic, thresholds=thresholds)
    properties = report.get_properties().set_index("Property")["Score"]
    kwargs = {}
    if thresholds is not None:
        kwargs = dict(
            real_correlation_threshold=thresholds[0], real_association_threshold=thresholds[1]
        )
    assert column_shapes(real, synthetic) == pytest.approx(
        properties["Column Shapes"], abs=TOLERANCE
    )
    assert column_pair_trends(real, synthetic, **kwargs) == pytest.approx(
        properties["Column Pair Trends"], abs=TOLERANCE
    )
    assert quality_score(real, synthetic, **kwargs) == pytest.approx(
        report.get_score(), abs=TOLERANCE
    )


@pytest.mark.parametrize("name, real, synthetic", FRAMES[:2], ids=[f[0] for f in FRAMES[:2]])
def test_details_agree_with_sdmetrics(name, real, synthetic):
    pytest.importorskip("sdmetrics")
    report = _sdmetrics_report(real, synthetic, thresholds=(0.0, 0.0))
    shapes = report.get_details("Column Shapes")
    ours = column_shapes_details(real, synthetic)
    assert ours["column"].tolist() == shapes["Column"].tolist()
    assert ours["metric"].tolist() == shapes["Metric"].tolist()
    np.testing.assert_allclose(ours["score"], shapes["Score"], atol=1e-9)

    pairs = report.get_details("Column Pair Trends")
    ours = column_pair_trends_details(
        real, synthetic, real_correlation_threshold=0.0, real_association_threshold=0.0
    )
    assert ours["metric"].tolist() == pairs["Metric"].tolist()
    np.testing.assert_allclose(ours["score"], pairs["Score"], atol=1e-9)


if __name__ == "__main__":  # pragma: no cover - a script for a quick look
    for name, real, synthetic in FRAMES:
        report = _sdmetrics_report(real, synthetic)
        props = report.get_properties().set_index("Property")["Score"]
        print(
            f"{name:30s} SDMetrics shapes/trends/quality "
            f"{props['Column Shapes']:.4f}/{props['Column Pair Trends']:.4f}/"
            f"{report.get_score():.4f}  ours {column_shapes(real, synthetic):.4f}/"
            f"{column_pair_trends(real, synthetic):.4f}/{quality_score(real, synthetic):.4f}"
        )
