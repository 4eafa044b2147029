"""One export, fully resolved: the plan, the built model, the data to verify on, where it goes.

An :class:`ExportJob` is what the conversion, the manifest and the file placement read, so the
pipelines pass one frozen object instead of a dozen parameters. Layout of what is written
(``out`` a directory)::

    out/<model>_<target>/<model>_<target><suffix>     the artifact
    out/<model>_<target>/manifest.json                its manifest

(``<model>_<format>_<precision>`` replaces ``<model>_<target>`` when no target is given, and
``<model>_<target>_<precision>`` is used for a precision other than the target's own, such as
Core ML int8 weights for an fp16 target, so the two never overwrite each other.) When
``out`` itself ends with the format's suffix (``out="m.tflite"``) the artifact is written exactly
there and the manifest beside it as ``m.manifest.json``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from edgekit.errors import ConfigError
from edgekit.export.build import BuiltModel
from edgekit.export.planning import Plan
from edgekit.export.protocol import ConvertOptions, Exporter
from edgekit.export.registry import all_exporters
from edgekit.precision import Precision

if TYPE_CHECKING:
    import numpy as np
    from torch import nn

    from edgekit.export.appinfo import AppInfo

    from edgekit.device import DeviceProfile
    from edgekit.export.calibration import CalibrationSet

MIN_RESOLUTION = 16


def check_options(p: Plan, *, dynamic_batch: bool, resolution: int | None) -> None:
    """Reject option combinations before any work is done (the toolchain must be there too)."""
    if dynamic_batch and not p.exporter.dynamic_batch:
        able = " or ".join(e.name for e in all_exporters() if e.dynamic_batch) or "no format"
        raise ConfigError(f"--dynamic-batch applies to --format {able} only, got {p.exporter.name}")
    if resolution is not None and resolution < MIN_RESOLUTION:
        raise ConfigError(f"--resolution must be >= {MIN_RESOLUTION}, got {resolution}")
    p.exporter.check_toolchain(p.precision)


def check_calib(p: Plan, calib: object) -> None:
    """``--calib`` for a target that calibrates nothing is an error, not silently ignored."""
    if calib is not None and not p.exporter.needs_calibration(p.precision):
        what = f"target {p.profile.name}" if p.profile else "this export"
        raise ConfigError(f"--calib given, but calibration images only apply to int8 targets; "
                          f"{what} is {p.exporter.name} {p.precision.value} (no activation "
                          "calibration); drop --calib")


def destinations(out: str | os.PathLike[str], stem: str, suffix: str) -> tuple[Path, Path]:
    """The artifact path and its manifest's path for output ``out`` (see the module docstring)."""
    out = Path(out)
    if out.suffix == suffix and suffix:
        return out, out.with_name(out.name[: -len(suffix)] + ".manifest.json")
    folder = out / stem
    return folder / f"{stem}{suffix}", folder / "manifest.json"


@dataclass(frozen=True, slots=True)
class ExportJob:
    """Everything one export reads.

    Attributes:
        plan: format, precision and target profile.
        model: the built module and where its weights came from.
        options: what the exporter is told (precision, resolution, calibration set ...).
        verify_images: normalised NCHW images run through the artifact and torch.
        data_desc: where ``verify_images`` came from, for the manifest.
        mean: per-channel normalisation mean of the model.
        std: per-channel normalisation std of the model.
        artifact: where the artifact goes.
        manifest_path: where its manifest goes.
        verify: whether to run the artifact against torch.
    """

    plan: Plan
    model: BuiltModel
    options: ConvertOptions
    verify_images: np.ndarray = field(repr=False)
    data_desc: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    artifact: Path
    manifest_path: Path
    verify: bool

    @property
    def exporter(self) -> Exporter:
        return self.plan.exporter

    @property
    def precision(self) -> Precision:
        return self.plan.precision

    @property
    def profile(self) -> DeviceProfile | None:
        return self.plan.profile

    @property
    def calib(self) -> CalibrationSet | None:
        return self.options.calib

    @property
    def conversion_key(self) -> tuple[str, str]:
        """Jobs of one model with the same key convert to the same artifact."""
        return (self.exporter.name, self.precision.value)


def make_job(p: Plan, built: BuiltModel, *,
             calib: str | os.PathLike[str] | CalibrationSet | None,
             out: str | os.PathLike[str], dynamic_batch: bool, verify: bool,
             app: AppInfo | None = None) -> ExportJob:
    """Resolve the data (calibration, held-out or generated verification images) and the
    destination. Fidelity is never measured on the images int8 scales were fit to: a --calib
    directory is split (see :func:`~edgekit.export.calibration.split_held_out`), a generated
    calibration set is checked on generated images of another seed."""
    from edgekit.export.appinfo import AppInfo, check_labels
    from edgekit.export.calibration import calibration_set, generated_set, model_mean_std
    from edgekit.export.verify import VERIFY_IMAGES

    res = built.resolution
    mean, std = model_mean_std(built.module)
    app = app or AppInfo()
    if app.labels is not None:
        check_labels(app.labels, _num_outputs(built.module, res))
    calib_set = (calibration_set(calib, res, built.module)
                 if p.exporter.needs_calibration(p.precision) else None)
    if calib_set is not None and calib_set.held_out_count:
        verify_images = calib_set.held_out
        data_desc = (f"{calib_set.held_out_count} held-out images of {calib_set.source} "
                     f"(not used for calibration)")
    elif calib_set is not None and calib_set.source != "generated":
        verify_images = calib_set.images[:64]
        data_desc = (f"calibration set ({calib_set.source}; too few images to hold any out, "
                     "so fidelity is measured on the calibration images)")
    else:
        gen = generated_set(res, count=VERIFY_IMAGES, seed=1, mean=mean, std=std)
        verify_images, data_desc = gen.images, f"generated set ({gen.description})"
    options = ConvertOptions(built.name, p.precision, res, dynamic_batch, calib_set,
                             mean=mean, std=std, app=app)
    stem = (f"{built.name}_{p.profile.name}" if p.profile
            else f"{built.name}_{p.exporter.name}_{p.precision.value}")
    if p.profile and p.precision is not p.profile.precision:  # Core ML int8 on an fp16 target
        stem = f"{stem}_{p.precision.value}"
    artifact, manifest_path = destinations(out, stem, p.exporter.suffix)
    return ExportJob(p, built, options, verify_images, data_desc, mean, std, artifact,
                     manifest_path, verify)


def _num_outputs(module: nn.Module, resolution: int) -> int:
    """The model's output size (number of classes) on one zero image."""
    import math

    import torch

    with torch.inference_mode():
        y = module(torch.zeros(1, 3, resolution, resolution))
    y = y[0] if isinstance(y, (tuple, list)) else y
    return math.prod(y.shape[1:])
