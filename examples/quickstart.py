"""
===========
Quick start
===========

Fit a synthesizer on a table, sample a synthetic one, and score it beside its floor and its
ceiling. Runs offline in seconds on a laptop CPU: the table comes from skmixsynth's own
simulator (:func:`~skmixsynth.datasets.make_mixed`, 8 columns of simulated customers with
known dependencies between them).
"""

# %%
# A table with numerical and categorical columns. 4,000 rows train the model; 1,000 are held
# out: real rows it never sees, the ceiling of every score.
from skmixsynth import IndependentSynthesizer, MixtureSynthesizer
from skmixsynth.datasets import make_mixed
from skmixsynth.metrics import column_pair_trends, column_shapes, detection_score

real = make_mixed(5000, missing_rate=0.02, random_state=0)
train, holdout = real.iloc[:4000], real.iloc[4000:]
print(f"real table: {real.shape[0]} rows x {real.shape[1]} columns")
print(real.dtypes.to_string())

# %%
# Fit and sample. :class:`~skmixsynth.MixtureSynthesizer` fits this table in a couple of
# seconds on one CPU thread; the same ``random_state`` gives the same rows.
model = MixtureSynthesizer(random_state=0).fit(train)
synthetic = model.sample(len(holdout), random_state=0)
print(synthetic.head().to_string())

# %%
# Score. Each score compares a table with the training rows; greater is better and 1 is
# perfect. The floor is :class:`~skmixsynth.IndependentSynthesizer`, which samples every
# column from its own distribution and keeps no dependency between columns: its column shapes
# are as good as anyone's, its pair trends and detection are what "learnt nothing about the
# rows" looks like. The ceiling is the hold-out: real rows, as good as a table of this size
# can be.
floor = IndependentSynthesizer(random_state=0).fit(train).sample(len(holdout), random_state=0)

print(f"{'':28} {'column shapes':>13} {'pair trends':>12} {'detection':>10}")
for name, table in [("floor: independent columns", floor),
                    ("MixtureSynthesizer", synthetic),
                    ("ceiling: real hold-out", holdout)]:
    print(f"{name:28} {column_shapes(train, table):13.3f} "
          f"{column_pair_trends(train, table):12.3f} {detection_score(train, table):10.3f}")

# %%
# The mixture model keeps the column shapes and recovers most of the pair trends that the
# floor loses; detection (1 when a classifier cannot tell the synthetic rows from real ones)
# is where the remaining gap to real rows shows. :doc:`plot_evaluation_report` computes every
# score at once, with the papers' diagrams.
