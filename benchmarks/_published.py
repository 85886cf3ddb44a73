"""Figures from elsewhere, shown beside ours but never mixed into our columns.

- ``GTCODER_TABLE1`` / ``GTCODER_TABLE2``: published in the GTCoder paper (AAAI-24), Tables 1
  and 2 (``shared/papers/gtcoder.txt``): macro-F1 / weighted-F1 (r² for news) and
  ``L_syn`` / ``L_test``. Their protocol (splits, preprocessing, epochs) differs from ours.
- ``ANCHORS``: measured on our machines before this benchmark existed
  (``shared/ANCHORS.md``: defaults, seed 0, the same 80/20 stratified split and Table 1
  protocol, SDMetrics 0.32 QualityReport; XGBoost detection). Cells are kept as written there:
  ``efficacy · fit seconds · quality``.
"""

from __future__ import annotations

#: GTCoder Table 1. Columns: (macro-F1, weighted-F1), or r² for news. Agaricus-lepiota is our
#: ``mushroom``; abalone's target is ``sex`` (see shared/datasets/README.md).
GTCODER_TABLE1 = {
    "identity": {
        "adult": (0.76, 0.83),
        "abalone": (0.52, 0.52),
        "ionosphere": (0.86, 0.88),
        "mushroom": (1.00, 1.00),
        "sonar": (0.77, 0.77),
        "news": -0.019,
    },
    "ctgan": {
        "adult": (0.69, 0.79),
        "abalone": (0.52, 0.52),
        "ionosphere": (0.48, 0.53),
        "mushroom": (0.85, 0.85),
        "sonar": (0.60, 0.62),
        "news": -0.035,
    },
    "tvae": {
        "adult": (0.69, 0.79),
        "abalone": (0.49, 0.49),
        "ionosphere": (0.48, 0.50),
        "mushroom": (0.88, 0.88),
        "sonar": (0.47, 0.51),
        "news": -0.025,
    },
    "gtcoder": {
        "adult": (0.70, 0.80),
        "abalone": (0.52, 0.48),
        "ionosphere": (0.60, 0.62),
        "mushroom": (0.95, 0.95),
        "sonar": (0.61, 0.61),
        "news": -0.020,
    },
}

#: GTCoder Table 2: (L_syn, L_test) on the simulations.
GTCODER_TABLE2 = {
    "ctgan": {"grid": (-1.68, -2.88), "gridr": (-1.75, -2.88), "ring": (-1.61, -2.89)},
    "tvae": {"grid": (-1.07, -4.36), "gridr": (-0.99, -3.90), "ring": (-0.79, -4.99)},
    "gtcoder": {"grid": (-0.68, -3.11), "gridr": (-0.67, -3.25), "ring": (-1.51, -2.89)},
}

#: shared/ANCHORS.md, measured here: "efficacy · fit seconds · quality" per model and dataset.
ANCHORS = {
    "adult": {
        "identity": "0.762 / 0.830",
        "tvae": "0.746 / 0.814 · 708 s · 0.889",
        "ctgan": "0.699 / 0.792 · 1490 s · 0.869",
        "tabularargn": "0.757 / 0.826 · 224 s · 0.975",
        "shallow mixture": "0.742 / 0.815 · 38 s · 0.974",
    },
    "mushroom": {
        "identity": "0.995",
        "tvae": "0.975 · 58 s · 0.891",
        "ctgan": "0.930 · 302 s · 0.886",
        "tabularargn": "0.946 · 124 s · 0.927",
        "shallow mixture": "0.996 · 8 s (54 % exact copies)",
    },
    "ionosphere": {
        "identity": "0.905 / 0.914",
        "tvae": "0.765 / 0.784 · 13 s · 0.819",
        "ctgan": "0.505 / 0.566 · 33 s · 0.699",
        "tabularargn": "0.421 / 0.439 · 20 s · 0.830",
    },
    "sonar": {
        "identity": "0.737",
        "tvae": "0.668 · 16 s · 0.824",
        "ctgan": "0.720 · 45 s · 0.703",
    },
    "abalone": {
        "identity": "0.512 / 0.508",
        "tvae": "0.500 / 0.498 · 40 s · 0.850",
        "ctgan": "0.493 / 0.491 · 312 s · 0.836",
    },
    "news": {
        "identity": "r² -0.086",
        "tvae": "-0.065 · 365 s · 0.879",
        "ctgan": "-0.031 · 626 s · 0.728",
    },
    "lending_club": {
        "tvae": "crashes at sample (NaN in `revol_util`)",
        "ctgan": "refuses at fit (same)",
    },
}

#: shared/ANCHORS.md, adult detail: XGBoost detection (1 = indistinguishable).
ANCHORS_DETECTION_ADULT = {
    "real hold-out (ceiling)": "0.991",
    "tabularargn": "0.648",
    "shallow mixture": "0.658",
    "ctgan": "< 0.0001 (TabPC paper)",
    "tvae": "< 0.0001 (TabPC paper)",
}

#: shared/ANCHORS.md: SDGym 2024 on adult (SDMetrics quality, train seconds), published.
SDGYM_ADULT = {"tvae": "0.881 · 1091 s", "ctgan": "0.842 · 2316 s"}


def gtcoder_table1(model, dataset):
    """The published Table 1 cell as text, or ``None``."""
    value = GTCODER_TABLE1.get(model, {}).get(dataset)
    if value is None:
        return None
    if isinstance(value, tuple):
        return f"{value[0]:.2f} / {value[1]:.2f}"
    return f"r² {value:.3f}"


def gtcoder_table2(model, dataset):
    """The published Table 2 pair ``(L_syn, L_test)``, or ``None``."""
    return GTCODER_TABLE2.get(model, {}).get(dataset)
