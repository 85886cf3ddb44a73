"""``sample_to_parquet``: a synthetic table written as a folder of Parquet part files.

The sample is planned in the parent process, then written part by part, serially, on joblib
workers (``n_jobs``) or on the workers of a Dask cluster (``client``):

- **The plan.** Without conditions the rows are those of ``model.sample(n, random_state=...)``:
  the same seeded chunks of ``model._sample_chunk_size`` rows (:func:`~skmixsynth._sampling.
  plan_blocks`: every chunk has its own ``torch.Generator`` seed and its own decoding seed, all
  drawn up front from the call's ``RandomState``), grouped into parts of whole chunks. A part
  needs nothing but its chunks' seeds, so the rows are the same whatever ``chunk_rows``,
  ``n_jobs`` or the number of workers. With conditions, each part is one
  ``sample(part_rows, conditions=..., random_state=seed)`` call with its own seed drawn up
  front: the rows do not depend on ``n_jobs`` but do on ``chunk_rows``.
- **The workers** get the model as the bytes of :meth:`~skmixsynth.BaseSynthesizer.save`
  (torch state dicts and JSON, read back with ``torch.load(weights_only=True)``), never a
  pickle of torch modules, and load it once per process.
- **The files** are written into a hidden staging folder next to ``path`` (on the same file
  system, so that every worker of a cluster sees it when ``path`` is on a shared one), which
  becomes ``path`` only once every part is written: a failed call leaves nothing behind.
  Every part has the same Arrow schema, fixed in the parent, so the folder reads back as one
  table with ``pandas.read_parquet(path)``.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import numbers
import os
import shutil
import tempfile
import threading

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ._sampling import MAX_SEED, check_n_samples, generate_blocks, plan_blocks, sampling_rng

__all__ = ["DEFAULT_CHUNK_ROWS", "sample_to_parquet"]

#: rows per part file of ``sample_to_parquet`` (rounded down to whole sampling chunks)
DEFAULT_CHUNK_ROWS = 100_000
#: rows of the probe sample that fixes the Arrow type of object columns
_PROBE_ROWS = 256
_PARQUET_HINT = 'pip install "skmixsynth[parquet]"'
_DASK_HINT = 'pip install "skmixsynth[dask]"'


# ----------------------------------------------------------------------------- imports
def import_pyarrow(what="sample_to_parquet"):
    """``(pyarrow, pyarrow.parquet)``, or an ImportError naming the ``parquet`` extra."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise ImportError(f"{what} needs pyarrow, which is not installed: {_PARQUET_HINT} "
                          f"(or the 'scale' extra).") from exc
    return pyarrow, pyarrow.parquet


def import_distributed(what="sample_to_parquet(client=...)"):
    """``dask.distributed``, or an ImportError naming the ``dask`` extra."""
    try:
        import dask.distributed
    except ImportError as exc:
        raise ImportError(f"{what} needs dask.distributed, which is not installed: "
                          f"{_DASK_HINT} (or the 'scale' extra).") from exc
    return dask.distributed


# ------------------------------------------------------------------------------ the plan
def _check_chunk_rows(chunk_rows):
    if (not isinstance(chunk_rows, numbers.Integral) or isinstance(chunk_rows, bool)
            or chunk_rows < 1):
        raise ValueError(f"chunk_rows must be a positive integer; got {chunk_rows!r}.")
    return int(chunk_rows)


