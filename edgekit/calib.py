"""Old import path of the calibration images, kept for callers; see edgekit.export.calibration."""

from __future__ import annotations

from edgekit.export.calibration import (
    IMAGE_SUFFIXES,
    SHAPES,
    CalibrationSet,
    calibration_set,
    generated_set,
    load_image_dir,
    model_mean_std,
    shapes_dataset,
    warn_generated,
)

__all__ = [
    "CalibrationSet", "IMAGE_SUFFIXES", "SHAPES", "calibration_set", "generated_set",
    "load_image_dir", "model_mean_std", "shapes_dataset", "warn_generated",
]
