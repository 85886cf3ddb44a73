"""Shared fixtures and the ``datasets`` marker.

Tests marked ``@pytest.mark.datasets`` read the real tables of ``../shared/datasets`` (or of the
folder named by the ``SKMIXSYNTH_DATA`` environment variable). Where neither holds them the tests
are skipped with a reason that says what is missing; CI always has them.
"""

import os
from pathlib import Path

import pytest
from _names import DATASET_NAMES

REPO = Path(__file__).resolve().parents[1]


def _data_home():
    env = os.environ.get("SKMIXSYNTH_DATA")
    return Path(env) if env else REPO.parent / "shared" / "datasets"


def pytest_collection_modifyitems(config, items):
    home = _data_home()
    missing = [n for n in DATASET_NAMES if not (home / n / "data.csv.gz").is_file()]
    if not missing:
        return
    skip = pytest.mark.skip(
        reason=(
            f"the real datasets {missing} are not in {home}: set SKMIXSYNTH_DATA to a folder "
            "holding <name>/data.csv.gz and <name>/meta.json (the layout of ../shared/datasets)"
        )
    )
    for item in items:
        if "datasets" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def data_home():
    """The folder holding the real datasets."""
    return _data_home()
