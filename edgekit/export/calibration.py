"""Calibration and verification images for export.

Two sources, both returning float32 NCHW batches normalised the way the model expects
(``(x - mean) / std`` on RGB values in [0, 1]):

* :func:`load_image_dir` reads the common image formats (jpg, jpeg, png, bmp, webp, tif, tiff)
  from a directory, resizes the shorter side to the resolution and centre-crops.
* :func:`generated_set` makes a documented synthetic set: each image is a smooth random colour
  field (a 4x4 random RGB grid upsampled bicubically) with 1-3 filled shapes (disc, rectangle,
  triangle) of random colour, position and size drawn on it. It is seeded, so exports are
  reproducible. Real images from the deployment domain give better int8 scales: the synthetic
  set has no natural-image statistics (texture, edges at many scales), and a warning says so.

:func:`shapes_dataset` uses the same drawing code to make a labelled toy task (the class is the
shape, the colour and background vary), which the fidelity tests train tiny models on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.errors import ConfigError


def _terminal() -> Any:
    """The user's stderr, even while converter noise is silenced (see edgekit.export.stdio)."""
    from edgekit.export.stdio import terminal

    return terminal()

if TYPE_CHECKING:
    import numpy as np
    from torch import nn

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_GENERATED = 64  # images in the generated calibration set
DEFAULT_MAX_IMAGES = 256  # images read from a --calib directory at most
MIN_CALIB_IMAGES = 100  # fewer calibration images than this is a warning
HELD_OUT_FRACTION = 0.2  # share of a --calib directory kept back to measure fidelity on
MAX_HELD_OUT = 64
SHAPES = ("disc", "rectangle", "triangle")


@dataclass(frozen=True, slots=True)
class CalibrationSet:
    """A batch of normalised images and where it came from.

    Attributes:
        images: float32 array ``(N, 3, H, W)``, already normalised with ``mean``/``std``.
        source: ``"dir:<path>"`` or ``"generated"``.
        description: one line for the manifest (how many images, how they were made).
        mean: per-channel mean used to normalise (RGB, values in [0, 1]).
        std: per-channel std used to normalise.
    """

    images: np.ndarray = field(repr=False)
    source: str
    description: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    held_out: np.ndarray | None = field(default=None, repr=False)  # fidelity only, not calibrated
    unreadable: int = 0  # files of the directory that could not be read

    @property
    def count(self) -> int:
        """Images read from the source: the calibration images plus the held-out ones."""
        return self.calibration_count + self.held_out_count

    @property
    def calibration_count(self) -> int:
        return int(self.images.shape[0])

    @property
    def held_out_count(self) -> int:
        return 0 if self.held_out is None else int(self.held_out.shape[0])

    def to_manifest(self) -> dict[str, Any]:
        return {"source": self.source, "count": self.count,
                "calibration_images": self.calibration_count,
                "held_out_images": self.held_out_count, "unreadable_files": self.unreadable,
                "description": self.description, "mean": list(self.mean), "std": list(self.std)}


