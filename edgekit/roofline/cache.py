"""On-disk cache of layer tables.

A layer table depends only on the model (its name and deploy form), the input resolution, the
weights (random init, or a checkpoint file identified by path, size and modification time), the
versions of edgekit, torch, timm and onnx, and the code that counts (a hash of the roofline,
export, layer and model sources); the cache key is a hash of exactly those. Files live under
the cache root (:func:`edgekit.cache_root.cache_root`) in ``layers/``, are written atomically
(temporary file, then rename) and are JSON, so a stale file is simply ignored and rewritten, and
a truncated or otherwise corrupt one is named on stderr as a corrupt cache file and rewritten.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from edgekit.cache_root import ENV_VAR, cache_root  # noqa: F401 - ENV_VAR re-exported
from edgekit.roofline.counting import COLUMNS, safe_name

SCHEMA = 4  # bump when the counting rules or the columns change


def cache_dir() -> Path:
    """The layer-table cache directory (not created): ``layers/`` under the cache root."""
    return cache_root() / "layers"


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "none"


def weights_fingerprint(checkpoint: str | os.PathLike[str] | None) -> str:
    """``random-init`` or an identity of the checkpoint file (absolute path, size, mtime)."""
    if checkpoint is None:
        return "random-init"
    p = Path(checkpoint).resolve()
    try:
        st = p.stat()
    except OSError:
        return f"missing:{p}"
    return f"{p}:{st.st_size}:{st.st_mtime_ns}"


@functools.cache
def code_fingerprint() -> str:
    """A hash of the code a layer table depends on (counting rules, export, model definitions),
    so an edited checkout never reads tables that older code counted."""
    pkg = Path(__file__).resolve().parent.parent
    files = [*sorted((pkg / "roofline").glob("*.py")), pkg / "_onnx.py",
             *sorted((pkg / "layers").glob("*.py")), *sorted((pkg / "models").glob("*.py"))]
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def make_key(source: str, model: str, resolution: int | None, weights: str,
             deploy: bool) -> dict[str, Any]:
    """The full cache key: everything a layer table depends on."""
    from edgekit import __version__

    return {"schema": SCHEMA, "source": source, "model": model, "resolution": resolution,
            "weights": weights, "deploy": deploy, "edgekit": __version__,
            "code": code_fingerprint(),
            "torch": _version("torch"), "timm": _version("timm"), "onnx": _version("onnx")}


def _path(key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return cache_dir() / f"{safe_name(str(key['model']))}-{key['resolution']}-{digest}.json"


def load(key: dict[str, Any]) -> pd.DataFrame | None:
    """The cached table for ``key``, or ``None`` when absent, stale or unreadable."""
    path = _path(key)
    try:
        with open(path, encoding="utf-8") as f:
            blob = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        import sys

        print(f"edgekit: warning: layer-table cache file '{path}' is corrupt ({exc}); "
              "rebuilding it", file=sys.stderr)
        return None
    try:
        if blob.get("key") != key or blob.get("columns") != list(COLUMNS):
            return None
        df = pd.DataFrame(blob["data"], columns=blob["columns"])
        for c in ("macs", "weight_elems", "bias_elems", "in_act_elems", "out_act_elems", "groups"):
            df[c] = df[c].astype("int64")
        df["fusable"] = df["fusable"].astype(bool)
        df.attrs.update(blob["attrs"])
        return df
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # absent or corrupt: the caller recomputes and rewrites it


def store(key: dict[str, Any], table: pd.DataFrame) -> Path | None:
    """Write ``table`` atomically; returns the path, or ``None`` if the directory is not writable."""
    path = _path(key)
    blob = {"key": key, "columns": list(COLUMNS), "attrs": dict(table.attrs),
            "data": table[list(COLUMNS)].to_numpy().tolist()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(blob, f, default=_jsonable)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return None  # a read-only cache only costs speed
    return path


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()  # numpy scalars
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
