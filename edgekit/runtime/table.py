"""The runtime table file: a runtime's measured kernel timings and fit, with their provenance.

``edgekit calibrate --runtime ID`` writes one per runtime, precision and thread count (default
``runtime-tables/<runtime>-<precision>-<threads>t.json`` under the cache root). A table is only
valid on the host and library versions it was measured with: :func:`check_table` refuses another
host fingerprint or other versions unless ``--allow-foreign-table`` is given.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.cache_root import cache_root
from edgekit.errors import ConfigError
from edgekit.precision import Precision

if TYPE_CHECKING:
    import pandas as pd

SCHEMA = 1
# /proc/cpuinfo flags that change which int8/fp32 kernels XNNPACK, LiteRT and onnxruntime pick.
KERNEL_FLAGS = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                "avx_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16",
                "asimd", "asimddp", "i8mm", "sve", "sve2", "bf16")
_FIELDS = ("runtime", "precision", "threads", "host", "host_fingerprint", "versions", "date",
           "peak_mac_s", "mem_bytes_s", "timings", "fit")


@dataclass(frozen=True, slots=True)
class CalibRuntime:
    """A runtime the micro-benchmarks can measure on this host.

    Attributes:
        id: the runtime id (:func:`edgekit.runtime.get_runtime`).
        format: the export format whose loader runs it.
        precisions: measurable precisions, the first is the default.
        delegates: whether the loader keeps the runtime's default delegate (LiteRT's XNNPACK).
        modules: (module, package) the runtime needs at run time, besides the exporter's toolchain.
    """

    id: str
    format: str
    precisions: tuple[Precision, ...]
    delegates: bool
    modules: tuple[tuple[str, str], ...]


_LITERT = (("ai_edge_litert.interpreter", "ai-edge-litert"),)
CALIB_RUNTIMES: dict[str, CalibRuntime] = {
    "litert-xnnpack": CalibRuntime("litert-xnnpack", "tflite", (Precision.INT8, Precision.FP32),
                                   True, _LITERT),
    "litert-builtin": CalibRuntime("litert-builtin", "tflite", (Precision.INT8, Precision.FP32),
                                   False, _LITERT),
    "onnxruntime-cpu": CalibRuntime("onnxruntime-cpu", "onnx", (Precision.FP32,), True,
                                    (("onnxruntime", "onnxruntime"), ("onnx", "onnx"))),
}



def runtime_versions(runtime_id: str) -> dict[str, str]:
    """The library versions a runtime table's numbers depend on (converters and runtime), plus
    edgekit's."""
    from edgekit import __version__
    from edgekit._meta import versions
    from edgekit.export.registry import get_exporter

    rt = CALIB_RUNTIMES[runtime_id]
    return {**versions("torch"), **get_exporter(rt.format).tool_versions(),
            **versions(*(pkg for _, pkg in rt.modules)), "edgekit": __version__}


@dataclass(frozen=True, slots=True)
class RuntimeTable:
    """A runtime measured on one host.

    Attributes:
        runtime: the runtime id (``litert-xnnpack``).
        precision: ``int8`` or ``fp32``.
        threads: threads the runtime ran with.
        host: the host in words (:func:`edgekit._meta.host_description`).
        host_fingerprint: :func:`host_fingerprint` of the measuring host.
        versions: library versions the numbers depend on, plus edgekit's.
        date: ISO date-time of the measurement.
        peak_mac_s: the host's measured peak MAC rate at this precision, MAC/s.
        mem_bytes_s: the host's measured streaming bandwidth, bytes/s.
        timings: one row per kernel case (:func:`edgekit.bench.kernels.time_cases`).
        fit: the kernel-efficiency fit (:func:`edgekit.fit.kernel_fit.fit_kernel_table`), JSON.
    """

    runtime: str
    precision: str
    threads: int
    host: str
    host_fingerprint: str
    versions: dict[str, str]
    date: str
    peak_mac_s: float
    mem_bytes_s: float
    timings: pd.DataFrame = field(repr=False, compare=False)
    fit: dict[str, Any] = field(repr=False)


def measured_column(timings: pd.DataFrame) -> str:
    """The column of a table's timings that holds each case's measured time: ``latency_s``
    (the fastest round's median), or ``median_s`` (the median of the rounds) in tables
    measured before the fastest round was kept, read as they were fitted."""
    return "latency_s" if "latency_s" in timings else "median_s"


def _cpuinfo() -> tuple[str, set[str]]:
    model, flags = platform.processor() or "", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key in ("model name", "cpu model", "hardware") and not model:
                    model = value.strip()
                elif key in ("flags", "features"):
                    flags.update(value.split())
    except OSError:
        pass
    return model, flags


