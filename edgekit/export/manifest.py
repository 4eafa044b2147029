"""The manifest written beside every artifact: what it is, how it was made, how well it matches.

Op inventory and ``unsupported_ops``: each exporter maps its artifact's op names to ONNX op types
(``CONV_2D`` and ``DEPTHWISE_CONV_2D`` -> ``Conv``, Core ML ``layer_norm`` ->
``LayerNormalization`` ...; the tables live in each exporter module), because device profiles
list the ops a runtime cannot run as ONNX op types. Products map by their operands: a constant
weight makes a linear layer (``Gemm``), two activations a batch matmul (``MatMul``), whatever
the artifact calls the op (``FULLY_CONNECTED``, ``BATCH_MATMUL``, ``MatMul``, ``matmul``). ``unsupported_ops`` in the
manifest is the set of the artifact's ops (under their ONNX name, or under their own name when it
has no ONNX equivalent) that the target profile lists in ``unsupported_ops``. An op a converter
decomposed (TFLite has no LayerNorm op; it becomes MEAN, SUB, MUL, RSQRT) is reported under the
ops it became, since those are what the device will have to run.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import time
from pathlib import Path
from typing import Any

from edgekit._meta import git_commit, versions
from edgekit.export.convert import Converted
from edgekit.export.job import ExportJob

SCHEMA_VERSION = 1


def app_manifest(job: ExportJob, conv: Converted) -> dict[str, Any]:
    """What an app needs (also embedded in the artifact): labels, normalisation, int8 input."""
    from edgekit.export.appinfo import app_facts, int8_input_example

    app = job.options.app
    inp = conv.inputs[0] if conv.inputs else None
    int8 = (int8_input_example(inp.scale, int(inp.zero_point or 0), job.mean, job.std)
            if inp is not None and inp.scale is not None else None)
    return {"labels": list(app.labels) if app.labels is not None else None,
            "license": app.license, "model_version": app.version,
            "batch": "dynamic" if job.options.dynamic_batch else 1,
            "resolution": job.options.resolution, "int8_input": int8,
            "embedded": conv.notes.get("metadata", "see the format's notes"),
            "facts": app_facts(job.options)}


def predicted_latency(job: ExportJob) -> dict[str, Any] | None:
    """The roofline estimate of the exported module on the target, with the profile's confidence."""
    profile = job.profile
    if profile is None:
        return None
    from edgekit.errors import EdgekitError
    from edgekit.roofline import estimate_latency, layer_table

    try:
        table = layer_table(job.model.module, job.options.resolution, deploy=False, cache=False)
    except EdgekitError as exc:  # the artifact is still good; say why there is no estimate
        return {"device": profile.name, "latency_ms": None, "error": str(exc)}
    est = estimate_latency(table, profile)
    conf = {"peak_gmac_s": profile.peak_gmac_s.confidence,
            "mem_gb_s": profile.mem_gb_s.confidence}
    if profile.overhead_ms is not None:
        conf["overhead_ms"] = profile.overhead_ms.confidence
    return {"device": profile.name, "latency_ms": round(est.latency_s * 1e3, 4),
            "compute_ms": round(est.compute_s * 1e3, 4),
            "memory_ms": round(est.memory_s * 1e3, 4), "macs": int(est.macs),
            "method": "roofline (edgekit roofline), batch 1, the exported deploy module",
            "confidence": {k: str(v) for k, v in conf.items()}}


def sha256_of(path: Path) -> str:
    """sha256 of a file, or of a directory (its files' relative paths and bytes, sorted)."""
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def size_of(path: Path) -> int:
    """Bytes of a file, or of every file under a directory."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _placement(exporter: Any, artifact: Path, profile: Any) -> dict[str, Any] | None:
    """Ops per unit, partitions and fallback op types on the target, where the format can say
    (an exporter's optional ``placement(artifact, profile)``); None without a target."""
    fn = getattr(exporter, "placement", None)
    if profile is None or fn is None:
        return None
    return fn(artifact, profile)


def build_manifest(job: ExportJob, conv: Converted, started: float) -> dict[str, Any]:
    """The manifest of ``job``'s artifact, converted as ``conv``; ``started`` is perf_counter()."""
    from edgekit import __version__

    profile, exporter, built = job.profile, job.exporter, job.model
    unsupported = sorted(conv.inventory.op_names() & set(profile.unsupported_ops)) if profile else []
    return {
        "schema_version": SCHEMA_VERSION,
        "model": built.name,
        "target": profile.name if profile else None,
        "target_fingerprint": profile.fingerprint() if profile else None,
        "format": exporter.name,
        "precision": job.precision.value,
        "artifact": job.artifact.name,
        "size_bytes": size_of(conv.path),
        "sha256": sha256_of(conv.path),
        "resolution": job.options.resolution,
        "batch": "dynamic" if job.options.dynamic_batch else 1,
        "form": "deploy" if built.deploy else "train",
        "checkpoint": built.checkpoint,
        "weights": built.weights,
        "preprocessing": {
            "color": "RGB", "value_range": "[0, 1] before normalisation",
            "normalise": "(x - mean) / std", "mean": list(job.mean), "std": list(job.std),
            "layout": exporter.input_layout,
        },
        "inputs": [t.to_manifest() for t in conv.inputs],
        "outputs": [t.to_manifest() for t in conv.outputs],
        "calibration": job.calib.to_manifest() if job.calib is not None else None,
        "app": app_manifest(job, conv),
        "predicted_latency": predicted_latency(job),
        "fidelity": conv.fidelity,
        "op_inventory": conv.inventory.to_manifest(),
        "float_ops": list(conv.inventory.float_ops),
        "unsupported_ops": unsupported,
        "placement": _placement(exporter, conv.path, profile),
        "notes": conv.notes,
        "tool_versions": {"edgekit": __version__, **versions("torch", "timm"),
                          **exporter.tool_versions()},
        "timing_s": {"build": round(built.build_s, 3), "convert": round(conv.convert_s, 3),
                     "verify": round(conv.verify_s, 3),
                     "total": round(time.perf_counter() - started, 3)},
        "git_commit": git_commit(),
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
