"""
============================================
Grid search over a synthesizer's parameters
============================================

Synthesizers are scikit-learn estimators, so ``GridSearchCV`` tunes them. Each candidate is
fitted on the training folds; a *synthesis scorer* then samples as many rows as the
validation fold holds and compares them with it (greater is better).

Pass scorer objects from :func:`skmixsynth.metrics.get_scorer` -- a string such as
``scoring="quality"`` is looked up in scikit-learn's own registry and refused. A dict of
scorers records several metrics at once; ``refit`` names the one that picks the winner.
(``scoring=None`` also works: it calls the synthesizer's ``score``, the quality score.)

Here we tune the number of mixture components of
:class:`~skmixsynth.MixtureSynthesizer`. With one component it is a product of
per-column distributions: exactly the floor, :class:`~skmixsynth.IndependentSynthesizer`.
More components model the dependencies between columns, until there are so many that each
sees too few rows.
"""

# %%
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.model_selection import GridSearchCV

from skmixsynth import MixtureSynthesizer
from skmixsynth.datasets import make_mixed
from skmixsynth.metrics import column_pair_trends, detection_score, get_scorer, quality_score

real = make_mixed(2400, random_state=0)

scoring = {
    "quality": get_scorer("quality"),
    "column pair trends": get_scorer("column_pair_trends"),
    "detection": get_scorer("detection"),
}
search = GridSearchCV(
    MixtureSynthesizer(random_state=0),
    param_grid={"n_components": [1, 10, 100]},
    scoring=scoring,
    refit="detection",
    cv=3,
)
search.fit(real)
print("best parameters:", search.best_params_)

results = pd.DataFrame(
    {name: search.cv_results_[f"mean_test_{name}"] for name in scoring},
    index=pd.Index(search.cv_results_["param_n_components"].astype(int), name="n_components"),
)
print(results.round(3))

# %%
# The ceiling: :func:`~skmixsynth.datasets.make_mixed` is a simulator, so a fresh draw from
# it is a perfect synthesizer. Its scores against a validation-sized fold of real rows are
# the best any candidate can reach at this size (detection near 1, quality a little below 1
# from sampling noise).
fold, perfect = real.iloc[:800], make_mixed(800, random_state=1)
ceiling = pd.Series({
    "quality": quality_score(fold, perfect),
    "column pair trends": column_pair_trends(fold, perfect),
    "detection": detection_score(fold, perfect),
}, name="ceiling: a fresh draw of the simulator")
print(ceiling.round(3).to_string())

# %%
# One component is the floor: every column right, no dependency between them. A few tens of
# components recover most of the pair trends; with 2,400 rows, a hundred components start to
# split the rows too thinly. On a real table of tens of thousands of rows the default (1000
# components, with early stopping) is the better choice: see :doc:`/guide/which_model`.
fig, ax = plt.subplots(figsize=(6, 4))
for name in scoring:
    line, = ax.plot(results.index, results[name], marker="o", label=name)
    ax.axhline(ceiling[name], color=line.get_color(), linestyle=":", linewidth=1)
ax.set_xscale("log")
ax.set_xlabel("n_components (1 = independent columns, the floor)")
ax.set_ylabel("mean score on the validation folds")
ax.set_ylim(0, 1.02)
ax.set_title("MixtureSynthesizer: grid search (dotted: the ceiling)")
ax.legend(loc="lower right")
fig.tight_layout()
plt.show()
