"""Whether a device profile can run a layer table: each op judged by what it does, not its name.

Profiles list the ops their runtime cannot run as ONNX op types (``unsupported_ops``). An ONNX
node's type does not say what a converter makes of it: a ``MatMul`` against a weight is a linear
layer (TFLite ``FULLY_CONNECTED``, ONNX ``Gemm``), and a product of two activations is a batch
matmul (TFLite ``BATCH_MATMUL``, ONNX ``MatMul``) even when it is spelled ``Gemm`` or ``Einsum``.
So a row's *judged* op type comes from its ``op_class`` column for the two product classes, and
is its ``op_type`` otherwise; constant rows (folded at conversion) never run and never count.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from edgekit.roofline.opclass import OpClass

if TYPE_CHECKING:
    import pandas as pd

    from edgekit.device import DeviceProfile

# The ONNX op type a runtime sees for an op class, whatever the node's ONNX name.
CLASS_OP_TYPES: Mapping[str, str] = MappingProxyType({
    OpClass.MATMUL.value: "MatMul",  # activation x activation: a batch matmul
    OpClass.LINEAR.value: "Gemm",  # activation x weight: a linear (fully connected) layer
})


def judged_op_types(layers: pd.DataFrame) -> np.ndarray:
    """Per row, the ONNX op type its support is judged by (``""`` for constant rows)."""
    op_class = layers["op_class"].astype(str).to_numpy()
    op_type = layers["op_type"].astype(str).to_numpy()
    judged = np.array([CLASS_OP_TYPES.get(c, t) for c, t in zip(op_class, op_type, strict=True)],
                      dtype=object)
    judged[op_class == OpClass.CONSTANT.value] = ""
    return judged


def unsupported_mask(layers: pd.DataFrame, profile: DeviceProfile) -> np.ndarray:
    """True for each row the profile cannot run."""
    if not profile.unsupported_ops or not len(layers):
        return np.zeros(len(layers), dtype=bool)
    return np.isin(judged_op_types(layers), list(profile.unsupported_ops))


def layer_unsupported_ops(layers: pd.DataFrame, profile: DeviceProfile) -> np.ndarray:
    """Per row, the judged op type when the profile cannot run it, else ``""``."""
    judged = judged_op_types(layers)
    return np.where(unsupported_mask(layers, profile), judged, "").astype(object)


def unsupported_ops(layers: pd.DataFrame, profile: DeviceProfile) -> tuple[str, ...]:
    """The sorted op types of ``layers`` that ``profile`` cannot run (empty: it runs the model).

    Args:
        layers: a layer table (:func:`edgekit.roofline.layer_table`) or an estimate's layers;
            needs ``op_type`` and ``op_class``.
        profile: the device profile whose ``unsupported_ops`` (ONNX op types) are matched.
    """
    mask = unsupported_mask(layers, profile)
    return tuple(sorted(set(judged_op_types(layers)[mask])))


def format_ops(ops: tuple[str, ...] | list[str]) -> str:
    """The table cell for a list of op types: comma-separated, ``""`` for none."""
    return ",".join(ops)


__all__ = ["CLASS_OP_TYPES", "format_ops", "judged_op_types", "layer_unsupported_ops",
           "unsupported_mask", "unsupported_ops"]