def split_held_out(images: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """(calibration, held-out): a seeded ``HELD_OUT_FRACTION`` (at most ``MAX_HELD_OUT``, at
    least one of two or more images) is kept back so fidelity is not measured on the images
    the scales were fit to. Files sorted by name are often sorted by class, hence the shuffle."""
    import numpy as np

    n = len(images)
    held = min(MAX_HELD_OUT, max(1, round(n * HELD_OUT_FRACTION))) if n >= 2 else 0
    if held == 0:
        return images, None
    order = np.random.default_rng(seed).permutation(n)
    keep, back = np.sort(order[held:]), np.sort(order[:held])
    return images[keep], images[back]


def model_mean_std(model: nn.Module | None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The model's normalisation: timm's ``pretrained_cfg`` mean/std, else ImageNet's."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    mean = tuple(float(v) for v in cfg.get("mean", IMAGENET_MEAN))
    std = tuple(float(v) for v in cfg.get("std", IMAGENET_STD))
    if len(mean) != 3 or len(std) != 3:  # e.g. a grey-scale model: fall back to ImageNet
        return IMAGENET_MEAN, IMAGENET_STD
    return mean, std


def _normalise(rgb01: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    import numpy as np

    m = np.asarray(mean, dtype=np.float32).reshape(1, 3, 1, 1)
    s = np.asarray(std, dtype=np.float32).reshape(1, 3, 1, 1)
    return ((rgb01.astype(np.float32) - m) / s).astype(np.float32)


def load_image_dir(path: str | os.PathLike[str], resolution: int, *,
                   mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD,
                   max_images: int = DEFAULT_MAX_IMAGES) -> CalibrationSet:
    """Read up to ``max_images`` images (sorted by name) from ``path``.

    Each is converted to RGB, its shorter side resized to ``resolution`` (bicubic) and centre
    cropped to ``resolution`` x ``resolution``. Unreadable files are skipped; a directory that is
    missing, empty, or has no readable image is a :class:`ConfigError`.
    """
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    d = Path(path)
    if not d.exists():
        raise ConfigError(f"--calib directory '{d}' does not exist; give a directory of "
                          f"{'/'.join(s[1:] for s in IMAGE_SUFFIXES[:3])} images")
    if not d.is_dir():
        raise ConfigError(f"--calib '{d}' is not a directory; give a directory of images")
    files = sorted(f for f in d.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ConfigError(
            f"--calib directory '{d}' has no images (looked for {', '.join(IMAGE_SUFFIXES)}); "
            "add images or leave --calib out to use the generated set"
        )
    arrays, skipped = [], 0
    for f in files:
        if len(arrays) >= max_images:
            break
        try:
            with Image.open(f) as im:
                im = im.convert("RGB")
                w, h = im.size
                scale = resolution / min(w, h)
                nw, nh = max(resolution, round(w * scale)), max(resolution, round(h * scale))
                im = im.resize((nw, nh), Image.Resampling.BICUBIC)
                left, top = (nw - resolution) // 2, (nh - resolution) // 2
                im = im.crop((left, top, left + resolution, top + resolution))
                arrays.append(np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0)
        except (UnidentifiedImageError, OSError, ValueError):
            skipped += 1  # counted and reported below; one bad file should not stop calibration
    if not arrays:
        raise ConfigError(
            f"--calib directory '{d}' has {len(files)} image files but none could be read; "
            "check the files or leave --calib out to use the generated set"
        )
    images = _normalise(np.stack(arrays), mean, std)
    desc = f"{len(arrays)} images from {d} resized to {resolution}px (shorter side, centre crop)"
    if skipped:
        desc += f"; {skipped} unreadable files skipped"
        print(f"edgekit: warning: {skipped} of {skipped + len(arrays)} image files in '{d}' "
              "could not be read and were skipped", file=_terminal())
    return CalibrationSet(images, f"dir:{d}", desc, tuple(mean), tuple(std),  # type: ignore[arg-type]
                          unreadable=skipped)


def with_held_out(cs: CalibrationSet) -> CalibrationSet:
    """``cs`` split into calibration and held-out images (:func:`split_held_out`); warns on
    stderr when fewer than ``MIN_CALIB_IMAGES`` are left to calibrate on."""
    from dataclasses import replace

    if cs.held_out is not None:
        return cs
    images, held_out = split_held_out(cs.images)
    n_held = 0 if held_out is None else len(held_out)
    if len(images) < MIN_CALIB_IMAGES:
        print(f"edgekit: warning: calibrating int8 scales on {len(images)} images of "
              f"{cs.source} ({n_held} more held out for fidelity); {MIN_CALIB_IMAGES} or more "
              "give stabler scales", file=_terminal())
    return replace(cs, images=images, held_out=held_out,
                   description=f"{cs.description}; {len(images)} for calibration, {n_held} held "
                               "out for fidelity")


def _draw(rng: np.random.Generator, resolution: int, shape_ids: list[int],
          radius: tuple[float, float] = (0.15, 0.3), background: tuple[float, float] = (0.1, 0.9),
          foreground: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """One RGB image in [0, 1], (3, H, W): a smooth colour field with the given shapes on it."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    grid = torch.from_numpy(rng.uniform(*background, size=(1, 3, 4, 4)).astype(np.float32))
    img = F.interpolate(grid, size=(resolution, resolution), mode="bicubic",
                        align_corners=False)[0].clamp(0, 1).numpy()
    yy, xx = np.mgrid[0:resolution, 0:resolution].astype(np.float32) / resolution
    for sid in shape_ids:
        colour = rng.uniform(*foreground, size=3).astype(np.float32)
        cx, cy = rng.uniform(0.3, 0.7, size=2)
        r = rng.uniform(*radius)
        if SHAPES[sid] == "disc":
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r**2
        elif SHAPES[sid] == "rectangle":
            aspect = rng.uniform(0.5, 1.0)
            mask = (np.abs(xx - cx) < r) & (np.abs(yy - cy) < r * aspect)
        else:  # upright triangle: below the apex, inside two slanted edges
            mask = (yy > cy - r) & (yy < cy + r) & (np.abs(xx - cx) < (yy - (cy - r)) * 0.6)
        img[:, mask] = colour[:, None]
    img += rng.normal(0, 0.02, size=img.shape).astype(np.float32)  # sensor-like noise
    return np.clip(img, 0, 1)


def generated_set(resolution: int, *, count: int = DEFAULT_GENERATED, seed: int = 0,
                  mean: tuple[float, ...] = IMAGENET_MEAN,
                  std: tuple[float, ...] = IMAGENET_STD) -> CalibrationSet:
    """The documented synthetic calibration set (see the module docstring); seeded."""
    import numpy as np

    rng = np.random.default_rng(seed)
    imgs = [_draw(rng, resolution, list(rng.integers(0, len(SHAPES), size=rng.integers(1, 4))))
            for _ in range(count)]
    desc = (f"{count} generated images at {resolution}px (smooth random colour fields with 1-3 "
            f"random shapes, seed {seed})")
    return CalibrationSet(_normalise(np.stack(imgs), mean, std), "generated", desc,
                          tuple(mean), tuple(std))  # type: ignore[arg-type]


def warn_generated(count: int) -> None:
    """Say on stderr that int8 scales come from synthetic images."""
    from edgekit.export.stdio import terminal

    print(f"edgekit: warning: no --calib DIR given; calibrating int8 scales on {count} generated "
          "images (smooth colour fields with shapes); real images from the deployment domain "
          "give better scales", file=terminal())


def shapes_dataset(count: int, resolution: int = 64, *, seed: int = 0,
                   mean: tuple[float, ...] = IMAGENET_MEAN,
                   std: tuple[float, ...] = IMAGENET_STD,
                   sizes: tuple[tuple[float, float], tuple[float, float]] = ((0.2, 0.27),
                                                                            (0.38, 0.48)),
                   ) -> tuple[np.ndarray, np.ndarray]:
    """A labelled toy task: one shape per image; the label is shape and size (small or large),
    ``2 * len(SHAPES)`` classes, so a model must learn both form and scale. ``sizes`` are the
    (min, max) shape sizes of the two size classes, as fractions of the image side.

    Returns normalised images ``(N, 3, H, W)`` float32 and labels ``(N,)`` int64.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2 * len(SHAPES), size=count)
    # Bright shapes on a darker field: the task is form and scale, not finding the shape.
    imgs = [_draw(rng, resolution, [int(lbl) // 2], sizes[int(lbl) % 2], background=(0.0, 0.45),
                  foreground=(0.55, 1.0)) for lbl in labels]
    return _normalise(np.stack(imgs), mean, std), labels.astype(np.int64)


def calibration_set(calib: str | os.PathLike[str] | CalibrationSet | None, resolution: int,
                    model: nn.Module | None = None, *, warn: bool = True) -> CalibrationSet:
    """Resolve ``--calib``: a directory, an existing set, or ``None`` (generated, with a warning)."""
    if isinstance(calib, CalibrationSet):
        if tuple(calib.images.shape[-2:]) != (resolution, resolution):
            raise ConfigError(f"calibration set is {calib.images.shape[-1]}px, but the export "
                              f"resolution is {resolution}px; build it at {resolution}px")
        return calib
    mean, std = model_mean_std(model)
    if calib is None:
        if warn:
            warn_generated(DEFAULT_GENERATED)
        return generated_set(resolution, mean=mean, std=std)
    return with_held_out(load_image_dir(calib, resolution, mean=mean, std=std))


__all__ = [
    "CalibrationSet", "IMAGE_SUFFIXES", "SHAPES", "calibration_set", "generated_set",
    "load_image_dir", "model_mean_std", "shapes_dataset", "split_held_out", "warn_generated",
    "with_held_out",
]
