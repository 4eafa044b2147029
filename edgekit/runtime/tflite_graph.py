"""The graph a ``.tflite`` file really runs, as an op table: one row per TFLite op, with its work.

What executes is what costs: the layout transposes litert-torch inserts, LayerNorm lowered to
MEAN / SQUARED_DIFFERENCE / RSQRT, requantize steps, GELU and h-swish kernels. So the runtime
model counts MACs and bytes per op of the ``.tflite`` graph itself, not of the ONNX graph it was
exported beside.

This module is the one place edgekit calls LiteRT's private op-level API
(``Interpreter._get_ops_details``, ai-edge-litert 2.3.0: a list of ``{index, op_name, inputs,
outputs}``; LiteRT has no public per-op view in Python). Constant tensors are read from the
flatbuffer schema that ships with the wheel (``ai_edge_litert.schema_py_generated``).

Columns of :func:`op_table`:

* ``index`` (node index in the file's main subgraph), ``op`` (TFLite builtin name), ``onnx_op``
  (the ONNX op type it computes, as profiles' ``unsupported_ops`` name ops: :data:`ONNX_OPS`;
  a product with a constant weight is ``Gemm``, of two activations ``MatMul``),
  ``op_class`` (an :class:`~edgekit.roofline.opclass.OpClass` value), ``dtype`` (the activation
  type of its first non-constant input, else of its output);
* ``macs`` (multiply-accumulates of CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV,
  FULLY_CONNECTED and BATCH_MATMUL; 0 elsewhere), ``in_bytes`` (non-constant inputs),
  ``weight_bytes`` (constant inputs), ``out_bytes``, ``bytes`` (their sum);
* shape features the kernel-efficiency tables are stated over: ``kernel`` (filter height; 0 for
  non-filter ops), ``stride``, ``cin`` (channels or features in), ``cout`` (channels or features
  out), ``spatial`` (output elements per channel: H*W, or tokens), ``out_elems``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.roofline.opclass import OpClass

if TYPE_CHECKING:
    import pandas as pd

_C = OpClass
# TFLite builtin op -> op class. Products are judged by operands (linear vs matmul) in op_table.
OP_CLASSES: dict[str, OpClass] = {
    "CONV_2D": _C.DENSE_CONV, "TRANSPOSE_CONV": _C.DENSE_CONV, "CONV_3D": _C.DENSE_CONV,
    "DEPTHWISE_CONV_2D": _C.DEPTHWISE, "FULLY_CONNECTED": _C.LINEAR, "BATCH_MATMUL": _C.MATMUL,
    "SOFTMAX": _C.NORM, "LOG_SOFTMAX": _C.NORM, "L2_NORMALIZATION": _C.NORM,
    "RELU": _C.ACTIVATION, "RELU6": _C.ACTIVATION, "RELU_N1_TO_1": _C.ACTIVATION,
    "RELU_0_TO_1": _C.ACTIVATION, "LOGISTIC": _C.ACTIVATION, "TANH": _C.ACTIVATION,
    "HARD_SWISH": _C.ACTIVATION, "GELU": _C.ACTIVATION, "LEAKY_RELU": _C.ACTIVATION,
    "PRELU": _C.ACTIVATION, "ELU": _C.ACTIVATION,
    "ADD": _C.ELEMENTWISE, "SUB": _C.ELEMENTWISE, "MUL": _C.ELEMENTWISE, "DIV": _C.ELEMENTWISE,
    "SQUARED_DIFFERENCE": _C.ELEMENTWISE, "RSQRT": _C.ELEMENTWISE, "SQRT": _C.ELEMENTWISE,
    "POW": _C.ELEMENTWISE, "EXP": _C.ELEMENTWISE, "LOG": _C.ELEMENTWISE, "ABS": _C.ELEMENTWISE,
    "NEG": _C.ELEMENTWISE, "MAXIMUM": _C.ELEMENTWISE, "MINIMUM": _C.ELEMENTWISE,
    "SQUARE": _C.ELEMENTWISE, "QUANTIZE": _C.ELEMENTWISE, "DEQUANTIZE": _C.ELEMENTWISE,
    "CAST": _C.ELEMENTWISE, "ERF": _C.ELEMENTWISE, "SELECT_V2": _C.ELEMENTWISE,
    "SELECT": _C.ELEMENTWISE, "FLOOR": _C.ELEMENTWISE, "SIN": _C.ELEMENTWISE, "COS": _C.ELEMENTWISE,
    "MEAN": _C.POOL, "SUM": _C.POOL, "REDUCE_MAX": _C.POOL, "REDUCE_MIN": _C.POOL,
    "REDUCE_PROD": _C.POOL, "AVERAGE_POOL_2D": _C.POOL, "MAX_POOL_2D": _C.POOL,
    "RESHAPE": _C.DATA_MOVEMENT, "SQUEEZE": _C.DATA_MOVEMENT, "EXPAND_DIMS": _C.DATA_MOVEMENT,
    "TRANSPOSE": _C.DATA_MOVEMENT, "CONCATENATION": _C.DATA_MOVEMENT, "SPLIT": _C.DATA_MOVEMENT,
    "SPLIT_V": _C.DATA_MOVEMENT, "SLICE": _C.DATA_MOVEMENT, "STRIDED_SLICE": _C.DATA_MOVEMENT,
    "GATHER": _C.DATA_MOVEMENT, "TILE": _C.DATA_MOVEMENT, "BROADCAST_TO": _C.DATA_MOVEMENT,
    "PAD": _C.DATA_MOVEMENT, "PADV2": _C.DATA_MOVEMENT, "MIRROR_PAD": _C.DATA_MOVEMENT,
    "PACK": _C.DATA_MOVEMENT, "UNPACK": _C.DATA_MOVEMENT, "DEPTH_TO_SPACE": _C.DATA_MOVEMENT,
    "SPACE_TO_DEPTH": _C.DATA_MOVEMENT, "RESIZE_BILINEAR": _C.DATA_MOVEMENT,
    "RESIZE_NEAREST_NEIGHBOR": _C.DATA_MOVEMENT, "GATHER_ND": _C.DATA_MOVEMENT,
    "SHAPE": _C.CONSTANT,
}
_PRODUCTS = {"FULLY_CONNECTED", "BATCH_MATMUL"}
# TFLite builtin op -> ONNX op type, for matching device profiles' unsupported_ops.
ONNX_OPS = {
    "CONV_2D": "Conv", "DEPTHWISE_CONV_2D": "Conv", "TRANSPOSE_CONV": "ConvTranspose",
    "FULLY_CONNECTED": "Gemm", "BATCH_MATMUL": "MatMul", "ADD": "Add", "SUB": "Sub",
    "MUL": "Mul", "DIV": "Div", "POW": "Pow", "SQRT": "Sqrt", "RSQRT": "Sqrt", "EXP": "Exp",
    "LOG": "Log", "ABS": "Abs", "NEG": "Neg", "TANH": "Tanh", "LOGISTIC": "Sigmoid",
    "RELU": "Relu", "RELU6": "Clip", "RELU_N1_TO_1": "Clip", "LEAKY_RELU": "LeakyRelu",
    "PRELU": "PRelu", "HARD_SWISH": "HardSwish", "GELU": "Gelu", "SOFTMAX": "Softmax",
    "LOG_SOFTMAX": "LogSoftmax", "MEAN": "ReduceMean", "SUM": "ReduceSum", "REDUCE_MAX": "ReduceMax",
    "AVERAGE_POOL_2D": "AveragePool", "MAX_POOL_2D": "MaxPool", "PAD": "Pad", "PADV2": "Pad",
    "MIRROR_PAD": "Pad", "RESHAPE": "Reshape", "SQUEEZE": "Squeeze", "EXPAND_DIMS": "Unsqueeze",
    "TRANSPOSE": "Transpose", "CONCATENATION": "Concat", "SPLIT": "Split", "SPLIT_V": "Split",
    "SLICE": "Slice", "STRIDED_SLICE": "Slice", "GATHER": "Gather", "TILE": "Tile",
    "BROADCAST_TO": "Expand", "RESIZE_BILINEAR": "Resize", "RESIZE_NEAREST_NEIGHBOR": "Resize",
    "QUANTIZE": "QuantizeLinear", "DEQUANTIZE": "DequantizeLinear", "MAXIMUM": "Max",
    "MINIMUM": "Min", "SQUARED_DIFFERENCE": "Sub", "CAST": "Cast", "SHAPE": "Shape",
    "SQUARE": "Mul", "SELECT_V2": "Where", "ERF": "Erf",
}
_ITEM_BYTES = {"int8": 1, "uint8": 1, "bool": 1, "int16": 2, "float16": 2, "bfloat16": 2,
               "int32": 4, "float32": 4, "int64": 8, "float64": 8}
COLUMNS = ("index", "op", "onnx_op", "op_class", "dtype", "macs", "in_bytes", "weight_bytes", "out_bytes",
           "bytes", "kernel", "stride", "cin", "cout", "spatial", "out_elems")


def interpreter(path: str | os.PathLike[str], *, delegates: bool, threads: int = 1) -> Any:
    """A LiteRT interpreter with tensors allocated; ``delegates=False``: the built-in kernels."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = (OpResolverType.AUTO if delegates
                else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp = Interpreter(model_path=str(path), num_threads=threads,
                         experimental_op_resolver_type=resolver)
    interp.allocate_tensors()
    return interp


