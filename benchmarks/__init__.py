"""Benchmarks of skmixsynth against its peers (CTGAN, TVAE), the floor and the ceiling.

Entry points (run from the repository root):

- ``python -m benchmarks.run``: fidelity, utility, privacy and cost on the real datasets and the
  simulators (GTCoder Table 1 and 2, the mixGAN figures);
- ``python -m benchmarks.scaling``: fit time and peak memory as rows and columns grow;
- ``python -m benchmarks.report``: regenerate ``benchmarks/results/README.md`` and the figures
  from the JSON results.

This package must stay importable without skmixsynth, torch or scikit-learn: its worker
(:mod:`benchmarks._worker`) may run under the peers' interpreter. See ``benchmarks/README.md``.
"""
