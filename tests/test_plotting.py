"""skmixsynth.plotting: each function returns a Figure holding what the tables say."""

import sys

import pytest

matplotlib = pytest.importorskip("matplotlib")

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.markers import MarkerStyle  # noqa: E402
from matplotlib.patches import Rectangle, StepPatch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from skmixsynth import plotting  # noqa: E402
from skmixsynth.datasets import make_mixed  # noqa: E402
from skmixsynth.metrics import (  # noqa: E402
    column_pair_trends_details,
    correlation_maintenance,
    marginal_agreement,
    marginal_agreement_summary,
)

PLOTS = [
    plotting.plot_marginal_agreement,
    plotting.plot_correlation_maintenance,
    plotting.plot_distributions,
    plotting.plot_association_difference,
]


@pytest.fixture(autouse=True)
def _close_figures():
    with threadpool_limits(limits=1):
        yield
    plt.close("all")


@pytest.fixture(scope="module")
def tables():
    data = make_mixed(360, missing_rate=0.05, random_state=0)
    return {
        "real": data.iloc[:200].reset_index(drop=True),
        "holdout": data.iloc[200:].reset_index(drop=True),
        "fake": make_mixed(200, random_state=1),
    }


@pytest.fixture(scope="module")
def errors(tables):
    return correlation_maintenance(tables["real"], tables["fake"], tables["holdout"])


def n_points(ax):
    return sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))


def points_by_label(ax):
    return {
        c.get_label().split(" (")[0]: len(c.get_offsets())
        for c in ax.collections
        if isinstance(c, PathCollection)
    }


def assert_marker(path, marker):
    style = MarkerStyle(marker)
    expected = style.get_path().transformed(style.get_transform())
    np.testing.assert_allclose(path.vertices, expected.vertices)


def assert_diagonal(ax):
    lines = [line for line in ax.lines if line.get_gid() == "diagonal"]
    assert len(lines) == 1
    x, y = lines[0].get_data()
    np.testing.assert_array_equal(x, y)
    assert ax.get_xlim() == ax.get_ylim()
    assert ax.get_aspect() == 1.0


# --------------------------------------------------------------------------------------------
# Fig. 3


def test_marginal_agreement_one_point_per_row(tables):
    real, fake = tables["real"], tables["fake"]
    points = marginal_agreement(real, fake)
    fig = plotting.plot_marginal_agreement(real, fake)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert n_points(ax) == len(points)
    numerical = points["kind"] == "numerical"
    assert points_by_label(ax) == {
        "categorical level": int((~numerical).sum()),
        "numerical bin": int((numerical & points["level"].notna()).sum()),
        "numerical missing rate": int((numerical & points["level"].isna()).sum()),
    }
    markers = {c.get_label().split(" (")[0]: c.get_paths()[0] for c in ax.collections}
    assert_marker(markers["categorical level"], "o")  # circles, as in the paper
    assert_marker(markers["numerical bin"], "*")  # stars
    assert_diagonal(ax)
    assert ax.get_legend() is not None
    summary = marginal_agreement_summary(real, fake)
    text = " ".join(t.get_text() for t in ax.texts)
    assert f"{summary['mean_abs_diff']:.4f}" in text
    assert f"{summary['r2_diagonal']:.3f}" in text


def test_marginal_agreement_from_points_matches(tables):
    real, fake = tables["real"], tables["fake"]
    points = marginal_agreement(real, fake, n_bins=5)
    from_data = plotting.plot_marginal_agreement(real, fake, n_bins=5).axes[0]
    from_points = plotting.plot_marginal_agreement(points=points, title="mine").axes[0]
    assert from_points.get_title() == "mine"
    for a, b in zip(from_data.collections, from_points.collections, strict=True):
        np.testing.assert_array_equal(a.get_offsets(), b.get_offsets())


def test_summary_from_points_is_the_metric(tables):
    real = tables["real"]
    for fake in (tables["fake"], real.iloc[::-1], real.assign(plan="basic")):
        summary = marginal_agreement_summary(real, fake)
        mad, r2 = plotting._agreement_summary(marginal_agreement(real, fake))
        assert mad == pytest.approx(summary["mean_abs_diff"])
        assert r2 == pytest.approx(summary["r2_diagonal"])


def test_marginal_agreement_panels_share_scales(tables):
    real, fake = tables["real"], tables["fake"]
    fig = plotting.plot_marginal_agreement(real, {"draw": fake, "copy": real}, title="cmp")
    assert [ax.get_title() for ax in fig.axes] == ["draw", "copy"]
    assert fig.get_suptitle() == "cmp"
    assert fig.axes[0].get_xlim() == fig.axes[1].get_xlim()
    for ax, other in zip(fig.axes, (fake, real), strict=True):
        assert n_points(ax) == len(marginal_agreement(real, other))
        assert_diagonal(ax)


