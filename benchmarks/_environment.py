"""What a result was measured with: package versions, the machine, the code's commit."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata

from ._paths import REPO_ROOT

_PACKAGES = ("skmixsynth", "torch", "scikit-learn", "numpy", "pandas", "scipy", "ctgan")


def package_versions():
    """Versions of the packages that matter, in this interpreter (``None`` when absent)."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gib():
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _torch_threads():
    try:
        import torch
    except ImportError:
        return None
    return torch.get_num_threads()


def load_average():
    """1, 5 and 15-minute load averages (other users' work shows up here), or ``None``."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_info():
    """CPU, cores, memory, OS and torch's thread count."""
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cores_available": len(affinity) if affinity is not None else None,
        "memory_gib": _memory_gib(),
        "torch_threads": _torch_threads(),
    }


def _git(*args):
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def code_version():
    """The commit of the working tree and whether it had uncommitted changes."""
    status = _git("status", "--porcelain")
    if status is not None:
        # result files of runs still going (or not yet committed) are not code
        status = "\n".join(line for line in status.splitlines()
                            if not line.startswith("?? benchmarks/results/"))
    dirty = bool(status) if status is not None else None
    return {"commit": _git("rev-parse", "HEAD"), "dirty": dirty}
