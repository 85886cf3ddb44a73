"""
===================================================
The evaluation report and the papers' diagrams
===================================================

:func:`skmixsynth.metrics.evaluate` computes every score at once -- fidelity, detection,
the mixGAN paper's marginal agreement and correlation maintenance, machine-learning efficacy,
privacy -- and :meth:`~skmixsynth.metrics.EvaluationReport.to_html` writes them, with their
tables and figures, to one self-contained HTML file. The figures are also functions of
:mod:`skmixsynth.plotting`, which draw several synthetic tables side by side: here the mixture
model beside the floor, :class:`~skmixsynth.IndependentSynthesizer`.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from skmixsynth import IndependentSynthesizer, MixtureSynthesizer
from skmixsynth.datasets import make_mixed
from skmixsynth.metrics import column_pair_trends, detection_score, evaluate, quality_score
from skmixsynth.plotting import plot_correlation_maintenance, plot_marginal_agreement

real = make_mixed(3000, random_state=0)
train, holdout = real.iloc[:2400], real.iloc[2400:]
synthetic = MixtureSynthesizer(random_state=0).fit(train).sample(len(holdout), random_state=0)
floor = IndependentSynthesizer(random_state=0).fit(train).sample(len(holdout), random_state=0)

# %%
# ``holdout`` (real rows the model never saw) adds the correlation maintenance and, with a
# ``target``, the machine-learning efficacy; ``train`` adds the privacy checks.
report = evaluate(train, synthetic, holdout=holdout, target="plan", train=train)
print(report)

# %%
# What good looks like: the same scores for the floor and for the ceiling (the hold-out
# itself against the training rows; for efficacy, the models trained on the real training
# rows instead of the synthetic ones). The mixture model sits between
# them on the scores that need dependencies between columns (pair trends, detection,
# efficacy); column shapes and marginal agreement only see one column at a time, and the floor
# is perfect there.
names = ["quality", "column_pair_trends", "detection", "ml_efficacy_macro_f1"]
floor_report = evaluate(train, floor, holdout=holdout, target="plan", figures=False)
efficacy = report.tables["ml_efficacy"].set_index(["estimator", "metric"])
ceiling = [quality_score(train, holdout), column_pair_trends(train, holdout),
           detection_score(train, holdout),
           efficacy.loc[("mean", "macro_f1"), "trained_on_real"]]
print(pd.DataFrame({
    "floor (independent)": [floor_report.scores[n] for n in names],
    "MixtureSynthesizer": [report.scores[n] for n in names],
    "ceiling (real rows)": ceiling,
}, index=names).round(3).to_string())

# %%
# The HTML report: open it in a browser.
path = Path(tempfile.mkdtemp()) / "report.html"
report.to_html(path)
print(f"wrote {path.name}: {path.stat().st_size / 1e6:.1f} MB, figures included")

# %%
# mixGAN's Fig. 3, marginal agreement: each point is a category or a numerical bin of one
# column, at (its share of the real rows, its share of the synthetic rows). On the diagonal
# when every column's distribution is kept -- which the floor does by construction.
fig, axes = plt.subplots(1, 2, figsize=(9, 4.5), layout="constrained")
plot_marginal_agreement(train, {"MixtureSynthesizer": synthetic, "floor": floor}, ax=axes)
plt.show()

# %%
# mixGAN's Fig. 4, correlation maintenance: for each column, a model predicting it from the
# other columns is trained on real rows (error E_real) or on synthetic rows (E_fake) and
# scored on the hold-out. On the diagonal when the dependencies are kept: the floor's points
# rise to the error of a guess.
fig, axes = plt.subplots(1, 2, figsize=(9, 4.5), layout="constrained")
plot_correlation_maintenance(train, {"MixtureSynthesizer": synthetic, "floor": floor}, holdout,
                             ax=axes)
plt.show()
