"""
=====================
Using a GPU (or not)
=====================

Every synthesizer takes ``device="auto" | "cpu" | "cuda" | "cuda:N"``, resolved to
``device_`` at fit (``"auto"``, the default, takes a GPU when torch sees one). The code is
the same on both: this example runs on a GPU when there is one and on the CPU otherwise.
Asking for ``"cuda"`` where there is none is a clear error, not a silent fallback.

The models are small, so a CPU is often fast enough (see :doc:`/guide/devices`); a GPU pays
off on large tables and wide transformers (:class:`~skmixsynth.GTCoderSynthesizer`).
"""

# %%
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch

import skmixsynth
from skmixsynth import GTCoderSynthesizer, IndependentSynthesizer
from skmixsynth.datasets import make_mixed
from skmixsynth.metrics import column_pair_trends, detection_score

device = "cuda" if torch.cuda.is_available() else "cpu"
print("device:", device)

real = make_mixed(5000, random_state=0)
train, holdout = real.iloc[:4000], real.iloc[4000:]

start = time.perf_counter()
model = GTCoderSynthesizer(epochs=10, device=device, random_state=0).fit(train)
print(f"fitted on {model.device_} in {time.perf_counter() - start:.1f} s")
synthetic = model.sample(len(holdout), random_state=0)

# %%
# The scores do not depend on the device, the rows do: random numbers are drawn on the
# device, so a seed gives other rows on a GPU than on a CPU (see
# :doc:`/guide/reproducibility`). Floor and ceiling as in the quick start.
floor = IndependentSynthesizer(random_state=0).fit(train).sample(len(holdout), random_state=0)
for name, table in [("floor: independent columns", floor),
                    ("GTCoderSynthesizer", synthetic),
                    ("ceiling: real hold-out", holdout)]:
    print(f"{name:28} pair trends {column_pair_trends(train, table):.3f}  "
          f"detection {detection_score(train, table):.3f}")

# %%
# A model saved on a GPU loads anywhere: ``load(path, device="cpu")`` puts it on the CPU
# (without ``device`` it goes back to its ``device`` parameter, and to the CPU with a warning
# on a machine without a GPU). Loading reads state dicts and JSON only, never pickled code.
path = Path(tempfile.mkdtemp()) / "gtcoder.pt"
model.save(path)
on_cpu = skmixsynth.load(path, device="cpu")
print("loaded on", on_cpu.device_)
if device == "cpu":  # on the same device, the loaded model gives the same rows
    print("same rows:", on_cpu.sample(5, random_state=1).equals(model.sample(5, random_state=1)))

# %%
# The training losses per epoch, from ``history_`` (the same on any device).
history = [h for h in model.history_ if h["phase"] == "train"]
fig, ax = plt.subplots(figsize=(6, 3.5))
for key in ("loss", "kl", "cl", "re"):
    ax.plot([h["epoch"] for h in history], [h[key] for h in history], marker=".", label=key)
ax.set_xlabel("epoch")
ax.set_ylabel("mean loss over the epoch")
ax.set_title(f"GTCoderSynthesizer on {model.device_}")
ax.legend()
fig.tight_layout()
plt.show()
