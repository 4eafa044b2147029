"""Per-layer costs of a model as the fit sees them, and their roofline predictions.

A :class:`ModelCosts` holds each layer's MACs and bytes at one device's precision and fusions,
and the layer's :class:`FitGroup`: the four coarse op groups that get their own efficiency factor
in a per-class fit. The group comes from the layer table's ``op_class`` column through the
explicit mapping :data:`FIT_GROUPS` (see :func:`fit_group`); the time itself is the roofline's
one formula, :func:`edgekit.roofline.latency.roofline_time_s`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edgekit.roofline.opclass import OpClass

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from edgekit.device import DeviceProfile


class FitGroup(enum.StrEnum):
    """Op groups that get their own efficiency factor in a per-class fit."""

    CONV = "conv"  # dense and grouped convolution and weight GEMMs: the reference group
    DEPTHWISE = "depthwise"  # depthwise convolution
    ATTENTION_NORM = "attention_norm"  # activation-activation matmuls, softmax, normalization
    DATA_MOVEMENT = "data_movement"  # reshapes, transposes, pooling, elementwise, concat


FIT_GROUPS: Mapping[OpClass, FitGroup] = MappingProxyType({
    OpClass.DENSE_CONV: FitGroup.CONV,
    OpClass.GROUPED_CONV: FitGroup.CONV,  # a dense conv per group
    OpClass.LINEAR: FitGroup.CONV,
    OpClass.DEPTHWISE: FitGroup.DEPTHWISE,
    OpClass.MATMUL: FitGroup.ATTENTION_NORM,
    OpClass.NORM: FitGroup.ATTENTION_NORM,
    OpClass.ACTIVATION: FitGroup.DATA_MOVEMENT,
    OpClass.ELEMENTWISE: FitGroup.DATA_MOVEMENT,
    OpClass.POOL: FitGroup.DATA_MOVEMENT,
    OpClass.DATA_MOVEMENT: FitGroup.DATA_MOVEMENT,
    OpClass.CONSTANT: FitGroup.DATA_MOVEMENT,
    OpClass.OTHER: FitGroup.DATA_MOVEMENT,
})

# The ONNX ops of GELU and of a decomposed LayerNorm (mean, power, square root, division). The fit
# has grouped them with attention and normalization since its first reported numbers, whatever
# their op class (an activation, elementwise math, a reduction); kept so that fits stay the same.
ATTENTION_NORM_OPS = frozenset({"Gelu", "Erf", "Sqrt", "Pow", "Div", "ReduceMean"})


def fit_group(op_class: OpClass | str, op_type: str = "") -> FitGroup:
    """The :class:`FitGroup` of a layer-table row from its ``op_class`` (and ``op_type``)."""
    if op_type in ATTENTION_NORM_OPS:
        return FitGroup.ATTENTION_NORM
    return FIT_GROUPS[OpClass(op_class)]


@dataclass(frozen=True, slots=True)
class ModelCosts:
    """Per-layer work of one model at one precision: what the fit needs to predict its latency."""

    model: str
    macs: np.ndarray = field(repr=False)  # (L,) MACs per layer
    bytes: np.ndarray = field(repr=False)  # (L,) weight + activation bytes per layer
    fit_group: tuple[str, ...] = field(default=(), repr=False)  # (L,) FitGroup values

    def __post_init__(self) -> None:
        import numpy as np

        object.__setattr__(self, "macs", np.asarray(self.macs, dtype=float))
        object.__setattr__(self, "bytes", np.asarray(self.bytes, dtype=float))
        if not self.fit_group:
            object.__setattr__(self, "fit_group", (FitGroup.CONV.value,) * self.macs.size)
        assert self.macs.shape == self.bytes.shape == (len(self.fit_group),)

    @property
    def total_macs(self) -> float:
        return float(self.macs.sum())

    @property
    def total_bytes(self) -> float:
        return float(self.bytes.sum())

    def relabel(self, model: str) -> ModelCosts:
        """The same costs under another name (a population entry's label)."""
        return ModelCosts(model, self.macs, self.bytes, self.fit_group)


def costs_from_layers(model: str, layers: pd.DataFrame) -> ModelCosts:
    """:class:`ModelCosts` from a roofline ``estimate_latency(...).layers`` table."""
    groups = tuple(fit_group(c, str(o)).value
                   for c, o in zip(layers["op_class"], layers["op_type"], strict=True))
    macs, nbytes = layers["macs"].to_numpy(float), layers["bytes"].to_numpy(float)
    if "efficiency" in layers and layers.attrs.get("kernel_table"):
        # a kernel-table prior: time = max(macs/(eta P), bytes/(eta B)) = roofline of macs/eta
        eff = layers["efficiency"].to_numpy(float)
        macs, nbytes = macs / eff, nbytes / eff
    return ModelCosts(model, macs, nbytes, groups)


def model_costs(model: str, device: DeviceProfile, *, resolution: int | None = None,
                deploy: bool = True) -> tuple[ModelCosts, Any]:
    """Per-layer costs of a registry model on ``device`` (its precision and fusions).

    Returns the costs and the roofline's ``LatencyEstimate`` (for per-layer predictions).
    """
    from edgekit.roofline import estimate_latency, layer_table

    table = layer_table(model, resolution, deploy=deploy)
    est = estimate_latency(table, device)
    return costs_from_layers(model, est.layers), est


def predict_layers_s(costs: ModelCosts, peak_mac_s: float, mem_bytes_s: float,
                     factors: Mapping[str, float] | None = None) -> np.ndarray:
    """Roofline time of each layer in seconds, each scaled by its group's factor (default 1)."""
    import numpy as np

    from edgekit.roofline.formula import roofline_time_s

    t = roofline_time_s(costs.macs, costs.bytes, peak_mac_s, mem_bytes_s)
    if factors:
        t = t * np.array([factors.get(c, 1.0) for c in costs.fit_group])
    return t


def predict_s(costs: ModelCosts, peak_mac_s: float, mem_bytes_s: float, overhead_s: float = 0.0,
              factors: Mapping[str, float] | None = None) -> float:
    """Roofline latency of one model in seconds."""
    return float(predict_layers_s(costs, peak_mac_s, mem_bytes_s, factors).sum() + overhead_s)


__all__ = [
    "ATTENTION_NORM_OPS", "FIT_GROUPS", "FitGroup", "ModelCosts", "costs_from_layers",
    "fit_group", "model_costs", "predict_layers_s", "predict_s",
]
