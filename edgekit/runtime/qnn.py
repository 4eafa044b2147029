"""TFLite with the Qualcomm QNN delegate on the Hexagon NPU (HTP), and its op-count model.

**Placement rules.** :data:`HTP_OPS` is the QNN HTP backend's op list (the "Supported Operations"
table of the Qualcomm AI Engine Direct (QNN) SDK documentation, HTP column). That page is not
reachable offline; the list below is as recalled from it, cross-checked against what the
measured rows of ``edgekit/data/published_latency_aihub.csv`` show: all 15 classification
backbones there (CNNs, ConvNeXt, Swin, ViT, LeViT, EfficientViT) run every op on the NPU
(``layers_cpu = layers_gpu = 0``). The ONNX op types a profile lists as ``unsupported_ops`` are
those whose TFLite/QNN lowering has no HTP op (control flow and data-dependent shapes).

**The graph that runs** (:func:`ops_per_row`). The QNN delegate executes a different number of ops
than the ONNX graph has nodes: convolution absorbs its BatchNorm and ReLU/ReLU6, a batched
activation-activation matmul over ``H`` heads runs per head (AI Hub's exports split multi-head
attention per head, "split-head attention", and HTP's MatMul takes 2-D operands per head), a
softmax over attention scores likewise, and LayerNorm and GELU lower to a few ops each. The
integer constants of :data:`QNN_OP_COUNT` are physical (ops per lowered pattern), checked against
the rows' ``layers_total`` by ``scripts/fit_npu.py`` (per-row op-count error), not fit per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgekit.runtime.spec import RuntimeSpec

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# QNN HTP op-definition names (QNN SDK, "Supported Operations", HTP backend), as recalled.
HTP_OPS = (
    "Argmax", "Argmin", "BatchToSpace", "Cast", "ChannelShuffle", "Concat", "Conv2d",
    "Conv3d", "DepthToSpace", "DepthWiseConv2d", "Dequantize", "ElementWiseAbs", "ElementWiseAdd",
    "ElementWiseAnd", "ElementWiseCeil", "ElementWiseCos", "ElementWiseDivide",
    "ElementWiseEqual", "ElementWiseExp", "ElementWiseFloor", "ElementWiseGreater",
    "ElementWiseGreaterEqual", "ElementWiseLess", "ElementWiseLessEqual", "ElementWiseLog",
    "ElementWiseMaximum", "ElementWiseMinimum", "ElementWiseMultiply", "ElementWiseNeg",
    "ElementWiseNot", "ElementWiseNotEqual", "ElementWiseOr", "ElementWisePower",
    "ElementWiseRound", "ElementWiseRsqrt", "ElementWiseSelect", "ElementWiseSign",
    "ElementWiseSin", "ElementWiseSquaredDifference", "ElementWiseSquareRoot",
    "ElementWiseSubtract", "Elu", "ExpandDims", "FullyConnected", "Gather", "GatherElements",
    "GatherNd", "Gelu", "GridSample", "GroupNorm", "HardSwish", "InstanceNorm", "L2Norm",
    "LayerNorm", "LogSoftmax", "Lrn", "MatMul", "Pad", "PoolAvg2d", "PoolMax2d", "Prelu",
    "Quantize", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "Relu",
    "Relu1", "Relu6", "ReluMinMax", "Reshape", "Resize", "ResizeBilinear",
    "ResizeNearestNeighbor", "RmsNorm", "RoiAlign", "ScatterElements", "ScatterNd", "Sigmoid",
    "Softmax", "SpaceToBatch", "SpaceToDepth", "Split", "Squeeze", "StridedSlice", "Tanh",
    "Tile", "TopK", "Transpose", "TransposeConv2d",
)
HTP_OPS_SOURCE = ("Qualcomm AI Engine Direct (QNN) SDK docs, 'Supported Operations', HTP backend "
                  "(as recalled, not available offline), cross-checked with the all-on-NPU rows "
                  "of edgekit/data/published_latency_aihub.csv")

# ONNX ops whose TFLite lowering QNN HTP cannot run: control flow and data-dependent shapes.
HTP_UNSUPPORTED_ONNX = ("If", "Loop", "NonZero", "Scan", "Unique")


@dataclass(frozen=True, slots=True)
class OpCountModel:
    """How many QNN ops one ONNX node becomes (integers: ops per lowered pattern).

    Attributes:
        matmul: ops per activation x activation matmul (HTP's MatMul takes the batch and head
            dimensions, so one op).
        per_head: run such a matmul (and the softmax over its scores) once per head instead.
        layer_norm: ops a LayerNormalization lowers to (TFLite: MEAN, SQUARED_DIFFERENCE, MEAN,
            RSQRT, and the scale-shift; 5).
        gelu: ops a Gelu lowers to.
        view: ops per reshape-like view of an activation (Reshape, Flatten, (Un)Squeeze).
        graph: ops every graph has besides its nodes (input/output layout and type conversion).
    """

    matmul: int = 1
    per_head: bool = False
    layer_norm: int = 5
    gelu: int = 1
    view: int = 1
    graph: int = 6


QNN_OP_COUNT = OpCountModel()

_VIEWS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze"})
_DROPPED = frozenset({"Identity", "Dropout"})
# A BatchNormalization folds into a weight op that produces it; elsewhere it runs (DenseNet's
# pre-activation BN after a Concat is one elementwise op, with its ReLU fused into it).
_BN_HOSTS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})


def heads(out_shape: str) -> int:
    """The head count of a (B, H, N, M) tensor from a layer-table ``out_shape`` (1 below rank 4)."""
    from edgekit.roofline.counting import out_dims

    dims = out_dims(out_shape)
    return dims[-3] if len(dims) >= 4 else 1


def ops_per_row(table: pd.DataFrame, fuses: frozenset[str] | tuple[str, ...],
                model: OpCountModel = QNN_OP_COUNT) -> np.ndarray:
    """QNN ops each layer-table row becomes (the graph's constant ``model.graph`` on row 0).

    ``fuses`` are the activations the runtime folds into their producer (``fusable`` rows);
    BatchNormalization folds only into a Conv/Gemm/MatMul producer.
    """
    import numpy as np

    fuse = frozenset(fuses) - {"BatchNormalization"}
    op_of = dict(zip(table["name"], table["op_type"], strict=True))
    out = np.zeros(len(table), dtype=np.int64)
    rows = zip(table["op_type"], table["op_class"], table["fusable"], table["out_shape"],
               table["producer"], strict=True)
    for i, (op, cls, fusable, shape, producer) in enumerate(rows):
        if cls == "constant" or op in _DROPPED or (bool(fusable) and op in fuse):
            continue
        if op == "BatchNormalization" and bool(fusable) and op_of.get(producer) in _BN_HOSTS:
            continue
        if op in _VIEWS:
            out[i] = model.view
        elif cls == "matmul":
            out[i] = model.matmul * (heads(shape) if model.per_head else 1)
        elif op == "Softmax":
            out[i] = heads(shape) if model.per_head else 1
        elif op == "LayerNormalization":
            out[i] = model.layer_norm
        elif op == "Gelu":
            out[i] = model.gelu
        else:
            out[i] = 1
    if len(out):
        out[0] += model.graph
    return out


RUNTIMES = (
    RuntimeSpec(
        id="tflite-qnn", description="TFLite with the Qualcomm QNN delegate on the Hexagon NPU (HTP)",
        format="tflite", delegate="QNN (HTP backend)", delegate_ops=HTP_OPS,
        op_list_source=HTP_OPS_SOURCE),
)

__all__ = ["HTP_OPS", "HTP_UNSUPPORTED_ONNX", "QNN_OP_COUNT", "RUNTIMES", "OpCountModel", "heads",
           "ops_per_row"]
