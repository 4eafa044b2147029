"""The graph an ``.onnx`` file runs in onnxruntime, as an op table with the runtime model's columns.

The rows come from the roofline's layer table of the file (:func:`edgekit.roofline.layer_table`:
the same MAC and element counts), in the columns of :mod:`edgekit.runtime.tflite_graph` so that
one fit and one prediction serve both formats: ``op`` is the ONNX op type, ``bytes`` follow the
precision (fp32: 4 bytes per element), and the shape features (``kernel``, ``stride``, ``cin``,
``cout``, ``spatial``) are read from each node's attributes and shapes.

Placement (:func:`ort_units`): onnxruntime's CPU execution provider runs every op; the ones its
graph optimizer fuses into their producer (BatchNormalization, Relu, Clip, HardSigmoid,
HardSwish, Sigmoid and a residual Add, as the ``x86-desktop-cpu`` profile states) and views
(Reshape, Flatten, Squeeze, Identity...) do no work of their own. ORT fuses them into a
``Conv``, ``ConvTranspose`` or ``Gemm`` only (its conv/gemm activation and BatchNorm fusions):
an activation after anything else, such as the layout ``Transpose`` of a kernel case, runs as
its own kernel. Of the fused ones only BatchNormalization (folded into the weights) and Relu
(applied in MLAS's output loop) cost nothing; the others are a pass over the conv's output
that costs about what the op costs alone (measured with ORT 1.23, 1 thread, a 1x1 and a
depthwise 3x3 conv at 144 channels, 56x56: fused Relu +1 us, Clip +32-41 us, HardSigmoid +62
us, Sigmoid +106-112 us; the standalone Clip and Sigmoid cases' efficiencies give 34 and 98 us
for that tensor), so they keep their unit, flagged ``fused``: timed by the op's own points,
with no dispatch of their own.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from edgekit.roofline.opclass import OpClass

if TYPE_CHECKING:
    import pandas as pd

ORT_FUSES = ("BatchNormalization", "Relu", "Clip", "HardSigmoid", "HardSwish", "Sigmoid", "Add")
ORT_UNIT = "cpu"
# Of those, the ones folded at no cost of their own: BatchNorm into the weights, Relu in MLAS's
# output loop. The others are a pass over the producer's output.
ORT_FREE_FUSES = ("BatchNormalization", "Relu")
# The producers ORT folds those ops into.
ORT_FUSE_HOSTS = frozenset({"Conv", "ConvTranspose", "Gemm"})
_VIEWS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"}


def op_table(path: str | os.PathLike[str], *, item_bytes: int = 4) -> pd.DataFrame:
    """One row per node of the ``.onnx`` file, with the runtime model's columns, ``unit`` and
    ``fused`` (an activation ORT runs inside its producer's kernel, at a cost of its own)."""
    import numpy as np

    from edgekit.roofline import layer_table
    from edgekit.runtime.efficiency import shape_features

    t = layer_table(str(path)).reset_index(drop=True)
    f = shape_features(t)
    w = t["weight_elems"].to_numpy(np.int64) * item_bytes + t["bias_elems"].to_numpy(np.int64) * 4
    a_in = t["in_act_elems"].to_numpy(np.int64) * item_bytes
    a_out = t["out_act_elems"].to_numpy(np.int64) * item_bytes
    op_of = dict(zip(t["name"], t["op_type"], strict=True))
    fused_into_host = [bool(f) and op_of.get(p, p) in ORT_FUSE_HOSTS
                       for f, p in zip(t["fusable"], t["producer"], strict=True)]
    cols = ["name", "op_type", "op_class", "macs"]
    df = t[cols].assign(fusable=fused_into_host).rename(columns={"op_type": "op"}).assign(
        index=range(len(t)), onnx_op=t["op_type"], dtype="float32" if item_bytes == 4 else "",
        macs=t["macs"].to_numpy(float), in_bytes=a_in, weight_bytes=w, out_bytes=a_out,
        bytes=a_in + w + a_out, **f)
    df["unit"] = ort_units(df)
    # folded into its producer yet still working (the free ones have no unit)
    df["fused"] = df["fusable"] & df["op"].isin(ORT_FUSES) & (df["unit"] != "")
    df.attrs["model"] = t.attrs.get("model", os.path.basename(str(path)))
    return df.drop(columns=["fusable"])


def ort_units(ops: pd.DataFrame) -> list[str]:
    """Per row: ``cpu``, or ``""`` for constants, views, ops with no work and the fused ops
    that cost nothing (:data:`ORT_FREE_FUSES`; ``fusable``: the row's producer is one of
    :data:`ORT_FUSE_HOSTS` and it alone reads it)."""
    out = []
    for op, cls, fusable, nbytes, macs in zip(ops["op"], ops["op_class"], ops["fusable"],
                                              ops["bytes"], ops["macs"], strict=True):
        dead = (cls == OpClass.CONSTANT.value or op in _VIEWS or (fusable and op in ORT_FREE_FUSES)
                or (nbytes == 0 and macs == 0))
        out.append("" if dead else ORT_UNIT)
    return out


__all__ = ["ORT_FREE_FUSES", "ORT_FUSES", "ORT_FUSE_HOSTS", "ORT_UNIT", "op_table", "ort_units"]
