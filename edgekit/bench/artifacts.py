"""Benchmark artifacts: made by ``export(...)`` (what ``edgekit export`` ships), cached by content.

A model name benchmarked in a runtime is exported once, with verification skipped, into
``artifacts/`` under the cache root (``$EDGEKIT_CACHE_DIR``, default ``~/.cache/edgekit``). The
file name carries a hash of everything the artifact depends on: the model, the resolution, the
deploy or train form, the weights (random init and its seed, or a checkpoint's sha256), format and
precision, the converter versions, and the edgekit code that shapes an export (a hash of the
export, exporter, model and layer sources). Change any of them and the next run exports afresh;
an edited checkout never times an artifact older code made. A cached file whose manifest is
unreadable or whose size or sha256 differs from its manifest's (a torn copy, a disk error) is
reported as a corrupt cache file on stderr and rebuilt.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from edgekit.cache_root import cache_root
from edgekit.export.protocol import Exporter
from edgekit.precision import Precision

SCHEMA = 1  # bump when the key's meaning changes


def artifacts_dir() -> Path:
    """The benchmark-artifact cache directory (not created): ``artifacts/`` under the cache root."""
    return cache_root() / "artifacts"


@functools.cache
def code_version() -> str:
    """A hash of the edgekit sources that influence an exported artifact."""
    import edgekit
    import edgekit.exporters

    pkg = Path(edgekit.__file__).resolve().parent
    files = [pkg / "_onnx.py", *sorted((pkg / "export").glob("*.py")),
             *sorted(Path(edgekit.exporters.__file__).resolve().parent.glob("*.py")),
             *sorted((pkg / "models").glob("*.py")), *sorted((pkg / "layers").glob("*.py"))]
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.parent.name}/{f.name}".encode() + b"\0")
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def weights_id(checkpoint: str | os.PathLike[str] | None) -> str:
    """``random init seed N`` or the checkpoint's content hash."""
    if checkpoint is None:
        from edgekit.export.build import RANDOM_INIT_SEED

        return f"random init seed {RANDOM_INIT_SEED}"
    from edgekit.export.manifest import sha256_of

    return f"sha256 {sha256_of(Path(checkpoint))}"


def artifact_key(*, model: str, resolution: int, deploy: bool, weights: str, precision: Precision,
                 exporter: Exporter) -> dict[str, Any]:
    """Everything a benchmark artifact depends on (its cache key)."""
    from edgekit import __version__
    from edgekit._meta import versions

    return {"schema": SCHEMA, "model": model, "resolution": resolution,
            "form": "deploy" if deploy else "train", "weights": weights,
            "format": exporter.name, "precision": precision.value, "code": code_version(),
            "versions": {"edgekit": __version__, **versions("torch", "timm"),
                         **exporter.tool_versions()}}


def key_digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def artifact_for_model(name: str, exporter: Exporter, *, precision: Precision,
                       resolution: int | None = None, deploy: bool = True,
                       checkpoint: str | os.PathLike[str] | None = None,
                       cache_dir: str | os.PathLike[str] | None = None) -> tuple[Path, int]:
    """The cached artifact of registry model ``name`` (exported on a miss); (path, resolution)."""
    from edgekit.export.pipeline import export
    from edgekit.models import get_spec

    spec = get_spec(name)
    res = resolution or spec.resolution
    key = artifact_key(model=spec.name, resolution=res, deploy=deploy,
                       weights=weights_id(checkpoint), precision=precision, exporter=exporter)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", spec.name)
    stem = (f"{safe}_{res}_{key['form']}_{exporter.name}_{precision.value}"
            f"-{key_digest(key)}")
    path = Path(cache_dir or artifacts_dir()) / f"{stem}{exporter.suffix}"
    manifest = path.with_name(f"{stem}.manifest.json")  # written last: its presence means done
    if path.exists() and manifest.is_file() and not _intact(path, manifest):
        import sys

        print(f"edgekit: warning: benchmark cache file '{path}' is corrupt (it does not match "
              f"{manifest.name}); rebuilding it", file=sys.stderr)
        manifest.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
    if not (path.exists() and manifest.is_file()):
        export(name, format=exporter.name, precision=precision, out=path, checkpoint=checkpoint,
               resolution=res, deploy=deploy, verify=False, force=True)  # a cache: replace
    return path, res


def _intact(path: Path, manifest: Path) -> bool:
    """Whether the cached ``path`` is what its manifest says (size and sha256)."""
    from edgekit.export.manifest import sha256_of

    try:
        meta = json.loads(manifest.read_text(encoding="utf-8"))
        if not path.is_file():
            return True  # a directory artifact (.mlpackage): nothing cheap to check
        if "size_bytes" in meta and int(meta["size_bytes"]) != path.stat().st_size:
            return False
        return "sha256" not in meta or meta["sha256"] == sha256_of(path)
    except (OSError, ValueError, TypeError, AttributeError):
        return False