def test_marginal_agreement_into_given_axes(tables):
    fig, axes = plt.subplots(1, 2)
    out = plotting.plot_marginal_agreement(
        tables["real"], {"a": tables["fake"], "b": tables["real"]}, ax=axes
    )
    assert out is fig
    with pytest.raises(ValueError, match="one Axes per synthetic table"):
        plotting.plot_marginal_agreement(tables["real"], tables["fake"], ax=axes)


def test_marginal_agreement_argument_errors(tables):
    points = marginal_agreement(tables["real"], tables["fake"])
    with pytest.raises(ValueError, match="points="):
        plotting.plot_marginal_agreement(tables["real"])
    with pytest.raises(ValueError, match="not both"):
        plotting.plot_marginal_agreement(tables["real"], tables["fake"], points=points)
    with pytest.raises(ValueError, match="lacks the columns"):
        plotting.plot_marginal_agreement(points=points.drop(columns="p_fake"))
    with pytest.raises(ValueError, match="empty dict"):
        plotting.plot_marginal_agreement(tables["real"], {})


def test_figures_are_not_registered_with_pyplot(tables):
    plt.close("all")
    plotting.plot_marginal_agreement(tables["real"], tables["fake"])
    assert plt.get_fignums() == []


# --------------------------------------------------------------------------------------------
# Fig. 4


def test_correlation_maintenance_one_point_per_column(errors):
    fig = plotting.plot_correlation_maintenance(errors=errors)
    (ax,) = fig.axes
    assert n_points(ax) == len(errors.dropna())
    counts = points_by_label(ax)
    assert counts["numerical"] == int((errors["kind"] == "numerical").sum())
    assert counts["categorical"] == int((errors["kind"] == "categorical").sum())
    assert_diagonal(ax)
    texts = [t.get_text() for t in ax.texts]
    assert set(errors["column"]) <= set(texts)  # annotated
    gap = (errors["e_real"] - errors["e_fake"]).abs().mean()
    assert any(f"{gap:.4f}" in t for t in texts)
    bare = plotting.plot_correlation_maintenance(errors=errors, annotate=False).axes[0]
    assert len(bare.texts) == 1  # only the summary


def test_correlation_maintenance_from_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=240)
    df = pd.DataFrame({"x": x, "y": x + rng.normal(scale=0.2, size=240), "c": x > 0})
    real, holdout = df.iloc[:120], df.iloc[120:]
    fig = plotting.plot_correlation_maintenance(real, {"same": real, "other": holdout}, holdout)
    assert len(fig.axes) == 2
    assert all(n_points(ax) == 3 for ax in fig.axes)
    with pytest.raises(ValueError, match="holdout"):
        plotting.plot_correlation_maintenance(real, real)


# --------------------------------------------------------------------------------------------
# Distributions


def test_distributions_one_axes_per_column(tables):
    real, fake = tables["real"], tables["fake"]
    fig = plotting.plot_distributions(real, fake)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == real.shape[1]
    by_title = {ax.get_title().split(" (")[0]: ax for ax in fig.axes}
    assert list(by_title) == list(real.columns)
    # numericals: one step histogram per table
    for column in ("age", "income", "spending"):
        steps = [p for p in by_title[column].patches if isinstance(p, StepPatch)]
        assert len(steps) == 2
    # categoricals: grouped bars, one per level (missing included) and table
    bars = [p for p in by_title["region"].patches if isinstance(p, Rectangle)]
    levels = real["region"].nunique(dropna=False)  # 4 regions and missing
    assert len(bars) == 2 * levels
    assert fig.legends  # one legend for the figure


def test_distributions_columns_and_truncation(tables):
    real, fake = tables["real"], tables["fake"]
    fig = plotting.plot_distributions(real, {"a": fake, "b": real}, columns=["plan", "age"])
    assert [ax.get_title() for ax in fig.axes] == ["plan (categorical)", "age (numerical)"]
    steps = [p for p in fig.axes[1].patches if isinstance(p, StepPatch)]
    assert len(steps) == 3
    fig = plotting.plot_distributions(real, fake, max_columns=3)
    assert len(fig.axes) == 3
    assert "3 of 8" in fig.get_suptitle()
    with pytest.raises(ValueError, match="not in real"):
        plotting.plot_distributions(real, fake, columns=["nope"])


