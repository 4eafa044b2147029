"""The export entry points: :func:`export` for one target, :func:`export_all_targets` for every one.

:func:`export` turns a registry model (its re-parameterized deploy form unless ``deploy=False``)
or an ``nn.Module`` into an artifact for a target profile, verifies it against PyTorch, and writes
a ``manifest.json`` beside it; nothing is written when conversion fails. An artifact below its
precision's fidelity floor is written with a manifest whose fidelity status is ``failed`` (for
inspection) and the export raises :class:`~edgekit.export.verify.FidelityError`.
:func:`export_all_targets` builds the model once, converts each (format, precision) once, and
gives every target its own copy and manifest.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.device import DeviceProfile, list_devices, load_devices
from edgekit.errors import ConfigError, EdgekitError, ensure_dir
from edgekit.export.atomic import check_replace, output_dir, place_with_manifest, temporary_dir
from edgekit.export.build import build_model
from edgekit.export.convert import Converted, convert_and_verify
from edgekit.export.interrupt import interrupt_guard
from edgekit.export.job import ExportJob, check_calib, check_options, make_job
from edgekit.export.manifest import build_manifest
from edgekit.export.planning import plan
from edgekit.export.protocol import Log
from edgekit.export.registry import get_exporter
from edgekit.export.stdio import stderr_log
from edgekit.precision import Precision

if TYPE_CHECKING:
    import numpy as np
    from torch import nn

    from edgekit.export.appinfo import AppInfo
    from edgekit.export.calibration import CalibrationSet


@dataclass(frozen=True, slots=True)
class ExportResult:
    """An exported artifact, its manifest, and a way to run it.

    Attributes:
        artifact: path of the artifact (a file, or a directory for ``.mlpackage``).
        manifest_path: path of the ``manifest.json`` written beside it.
        manifest: the manifest's content.
        format: the format name.
    """

    artifact: Path
    manifest_path: Path
    manifest: dict[str, Any] = field(repr=False)
    format: str

    @property
    def path(self) -> Path:
        return self.artifact

    def run(self, images: np.ndarray) -> np.ndarray:
        """Run the artifact on a normalised NCHW float32 batch and return float32 logits."""
        return get_exporter(self.format).load(self.artifact).run(images)


@dataclass(frozen=True, slots=True)
class TargetOutcome:
    """One target of :func:`export_all_targets`: a result, or the error that stopped it."""

    target: str
    format: str
    precision: str
    result: ExportResult | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None


def _silent(_msg: str) -> None:
    return None


class _SharedConversions:
    """Conversions of one model kept in a work directory, one per (format, precision)."""

    def __init__(self, work: Path) -> None:
        self._work = work
        self._done: dict[tuple[str, str], Converted] = {}

    def get(self, job: ExportJob, log: Log) -> Converted:
        key = job.conversion_key
        if key in self._done:
            log(f"reusing the {key[0]} {key[1]} conversion for "
                f"{job.profile.name if job.profile else job.model.name}")
            return self._done[key]
        work = self._work / f"{key[0]}-{key[1]}"
        work.mkdir()
        self._done[key] = convert_and_verify(job, work, log)
        return self._done[key]


def _run_job(job: ExportJob, started: float, log: Log,
             shared: _SharedConversions | None = None, *, force: bool = False) -> ExportResult:
    """Convert (or reuse a shared conversion), write the manifest, place both atomically.

    An existing, different artifact at the destination is replaced only with ``force``.
    """
    with output_dir(job.artifact.parent):
        if shared is None:
            with temporary_dir(job.artifact.parent, ".edgekit-export-") as work:
                conv = convert_and_verify(job, work, log)
                check_replace(conv.path, job.artifact, force=force)
                manifest = build_manifest(job, conv, started)
                place_with_manifest(conv.path, job.artifact, job.manifest_path, manifest,
                                    keep_source=False)
        else:
            conv = shared.get(job, log)
            check_replace(conv.path, job.artifact, force=force)
            manifest = build_manifest(job, conv, started)
            place_with_manifest(conv.path, job.artifact, job.manifest_path, manifest,
                                keep_source=True)
    fid = manifest["fidelity"]
    if fid.get("status") == "failed":
        from edgekit.export.verify import FidelityError

        where = f"target {manifest['target']}" if manifest["target"] else "no target"
        raise FidelityError(
            f"{manifest['model']} ({where}, {manifest['format']} {manifest['precision']}) failed "
            f"verification: {fid['reason']}; the numbers are in {job.manifest_path} (export "
            "trained weights with --checkpoint, or calibrate on real images with --calib)")
    if manifest["unsupported_ops"]:
        log(f"warning: target {manifest['target']} cannot run ops in this artifact: "
            + ", ".join(manifest["unsupported_ops"]))
    log(f"wrote {job.artifact} ({manifest['size_bytes'] / 1e6:.2f} MB) and "
        f"{job.manifest_path.name}")
    return ExportResult(job.artifact, job.manifest_path, manifest, job.exporter.name)


@interrupt_guard()  # Ctrl-C always stops an export, leaving nothing (see export.interrupt)
def export(
    model: str | nn.Module,
    target: str | os.PathLike[str] | DeviceProfile | None = None,
    *,
    format: str | None = None,
    precision: str | Precision | None = None,
    calib: str | os.PathLike[str] | CalibrationSet | None = None,
    out: str | os.PathLike[str] = ".",
    checkpoint: str | os.PathLike[str] | None = None,
    dynamic_batch: bool = False,
    resolution: int | None = None,
    devices_dirs: Sequence[str | os.PathLike[str]] = (),
    name: str | None = None,
    verify: bool = True,
    deploy: bool = True,
    force: bool = False,
    log: Log | None = stderr_log,
    pretrained: bool = False,
    num_classes: int | None = None,
    app: AppInfo | None = None,
) -> ExportResult:
    """Export ``model`` for ``target`` and write the artifact and its ``manifest.json``.

    Args:
        model: a registry name (built with ``create_model(name, deploy=True)``) or an
            ``nn.Module`` (re-parameterized here; needs ``resolution``).
        target: a device profile name, path or object; it decides format and precision.
        format: a registered format (``edgekit.export.list_formats()``); must agree with the
            target's.
        precision: ``fp32``, ``fp16`` or ``int8``; must agree with the target's.
        calib: directory of images for int8 calibration (jpg/png/...); ``None`` uses the
            generated set and warns.
        out: output directory (or an artifact path ending with the format's suffix).
        checkpoint: a local state_dict / ``.safetensors`` file to load first.
        dynamic_batch: a symbolic batch dimension (formats that support one).
        resolution: input resolution (default: the model's).
        devices_dirs: extra directories of device profiles.
        name: the name recorded for an ``nn.Module``.
        verify: run the artifact and compare with torch (where the platform can run it).
        deploy: export the re-parameterized deploy form (``False``: the train-time form as
            built, for benchmarking what re-parameterization saves).
        force: replace an existing artifact that differs from this export (without it, only
            an identical one is replaced and a different one is an error).
        log: progress callback (default: lines on stderr); ``None`` for silence.
        pretrained: load the published weights (a registry name; needs a reachable hub).
        num_classes: rebuild the classifier head with this many classes (a fine-tune's count).
        app: labels, license, version and input kind embedded for apps (see
            :class:`~edgekit.export.appinfo.AppInfo`).

    Returns:
        An :class:`ExportResult`. Nothing is written when conversion fails; below the fidelity
        floor the artifact and a ``failed`` manifest are written and FidelityError is raised.
    """
    log = log or _silent
    started = time.perf_counter()
    p = plan(target, format=format, precision=precision, devices_dirs=devices_dirs)
    check_options(p, dynamic_batch=dynamic_batch, resolution=resolution)
    check_calib(p, calib)
    built = build_model(model, checkpoint=checkpoint, resolution=resolution, name=name,
                        deploy=deploy, pretrained=pretrained, num_classes=num_classes)
    job = make_job(p, built, calib=calib, out=out, dynamic_batch=dynamic_batch, verify=verify,
                   app=app)
    return _run_job(job, started, log, force=force)


@interrupt_guard()
def export_all_targets(
    model: str | nn.Module,
    *,
    calib: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] = ".",
    checkpoint: str | os.PathLike[str] | None = None,
    resolution: int | None = None,
    devices_dirs: Sequence[str | os.PathLike[str]] = (),
    targets: Sequence[str] | None = None,
    include_sweep: bool = False,
    name: str | None = None,
    verify: bool = True,
    force: bool = False,
    log: Log | None = stderr_log,
    pretrained: bool = False,
    num_classes: int | None = None,
    app: AppInfo | None = None,
) -> list[TargetOutcome]:
    """Export ``model`` for every device profile (sweep profiles only with ``include_sweep``).

    The model is built once, and each (format, precision) is converted once and shared by the
    targets that run it; every target gets its own artifact copy and manifest (its
    ``unsupported_ops`` differ). A failing target is recorded and the others go on.
    """
    log = log or _silent
    profiles = (load_devices(targets, devices_dirs) if targets is not None
                else [d for d in list_devices(devices_dirs) if include_sweep or not d.sweep])
    if not profiles:
        raise ConfigError("no device profiles found (edgekit devices; add --devices-dir DIR)")
    built = build_model(model, checkpoint=checkpoint, resolution=resolution, name=name,
                        pretrained=pretrained, num_classes=num_classes)
    calib_data: str | os.PathLike[str] | CalibrationSet | None = calib
    if any(p.precision is Precision.INT8 for p in profiles):
        from edgekit.export.calibration import calibration_set

        # once, for every int8 target: a bad --calib stops here
        calib_data = calibration_set(calib, built.resolution, built.module)
    failed: dict[tuple[str, str], str] = {}  # (format, precision) -> why, naming its target
    outcomes = []
    with temporary_dir(ensure_dir(out, "--out"), ".edgekit-cache-") as work:
        shared = _SharedConversions(work)
        for prof in profiles:
            key = (prof.format, prof.precision.value)
            if key in failed:
                outcomes.append(TargetOutcome(prof.name, *key, error=failed[key]))
                log(f"{prof.name}: skipped, the {key[0]} {key[1]} conversion failed above")
                continue
            try:
                started = time.perf_counter()
                p = plan(prof, devices_dirs=devices_dirs)
                check_options(p, dynamic_batch=False, resolution=built.resolution)
                job = make_job(p, built, calib=calib_data, out=out, dynamic_batch=False,
                               verify=verify, app=app)
                outcomes.append(TargetOutcome(prof.name, *key,
                                              result=_run_job(job, started, log, shared,
                                                              force=force)))
            except EdgekitError as exc:
                failed[key] = (f"shares the {key[0]} {key[1]} conversion made for {prof.name}, "
                               f"which failed: {exc}")
                outcomes.append(TargetOutcome(prof.name, *key, error=str(exc)))
                log(f"{prof.name}: failed: {exc}")
    return outcomes
