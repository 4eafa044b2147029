"""Provenance for artifacts, reports and benchmark results: versions, git commit, host, sidecars."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgekit.device import DeviceProfile

# The packages whose versions decide a roofline table or a report.
RUN_PACKAGES = ("torch", "timm", "onnx", "onnxruntime", "pandas")


def versions(*packages: str, python: bool = False) -> dict[str, str]:
    """Installed versions of ``packages`` (absent ones left out), plus Python's if asked."""
    out = {"python": sys.version.split()[0]} if python else {}
    for p in packages:
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            continue
    return out


def git_commit() -> str | None:
    """The commit of the edgekit checkout (short hash), or ``None`` outside a git checkout."""
    try:
        proc = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, check=False, cwd=Path(__file__).resolve().parent,
                              timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None


def host_description() -> str:
    """CPU model name and kernel, e.g. ``AMD EPYC (x86_64, Linux 6.1, 16 CPUs)``."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu or 'unknown CPU'} ({platform.machine()}, {platform.system()} {platform.release()}, " \
           f"{os.cpu_count()} CPUs)"


def run_meta(command: str, devices: Sequence[DeviceProfile] = (), **extra: Any) -> dict[str, Any]:
    """What a ``.meta.json`` sidecar records about a run: the command and its arguments, versions,
    git commit, host, the fingerprint of every device profile used, then ``extra``."""
    from edgekit import __version__

    return {"command": command, "argv": sys.argv[1:], "edgekit": __version__,
            "versions": versions(*RUN_PACKAGES), "git_commit": git_commit(),
            "host": host_description(), "python": platform.python_version(),
            "devices": {d.name: d.fingerprint() for d in devices}, **extra}


def write_meta_sidecar(path: str | os.PathLike[str], meta: dict[str, Any]) -> Path:
    """Write ``meta`` as ``<path>.meta.json`` beside the file it describes (atomically)."""
    path = Path(path)
    sidecar = path.with_name(path.name + ".meta.json")
    tmp = sidecar.with_name(f".{sidecar.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(json.dumps(meta, indent=1, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, sidecar)
    finally:
        tmp.unlink(missing_ok=True)
    return sidecar
