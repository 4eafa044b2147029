"""Filesystem atomics: write under a temporary name, rename into place, leave nothing on failure.

An export either places a complete artifact and manifest or changes nothing: files are written as
hidden ``.<name>.partial-<pid>`` siblings and renamed into place (a directory artifact such as
``.mlpackage`` is swapped in); work directories are temporary and always removed; directories an
export created for its output are removed again when it fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edgekit.errors import ConfigError, ensure_dir
from edgekit.export.interrupt import raise_if_interrupted


def remove(path: Path) -> None:
    """Delete a file, link or directory tree; a missing path is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def atomic_place(src: Path, dest: Path) -> None:
    """Move ``src`` (same filesystem) to ``dest``, replacing it; a directory is swapped in."""
    if src.is_dir() and dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
        os.replace(src, dest)
        remove(old)
    else:
        os.replace(src, dest)


@contextlib.contextmanager
def temporary_dir(parent: Path, prefix: str) -> Iterator[Path]:
    """A hidden work directory inside ``parent`` (same filesystem, so renames are atomic)."""
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield work
    finally:
        remove(work)


@contextlib.contextmanager
def output_dir(folder: Path, option: str = "--out") -> Iterator[Path]:
    """Create ``folder`` (and parents) for an output; remove what was created if the block fails."""
    created = [d for d in (folder, *folder.parents) if not d.exists()]
    ensure_dir(folder, option)
    try:
        yield folder
    except BaseException:
        for d in created:  # innermost first; a directory that is not empty stays
            with contextlib.suppress(OSError):
                d.rmdir()
        raise


def place_with_manifest(source: Path, artifact: Path, manifest_path: Path,
                        manifest: dict[str, Any], *, keep_source: bool) -> None:
    """Place ``source`` as ``artifact`` and write ``manifest`` beside it, each by a rename.

    The manifest is renamed last, so a manifest on disk means its artifact is complete.
    ``keep_source`` copies instead of moving (a conversion shared by several targets).
    """
    artifact.parent.mkdir(parents=True, exist_ok=True)
    tmp_art = artifact.with_name(f".{artifact.name}.partial-{os.getpid()}")
    tmp_man = manifest_path.with_name(f".{manifest_path.name}.partial-{os.getpid()}")
    try:
        if keep_source:
            if source.is_dir():
                shutil.copytree(source, tmp_art)
            else:
                shutil.copyfile(source, tmp_art)
        else:
            shutil.move(str(source), str(tmp_art))
        tmp_man.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
        raise_if_interrupted()  # the last moment an interrupt can still leave nothing
        atomic_place(tmp_art, artifact)
        os.replace(tmp_man, manifest_path)
    finally:
        remove(tmp_art)
        remove(tmp_man)


def check_replace(new: Path, existing: Path, *, force: bool) -> None:
    """Allow ``new`` to replace ``existing`` only if it is identical (same sha256) or forced."""
    if force or not (existing.exists() or existing.is_symlink()):
        return
    from edgekit.export.manifest import sha256_of

    if existing.is_dir() == new.is_dir() and sha256_of(existing) == sha256_of(new):
        return
    raise ConfigError(f"{existing} exists and differs from this export; pass --force to replace "
                      "it, or choose another --out")
