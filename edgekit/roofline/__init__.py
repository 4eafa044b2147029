"""Roofline analysis after the MobileNetV4 paper (Qin et al. 2024, "Roofline analysis").

``ModelTime = sum_i max(MACs_i / PeakMACs, (WeightBytes_i + ActivationBytes_i) / PeakMemBW)``

* :func:`layer_table` -- one row per node of the deploy graph, with precision-independent counts
  (the counting rules are in :mod:`edgekit.roofline.counting`).
* :func:`estimate_latency` -- the roofline model of one table on one device profile.
* :func:`analyze` -- the tidy model x device table; :func:`sweep` -- the same over ridge points.
* :func:`count_macs` -- total MACs of a module at a resolution.

Importing this package loads pandas and numpy only; torch and onnx load when a table is built.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from edgekit.roofline.extract import layer_table, layer_tables, model_label
from edgekit.roofline.latency import (
    LatencyEstimate,
    estimate_latency,
    ridge_name,
    ridge_profile,
)

if TYPE_CHECKING:
    from torch import nn

    from edgekit.device import DeviceProfile

PAPER_RIDGES = (0.0, 5.0, 50.0, 500.0)
# The four targets of the paper's roofline-vs-measured table (Qin et al. 2024, Sec. "Roofline").
PAPER_DEVICES = ("pixel6-cpu", "s23-cpu", "pixel4-dsp", "pixel8-edgetpu")

SUMMARY_COLUMNS = (
    "model", "family", "device", "resolution", "precision", "macs", "params", "weight_bytes",
    "activation_bytes", "latency_ms", "compute_ms", "memory_ms", "memory_bound_fraction",
    "macs_only_ms", "overhead_ms", "ridge_mac_per_byte", "top1", "runnable", "unsupported_ops",
)


def count_macs(model: nn.Module, resolution: int) -> int:
    """Total MACs of ``model`` on a ``(1, 3, resolution, resolution)`` input, by the table rules."""
    return int(layer_table(model, resolution, cache=False)["macs"].sum())


def zoo_models(mission_only: bool = False) -> list[str]:
    """The registered (non-test) models, optionally only the mission zoo, as registered now."""
    from edgekit.models import list_models

    return list_models(mission=True) if mission_only else list_models()


def summary_row(table: pd.DataFrame, est: LatencyEstimate) -> dict[str, Any]:
    """The tidy model x device row of one estimate.

    ``runnable`` is False when the device cannot run an op of the model (judged by what the op
    does, :mod:`edgekit.roofline.support`); ``unsupported_ops`` names those ops, comma-separated.
    """
    from edgekit.roofline.support import format_ops, unsupported_ops

    dev = est.device
    missing = unsupported_ops(est.layers, dev)
    a = table.attrs
    return {
        "model": a.get("model", est.model), "family": a.get("family"), "device": dev.name,
        "resolution": a.get("resolution"), "precision": dev.precision.value, "macs": est.macs,
        "params": a.get("params"), "weight_bytes": est.weight_bytes,
        "activation_bytes": est.activation_bytes, "latency_ms": est.latency_s * 1e3,
        "compute_ms": est.compute_s * 1e3, "memory_ms": est.memory_s * 1e3,
        "memory_bound_fraction": est.memory_bound_fraction, "macs_only_ms": est.macs_only_s * 1e3,
        "overhead_ms": est.overhead_s * 1e3, "ridge_mac_per_byte": dev.ridge_mac_per_byte,
        "top1": a.get("top1"), "runnable": not missing, "unsupported_ops": format_ops(missing),
    }


def _as_tables(
    models: Any, resolution: int | None, *, checkpoint: Any = None, cache: bool = True,
    workers: int | None = None, progress: Callable[[str], None] | None = None,
) -> list[pd.DataFrame]:
    if isinstance(models, pd.DataFrame):
        return [models]
    if models is None:
        models = zoo_models()
    elif isinstance(models, (str, os.PathLike)) or not isinstance(models, Iterable):
        models = [models]
    models = list(models)
    if all(isinstance(m, pd.DataFrame) for m in models):
        return models
    return layer_tables(models, resolution, checkpoint=checkpoint, cache=cache, workers=workers,
                        progress=progress)


def _as_devices(devices: Any, devices_dirs: Sequence[str | os.PathLike[str]]) -> list[DeviceProfile]:
    from edgekit.device import DeviceProfile, list_devices, load_device

    if devices is None:
        return list_devices(devices_dirs)
    if isinstance(devices, (str, os.PathLike, DeviceProfile)):
        devices = [devices]
    return [load_device(d, devices_dirs) for d in devices]


def analyze(
    models: Any = None,
    devices: Any = None,
    resolution: int | None = None,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    cache: bool = True,
    workers: int | None = None,
    devices_dirs: Sequence[str | os.PathLike[str]] = (),
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Roofline latency of every model on every device: one row per model x device.

    Args:
        models: names (registry or timm), ``.onnx`` paths, modules or layer tables; default: the
            whole registered zoo (``edgekit models``).
        devices: profile names, paths or profiles; default: every profile on the search path.
        resolution: input size for every model (default: each model's own).
        checkpoint: local weights (only with a single named model).
        cache: use the on-disk layer-table cache.
        workers: processes building uncached tables (see :func:`layer_tables`).
        devices_dirs: extra directories of device profiles.
        progress: called with each model's name when its layer table is ready.

    Returns:
        Columns :data:`SUMMARY_COLUMNS` (times in ms, bytes at each device's precision).
    """
    devs = _as_devices(devices, devices_dirs)
    tables = _as_tables(models, resolution, checkpoint=checkpoint, cache=cache, workers=workers,
                        progress=progress)
    rows = [summary_row(t, estimate_latency(t, d)) for t in tables for d in devs]
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def sweep(
    table_or_models: Any = None,
    ridges: Iterable[float] = PAPER_RIDGES,
    resolution: int | None = None,
    *,
    peak_gmac_s: float | None = None,
    precision: str = "int8",
    cache: bool = True,
    workers: int | None = None,
    devices_dirs: Sequence[str | os.PathLike[str]] = (),
) -> pd.DataFrame:
    """:func:`analyze` over hardware-independent profiles, one per ridge point (MACs/byte).

    The paper's sweep is 0 / 5 / 50 / 500 (MACs only, slow CPU, fast CPU, accelerator). Only the
    ridge point changes the ranking; ``peak_gmac_s`` sets the time unit. A shipped sweep profile
    (``devices/rp5.toml``...) is used where one has that ridge point and precision and no other
    peak is asked for; other ridges get a profile from :func:`ridge_profile`.
    """
    devs = [_sweep_profile(float(r), peak_gmac_s, precision, devices_dirs) for r in ridges]
    return analyze(table_or_models, devs, resolution, cache=cache, workers=workers)


def _sweep_profile(ridge: float, peak_gmac_s: float | None, precision: str,
                   devices_dirs: Sequence[str | os.PathLike[str]]) -> DeviceProfile:
    from edgekit.device import load_device
    from edgekit.errors import UnknownNameError

    if peak_gmac_s is None:
        try:
            dev = load_device(ridge_name(ridge), devices_dirs)
        except UnknownNameError:
            dev = None
        if (dev is not None and dev.sweep and dev.precision.value == precision
                and abs(dev.ridge_mac_per_byte - ridge) <= 1e-6 * max(1.0, ridge)):
            return dev
        return ridge_profile(ridge, precision=precision)
    return ridge_profile(ridge, peak_gmac_s=peak_gmac_s, precision=precision)


__all__ = [
    "PAPER_DEVICES", "PAPER_RIDGES", "SUMMARY_COLUMNS", "LatencyEstimate", "analyze", "count_macs",
    "estimate_latency", "layer_table", "layer_tables", "model_label", "ridge_name",
    "ridge_profile", "summary_row", "sweep", "zoo_models",
]
