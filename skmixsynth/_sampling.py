"""Unconditional sampling of ``BaseSynthesizer``: seeded chunks, blocks, threads, decoding.

A sample of ``n`` rows is cut into fixed-size chunks (``model._sample_chunk_size`` rows), each
with its own seeds drawn up front, so the rows depend on ``n`` and the seed only, never on the
number of threads. A chunk is generated in blocks of ``model._sample_batch_size`` rows by the
model's sampler and decoded by the fitted encoder.
"""

from __future__ import annotations

import numbers
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import torch
from sklearn.utils import check_random_state

from .nn._core import seeded_generator

__all__ = ["MAX_SEED", "check_n_samples", "generate_blocks", "generate_frame", "plan_blocks",
           "sampling_rng"]

#: seeds are drawn in [0, MAX_SEED)
MAX_SEED = 2**31 - 1


def check_n_samples(n_samples):
    """``int(n_samples)``, or a ValueError quoting it unless it is a non-negative integer."""
    if not isinstance(n_samples, numbers.Integral) or isinstance(n_samples, bool) or (
        n_samples < 0
    ):
        raise ValueError(f"n_samples must be a non-negative integer; got {n_samples!r}.")
    return int(n_samples)


def sampling_rng(model, random_state):
    """The numpy RandomState one ``sample`` call draws its seeds from.

    ``random_state=None`` continues the model's stream (seeded at fit), so successive calls
    differ while a script re-run gives the same sequence; anything else is that call's seed.
    """
    if random_state is None:
        if "_sample_rng" not in model.__dict__:
            model._sample_rng = np.random.RandomState(model._sample_seed)
        return model._sample_rng
    return check_random_state(random_state)


def generate_frame(model, n_samples, rng):
    """``n_samples`` decoded rows of ``model``, seeds drawn from ``rng``."""
    return generate_blocks(model, plan_blocks(n_samples, model._sample_chunk_size, rng))


def plan_blocks(n_samples, size, rng):
    """The seeded chunks of a sample of ``n_samples`` rows: ``[(start, stop, torch_seed,
    decode_seed), ...]``, chunks of ``size`` rows whose seeds are drawn up front from ``rng``.

    Fixed-size chunks, each with its own seeds: the rows depend on ``n_samples`` and the seed
    only, not on how many threads (or processes, see ``_scale.py``) generate them. An empty
    sample is one empty chunk, so that it still has the columns and dtypes.

    The torch seeds of a call are distinct, and so are its decoding seeds: a seed drawn
    twice is redrawn (from ``rng``, after the others), since two chunks with the same torch
    seed would generate the same rows, and two with the same decoding seed the same fresh
    identifiers. Draws of 31 bits repeat with probability about ``k**2 / 2**32`` for ``k``
    chunks (0.2 % at 100M rows): without a repeat, which is every sample of ordinary size,
    the seeds are those of one ``randint`` draw.
    """
    starts = list(range(0, n_samples, size)) or [0]
    seeds = rng.randint(MAX_SEED, size=(len(starts), 2))
    for column in range(2):
        seen = set()
        for i in range(len(starts)):
            while int(seeds[i, column]) in seen:
                seeds[i, column] = rng.randint(MAX_SEED)
            seen.add(int(seeds[i, column]))
    return [(start, min(start + size, n_samples), int(seeds[i, 0]), int(seeds[i, 1]))
            for i, start in enumerate(starts)]


def generate_blocks(model, blocks):
    """The decoded rows of ``blocks`` (from :func:`plan_blocks`), concatenated in order."""
    model.modules_.eval()
    sampler = model._sampler()
    chunks = [(model, sampler, *block) for block in blocks]
    workers = min(len(chunks), _sampling_threads(model.device_))
    if workers <= 1:
        parts = [_sample_chunk(*chunk) for chunk in chunks]
    else:
        parts = _map_in_threads(_sample_chunk, chunks, workers)
    if len(parts) == 1:
        return parts[0]
    return pd.concat(parts, ignore_index=True)


def generate_views(model, sampler, n_rows, generator):
    """``(numerical, codes)`` numpy views of ``n_rows`` rows from ``sampler``, in blocks."""
    layout = model.encoder_.layout_
    numerical = np.empty((n_rows, layout.n_numerical), dtype=np.float32)
    codes = np.empty((n_rows, len(layout.discrete_spans)), dtype=np.int64)
    with torch.inference_mode():
        for lo in range(0, n_rows, model._sample_batch_size):
            hi = min(lo + model._sample_batch_size, n_rows)
            num, code = sampler(hi - lo, generator)
            numerical[lo:hi] = num.to("cpu", torch.float32).numpy()
            codes[lo:hi] = code.to("cpu").numpy()
    return numerical, codes


def _sample_chunk(model, sampler, start, stop, torch_seed, decode_seed):
    """Rows ``start:stop`` of a sample: generated in blocks, then decoded."""
    generator = seeded_generator(int(torch_seed), model.device_)
    numerical, codes = generate_views(model, sampler, stop - start, generator)
    return model.encoder_.inverse_transform_columns(numerical, codes,
                                                    random_state=int(decode_seed))


def _sampling_threads(device):
    """Threads for ``sample``: torch's intra-op thread count on a CPU, one on an accelerator."""
    return torch.get_num_threads() if torch.device(device).type == "cpu" else 1


def _map_in_threads(function, argument_tuples, workers):
    """``[function(*args) for args in argument_tuples]`` on ``workers`` threads.

    Each thread runs its torch ops on one intra-op thread: small sampling networks scale
    better as independent chunks per core than as one stream split op by op (on 2 cores,
    adult: 566k vs 284k rows/s), and the random number generation and the decoding, which
    are serial within a stream, run side by side. torch's thread setting is per thread once
    set; the caller's own setting is restored when the work is done.
    """
    before = torch.get_num_threads()

    def run(args):
        torch.set_num_threads(1)
        return function(*args)

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(run, argument_tuples))
    finally:
        torch.set_num_threads(before)
