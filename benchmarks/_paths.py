"""Where things are: the repository, the datasets, the results (no machine path is stored)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
QUICK_RESULTS_DIR = RESULTS_DIR / "quick"
DATA_ENV_VAR = "SKMIXSYNTH_DATA"
PEER_PYTHON_ENV_VAR = "SKMIXSYNTH_PEER_PYTHON"


def default_data_home():
    """``$SKMIXSYNTH_DATA`` when set, else ``../shared/datasets`` relative to the repository."""
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return REPO_ROOT.parent / "shared" / "datasets"


def display_path(path):
    """A path for the records: relative to the repository when inside it or its parent."""
    path = Path(path).resolve()
    for base, prefix in ((REPO_ROOT, "."), (REPO_ROOT.parent, "..")):
        try:
            return str(Path(prefix) / path.relative_to(base))
        except ValueError:
            continue
    return path.name
