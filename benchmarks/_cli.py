"""Command-line pieces shared by ``run`` and ``scaling``: parameter overrides, the run frame."""

from __future__ import annotations

import ast
import os
import shutil
import sys
import time
from pathlib import Path

from . import _environment
from ._jobs import probe_peers
from ._models import MODELS, PEERS
from ._paths import display_path
from ._results import new_run_id, utc_now, write_run


def parse_params(items):
    """``["mixgan.epochs=10", ...]`` -> ``{"mixgan": {"epochs": 10}}``.

    Values are Python literals when they parse as one (``10``, ``0.5``, ``(128, 128)``,
    ``None``, ``True``), else strings.
    """
    params = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        model, dot, name = key.partition(".")
        if not (sep and dot and model and name):
            raise ValueError(f"--param expects MODEL.NAME=VALUE, got {item!r}.")
        if model not in MODELS:
            raise ValueError(f"--param {item!r}: unknown model {model!r}; one of {list(MODELS)}.")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        params.setdefault(model, {})[name] = value
    return params


def merge_params(defaults, overrides):
    """Per-model dicts: ``overrides`` win over ``defaults``."""
    merged = {m: dict(p) for m, p in defaults.items()}
    for model, params in overrides.items():
        merged.setdefault(model, {}).update(params)
    return merged


def command_line(module, argv=None):
    """The command as typed (``argv`` defaults to ``sys.argv[1:]``); absolute paths are shown
    relative to the repository, or by their name only."""
    argv = sys.argv[1:] if argv is None else argv
    args = [display_path(a) if os.path.isabs(a) else a for a in map(str, argv)]
    return " ".join([f"python -m benchmarks.{module}", *args])


def start_run(kind, config, models, peer_python, quick, argv=None):
    """The run document before any measurement: ids, versions, machine, peers."""
    peers = probe_peers(peer_python) if any(m in PEERS for m in models) else None
    return {
        "schema": "skmixsynth-benchmark/1",
        "kind": kind,
        "run_id": new_run_id(kind + ("-quick" if quick else "")),
        "command": command_line(kind, argv),
        "quick": quick,
        "started_at": utc_now(),
        "config": config,
        "versions": _environment.package_versions(),
        "peers": peers,
        "machine": _environment.machine_info(),
        "code": _environment.code_version(),
        "load_average": {"start": _environment.load_average()},
        "records": [],
        "_clock": time.perf_counter(),
    }


def checkpoint(doc, results_dir):
    """Write the run so far (``complete: false``), so a killed run keeps what it measured."""
    snapshot = {k: v for k, v in doc.items() if k != "_clock"}
    snapshot["complete"] = False
    snapshot["duration_seconds"] = round(time.perf_counter() - doc["_clock"], 1)
    return write_run(snapshot, results_dir)


def finish_run(doc):
    """Stamp the end time, duration and load average; drop private keys."""
    doc["finished_at"] = utc_now()
    doc["duration_seconds"] = round(time.perf_counter() - doc.pop("_clock"), 1)
    doc["load_average"]["end"] = _environment.load_average()
    doc["complete"] = True
    return doc


def write_and_report(doc, results_dir, *, report=True):
    """Finish ``doc``, write it to ``results_dir`` and regenerate the report; return its path."""
    path = write_run(finish_run(doc), results_dir)
    log(f"wrote {display_path(path)} ({doc['duration_seconds']:.0f} s)")
    if report:
        from .report import build_report

        log(f"wrote {display_path(build_report(results_dir))}")
    return path


def peer_skip_reason(model, doc):
    """Why a peer cannot run (ctgan not importable by its interpreter), else ``None``."""
    if model in PEERS and (doc.get("peers") or {}).get("error"):
        return (
            f"ctgan not importable by the peers' interpreter ({doc['peers']['error']}); "
            "install the bench extra or pass --peer-python"
        )
    return None


def scratch_dir(results_dir, run_id):
    """A fresh scratch folder for the run's tables (removed at the end unless kept)."""
    path = Path(results_dir) / "tmp" / run_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def remove_scratch(path, keep):
    """Remove the scratch folder unless asked to keep it."""
    if not keep:
        shutil.rmtree(path, ignore_errors=True)
        parent = Path(path).parent
        if parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()


def log(message):
    """Progress on stderr, with the time."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def display(path):
    """Shorthand for :func:`benchmarks._paths.display_path`."""
    return display_path(path)
