"""ONNX export: opset 20, simplified, batch 1 by default (dynamic batch on request).

The model goes through the single torch->ONNX path (:func:`edgekit._onnx.torch_to_onnx`, legacy
TorchScript exporter, which folds BatchNorm in eval mode), then onnxslim (or onnxsim when onnxslim
is absent) folds constants and removes redundant nodes. The op inventory is the graph's op types,
which are already ONNX names, judged by what they compute: a ``MatMul`` with a constant operand
(``nn.Linear`` on a 3-D tensor) is reported as ``Gemm`` (:func:`semantic_onnx_op`).

:meth:`OnnxExporter.load` is the one onnxruntime set-up (CPU provider, pinned intra-op threads,
sequential execution) that verification, ``edgekit bench`` and the host micro-benchmarks share.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from edgekit.errors import ConfigError, ExportError, missing_toolchain
from edgekit.export.protocol import ConvertOptions, Inventory, OpRecord, TensorSpec
from edgekit.exporters import require, versions
from edgekit.precision import Precision

if TYPE_CHECKING:
    import numpy as np
    import onnx
    from torch import nn

_ELEM = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 9: "bool", 10: "float16",
         11: "float64", 16: "bfloat16"}
# onnxruntime's type strings -> numpy dtype names (anything else is fed as float32)
_ORT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int8)": "int8",
              "tensor(uint8)": "uint8", "tensor(int64)": "int64"}


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
            raise ExportError("onnxsim could not validate the simplified ONNX model "
                              f"({len(m.graph.node)} nodes); install onnxslim instead: "
                              "pip install -c constraints.txt onnxslim")
        return out

    return "onnxsim", simplify


def semantic_onnx_op(op_type: str, inputs: list[str], const: set[str]) -> str:
    """What a node computes, as an ONNX op type: a ``MatMul`` with a constant operand is ``Gemm``.

    ``torch.onnx`` lowers ``nn.Linear`` on 3-D+ tensors to ``MatMul`` with an initializer weight;
    that is a linear layer, not the product of two activations (attention's QKᵀ, AV) that device
    profiles mean by ``MatMul``.
    """
    if op_type == "MatMul" and any(i in const for i in inputs[:2] if i):
        return "Gemm"
    return op_type


def session_options(threads: int, *, profile_prefix: str | None = None,
                    optimized_model_path: str | None = None) -> Any:
    """onnxruntime session options pinned to ``threads`` intra-op threads, sequential execution."""
    ort = require("onnxruntime", "onnxruntime", OnnxExporter.extra, "running ONNX models")
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3  # errors only: the NCHWc serialization warning is expected
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning threads burn the other core between runs; one thread has nothing to wait on.
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if threads > 1 else "0")
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    if optimized_model_path:
        so.optimized_model_filepath = optimized_model_path
    return so


class OrtRunner:
    """An ONNX artifact in an onnxruntime CPU session."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.inputs = tuple(
            TensorSpec(i.name, tuple(d if isinstance(d, (int, str)) else "?" for d in i.shape),
                       _ORT_TYPES.get(i.type, "float32"), "NCHW")
            for i in session.get_inputs())
        first = self.inputs[0].dtype if self.inputs else "float32"
        self.precision = ("int8" if first in ("int8", "uint8") else
                          "fp16" if first == "float16" else "fp32")
        self._outputs = [o.name for o in session.get_outputs()]

    def run(self, images: np.ndarray) -> np.ndarray:
        import numpy as np

        name, batch = self.inputs[0].name, self.inputs[0].shape[0]
        x = np.ascontiguousarray(images, dtype=np.float32)
        if not isinstance(batch, int):  # a symbolic batch: one call
            return self.session.run(None, {name: x})[0]
        return np.concatenate([self.session.run(None, {name: x[i:i + batch]})[0]
                               for i in range(0, len(x), batch)])

    def invoker(self, feed: Mapping[str, np.ndarray]) -> Callable[[], object]:
        sess, outputs, bound = self.session, self._outputs, dict(feed)

        def invoke() -> object:
            return sess.run(outputs, bound)

        return invoke

    def end_profiling(self) -> str:
        """Stop onnxruntime's profiler (``profile_prefix`` given to load); the trace's path."""
        return str(self.session.end_profiling())


class OnnxExporter:
    """ONNX opset 20, fp32, simplified; run with onnxruntime."""

    name: ClassVar[str] = "onnx"
    suffix: ClassVar[str] = ".onnx"
    precisions: ClassVar[tuple[Precision, ...]] = (Precision.FP32,)
    extra: ClassVar[str] = "onnx"
    toolchain: ClassVar[tuple[str, ...]] = ("onnxslim", "onnxsim")
    input_layout: ClassVar[str] = "NCHW"
    runtime: ClassVar[str] = "onnxruntime"
    dynamic_batch: ClassVar[bool] = True

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

        proto = torch_to_onnx(model, options.example_shape, opset=DEFAULT_OPSET,
                              dynamic_batch=options.dynamic_batch)
        nodes_before = len(proto.graph.node)
        tool, simplify = _simplifier()
        proto = simplify(proto)
        proto = onnx.shape_inference.infer_shapes(proto)
        from edgekit.export.appinfo import app_facts

        for k, v in app_facts(options).items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = k, v
        proto.doc_string = f"{options.model_name} exported by edgekit {__version__}"
        onnx.checker.check_model(proto)
        onnx.save(proto, str(dest))
        return {"opset": DEFAULT_OPSET, "simplifier": tool, "nodes_before_simplify": nodes_before,
                "nodes": len(proto.graph.node), "metadata": "ONNX metadata_props (app facts)"}

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
        const = {i.name for i in g.initializer}
        counts: Counter[tuple[str, str]] = Counter()
        types: dict[tuple[str, str], set[str]] = {}
        for n in g.node:  # topological order, so constants propagate forwards
            if n.op_type == "Constant" or (n.input and all(i in const for i in n.input if i)):
                const.update(n.output)
            key = (n.op_type, semantic_onnx_op(n.op_type, list(n.input), const))
            counts[key] += 1
            types.setdefault(key, set()).update(dtypes.get(o, "?") for o in n.output[:1])
        ops = tuple(OpRecord(op, sem, c, tuple(sorted(types[(op, sem)])))
                    for (op, sem), c in sorted(counts.items(),
                                               key=lambda kv: (-kv[1], kv[0][0], kv[0][1])))
        return Inventory(ops)

    def can_run_here(self) -> bool:
        return True  # onnxruntime's CPU provider runs everywhere edgekit installs

    def load(self, artifact: Path, *, threads: int = 2, delegates: bool = True,
             profile_prefix: str | None = None, optimized_model_path: str | None = None
             ) -> OrtRunner:
        """An onnxruntime CPU session; ``profile_prefix`` turns on its op profiler and
        ``optimized_model_path`` saves the graph onnxruntime actually runs (``delegates`` has
        no meaning here)."""
        import onnxruntime as ort

        so = session_options(threads, profile_prefix=profile_prefix,
                             optimized_model_path=optimized_model_path)
        try:
            sess = ort.InferenceSession(str(artifact), so, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - ORT raises its own untyped errors
            text = str(exc).strip()
            first = text.splitlines()[0][:200] if text else type(exc).__name__
            raise ConfigError(f"onnxruntime cannot load '{artifact}': {first}") from exc
        return OrtRunner(sess)
