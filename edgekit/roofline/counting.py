"""Count MACs, weights and activations of every node of an ONNX graph.

This module walks an ONNX graph whose shapes are inferred and returns one row per node with
precision-independent ELEMENT counts; :mod:`edgekit.roofline.latency` turns them into bytes and
seconds for a device profile. It needs ``onnx`` only (no torch).

Counting rules (each one is tested against a hand computation in ``tests/test_roofline_counting.py``):

* **Constants.** Initializers, parameter graph inputs (every graph input that is not a data input)
  and ``Constant`` outputs are *weights*. A node whose inputs are all weights (a weight transpose,
  the deduplication ``Identity`` the exporter inserts, a gathered attention-bias table) is folded
  at conversion time: it costs nothing and its outputs are weights too. Integer tensors (shapes,
  indices) are metadata and never count as bytes.
* **Conv** ``Y = conv(X, W)``, ``W`` of shape ``(M, C/g, k1, k2)``: ``MACs = |Y| * (C/g) * k1 * k2``
  (dense, grouped and depthwise alike; ``|T|`` is the number of elements of ``T``);
  weights ``|W|``, bias ``|B|``. **ConvTranspose**: ``MACs = |X| * (M/g) * k1 * k2``.
* **MatMul** ``Y = A @ B``: ``MACs = |Y| * K`` with ``K`` the contracted dimension. This covers
  attention ``Q Kᵀ`` and ``A V`` (both operands are activations) and Mobile-MQA, whose single
  shared key/value head is broadcast over the query heads: the MACs follow the broadcast output,
  while the bytes read are those of the smaller shared tensor. A constant operand counts as weights.
  **Gemm** (linear layers): ``MACs = |Y| * K``; ``C`` is the bias. **Einsum**: the product of the
  sizes of all distinct indices.
* **Pooling**: ``AveragePool``/``MaxPool``/``LpPool``: ``MACs = |Y| * k1 * k2`` (one accumulate or
  compare per window element); ``GlobalAveragePool``/``GlobalMaxPool`` and ``Reduce*``:
  ``MACs = |X|``.
* **Elementwise** ops (activations, ``Add``/``Mul``/..., normalization, ``Softmax``): 0 MACs (as in
  the papers' MAC counts); bytes are the activation inputs read plus the output written, and a
  constant operand (a bias, a scale, a BN's parameters) counts as weights (``Add``: bias).
* **Data movement** (``Transpose``, ``Concat``, ``Pad``, ``Split``, ``Slice``, ``Gather``,
  ``Expand``, ``Tile``, ``Resize``, ``DepthToSpace``...): 0 MACs; reads its inputs, writes its
  outputs. **Views** (``Reshape``, ``Flatten``, ``Squeeze``, ``Unsqueeze``, ``Identity``,
  ``Dropout``) reinterpret a contiguous buffer and cost nothing.
* **Activation bytes** of a node are the elements of its activation inputs (read) plus its outputs
  (written). Fusion (per device profile) is decided later from ``fusable``: the node has exactly
  one activation input, produced by another node whose output it alone consumes.
* **Shape features** (columns ``kernel``, ``stride``): a conv's or a window pool's filter height
  and first stride (0 and 1 for every other op), for runtime kernel-efficiency tables.
* Unknown op types are counted as memory traffic only (``kind='other'``, ``note`` says so).
* **Op class** (column ``op_class``, an :class:`~edgekit.roofline.opclass.OpClass` value) is
  decided from the node: a conv with ``group == 1`` is ``dense_conv``; with ``group`` equal to its
  input channels and one input channel per filter ``depthwise``; any other group count
  ``grouped_conv``. A MatMul, Gemm or Einsum with two activation operands is ``matmul``, else
  (an activation and a constant operand) ``linear``. Elementwise ops split into ``norm``,
  ``activation`` and ``elementwise``; pooling and reductions are ``pool``; copies and views
  ``data_movement``; constants, folded constants and shape arithmetic ``constant``; unknown ops
  ``other``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from edgekit.roofline.opclass import OpClass

if TYPE_CHECKING:
    import onnx
    import pandas as pd

# Kinds of rows (a closed set; ``note`` carries the finer reason).
COMPUTE, ELEMENTWISE, MOVEMENT, OTHER = "compute", "elementwise", "movement", "other"

COLUMNS = (
    "name", "op_type", "module", "kind", "op_class", "macs", "weight_elems", "bias_elems",
    "in_act_elems", "out_act_elems", "fusable", "producer", "out_shape", "groups", "kernel",
    "stride", "note",
)

_FLOAT_TYPES = {1, 10, 11, 16}  # FLOAT, FLOAT16, DOUBLE, BFLOAT16

CONV_OPS = frozenset({"Conv", "ConvInteger", "QLinearConv"})
MATMUL_OPS = frozenset({"MatMul", "MatMulInteger", "QLinearMatMul"})
POOL_OPS = frozenset({"AveragePool", "MaxPool", "LpPool"})
GLOBAL_POOL_OPS = frozenset({"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"})
REDUCE_OPS = frozenset({
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSumExp", "ReduceSumSquare", "ReduceLogSum",
})
ELEMENTWISE_OPS = frozenset({
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Mod", "Where",
    "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Clip", "Sigmoid", "HardSigmoid",
    "HardSwish", "Swish", "Gelu", "Mish", "Softplus", "Softsign", "Tanh", "Erf", "Exp", "Log",
    "Sqrt", "Reciprocal", "Neg", "Abs", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos",
    "Softmax", "LogSoftmax", "Hardmax", "ThresholdedRelu",
    "BatchNormalization", "LayerNormalization", "InstanceNormalization", "GroupNormalization",
    "RMSNormalization", "LpNormalization", "MeanVarianceNormalization",
    "Cast", "CastLike", "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Not",
    "And", "Or", "Xor", "IsNaN", "IsInf", "QuantizeLinear", "DequantizeLinear",
})
NORM_OPS = frozenset({  # elementwise ops that normalize over an axis or a channel
    "BatchNormalization", "LayerNormalization", "InstanceNormalization", "GroupNormalization",
    "RMSNormalization", "LpNormalization", "MeanVarianceNormalization", "Softmax", "LogSoftmax",
    "Hardmax",
})
ACTIVATION_OPS = frozenset({
    "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Clip", "Sigmoid", "HardSigmoid",
    "HardSwish", "Swish", "Gelu", "Mish", "Softplus", "Softsign", "Tanh", "ThresholdedRelu",
})
BIAS_LIKE_OPS = frozenset({"Add", "Sub"})  # a constant operand of these is a bias
MOVEMENT_OPS = frozenset({
    "Transpose", "Concat", "Pad", "Split", "Slice", "Gather", "GatherElements", "GatherND",
    "Expand", "Tile", "Resize", "Upsample", "DepthToSpace", "SpaceToDepth", "ScatterND",
    "ScatterElements", "ReverseSequence", "Compress", "TopK", "ArgMax", "ArgMin", "OneHot",
    "CumSum",
})
VIEW_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"})
META_OPS = frozenset({"Shape", "Size", "Constant", "ConstantOfShape", "Range", "EyeLike"})


def out_dims(out_shape: object) -> list[int]:
    """The dims of a layer-table ``out_shape`` (``"1x12x197x197"``); symbolic dims are dropped."""
    return [int(d) for d in str(out_shape).split("x") if d.isdigit()]

def _prod(shape: Iterable[int]) -> int:
    return math.prod(int(d) for d in shape)


class _Graph:
    """Shapes, element types and constness of every value in an ONNX graph."""

    def __init__(self, graph: onnx.GraphProto, data_inputs: Sequence[str] | None) -> None:
        self.shapes: dict[str, tuple[int, ...] | None] = {}
        self.types: dict[str, int] = {}
        self.const: set[str] = set()
        inits = {t.name for t in graph.initializer}
        for t in graph.initializer:
            self.shapes[t.name] = tuple(int(d) for d in t.dims)
            self.types[t.name] = t.data_type
            self.const.add(t.name)
        for vi in (*graph.input, *graph.value_info, *graph.output):
            self._add_value_info(vi)
        real_inputs = [i.name for i in graph.input if i.name not in inits]
        if data_inputs is None:
            data_inputs = real_inputs
        self.data_inputs = [n for n in real_inputs if n in set(data_inputs)]
        # Graph inputs other than the data inputs are parameters (export_params=False).
        self.const.update(n for n in real_inputs if n not in set(self.data_inputs))

    def _add_value_info(self, vi: Any) -> None:
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type"):
            return
        self.types.setdefault(vi.name, tt.elem_type)
        if tt.HasField("shape"):
            dims = []
            for d in tt.shape.dim:
                if d.HasField("dim_value") and d.dim_value >= 0:
                    dims.append(int(d.dim_value))
                else:
                    dims = None  # symbolic dimension: unknown size
                    break
            if dims is not None or vi.name not in self.shapes:
                self.shapes[vi.name] = tuple(dims) if dims is not None else None

    def shape(self, name: str) -> tuple[int, ...] | None:
        return self.shapes.get(name)

    def elems(self, name: str) -> int:
        s = self.shapes.get(name)
        return _prod(s) if s is not None else 0

    def is_float(self, name: str) -> bool:
        return self.types.get(name, 1) in _FLOAT_TYPES


def module_of(node_name: str) -> str:
    """The originating torch module of a node named by the TorchScript exporter.

    ``/blocks/blocks.2/blocks.2.4/attn/MatMul`` -> ``blocks.2.4.attn``. Names that do not follow the
    exporter's scope convention (hand-written graphs) give ``""``.
    """
    if not node_name.startswith("/"):
        return ""
    parts = node_name.strip("/").split("/")[:-1]
    path = ""
    for p in parts:
        if path and p.startswith(path + "."):
            path = p
        elif not path and p:
            path = p
        else:
            path = f"{path}.{p}" if path else p
    return path


def _attr(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    import onnx

    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _einsum_macs(equation: str, shapes: list[tuple[int, ...] | None]) -> int:
    lhs = equation.replace(" ", "").split("->")[0]
    sizes: dict[str, int] = {}
    for term, shape in zip(lhs.split(","), shapes, strict=False):
        if shape is None or "..." in term:
            return 0
        for letter, dim in zip(term, shape, strict=False):
            sizes[letter] = max(sizes.get(letter, 1), int(dim))
    return _prod(sizes.values())


def count_graph(
    model: onnx.ModelProto, data_inputs: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """One dict per node of ``model`` (shapes must be inferred), following the module rules.

    Args:
        model: an ONNX model with shapes inferred (``onnx.shape_inference.infer_shapes``).
        data_inputs: names of the graph inputs that carry data; every other graph input is a
            parameter. Default: every graph input that is not an initializer.
    """
    g = _Graph(model.graph, data_inputs)
    nodes = list(model.graph.node)
    producer: dict[str, int] = {}
    consumers: dict[str, int] = {}
    for i, n in enumerate(nodes):
        for o in n.output:
            producer[o] = i
        for x in n.input:
            if x:
                consumers[x] = consumers.get(x, 0) + 1
    rows: list[dict[str, Any]] = []
    for n in nodes:
        rows.append(_count_node(n, g, nodes, producer, consumers))
    return rows


def _count_node(
    n: onnx.NodeProto, g: _Graph, nodes: list[onnx.NodeProto], producer: dict[str, int],
    consumers: dict[str, int],
) -> dict[str, Any]:
    op = n.op_type
    ins = [x for x in n.input if x]
    outs = [o for o in n.output if o]
    row: dict[str, Any] = {
        "name": n.name or f"{op}:{outs[0] if outs else ''}", "op_type": op,
        "module": module_of(n.name), "kind": OTHER, "op_class": OpClass.OTHER.value, "macs": 0,
        "weight_elems": 0, "bias_elems": 0, "in_act_elems": 0, "out_act_elems": 0, "fusable": False,
        "producer": "", "out_shape": "x".join(str(d) for d in (g.shape(outs[0]) or ()))
        if outs else "", "groups": 0, "kernel": 0, "stride": 1, "note": "",
    }
    # Metadata and constant folding cost nothing; their float outputs become weights.
    if op in META_OPS:
        g.const.update(outs)
        row["op_class"] = OpClass.CONSTANT.value
        row["note"] = "constant" if op == "Constant" else "shape arithmetic"
        return row
    if all(x in g.const for x in ins) or not any(g.is_float(x) for x in ins + outs):
        g.const.update(outs)
        row["op_class"] = OpClass.CONSTANT.value
        row["note"] = "folded constant" if all(x in g.const for x in ins) else "shape arithmetic"
        return row
    # Float activation inputs (data flowing at run time) versus constant operands.
    act_ins = [x for x in ins if x not in g.const and g.is_float(x)]
    const_ins = [x for x in ins if x in g.const and g.is_float(x)]
    row["out_act_elems"] = sum(g.elems(o) for o in outs if g.is_float(o))
    row["in_act_elems"] = sum(g.elems(x) for x in act_ins)
    if len(act_ins) == 1 and act_ins[0] in producer and consumers.get(act_ins[0], 0) == 1:
        prod_node = nodes[producer[act_ins[0]]]
        row["fusable"] = True
        row["producer"] = prod_node.name or prod_node.op_type
    if op in CONV_OPS or op == "ConvTranspose":
        x, w = n.input[0], n.input[1]
        wshape, yshape, xshape = g.shape(w), g.shape(outs[0]), g.shape(x)
        row["kind"] = COMPUTE
        if wshape is not None and yshape is not None and xshape is not None:
            row["macs"] = (_prod(yshape) if op != "ConvTranspose" else _prod(xshape)) * _prod(wshape[1:])
        _weights(row, g, ins[1:2], ins[2:3])
        row["groups"] = int(_attr(n, "group", 1))
        row["kernel"] = int(wshape[2]) if wshape is not None and len(wshape) > 2 else 0
        row["stride"] = int((_attr(n, "strides", None) or [1])[0])
        row["op_class"] = _conv_class(n, g).value
        row["note"] = _conv_note(n, g)
        return row
    if op in MATMUL_OPS or op == "Gemm":
        a, y = g.shape(ins[0]), g.shape(outs[0])
        row["kind"] = COMPUTE
        if a is not None and y is not None:
            k = a[0] if len(a) == 1 else (a[-2] if op == "Gemm" and _attr(n, "transA", 0) else a[-1])
            row["macs"] = _prod(y) * int(k)
        _weights(row, g, ins[:2], ins[2:3] if op == "Gemm" else [])
        row["op_class"] = _product_class(act_ins).value
        row["note"] = "attention (activation x activation)" if len(act_ins) == 2 else ""
        return row
    if op == "Einsum":
        row["kind"] = COMPUTE
        row["macs"] = _einsum_macs(_attr(n, "equation", b"").decode(), [g.shape(x) for x in ins])
        row["op_class"] = _product_class(act_ins).value
        _weights(row, g, const_ins, [])
        return row
    if op in POOL_OPS:
        y = g.shape(outs[0])
        row["kind"] = COMPUTE
        row["macs"] = _prod(y) * _prod(_attr(n, "kernel_shape", [])) if y is not None else 0
        row["kernel"] = int((_attr(n, "kernel_shape", None) or [0])[0])
        row["stride"] = int((_attr(n, "strides", None) or [1])[0])
        row["op_class"] = OpClass.POOL.value
        row["note"] = "pooling"
        return row
    if op in GLOBAL_POOL_OPS or op in REDUCE_OPS:
        row["kind"] = COMPUTE
        row["macs"] = g.elems(ins[0])
        row["op_class"] = OpClass.POOL.value
        row["note"] = "pooling" if op in GLOBAL_POOL_OPS else "reduction"
        # ReduceMean's axes input is an int constant and ignored above.
        return row
    if op in ELEMENTWISE_OPS:
        row["kind"] = ELEMENTWISE
        row["op_class"] = (OpClass.NORM if op in NORM_OPS else OpClass.ACTIVATION
                           if op in ACTIVATION_OPS else OpClass.ELEMENTWISE).value
        if op in BIAS_LIKE_OPS:
            _weights(row, g, [], const_ins)
        else:
            _weights(row, g, const_ins, [])
        return row
    if op in VIEW_OPS:
        row["kind"] = MOVEMENT
        row["op_class"] = OpClass.DATA_MOVEMENT.value
        row["in_act_elems"] = row["out_act_elems"] = 0
        row["note"] = "view (no copy)"
        return row
    if op in MOVEMENT_OPS:
        row["kind"] = MOVEMENT
        row["op_class"] = OpClass.DATA_MOVEMENT.value
        _weights(row, g, const_ins, [])
        return row
    row["note"] = f"unknown op {op}: counted as memory traffic only"
    _weights(row, g, const_ins, [])
    return row


def _weights(row: dict[str, Any], g: _Graph, weights: Sequence[str], biases: Sequence[str]) -> None:
    """Charge constant operands as weights/biases; a non-constant one is an activation read."""
    for names, col in ((weights, "weight_elems"), (biases, "bias_elems")):
        for x in names:
            if not g.is_float(x):
                continue
            if x in g.const:
                row[col] += g.elems(x)


def _conv_class(n: onnx.NodeProto, g: _Graph) -> OpClass:
    """Dense (one group), depthwise (a group per input channel, one input channel per filter) or
    grouped."""
    group = int(_attr(n, "group", 1))
    if group == 1:
        return OpClass.DENSE_CONV
    x, w = g.shape(n.input[0]), g.shape(n.input[1])
    if x is not None and len(x) > 1 and group == x[1] and w is not None and w[1] == 1:
        return OpClass.DEPTHWISE
    return OpClass.GROUPED_CONV


def _product_class(act_ins: Sequence[str]) -> OpClass:
    """A product of activations (attention) or of an activation and a weight (a linear layer)."""
    return OpClass.MATMUL if len(act_ins) >= 2 else OpClass.LINEAR


def _conv_note(n: onnx.NodeProto, g: _Graph) -> str:
    group = int(_attr(n, "group", 1))
    w = g.shape(n.input[1])
    k = "x".join(str(d) for d in w[2:]) if w else "?"
    cls = _conv_class(n, g)
    if cls is OpClass.DENSE_CONV:
        return f"conv {k}"
    if cls is OpClass.DEPTHWISE:
        return f"depthwise {k}"
    return f"grouped conv {k} (g={group})"


def rows_to_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The row dicts as a DataFrame with the standard column order and integer counts."""
    import pandas as pd

    df = pd.DataFrame(rows, columns=list(COLUMNS))
    for c in ("macs", "weight_elems", "bias_elems", "in_act_elems", "out_act_elems", "groups",
              "kernel", "stride"):
        df[c] = df[c].astype("int64")
    df["fusable"] = df["fusable"].astype(bool)
    return df


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return _SAFE.sub("_", text).strip("_") or "model"