def plan_parts(model, n_samples, chunk_rows, rng, conditions):
    """The parts of the sample, in row order.

    Each part is a dict: ``index``, ``rows``, and ``blocks`` (the seeded chunks of
    :func:`~skmixsynth._sampling.plan_blocks`) without conditions, or ``seed`` and
    ``conditions`` (the dict, or the part's slice of the DataFrame) with them.
    """
    if conditions is None:
        size = model._sample_chunk_size
        blocks = plan_blocks(n_samples, size, rng)
        per_part = max(1, chunk_rows // size)
        groups = [blocks[i:i + per_part] for i in range(0, len(blocks), per_part)]
        return [{"index": i, "rows": group[-1][1] - group[0][0], "blocks": group}
                for i, group in enumerate(groups)]
    starts = list(range(0, n_samples, chunk_rows)) or [0]
    seeds = rng.randint(MAX_SEED, size=len(starts))
    seen = set()
    for i in range(len(seeds)):  # distinct, as plan_blocks makes the chunks' seeds
        while int(seeds[i]) in seen:
            seeds[i] = rng.randint(MAX_SEED)
        seen.add(int(seeds[i]))
    parts = []
    for i, start in enumerate(starts):
        stop = min(start + chunk_rows, n_samples)
        part_conditions = (conditions.iloc[start:stop] if isinstance(conditions, pd.DataFrame)
                           else conditions)
        parts.append({"index": i, "rows": stop - start, "seed": int(seeds[i]),
                      "conditions": part_conditions})
    return parts


def _check_conditions(model, n_samples, conditions):
    """``(n_samples, conditions)`` checked as ``sample`` checks them, in the caller's process
    and before any file is written; an empty dict is no condition."""
    from ._conditions import _condition_frame

    if conditions is None or (isinstance(conditions, dict) and not conditions):
        if n_samples is None:
            raise ValueError("n_samples is needed (it may only be left out with a DataFrame "
                             "of conditions).")
        return check_n_samples(n_samples), None
    frame, n_samples = _condition_frame(conditions, n_samples)
    model.encoder_.encode_partial(frame)  # unknown columns, levels, values: ValueError now
    if isinstance(conditions, pd.DataFrame):
        conditions = conditions.reset_index(drop=True)
    return n_samples, conditions


# ---------------------------------------------------------------------------- the schema
def arrow_schema(model, pa):
    """The Arrow schema of every part: the columns and dtypes of ``model``'s samples.

    Taken from a small probe sample with fixed seeds (the call's stream is not touched); an
    object column whose probe values are all missing is typed as strings, so that a part
    where it happens to be all missing still has the schema of the others.
    """
    probe = generate_blocks(model, [(0, _PROBE_ROWS, 0, 0)])
    schema = pa.Schema.from_pandas(probe, preserve_index=False)
    for i, field in enumerate(schema):
        if pa.types.is_null(field.type):
            schema = schema.set(i, field.with_type(pa.string()))
    return schema


# ------------------------------------------------------------------------- the writing
def write_part(model, part, folder, width, schema):
    """Generate one part, write it to ``folder``, return its record (small, picklable)."""
    pa, pq = import_pyarrow()
    if "blocks" in part:
        frame = generate_blocks(model, part["blocks"])
    else:
        frame = model.sample(part["rows"], conditions=part["conditions"],
                             random_state=part["seed"])
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    name = f"part-{part['index']:0{width}d}.parquet"
    pq.write_table(table, os.path.join(folder, name))
    return {"index": part["index"], "file": name, "rows": len(frame), "pid": os.getpid(),
            "peak_rss_mb": _peak_rss_mb()}


def write_parts(payload, parts, folder, width, schema):
    """Worker task: load the saved model (once per process) and write ``parts``."""
    model = _loaded(payload)
    return [write_part(model, part, folder, width, schema) for part in parts]


_CACHE = {}
_CACHE_LOCK = threading.Lock()


def _loaded(payload):
    """The model saved in ``payload`` (bytes of ``save``), loaded once per worker process."""
    from .base import BaseSynthesizer

    key = hashlib.sha256(payload).hexdigest()
    with _CACHE_LOCK:
        model = _CACHE.get(key)
        if model is None:
            model = BaseSynthesizer.load(io.BytesIO(payload))
            _CACHE.clear()  # one model at a time: a worker may serve many calls
            _CACHE[key] = model
    return model


def _saved_bytes(model):
    buffer = io.BytesIO()
    model.save(buffer)
    return buffer.getvalue()


def _peak_rss_mb():
    """Peak resident memory of this process in MiB (Linux ``VmHWM``), else ``None``."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _groups(parts, n_groups):
    """``parts`` cut into at most ``n_groups`` contiguous runs of (nearly) equal length."""
    n_groups = max(1, min(n_groups, len(parts)))
    bounds = np.linspace(0, len(parts), n_groups + 1).round().astype(int)
    return [parts[lo:hi] for lo, hi in itertools.pairwise(bounds) if hi > lo]


def _run_serial(model, parts, folder, width, schema, on_part):
    records = []
    for part in parts:
        records.append(write_part(model, part, folder, width, schema))
        on_part(records[-1])
    return records


def _run_joblib(model, parts, folder, width, schema, n_jobs, on_part):
    """Parts on joblib's current backend (loky processes by default, or the backend of a
    ``joblib.parallel_backend`` block): each task loads the model from its saved bytes and
    writes a contiguous run of parts; a few runs per worker balance the load."""
    from joblib import Parallel, delayed

    payload = _saved_bytes(model)
    tasks = [delayed(write_parts)(payload, group, folder, width, schema)
             for group in _groups(parts, 4 * effective_jobs(n_jobs))]
    parallel = Parallel(n_jobs=n_jobs, return_as="generator")
    records = []
    for batch in parallel(tasks):
        for record in batch:
            records.append(record)
            on_part(record)
    return records


def _run_dask(client, model, parts, folder, width, schema, on_part):
    """One task per part on the cluster; the saved model is scattered to every worker once."""
    distributed = import_distributed()
    if not isinstance(client, distributed.Client):
        raise TypeError("client must be a dask.distributed.Client; got "
                        f"{type(client).__name__}.")
    payload = client.scatter(_saved_bytes(model), broadcast=True)
    futures = [client.submit(write_parts, payload, [part], folder, width, schema, pure=False)
               for part in parts]
    records = []
    try:
        for future in distributed.as_completed(futures):
            for record in future.result():
                records.append(record)
                on_part(record)
    finally:
        client.cancel([*futures, payload])
    return sorted(records, key=lambda r: r["index"])


def effective_jobs(n_jobs):
    """The number of joblib workers ``n_jobs`` gives here (1: no worker process)."""
    from joblib import effective_n_jobs

    return effective_n_jobs(n_jobs)


# ------------------------------------------------------------------------- the folder
def _check_path(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like; got {type(path).__name__}.")
    return os.path.abspath(os.fspath(path))


def _replaceable(path, overwrite):
    """Check what is at ``path``; return whether something must be replaced at the end."""
    if not os.path.lexists(path):
        return False
    if os.path.isdir(path) and not os.path.islink(path):
        entries = os.listdir(path)
        if not entries:
            return True
        if not overwrite:
            raise ValueError(f"path {path!r} is a non-empty folder; pass overwrite=True to "
                             "replace it (a folder of .parquet files only), or choose another "
                             "path.")
        others = sorted(e for e in entries if not (
            e.endswith(".parquet") and os.path.isfile(os.path.join(path, e))))
        if others:
            raise ValueError(f"path {path!r} holds {others[:3]} besides Parquet files; "
                             "overwrite=True replaces only a folder of .parquet files (a "
                             "dataset written before), not this one.")
        return True
    if not overwrite:
        raise ValueError(f"path {path!r} exists; pass overwrite=True to replace it, or "
                         "choose another path.")
    if not os.path.isfile(path):
        raise ValueError(f"path {path!r} exists and is not a file nor a folder; it cannot be "
                         "replaced.")
    return True


def _commit(staging, path, replace):
    """Put the finished ``staging`` folder at ``path`` (what was there is removed)."""
    if replace:
        aside = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}-", suffix=".old",
                                 dir=os.path.dirname(path))
        old = os.path.join(aside, "old")
        os.replace(path, old)
        os.replace(staging, path)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(staging, path)


# ---------------------------------------------------------------------------- the call
def sample_to_parquet(model, n_samples, path, *, chunk_rows=DEFAULT_CHUNK_ROWS,
                      random_state=None, n_jobs=None, conditions=None, client=None,
                      overwrite=False, on_part=None):
    """See :meth:`BaseSynthesizer.sample_to_parquet`; returns ``(path, records)`` where the
    records (one small dict per part: file, rows, worker pid and its peak memory) serve the
    benchmark and the command line's progress. ``on_part(record)`` is called as each part
    is written."""
    check_is_fitted(model, "modules_")
    path = _check_path(path)
    chunk_rows = _check_chunk_rows(chunk_rows)
    if client is not None and n_jobs is not None:
        raise ValueError(f"Pass n_jobs or client, not both; got n_jobs={n_jobs!r} and a "
                         "client (the cluster's workers set the parallelism).")
    pa, _ = import_pyarrow()
    if client is not None:
        import_distributed()
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        raise ValueError(f"path {path!r}: its folder {parent!r} does not exist.")
    replace = _replaceable(path, overwrite)
    n_samples, conditions = _check_conditions(model, n_samples, conditions)
    rng = sampling_rng(model, random_state)
    parts = plan_parts(model, n_samples, chunk_rows, rng, conditions)
    schema = arrow_schema(model, pa)
    width = max(5, len(str(len(parts) - 1)))
    on_part = on_part or (lambda record: None)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}-", suffix=".partial",
                               dir=parent)
    try:
        if client is not None:
            records = _run_dask(client, model, parts, staging, width, schema, on_part)
        elif len(parts) == 1 or effective_jobs(n_jobs) == 1:
            records = _run_serial(model, parts, staging, width, schema, on_part)
        else:
            records = _run_joblib(model, parts, staging, width, schema, n_jobs, on_part)
        _commit(staging, path, replace)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path, records