def test_distributions_high_cardinality_and_datetime():
    rng = np.random.default_rng(0)
    real = pd.DataFrame(
        {
            "code": rng.choice([f"c{i}" for i in range(30)], 300),
            "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, 300), "D"),
        }
    )
    fake = real.sample(frac=1, random_state=0).reset_index(drop=True)
    fig = plotting.plot_distributions(real, fake, max_levels=5)
    bars = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    assert len(bars) == 2 * 6  # five levels and "other"
    assert fig.axes[0].get_yticklabels()[-1].get_text() == "(other 25)"
    steps = [p for p in fig.axes[1].patches if isinstance(p, StepPatch)]
    assert len(steps) == 2


# --------------------------------------------------------------------------------------------
# Association differences


def test_association_difference_heat_map(tables):
    real, fake = tables["real"], tables["fake"]
    details = column_pair_trends_details(real, fake)
    fig = plotting.plot_association_difference(real, fake)
    heat, colorbar = fig.axes
    assert colorbar.get_label() == "<colorbar>"
    names = list(real.columns)
    assert [t.get_text() for t in heat.get_xticklabels()] == names
    assert [t.get_text() for t in heat.get_yticklabels()] == names
    matrix = heat.images[0].get_array()
    assert matrix.shape == (len(names), len(names))
    assert matrix.mask.diagonal().all()
    for row in details.itertuples():
        i, j = names.index(row.column_1), names.index(row.column_2)
        expected = abs(row.real_association - row.synthetic_association)
        assert matrix[i, j] == pytest.approx(expected)
        assert matrix[j, i] == pytest.approx(expected)
    # the same from precomputed details, and two panels sharing one colour bar
    again = plotting.plot_association_difference(details=details).axes[0].images[0].get_array()
    np.testing.assert_array_equal(again.filled(-1), matrix.filled(-1))
    fig = plotting.plot_association_difference(details={"a": details, "b": details})
    assert len(fig.axes) == 3


def test_association_difference_needs_two_columns(tables):
    with pytest.raises(ValueError, match="two columns"):
        plotting.plot_association_difference(tables["real"][["age"]], tables["fake"][["age"]])


# --------------------------------------------------------------------------------------------
# matplotlib missing


@pytest.mark.parametrize("plot", PLOTS, ids=lambda f: f.__name__)
def test_missing_matplotlib_says_how_to_install(plot, tables, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'pip install "skmixsynth\[plot\]"'):
        plot(tables["real"], tables["fake"])


# ------------------------------------------------------------------------------------------
# GTCoder Fig. 4: feature contributions


def test_feature_contributions_one_bar_per_entry_largest_on_top():
    share = pd.Series({"age": 0.2, "income": 0.5, "region": 0.1, "plan": 0.2})
    fig = plotting.plot_feature_contributions(share)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == 4
    widths = sorted((bar.get_y(), bar.get_width()) for bar in bars)
    assert [w for _, w in widths] == [0.1, 0.2, 0.2, 0.5]  # bottom to top
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "income"
    fig, axis = plt.subplots()
    tokens = pd.Series([0.6, 0.4], index=pd.MultiIndex.from_tuples(
        [("gain", "numerical"), ("gain", "missing")]))
    assert plotting.plot_feature_contributions(tokens, ax=axis) is fig
    assert len(axis.patches) == 2 and "gain missing" in [t.get_text()
                                                         for t in axis.get_yticklabels()]


def test_feature_contributions_from_a_model_and_errors():
    from skmixsynth.gtcoder import GTCoderSynthesizer

    real = make_mixed(150, random_state=0)
    model = GTCoderSynthesizer(d_token=8, n_layers=1, latent_dim=4, decoder_dims=(16,),
                               n_components=2, epochs=1, device="cpu", random_state=0).fit(real)
    fig = plotting.plot_feature_contributions(model, real)
    widths = sorted(p.get_width() for p in fig.axes[0].patches)
    np.testing.assert_allclose(widths, np.sort(model.feature_contributions(real).to_numpy()))
    assert len(widths) == real.shape[1]
    with pytest.raises(ValueError, match="X is needed"):
        plotting.plot_feature_contributions(model)
    with pytest.raises(ValueError, match="X is only used with a model"):
        plotting.plot_feature_contributions(model.feature_contributions(real), real)
    with pytest.raises(TypeError, match="fitted GTCoderSynthesizer or a Series"):
        plotting.plot_feature_contributions(real)
    with pytest.raises(ValueError, match="empty"):
        plotting.plot_feature_contributions(pd.Series([], dtype=float))


def test_feature_contributions_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'pip install "skmixsynth\[plot\]"'):
        plotting.plot_feature_contributions(pd.Series({"a": 1.0}))


