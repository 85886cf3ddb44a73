"""
=====================================
The command line: fit, sample, score
=====================================

Everything skmixsynth does from Python it does from a shell too: ``skmixsynth fit`` trains a
synthesizer on a CSV (or Parquet) table and saves it, ``skmixsynth sample`` writes a
synthetic table, ``skmixsynth evaluate`` prints the scores and writes the HTML report.
``python -m skmixsynth`` is the same program as the ``skmixsynth`` script; this example runs
it through :mod:`subprocess` so that it works wherever Python does. The shell commands are
the lines starting with ``$``.
"""

# %%
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from skmixsynth import IndependentSynthesizer
from skmixsynth.datasets import make_mixed
from skmixsynth.metrics import column_pair_trends, detection_score

folder = Path(tempfile.mkdtemp())


def skmixsynth(*args):
    """Run ``skmixsynth ARGS`` in ``folder`` and show what it prints."""
    print("$ skmixsynth", " ".join(args))
    done = subprocess.run([sys.executable, "-m", "skmixsynth", *args], cwd=folder,
                          capture_output=True, text=True)
    print(done.stdout, end="")
    if done.returncode:  # errors are one line on stderr, with a non-zero exit status
        print(done.stderr, end="")
    return done.returncode


# %%
# A table to start from: 2,000 simulated customers, 1,600 to train on and 400 held out
# (real rows the synthesizer never sees, for the scores that need them).
table = make_mixed(2000, missing_rate=0.02, random_state=0)
table.iloc[:1600].to_csv(folder / "train.csv", index=False)
table.iloc[1600:].to_csv(folder / "holdout.csv", index=False)

# %%
# Fit the mixture model and save it (torch state dicts and JSON: loading it runs no pickled
# code). ``--model`` takes ``mixgan``, ``gtcoder``, ``mixture`` or ``independent``; ``--set``
# passes any parameter of the model; ``--seed`` makes the fit reproducible.
skmixsynth("fit", "train.csv", "--model", "mixture", "--seed", "0", "-o", "model.pt")

# %%
# Sample as many rows as were held out. The same ``--seed`` writes the same file; large
# ``-n`` are generated and written in chunks, so memory stays bounded.
skmixsynth("sample", "model.pt", "-n", "400", "--seed", "0", "-o", "synthetic.csv")

# %%
# Conditions fix columns in every row; each value is read as its column's type.
skmixsynth("sample", "model.pt", "-n", "100", "--seed", "0", "--conditions", "plan=premium",
           "-o", "premium.csv")

# %%
# Score the synthetic rows: against the training rows, with the hold-out for the
# correlation maintenance and the machine-learning efficacy of predicting ``plan``.
skmixsynth("evaluate", "train.csv", "synthetic.csv", "--holdout", "holdout.csv", "--target",
           "plan", "--report", "report.html")

# %%
# Beside the floor and the ceiling: the same scores for independent columns
# (:class:`~skmixsynth.IndependentSynthesizer`) and for the hold-out's real rows.
train = pd.read_csv(folder / "train.csv")
tables = {
    "floor: independent columns": IndependentSynthesizer(random_state=0).fit(train).sample(
        400, random_state=0),
    "skmixsynth fit --model mixture": pd.read_csv(folder / "synthetic.csv"),
    "ceiling: real hold-out": pd.read_csv(folder / "holdout.csv"),
}
for name, table in tables.items():
    print(f"{name:32} pair trends {column_pair_trends(train, table):.3f}  "
          f"detection {detection_score(train, table):.3f}")

# %%
# A mistake is one line and a non-zero exit status, never a traceback:
status = skmixsynth("fit", "train.csv", "--model", "mixture", "--set", "epoch=5", "-o", "m.pt")
print("exit status", status)
