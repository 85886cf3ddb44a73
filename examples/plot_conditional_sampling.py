"""
====================
Conditional sampling
====================

``sample(n, conditions=...)`` fixes chosen values in every returned row and draws the other
columns *given* them: "customers on the premium plan", "young customers in the north". A
dict fixes the same values in all rows; a DataFrame gives one condition per row.

:class:`~skmixsynth.MixtureSynthesizer` (and :class:`~skmixsynth.GTCoderSynthesizer` on
categorical values) samples conditions natively; the other models sample by exact rejection
in the encoder's space. The floor, :class:`~skmixsynth.IndependentSynthesizer`, honours the
condition but keeps the other columns' unconditional distributions: it does not know that
premium customers earn more.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from skmixsynth import IndependentSynthesizer, MixtureSynthesizer
from skmixsynth.datasets import make_mixed

real = make_mixed(5000, random_state=0)
model = MixtureSynthesizer(random_state=0).fit(real)
floor = IndependentSynthesizer(random_state=0).fit(real)

premium = model.sample(1000, conditions={"plan": "premium"}, random_state=0)
print("plans in the conditional sample:", sorted(set(premium["plan"])))

# %%
# In the simulator the plan depends on the income: real premium customers earn about 40 %
# more than the median customer. The mixture's conditional sample follows them; the floor's
# does not. The ceiling is the real rows holding the condition.
real_premium = real[real["plan"] == "premium"]
floor_premium = floor.sample(1000, conditions={"plan": "premium"}, random_state=0)
medians = pd.Series({
    "every real customer": real["income"].median(),
    "floor: independent columns | premium": floor_premium["income"].median(),
    "MixtureSynthesizer | premium": premium["income"].median(),
    "ceiling: real premium customers": real_premium["income"].median(),
}, name="median income")
print(medians.round(0).to_string())

# %%
# A DataFrame of conditions: one row of conditions per returned row, several columns at
# once, numerical values too (a numerical condition is exact in the returned rows).
conditions = pd.DataFrame({"region": ["north", "south", "north"], "age": [25, 40, 67]})
print(model.sample(conditions=conditions, random_state=0).to_string())

# %%
# A value the model never saw (or that rare-value protection removed) is a ``ValueError``
# naming the column and the value, never a silently empty result.
try:
    model.sample(10, conditions={"plan": "platinum"})
except ValueError as error:
    print("ValueError:", error)

# %%
# The income of premium customers, real and synthetic.
fig, ax = plt.subplots(figsize=(6, 4))
bins = np.geomspace(real["income"].min(), real["income"].max(), 40)
for label, table, style in [("real | premium (ceiling)", real_premium, "-"),
                            ("MixtureSynthesizer | premium", premium, "--"),
                            ("independent columns | premium (floor)", floor_premium, ":")]:
    ax.hist(table["income"], bins=bins, histtype="step", density=True, linestyle=style,
            linewidth=2, label=label)
ax.set_xscale("log")
ax.set_xlabel("income")
ax.set_ylabel("density")
ax.set_title("Income given plan = premium")
ax.legend(fontsize="small")
fig.tight_layout()
plt.show()
