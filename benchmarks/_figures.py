"""The mixGAN paper's diagrams, one panel per model.

Drawn by ``skmixsynth.plotting`` (``plot_marginal_agreement``, ``plot_correlation_maintenance``)
from the points stored in the results; by the small fallback below when it is absent.

- Fig. 3, marginal agreement: one point ``(P_real, P_fake)`` per numerical bin (stars, 10
  bins of the real min-max range) and per category (circles); on the diagonal when every
  single-column distribution is kept.
- Fig. 4, correlation maintenance: one point ``(E_real, E_fake)`` per column, the hold-out
  error of a model predicting that column from the others, trained on real rows (E_real) or
  on synthetic rows (E_fake): scaled MSE for numerical columns (stars), error rate for
  categorical ones (circles); on the diagonal when the dependencies are kept.
"""

from __future__ import annotations

import math

_LIBRARY = {
    "marginal_agreement": ("plot_marginal_agreement", "points"),
    "correlation_maintenance": ("plot_correlation_maintenance", "errors"),
}
_MARKERS = {"categorical": ("o", "tab:blue"), "numerical": ("*", "tab:orange")}
FIGURES = {
    "marginal_agreement": ("fig3_marginal_agreement", "p_real", "p_fake", "P_real", "P_fake"),
    "correlation_maintenance": (
        "fig4_correlation_maintenance",
        "e_real",
        "e_fake",
        "E_real",
        "E_fake",
    ),
}


def _panel(ax, points, x_key, y_key, title):
    top = 0.0
    for kind, (marker, color) in _MARKERS.items():
        pts = [p for p in points if p["kind"] == kind and None not in (p[x_key], p[y_key])]
        if pts:
            xs, ys = [p[x_key] for p in pts], [p[y_key] for p in pts]
            top = max(top, *xs, *ys)
            size = 70 if marker == "*" else 30
            ax.scatter(
                xs, ys, marker=marker, s=size, c=color, alpha=0.7, label=kind, edgecolors="none"
            )
    top = top * 1.05 or 1.0
    ax.plot([0, top], [0, top], color="grey", lw=0.8, ls="--")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)


def _draw_with_library(figure, title, panels):
    """The figure drawn by ``skmixsynth.plotting``, or ``None`` when it lacks the function."""
    try:
        from skmixsynth import plotting
    except ImportError:
        return None
    name, keyword = _LIBRARY[figure]
    func = getattr(plotting, name, None)
    if func is None:
        return None
    import pandas as pd

    tables = {label: pd.DataFrame(points) for label, points, _ in panels}
    return func(**{keyword: tables}, title=title)


def draw_fallback(figure, title, panels):
    """The figure drawn here: a grid of panels, stars for numerical, circles for categorical."""
    import matplotlib.pyplot as plt

    _, x_key, y_key, x_label, y_label = FIGURES[figure]
    n_cols = min(3, len(panels))
    n_rows = math.ceil(len(panels) / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.6 * n_cols, 3.6 * n_rows), squeeze=False)
    for ax, (label, points, gap) in zip(axes.flat, panels, strict=False):
        _panel(ax, points, x_key, y_key, f"{label}\nmean |gap| = {gap:.4f}")
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    axes.flat[0].legend(loc="upper left", fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def draw(figure, dataset, panels, path):
    """Draw ``figure`` (a key of :data:`FIGURES`) with one panel per ``(label, points, gap)``.

    ``points`` are the records stored by the benchmark. Returns the path written (a PNG).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    number = "Fig. 3" if figure == "marginal_agreement" else "Fig. 4"
    title = f"{dataset}: {figure.replace('_', ' ')} (mixGAN {number})"
    fig = _draw_with_library(figure, title, panels) or draw_fallback(figure, title, panels)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
