"""Parent side of the workers: run one job in a subprocess, check the peers' interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ._models import PEERS
from ._paths import PEER_PYTHON_ENV_VAR, REPO_ROOT

_PEER_PROBE = (
    "import json, ctgan, pandas, torch; "
    "print(json.dumps({'ctgan': ctgan.__version__, 'pandas': pandas.__version__, "
    "'torch': torch.__version__}))"
)


def interpreter_for(model, peer_python):
    """The Python that runs ``model``'s worker: the peers' one for CTGAN/TVAE."""
    return peer_python if model in PEERS else sys.executable


def resolve_peer_python(option):
    """``--peer-python``, else ``$SKMIXSYNTH_PEER_PYTHON``, else this interpreter."""
    return option or os.environ.get(PEER_PYTHON_ENV_VAR) or sys.executable


def probe_peers(python):
    """Versions seen by the peers' interpreter, or ``{"error": ...}`` when ctgan is missing."""
    try:
        proc = subprocess.run(
            [python, "-c", _PEER_PROBE], capture_output=True, text=True, timeout=300
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit code {proc.returncode}"}
    versions = json.loads(proc.stdout.strip().splitlines()[-1])
    versions["separate_interpreter"] = Path(python).resolve() != Path(sys.executable).resolve()
    return versions


def _thread_env(threads):
    env = os.environ.copy()
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[var] = str(threads)
    return env


def _tail(text, n_chars=3000):
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return text[-n_chars:] if text else ""


def run_in_subprocess(job, job_dir, *, python, timeout=None):
    """Run ``job`` (a dict, see :mod:`benchmarks._worker`) in a fresh process; return its result.

    A timeout, a crash or a missing result file becomes ``{"status": "failed", "error": ...}``.
    ``job_seconds`` is the wall time of the whole process, interpreter start-up included.
    """
    job_dir = Path(job_dir)
    job_dir.mkdir(parents=True, exist_ok=True)
    job = {**job, "result": str(job_dir / "result.json")}
    job_path = job_dir / "job.json"
    job_path.write_text(json.dumps(job), encoding="utf-8")
    Path(job["result"]).unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [python, "-m", "benchmarks._worker", str(job_path)],
            cwd=REPO_ROOT,
            env=_thread_env(job.get("threads")),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        return {
            "status": "failed",
            "error": f"timeout after {timeout} s",
            "stderr": _tail(exc.stderr),
            "job_seconds": time.perf_counter() - start,
        }
    elapsed = time.perf_counter() - start
    result_path = Path(job["result"])
    if not result_path.is_file():
        return {
            "status": "failed",
            "error": f"the worker died (exit code {proc.returncode}) without a result",
            "stderr": _tail(proc.stderr),
            "job_seconds": elapsed,
        }
    result = json.loads(result_path.read_text(encoding="utf-8"))
    result["job_seconds"] = elapsed
    if result.get("status") == "failed":
        result["stderr"] = _tail(proc.stderr)
    return result