@functools.cache
def host_fingerprint() -> str:
    """A short hash of what decides kernel speed here: CPU model, kernel-relevant ISA flags,
    CPU count and machine architecture."""
    model, flags = _cpuinfo()
    facts = {"cpu": model, "flags": sorted(f for f in flags if f in KERNEL_FLAGS),
             "cpus": os.cpu_count(), "machine": platform.machine()}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:12]


def default_table_path(runtime: str, precision: str, threads: int) -> Path:
    """Where ``edgekit calibrate --runtime`` writes (and predictions look for) a table."""
    return cache_root() / "runtime-tables" / f"{runtime}-{precision}-{threads}t.json"


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    # Through pandas' JSON writer: numpy scalars become plain numbers, NaN becomes null.
    return json.loads(df.to_json(orient="records"))


def _plain(obj: Any) -> Any:
    """``obj`` with numpy scalars as Python numbers and NaN/inf as ``None`` (strict JSON)."""
    import math

    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        obj = obj.item()  # a numpy scalar
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_table(table: RuntimeTable, path: str | os.PathLike[str]) -> Path:
    """Write ``table`` as JSON: a temporary file beside ``path``, renamed into place."""
    dest = Path(path)
    doc = _plain({"schema": SCHEMA, **{f: getattr(table, f) for f in _FIELDS if f != "timings"},
                  "timings": _records(table.timings)})
    text = json.dumps(doc, indent=1, allow_nan=False, default=str) + "\n"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def read_table(path: str | os.PathLike[str]) -> RuntimeTable:
    """Read a table :func:`write_table` wrote; a missing or garbled file is a ConfigError."""
    import pandas as pd

    p = Path(path)
    fix = "re-run edgekit calibrate --runtime ID to measure it"
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"runtime table '{p}' does not exist; {fix}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"runtime table '{p}' cannot be read ({exc}); {fix}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"runtime table '{p}' is not a JSON object; {fix}")
    missing = [f for f in _FIELDS if f not in doc]
    if missing:
        raise ConfigError(f"runtime table '{p}' lacks {', '.join(missing)}; {fix}")
    if doc.get("schema") != SCHEMA:
        raise ConfigError(f"runtime table '{p}' has schema {doc.get('schema')!r}, this edgekit "
                          f"reads {SCHEMA}; {fix}")
    try:
        return RuntimeTable(
            runtime=str(doc["runtime"]), precision=str(doc["precision"]),
            threads=int(doc["threads"]), host=str(doc["host"]),
            host_fingerprint=str(doc["host_fingerprint"]),
            versions={str(k): str(v) for k, v in dict(doc["versions"]).items()},
            date=str(doc["date"]), peak_mac_s=float(doc["peak_mac_s"]),
            mem_bytes_s=float(doc["mem_bytes_s"]), timings=pd.DataFrame(list(doc["timings"])),
            fit=dict(doc["fit"]))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"runtime table '{p}' has a malformed field ({exc}); {fix}") from exc


def check_table(table: RuntimeTable, *, runtime: str, precision: str,
                allow_foreign: bool) -> list[str]:
    """Refuse a table of another runtime or precision; refuse one of another host or library
    versions unless ``allow_foreign`` (then the differences come back as warning lines).

    ``edgekit``'s own version is recorded but not compared: it changes with every commit.
    """
    if table.runtime != runtime or table.precision != precision:
        raise ConfigError(f"runtime table is for {table.runtime} {table.precision}, but "
                          f"{runtime} {precision} is asked for; calibrate that one with "
                          f"edgekit calibrate --runtime {runtime} --precision {precision}")
    diffs = []
    here = host_fingerprint()
    if table.host_fingerprint != here:
        diffs.append(f"host fingerprint {here} here vs {table.host_fingerprint} in the table "
                     f"(measured on {table.host})")
    current = runtime_versions(runtime)
    for pkg in sorted(set(current) | set(table.versions)):
        if pkg == "edgekit":
            continue
        a, b = current.get(pkg, "absent"), table.versions.get(pkg, "absent")
        if a != b:
            diffs.append(f"{pkg} {a} here vs {b} in the table")
    if not diffs:
        return []
    what = "; ".join(diffs)
    if not allow_foreign:
        raise ConfigError(f"runtime table for {runtime} {precision} was measured elsewhere: "
                          f"{what}; re-run edgekit calibrate --runtime {runtime} here, or pass "
                          "--allow-foreign-table to use it anyway")
    return [f"using a foreign runtime table (--allow-foreign-table): {d}" for d in diffs]


__all__ = ["CALIB_RUNTIMES", "CalibRuntime", "RuntimeTable", "check_table", "default_table_path",
           "host_fingerprint", "measured_column", "read_table", "runtime_versions", "write_table"]
