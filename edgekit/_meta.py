"""Provenance for artifacts, reports and benchmark results: package versions and git commit."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


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
