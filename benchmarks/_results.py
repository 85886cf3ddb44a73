"""Result files: one JSON per run in ``benchmarks/results/`` and the helpers to read them.

A run file holds ``schema``, ``kind`` (``"run"`` or ``"scaling"``), ``run_id``, ``command``,
``quick``, ``complete`` (false while running or after the run was killed: the file is
rewritten after every measurement), ``started_at``, ``finished_at``, ``duration_seconds``,
``config``, ``versions``, ``peers``, ``machine``, ``code``, ``load_average``, ``records`` and,
for ``"run"``, ``references``. Strict JSON: NaN is written as null, infinities as the strings
``"inf"`` / ``"-inf"`` (see :func:`number`).
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = "skmixsynth-benchmark/1"


def utc_now():
    """The current UTC time as an ISO string with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_run_id(kind):
    """A sortable, file-name-safe id such as ``20261123T141500Z-run``, unique on this machine.

    Two runs started in the same second would share their result file and their workers'
    job folders; each id is claimed with an exclusive create in the system's temporary
    folder, and a taken second waits for the next.
    """
    import tempfile
    import time

    while True:
        run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + f"-{kind}"
        claim = os.path.join(tempfile.gettempdir(), f"skmixsynth-benchmark-{run_id}")
        try:
            os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return run_id
        except FileExistsError:
            time.sleep(0.2)


def jsonable(value):
    """``value`` with numpy scalars unwrapped, NaN as None and infinities as strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return value


def number(value):
    """A stored number back as a float (``"inf"`` -> inf); ``None`` when there is none."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return float(value)


def write_run(doc, results_dir):
    """Write ``doc`` to ``<results_dir>/<run_id>.json`` and return the path."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{doc['run_id']}.json"
    path.write_text(json.dumps(jsonable(doc), indent=1, allow_nan=False), encoding="utf-8")
    return path


def load_runs(results_dir, kind=None):
    """The run documents of ``results_dir`` sorted by ``run_id`` (unreadable files skipped)."""
    docs = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if doc.get("schema") == SCHEMA and (kind is None or doc.get("kind") == kind):
            docs.append(doc)
    return sorted(docs, key=lambda d: d["run_id"])


def latest_records(docs, key_fields):
    """Records of all ``docs``; for the same ``key_fields`` values the latest run wins.

    Each record gains ``run_id``.
    """
    chosen = {}
    for doc in docs:
        for record in doc.get("records", []):
            record = {**record, "run_id": doc["run_id"]}
            chosen[tuple(json.dumps(record.get(f), sort_keys=True) for f in key_fields)] = record
    return list(chosen.values())