# --------------------------------------------------------------------------------------------
# Legible at any number of columns (60 sonar-like columns)


def _wide(n_rows=120, n_columns=60, seed=0):
    rng = np.random.default_rng(seed)
    smooth = np.cumsum(rng.normal(size=(n_rows, n_columns)), axis=1)
    return pd.DataFrame(0.3 / (1 + np.exp(-smooth / 4)),
                        columns=[f"attribute_{i:02d}" for i in range(n_columns)])


def _rendered_texts(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    FigureCanvasAgg(fig).draw()
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _overlaps(boxes):
    boxes = sorted(boxes, key=lambda b: (b.x0, b.y0))
    return [
        (a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]
        if a.overlaps(b) and min(a.x1, b.x1) - max(a.x0, b.x0) > 0.5
        and min(a.y1, b.y1) - max(a.y0, b.y0) > 0.5
    ]


@pytest.fixture(scope="module")
def wide_details():
    real, fake = _wide(seed=0), _wide(seed=1)
    return column_pair_trends_details(real, fake)


def test_association_heat_map_of_60_columns_is_legible(wide_details):
    fig = plotting.plot_association_difference(details=wide_details)
    ax = fig.axes[0]
    width, height = fig.get_size_inches()
    assert width >= 60 * 0.14 and height >= 60 * 0.14  # grows with the columns
    texts = _rendered_texts(fig)
    assert min(t.get_fontsize() for t in texts) >= 7
    xlabels = [t for t in ax.get_xticklabels() if t.get_text()]
    ylabels = [t for t in ax.get_yticklabels() if t.get_text()]
    assert len(xlabels) == len(ylabels) == 60  # every column named
    renderer = fig.canvas.get_renderer()
    for labels in (xlabels, ylabels):
        assert not _overlaps([t.get_window_extent(renderer) for t in labels])


def test_association_heat_map_thins_its_labels_past_its_largest_size():
    assert plotting.heatmap_cells(12) == (0.45, 1)
    cell, step = plotting.heatmap_cells(60)
    assert cell == pytest.approx(0.14) and step == 1
    for n in (150, 400, 1000):
        cell, step = plotting.heatmap_cells(n)
        assert cell * n == pytest.approx(20.0) and cell * step >= 0.14
    import itertools

    rng = np.random.default_rng(0)
    pairs = list(itertools.combinations([f"attribute_{i:03d}" for i in range(160)], 2))
    details = pd.DataFrame(pairs, columns=["column_1", "column_2"]).assign(
        real_association=rng.uniform(-1, 1, len(pairs)),
        synthetic_association=rng.uniform(-1, 1, len(pairs)))
    fig = plotting.plot_association_difference(details=details)
    ax = fig.axes[0]
    _, step = plotting.heatmap_cells(160)
    assert step == 2
    assert len([t for t in ax.get_xticklabels() if t.get_text()]) == 80
    assert "every 2th column named" in ax.get_xlabel()
    texts = _rendered_texts(fig)
    assert min(t.get_fontsize() for t in texts) >= 7
    renderer = fig.canvas.get_renderer()
    assert not _overlaps([t.get_window_extent(renderer) for t in ax.get_yticklabels()])


@pytest.fixture(scope="module")
def wide_errors():
    rng = np.random.default_rng(0)
    n = 61
    e_real = np.r_[rng.uniform(0.001, 0.004, n - 1), 0.2]
    frame = pd.DataFrame({
        "column": [f"attribute_{i:02d}" for i in range(n - 1)] + ["label"],
        "kind": ["numerical"] * (n - 1) + ["categorical"],
        "e_real": e_real,
        "e_fake": e_real * rng.uniform(1, 30, n),
    })
    return frame.assign(e_null=frame["e_fake"] * 0.95)


def test_correlation_maintenance_of_60_columns_is_legible(wide_errors):
    fig = plotting.plot_correlation_maintenance(errors=wide_errors)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" == ax.get_yscale()  # MSEs beside an error rate
    assert_diagonal(ax)
    texts = _rendered_texts(fig)
    assert min(t.get_fontsize() for t in texts) >= 7
    names = [t for t in ax.texts if t.get_text() in set(wide_errors["column"])]
    assert 3 <= len(names) <= 12
    renderer = fig.canvas.get_renderer()
    assert not _overlaps([t.get_window_extent(renderer) for t in names])
    gaps = (wide_errors["e_real"] - wide_errors["e_fake"]).abs()
    assert wide_errors.loc[gaps.idxmax(), "column"] in {t.get_text() for t in names}
    summary = next(t.get_text() for t in ax.texts if "mean |E_real - E_fake|" in t.get_text())
    assert f"{gaps.mean():.4f}" in summary  # the unclipped errors
    assert f"{len(names)} of 61 columns named" in summary
    floor = (wide_errors["e_real"] - wide_errors["e_null"]).abs().mean()
    assert f"mean |E_real - E_null| = {floor:.4f}" in summary
    crosses = [c for c in ax.collections if c.get_label().startswith("independent columns")]
    assert len(crosses) == 1 and len(crosses[0].get_offsets()) == 61
    linear = plotting.plot_correlation_maintenance(errors=wide_errors, scale="linear").axes[0]
    assert linear.get_xscale() == "linear"
    with pytest.raises(ValueError, match="scale must be"):
        plotting.plot_correlation_maintenance(errors=wide_errors, scale="loglog")


def test_small_errors_stay_linear(errors):
    fig = plotting.plot_correlation_maintenance(errors=errors.assign(e_real=0.1, e_fake=0.2))
    assert fig.axes[0].get_xscale() == "linear"


# --------------------------------------------------------------------------------------------
# Training history


@pytest.fixture(scope="module")
def short_fits():
    from skmixsynth import IndependentSynthesizer, MixGANSynthesizer, MixtureSynthesizer
    from skmixsynth.gtcoder import GTCoderSynthesizer

    real = make_mixed(120, random_state=0)
    with threadpool_limits(limits=1):
        return {
            "mixgan": MixGANSynthesizer(epochs=2, ae_epochs=25, batch_size=60,
                                        random_state=0).fit(real),
            "gtcoder": GTCoderSynthesizer(d_token=8, n_layers=1, latent_dim=4,
                                          decoder_dims=(16,), n_components=2, epochs=2,
                                          random_state=0).fit(real),
            "mixture": MixtureSynthesizer(n_components=2, n_subcomponents=2, epochs=3,
                                          random_state=0).fit(real),
            "independent": IndependentSynthesizer(random_state=0).fit(real),
        }


def _lines(ax):
    return {line.get_label(): line for line in ax.lines}


@pytest.mark.slow
def test_history_of_every_model(short_fits):
    mixgan = plotting.plot_history(short_fits["mixgan"])
    assert [ax.get_title() for ax in mixgan.axes] == ["autoencoder (25 epochs)", "gan (2 epochs)"]
    ae, gan = (_lines(ax) for ax in mixgan.axes)
    assert set(ae) == {"ae_loss", "ae_numerical", "ae_categorical"}
    assert set(gan) == {"d_loss", "g_loss", "recon_loss"}
    history = short_fits["mixgan"].history_
    np.testing.assert_allclose(ae["ae_loss"].get_ydata(),
                               [r["ae_loss"] for r in history if r["phase"] == "autoencoder"])
    np.testing.assert_array_equal(gan["g_loss"].get_xdata(), [0, 1])
    assert mixgan.get_suptitle() == "MixGANSynthesizer"

    gtcoder = plotting.plot_history(short_fits["gtcoder"])
    assert [ax.get_title() for ax in gtcoder.axes] == ["train (2 epochs)"]
    assert set(_lines(gtcoder.axes[0])) == {"loss", "kl", "cl", "re"}
    assert "no loss recorded in latent" in gtcoder.get_suptitle()

    mixture = plotting.plot_history(short_fits["mixture"], losses=["val_nll"], logy=True)
    lines = _lines(mixture.axes[0])
    assert "val_nll" in lines and "nll" not in lines
    assert any(label.startswith("best val_nll") for label in lines)
    assert mixture.axes[0].get_yscale() == "log"

    with pytest.raises(ValueError, match="records no loss"):
        plotting.plot_history(short_fits["independent"])
    with pytest.raises(ValueError, match=r"losses \['nope'\] are not in the history"):
        plotting.plot_history(short_fits["mixture"], losses=["nope"])


def test_history_from_records_and_errors():
    records = [{"phase": "a", "epoch": i, "loss": 1.0 / (i + 1), "seconds": 0.1}
               for i in range(30)]
    fig = plotting.plot_history(records, title="mine")
    (line,) = fig.axes[0].lines
    np.testing.assert_allclose(line.get_ydata(), [1.0 / (i + 1) for i in range(30)])
    assert fig.get_suptitle() == "mine"
    with pytest.raises(ValueError, match="empty"):
        plotting.plot_history([])
    with pytest.raises(TypeError, match="history_"):
        plotting.plot_history("model")
    with pytest.raises(ValueError, match="'phase' key"):
        plotting.plot_history([{"epoch": 0, "loss": 1.0}])
