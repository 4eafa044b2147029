"""The report's export matrix: mission model x target, from the manifests of exports it makes.

Each model is exported for every (non-sweep) target with
:func:`edgekit.export.export_all_targets`, which converts each (format, precision) once and
shares it. The exports live in the cache (``$EDGEKIT_CACHE_DIR/report-exports/``), keyed by
everything that shapes an artifact (model, export code, converter versions); a later report
reuses a model's manifests when every target's profile fingerprint still matches. Only the
manifests are copied into the report, never the artifacts, so ``reports/`` stays small.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from edgekit.device import DeviceProfile

MATRIX_COLUMNS = ("model", "target", "kind", "format", "precision", "status", "size_mb",
                  "sqnr_db", "top1_agreement", "unsupported_ops", "runnable", "error")


def _cache_key(model: str) -> str:
    from edgekit.bench.artifacts import code_version
    from edgekit.bench.results import versions

    text = json.dumps({"model": model, "code": code_version(),
                       "versions": versions("torch", "timm", "onnx", "litert-torch",
                                            "ai-edge-quantizer", "coremltools", "onnxslim")},
                      sort_keys=True)
    return f"{model}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def _cached(folder: Path, profiles: Sequence[DeviceProfile]) -> dict[str, dict[str, Any]] | None:
    """The manifests of a cached export of every profile, or ``None`` if any is missing/stale."""
    found: dict[str, dict[str, Any]] = {}
    for prof in profiles:
        hits = list(folder.glob(f"*_{prof.name}/manifest.json"))
        if len(hits) != 1:
            return None
        try:
            m = json.loads(hits[0].read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        if m.get("target_fingerprint") != prof.fingerprint():
            return None
        found[prof.name] = m
    return found


def export_manifests(model: str, profiles: Sequence[DeviceProfile], *,
                     devices_dirs: Sequence[str] = (), cache: Path,
                     log: Callable[[str], None]) -> dict[str, dict[str, Any] | str]:
    """Export ``model`` for ``profiles`` (or reuse the cached exports); by target, its manifest or
    the error that stopped it."""
    from edgekit.errors import EdgekitError
    from edgekit.export import export_all_targets

    folder = cache / _cache_key(model)
    hit = _cached(folder, profiles)
    if hit is not None:
        log(f"[exports] {model}: reusing {len(hit)} cached export(s) from {folder}")
        return dict(hit)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    try:
        outcomes = export_all_targets(model, out=folder, devices_dirs=devices_dirs,
                                      targets=[p.name for p in profiles], log=log)
    except EdgekitError as exc:  # the model could not be built or calibrated: every target fails
        log(f"[exports] {model}: failed: {exc}")
        return {p.name: str(exc) for p in profiles}
    return {o.target: (o.result.manifest if o.result is not None else (o.error or "failed"))
            for o in outcomes}


def matrix_rows(model: str, profiles: Sequence[DeviceProfile],
                manifests: dict[str, dict[str, Any] | str], summary: pd.DataFrame | None
                ) -> list[dict[str, Any]]:
    """One export-matrix row per target: the manifest's status, size, int8 fidelity and
    unsupported ops, beside the roofline's runnability of the model on that target."""
    runnable: dict[str, Any] = {}
    if summary is not None and "runnable" in summary:
        sub = summary[summary["model"] == model]
        runnable = dict(zip(sub["device"], sub["runnable"], strict=True))
    rows = []
    for prof in profiles:
        m = manifests.get(prof.name, "not exported")
        row: dict[str, Any] = {"model": model, "target": prof.name, "kind": prof.kind.value,
                               "format": prof.format, "precision": prof.precision.value,
                               "runnable": runnable.get(prof.name)}
        if isinstance(m, str):
            row.update(status="failed", error=m.splitlines()[0] if m else "failed")
        else:
            fid = m.get("fidelity") or {}
            unsup = list(m.get("unsupported_ops") or [])
            row.update(status=m.get("status", "ok"), size_mb=m.get("size_bytes", 0) / 1e6,
                       sqnr_db=fid.get("sqnr_db"), top1_agreement=fid.get("top1_agreement"),
                       unsupported_ops=",".join(unsup), error="")
        rows.append(row)
    return rows


def export_matrix(models: Sequence[str], profiles: Sequence[DeviceProfile], out_dir: Path, *,
                  devices_dirs: Sequence[str] = (), summary: pd.DataFrame | None = None,
                  cache: Path | None = None, step: Callable[[str], None] = lambda _m: None,
                  log: Callable[[str], None] = lambda _m: None) -> pd.DataFrame:
    """Export each model for each profile and return the tidy matrix (:data:`MATRIX_COLUMNS`);
    each manifest is copied to ``out_dir/<model>_<target>.manifest.json``."""
    import pandas as pd

    from edgekit.cache_root import cache_root

    cache = cache or cache_root() / "report-exports"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for model in models:
        manifests = export_manifests(model, profiles, devices_dirs=devices_dirs, cache=cache,
                                     log=log)
        for target, m in manifests.items():
            if isinstance(m, dict):
                (out_dir / f"{model}_{target}.manifest.json").write_text(
                    json.dumps(m, indent=1, default=str) + "\n", encoding="utf-8")
        rows += matrix_rows(model, profiles, manifests, summary)
        step(model)
    return pd.DataFrame(rows, columns=list(MATRIX_COLUMNS))


__all__ = ["MATRIX_COLUMNS", "export_manifests", "export_matrix", "matrix_rows"]