def ops_details(interp: Any) -> list[dict[str, Any]]:
    """Every node of the interpreter's main subgraph: ``index, op_name, inputs, outputs``.

    The one call of LiteRT's private ``Interpreter._get_ops_details`` (ai-edge-litert 2.3.0). With a
    delegate applied, the list keeps the nodes it replaced and adds one ``DELEGATE`` node per
    partition after them.
    """
    return [{"index": int(o["index"]), "op_name": str(o["op_name"]),
             "inputs": [int(i) for i in o["inputs"]], "outputs": [int(i) for i in o["outputs"]]}
            for o in interp._get_ops_details()]  # noqa: SLF001 - LiteRT's only op-level view


def constant_tensors(path: str | os.PathLike[str]) -> set[int]:
    """Indices of the main subgraph's tensors that hold data in the file (weights, constants)."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(Path(path).read_bytes(), 0)
    graph = model.Subgraphs(0)
    const = set()
    for i in range(graph.TensorsLength()):
        buf = model.Buffers(graph.Tensors(i).Buffer())
        if buf is not None and (buf.DataLength() > 0 or buf.Offset() > 1):
            const.add(i)
    return const


def _elems(shape: Iterable[int]) -> int:
    n = 1
    for s in shape:
        n *= max(int(s), 1)
    return n


def _row(op: dict[str, Any], tensors: dict[int, tuple[tuple[int, ...], str]],
         const: set[int]) -> dict[str, Any]:
    name = op["op_name"]
    ins = [i for i in op["inputs"] if i >= 0 and i in tensors]
    outs = [i for i in op["outputs"] if i >= 0 and i in tensors]
    act = [i for i in ins if i not in const]
    wts = [i for i in ins if i in const]

    def nbytes(i: int) -> int:
        shape, dt = tensors[i]
        return _elems(shape) * _ITEM_BYTES.get(dt, 4)

    out_shape = tensors[outs[0]][0] if outs else ()
    in_shape = tensors[act[0]][0] if act else ()
    out_elems = _elems(out_shape) if outs else 0
    cls = OP_CLASSES.get(name, OpClass.OTHER)
    if ins and not act:  # every operand is a constant: folded once (fp16 weight DEQUANTIZE ...)
        cls = OpClass.CONSTANT
    if name in _PRODUCTS and cls is not OpClass.CONSTANT:
        cls = OpClass.LINEAR if any(i in const for i in ins[1:2]) else OpClass.MATMUL
    macs, kernel, stride = 0, 0, 1
    cout = int(out_shape[-1]) if out_shape else 0
    cin = int(in_shape[-1]) if in_shape else 0
    spatial = out_elems // cout if cout else out_elems
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D") and len(ins) >= 2 and len(out_shape) == 4:
        w = tensors[ins[1]][0]  # CONV_2D [O, kh, kw, I/groups]; DEPTHWISE [1, kh, kw, O]
        kernel = int(w[1])
        per_out = int(w[1]) * int(w[2]) * (int(w[3]) if name == "CONV_2D" else 1)
        macs = out_elems * per_out
        if name == "CONV_2D" and cin and int(w[3]) < cin:
            cls = OpClass.GROUPED_CONV
        if len(in_shape) == 4 and int(out_shape[1]):
            stride = max(1, round(int(in_shape[1]) / int(out_shape[1])))
    elif name == "TRANSPOSE_CONV" and len(ins) >= 3:
        w = tensors[ins[1]][0]  # inputs: output_shape, weights [O, kh, kw, I], input
        x = tensors[ins[2]][0]
        kernel, cin = int(w[1]), int(w[3])
        macs = _elems(x) * int(w[0]) * int(w[1]) * int(w[2])
        act = [ins[2]]
    elif name in _PRODUCTS and len(ins) >= 2:
        k = int(in_shape[-1]) if in_shape else 0
        macs = out_elems * k
        cin = k
    onnx_op = ({OpClass.LINEAR: "Gemm", OpClass.MATMUL: "MatMul"}.get(cls)
               or ONNX_OPS.get(name, name))
    return {"index": op["index"], "op": name, "onnx_op": onnx_op, "op_class": str(cls),
            "dtype": tensors[act[0]][1] if act else (tensors[outs[0]][1] if outs else ""),
            "macs": float(macs), "in_bytes": sum(nbytes(i) for i in act),
            "weight_bytes": sum(nbytes(i) for i in wts), "out_bytes": sum(nbytes(i) for i in outs),
            "kernel": kernel, "stride": stride, "cin": cin, "cout": cout, "spatial": spatial,
            "out_elems": out_elems}


def op_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """One row per op of the ``.tflite`` file's main subgraph, in execution order (see the module
    docstring for the columns). ``attrs["model"]`` is the file's stem."""
    import numpy as np
    import pandas as pd

    interp = interpreter(path, delegates=False)
    tensors = {int(t["index"]): (tuple(int(s) for s in t["shape"]), np.dtype(t["dtype"]).name)
               for t in interp.get_tensor_details()}
    const = constant_tensors(path)
    rows = []
    for op in ops_details(interp):
        row = _row(op, tensors, const)
        if row["op_class"] == OpClass.CONSTANT.value:
            const.update(i for i in op["outputs"] if i >= 0)
        rows.append(row)
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df["bytes"] = df["in_bytes"] + df["weight_bytes"] + df["out_bytes"]
    df.attrs["model"] = Path(path).stem
    return df


__all__ = ["COLUMNS", "ONNX_OPS", "OP_CLASSES", "constant_tensors", "interpreter", "op_table", "ops_details"]
