"""ONNX export: opset 20, simplified, batch 1 by default (dynamic batch on request).

The model goes through the single torch->ONNX path (:func:`edgekit._onnx.torch_to_onnx`, legacy
TorchScript exporter, which folds BatchNorm in eval mode), then onnxslim (or onnxsim when onnxslim
is absent) folds constants and removes redundant nodes. Verification runs the artifact with
onnxruntime on the CPU. The op inventory is the graph's op types, which are already ONNX names.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from edgekit.device import Precision
from edgekit.errors import missing_toolchain
from edgekit.export import ConvertOptions, Inventory, OpRecord, TensorSpec
from edgekit.exporters import versions

if TYPE_CHECKING:
    import numpy as np
    import onnx
    from torch import nn

_ELEM = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 9: "bool", 10: "float16",
         11: "float64", 16: "bfloat16"}


def _simplifier() -> tuple[str, Callable[[onnx.ModelProto], onnx.ModelProto]]:
    try:
        import onnxslim

        return "onnxslim", lambda m: onnxslim.slim(m)
    except ImportError:
        pass
    try:
        import onnxsim
    except ImportError as exc:
        raise missing_toolchain("onnxslim' or 'onnxsim", "onnx", "simplifying ONNX models") from exc

    def simplify(m: onnx.ModelProto) -> onnx.ModelProto:
        out, ok = onnxsim.simplify(m)
        if not ok:
            raise RuntimeError("onnxsim could not validate the simplified model")
        return out

    return "onnxsim", simplify


class OnnxExporter:
    """ONNX opset 20, fp32, simplified; verified with onnxruntime."""

    name: ClassVar[str] = "onnx"
    suffix: ClassVar[str] = ".onnx"
    precisions: ClassVar[tuple[Precision, ...]] = (Precision.FP32,)
    extra: ClassVar[str] = "onnx"
    input_layout: ClassVar[str] = "NCHW"

    def check_toolchain(self, precision: Precision) -> None:
        _simplifier()

    def needs_calibration(self, precision: Precision) -> bool:
        return False

    def accepts(self, profile_precision: Precision, precision: Precision) -> bool:
        return precision is profile_precision

    def tool_versions(self) -> dict[str, str]:
        return versions("onnx", "onnxruntime", "onnxslim", "onnxsim")

    def convert(self, model: nn.Module, options: ConvertOptions, dest: Path,
                log: Callable[[str], None]) -> dict[str, Any]:
        import onnx

        from edgekit import __version__
        from edgekit._onnx import DEFAULT_OPSET, torch_to_onnx

        r = options.resolution
        proto = torch_to_onnx(model, (1, 3, r, r), opset=DEFAULT_OPSET,
                              dynamic_batch=options.dynamic_batch)
        nodes_before = len(proto.graph.node)
        tool, simplify = _simplifier()
        proto = simplify(proto)
        proto = onnx.shape_inference.infer_shapes(proto)
        for k, v in {"edgekit_model": options.model_name, "edgekit_version": __version__,
                     "precision": options.precision.value}.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = k, v
        onnx.checker.check_model(proto)
        onnx.save(proto, str(dest))
        return {"opset": DEFAULT_OPSET, "simplifier": tool, "nodes_before_simplify": nodes_before,
                "nodes": len(proto.graph.node)}

    def _load(self, artifact: Path) -> onnx.ModelProto:
        import onnx

        return onnx.load(str(artifact))

    def io(self, artifact: Path) -> tuple[list[TensorSpec], list[TensorSpec]]:
        proto = self._load(artifact)
        inits = {i.name for i in proto.graph.initializer}

        def spec(v: Any, layout: str | None) -> TensorSpec:
            t = v.type.tensor_type
            shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                          for d in t.shape.dim)
            return TensorSpec(v.name, shape, _ELEM.get(t.elem_type, str(t.elem_type)), layout)

        ins = [spec(v, "NCHW") for v in proto.graph.input if v.name not in inits]
        return ins, [spec(v, None) for v in proto.graph.output]

    def inventory(self, artifact: Path) -> Inventory:
        proto = self._load(artifact)
        g = proto.graph
        dtypes = {v.name: _ELEM.get(v.type.tensor_type.elem_type, "?")
                  for v in [*g.value_info, *g.output, *g.input]}
        counts: Counter[str] = Counter()
        types: dict[str, set[str]] = {}
        for n in g.node:
            counts[n.op_type] += 1
            types.setdefault(n.op_type, set()).update(dtypes.get(o, "?") for o in n.output[:1])
        ops = tuple(OpRecord(op, op, c, tuple(sorted(types[op])))
                    for op, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        return Inventory(ops)

    def runner(self, artifact: Path) -> Callable[[np.ndarray], np.ndarray]:
        import numpy as np
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = 2
        sess = ort.InferenceSession(str(artifact), so, providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0]
        fixed_batch = inp.shape[0] if isinstance(inp.shape[0], int) else None

        def run(images: np.ndarray) -> np.ndarray:
            x = np.ascontiguousarray(images, dtype=np.float32)
            if fixed_batch is None:
                return sess.run(None, {inp.name: x})[0]
            return np.concatenate([sess.run(None, {inp.name: x[i:i + fixed_batch]})[0]
                                   for i in range(0, len(x), fixed_batch)])

        return run
