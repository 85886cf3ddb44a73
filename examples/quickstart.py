"""Quick start: fit a synthesizer on a table, sample a synthetic one, score it.

Runs offline in seconds on a laptop CPU: the table comes from skmixsynth's own simulator.
"""

from sklearn.model_selection import train_test_split

from skmixsynth import IndependentSynthesizer, MixGANSynthesizer
from skmixsynth.datasets import make_mixed
from skmixsynth.metrics import column_pair_trends, column_shapes, quality_score

real = make_mixed(5000, missing_rate=0.02, random_state=0)
train, test = train_test_split(real, test_size=0.2, random_state=0)

model = MixGANSynthesizer(random_state=0).fit(train)
synthetic = model.sample(len(test), random_state=0)

print(f"real table: {real.shape[0]} rows x {real.shape[1]} columns")
print(synthetic.head())
print(f"column shapes      {column_shapes(test, synthetic):.3f}")
print(f"column pair trends {column_pair_trends(test, synthetic):.3f}")
print(f"quality score      {quality_score(test, synthetic):.3f}")

# The floor: every column sampled from its own marginal, no dependencies between columns.
floor = IndependentSynthesizer(random_state=0).fit(train).sample(len(test), random_state=0)
print(f"floor (independent marginals): pair trends {column_pair_trends(test, floor):.3f}, "
      f"quality {quality_score(test, floor):.3f}")
