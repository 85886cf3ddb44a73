"""The metrics of one synthetic table, each computed on its own so one failure loses one cell.

Real side: the model's training split (``train``) and the held-out 20 % (``test``); the
synthetic table has as many rows as ``train``. All metrics come from ``skmixsynth.metrics``.
"""

from __future__ import annotations

import time

import numpy as np


class MetricUnavailable(RuntimeError):
    """``skmixsynth.metrics`` lacks a promised function."""


def metric(name):
    """The function ``name`` of ``skmixsynth.metrics``."""
    try:
        from skmixsynth import metrics
    except ImportError as exc:
        raise MetricUnavailable(f"skmixsynth.metrics is not importable: {exc}") from exc
    func = getattr(metrics, name, None)
    if func is None:
        raise MetricUnavailable(f"skmixsynth.metrics has no {name}")
    return func


class Recorder:
    """Collects metric values, their errors and their seconds."""

    def __init__(self):
        self.values, self.errors, self.seconds = {}, {}, {}

    def attempt(self, key, compute):
        """Store ``compute()`` under ``key``; on an exception store its message instead."""
        start = time.perf_counter()
        try:
            self.values[key] = compute()
        except Exception as exc:  # a failed metric is a result to report
            self.errors[key] = f"{type(exc).__name__}: {exc}"
        self.seconds[key] = round(time.perf_counter() - start, 3)


def xgboost_detection(real, synthetic, *, seed):
    """TabPC's detection figure: SDMetrics' detection with an XGBoost classifier.

    TabPC (april-tools/tabpc, ``src/metrics/metrics.py``) subclasses SDMetrics'
    ``ScikitLearnClassifierDetectionMetric`` with ``XGBClassifier(eval_metric="logloss",
    enable_categorical=True, random_state=0)``: one-hot categoricals, mean imputation,
    ``RobustScaler``, 3 stratified folds, ``1 - mean(2·max(AUC, 0.5) - 1)``. That is
    ``skmixsynth.metrics.detection_score`` with that classifier; the one difference is that
    our folds are seeded (SDMetrics shuffles them from numpy's global state). OpenMP threads
    follow ``OMP_NUM_THREADS`` (the workers' ``--threads``).
    """
    try:
        from xgboost import XGBClassifier
    except ImportError as exc:
        raise MetricUnavailable(
            'XGBoost detection needs xgboost: pip install -e ".[bench]"'
        ) from exc
    classifier = XGBClassifier(eval_metric="logloss", enable_categorical=True, random_state=0)
    return metric("detection_score")(real, synthetic, classifier=classifier, random_state=seed)


def _efficacy(split, synthetic):
    result = metric("ml_efficacy")(synthetic, split.test, target=split.target, task=split.task)
    keys = ("macro_f1", "weighted_f1") if split.task == "classification" else ("r2",)
    out = {k: result[k] for k in keys}
    out["per_estimator"] = result.get("per_estimator")
    return out


def _likelihood(split, synthetic):
    result = metric("likelihood_fitness")(synthetic, split.test, split.log_density)
    return {"l_syn": result["l_syn"], "l_test": result["l_test"]}


def _records(frame):
    """A DataFrame as JSON-friendly records (NaN -> None)."""
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.to_dict(orient="records")


def _marginals(split, synthetic):
    points = metric("marginal_agreement")(split.train, synthetic)
    summary = metric("marginal_agreement_summary")(split.train, synthetic)
    return {
        "mean_abs_gap": summary["mean_abs_diff"],
        "r2_diagonal": summary["r2_diagonal"],
        "points": _records(points),
    }


def _correlations(split, synthetic, seed):
    errors = metric("correlation_maintenance")(
        split.train, synthetic, split.test, random_state=seed
    )
    gap = float(np.nanmean(np.abs(errors["e_real"] - errors["e_fake"])))  # as in the figure
    return {"mean_abs_gap": gap, "points": _records(errors)}


def evaluate(split, synthetic, *, seed, paper_figures=False):
    """All metrics of ``synthetic`` against ``split``; returns a :class:`Recorder`.

    ``paper_figures`` adds the mixGAN §5 points (marginal agreement, correlation
    maintenance), which the figures are drawn from.
    """
    rec = Recorder()
    train = split.train
    if split.target is not None:
        rec.attempt("efficacy", lambda: _efficacy(split, synthetic))
    if split.log_density is not None:
        rec.attempt("likelihood", lambda: _likelihood(split, synthetic))
    rec.attempt("quality", lambda: metric("quality_score")(train, synthetic))
    rec.attempt("column_shapes", lambda: metric("column_shapes")(train, synthetic))
    rec.attempt("column_pair_trends", lambda: metric("column_pair_trends")(train, synthetic))
    rec.attempt("detection", lambda: metric("detection_score")(train, synthetic, random_state=seed))
    rec.attempt("detection_xgb", lambda: xgboost_detection(train, synthetic, seed=seed))
    rec.attempt(
        "dcr_ratio",
        lambda: metric("dcr_ratio")(train, synthetic, split.test, random_state=seed),
    )
    rec.attempt("exact_copy_rate", lambda: metric("exact_copy_rate")(train, synthetic))
    # the same against the held-out rows, which the model never saw: on a table of small
    # support a faithful model hits unseen rows as often per row as training rows
    # (generalisation); memorising shows as copies of training rows only
    rec.attempt("holdout_copy_rate", lambda: metric("exact_copy_rate")(split.test, synthetic))
    if paper_figures:
        rec.attempt("marginal_agreement", lambda: _marginals(split, synthetic))
        rec.attempt("correlation_maintenance", lambda: _correlations(split, synthetic, seed))
    return rec


def references(split, *, seed):
    """What a real hold-out scores: the test split in place of a synthetic table.

    Detection and exact copies of the test split against the train split are the ceilings
    that a synthesizer cannot beat; quality the same.
    """
    rec = Recorder()
    train, test = split.train, split.test
    rec.attempt("quality", lambda: metric("quality_score")(train, test))
    rec.attempt("detection", lambda: metric("detection_score")(train, test, random_state=seed))
    rec.attempt("detection_xgb", lambda: xgboost_detection(train, test, seed=seed))
    rec.attempt("exact_copy_rate", lambda: metric("exact_copy_rate")(train, test))
    return rec
