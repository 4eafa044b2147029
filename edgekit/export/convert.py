"""Run one job's conversion in a work directory, inspect the artifact, and verify it.

Converter failures become an :class:`ExportError` that keeps the converter's first message line
and the original exception as its cause. The result, a :class:`Converted`, lives in the work
directory until the pipeline places it (several targets may share one conversion).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.errors import EdgekitError, ExportError
from edgekit.export.interrupt import raise_if_interrupted
from edgekit.export.job import ExportJob
from edgekit.export.protocol import Inventory, Log, TensorSpec
from edgekit.export.stdio import stdout_to_stderr
from edgekit.export.verify import verify_artifact


@dataclass(frozen=True, slots=True)
class Converted:
    """A converted (and possibly verified) artifact in a work directory."""

    path: Path
    notes: dict[str, Any]
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    inventory: Inventory
    fidelity: dict[str, Any]
    convert_s: float
    verify_s: float


def convert_and_verify(job: ExportJob, work: Path, log: Log) -> Converted:
    """Convert ``job``'s model into ``work``, read its I/O and ops, and verify it if asked."""
    exporter, options = job.exporter, job.options
    dest = work / f"artifact{exporter.suffix}"
    t0 = time.perf_counter()
    log(f"converting {options.model_name} to {exporter.name} {options.precision.value} "
        f"at {options.resolution}px")
    try:
        with stdout_to_stderr():
            notes = exporter.convert(job.model.module, options, dest, log)
    except EdgekitError:
        raise
    except Exception as exc:  # noqa: BLE001 - converters raise anything; keep it as the cause
        first = next((ln for ln in str(exc).strip().splitlines() if ln.strip()), type(exc).__name__)
        raise ExportError(f"{exporter.name} conversion of '{options.model_name}' failed: "
                          f"{type(exc).__name__}: {first[:300]}") from exc
    if not dest.exists():
        raise ExportError(f"{exporter.name} exporter wrote no artifact for '{options.model_name}'")
    raise_if_interrupted()  # a Ctrl-C the converter swallowed still stops the export
    convert_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    inputs, outputs = exporter.io(dest)
    inventory = exporter.inventory(dest)
    if job.verify:
        log(f"verifying against torch on {len(job.verify_images)} images")
        with stdout_to_stderr():
            fidelity = verify_artifact(exporter, dest, job.model.module, job.verify_images,
                                       options.precision, job.data_desc, log)
    else:
        fidelity = {"status": "not run", "reason": "verification disabled"}
    return Converted(dest, notes, inputs, outputs, inventory, fidelity, convert_s,
                     time.perf_counter() - t1)
