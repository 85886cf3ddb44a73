"""Datasets: a loader for the real benchmark tables and simulators with known distributions.

The real tables are not shipped: :func:`load_dataset` reads them from the folder named by the
``SKMIXSYNTH_DATA`` environment variable (or ``data_home``). The simulators need no files:
:func:`make_grid`, :func:`make_gridr` and :func:`make_ring` are 2-D Gaussian mixtures with an
exact log-density, :func:`make_mixed` a mixed-type table with known dependencies.
"""

from ._base import get_data_home, list_datasets, load_dataset
from ._simulators import make_grid, make_gridr, make_mixed, make_ring

__all__ = [
    "get_data_home",
    "list_datasets",
    "load_dataset",
    "make_grid",
    "make_gridr",
    "make_mixed",
    "make_ring",
]
