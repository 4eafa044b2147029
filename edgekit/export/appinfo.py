"""The facts an app needs to use an artifact, embedded in it as metadata and kept in the manifest.

An app must know how to turn camera pixels into the model's input (RGB, value range, mean/std,
layout, and for an int8 input the scale and zero point) and how to read the output (the class
labels, in order). :class:`AppInfo` holds what the user adds (``--labels``, a license, a version,
``--tensor-input``); :func:`app_facts` is the one list of string key/value pairs every exporter
embeds (ONNX ``metadata_props``, Core ML ``user_defined_metadata``, a TFLite metadata entry).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.errors import ConfigError

if TYPE_CHECKING:
    from edgekit.export.protocol import ConvertOptions

EXAMPLE_PIXEL = (128, 64, 255)  # the RGB pixel of the manifest's worked int8 example


@dataclass(frozen=True, slots=True)
class AppInfo:
    """What the user adds to an artifact for an app.

    Attributes:
        labels: class names in output order (``--labels FILE``, one per line).
        image_input: Core ML takes an image (``ImageType``); ``False`` keeps a tensor input.
        license: the model's license, recorded in the metadata.
        version: the model's version, recorded in the metadata.
    """

    labels: tuple[str, ...] | None = None
    image_input: bool = True
    license: str | None = None
    version: str = "1.0"


def read_labels(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """Class labels from a text file, one per line (blank lines at the end ignored)."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--labels file '{p}' cannot be read ({exc}); give a UTF-8 text file "
                          "with one class name per line") from exc
    while lines and not lines[-1].strip():
        lines.pop()
    labels = tuple(ln.strip() for ln in lines)
    if not labels or any(not lb for lb in labels):
        raise ConfigError(f"--labels file '{p}' has an empty line or no labels; give one class "
                          "name per line")
    return labels


def check_labels(labels: tuple[str, ...] | None, num_classes: int) -> None:
    """The label count must equal the model's output size."""
    if labels is not None and len(labels) != num_classes:
        raise ConfigError(f"--labels has {len(labels)} labels but the model has {num_classes} "
                          "classes; give one label per class (or --num-classes N)")


def app_facts(options: ConvertOptions) -> dict[str, str]:
    """String key/value pairs embedded in every artifact (same keys in every format)."""
    from edgekit import __version__

    app = options.app
    facts = {
        "edgekit_model": options.model_name, "edgekit_version": __version__,
        "precision": options.precision.value, "model_version": app.version,
        "license": app.license or "unknown",
        "batch": "dynamic" if options.dynamic_batch else "1",
        "resolution": str(options.resolution),
        "input": "RGB, values in [0, 1], normalised (x - mean) / std",
        "mean": json.dumps(list(options.mean)), "std": json.dumps(list(options.std)),
    }
    if app.labels is not None:
        facts["labels"] = json.dumps(list(app.labels))
        facts["num_classes"] = str(len(app.labels))
    return facts


def int8_input_example(scale: float, zero_point: int, mean: tuple[float, ...],
                       std: tuple[float, ...]) -> dict[str, Any]:
    """How an app feeds an int8 input, with a worked example for :data:`EXAMPLE_PIXEL`."""
    q = []
    for v, m, s in zip(EXAMPLE_PIXEL, mean, std, strict=True):
        x = (v / 255 - m) / s
        q.append(int(max(-128, min(127, round(x / scale) + zero_point))))
    return {
        "scale": scale, "zero_point": zero_point,
        "formula": "q = clip(round(((pixel / 255 - mean) / std) / scale) + zero_point, -128, 127)",
        "example": {"pixel_rgb": list(EXAMPLE_PIXEL), "int8": q},
    }
