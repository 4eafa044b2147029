"""Core ML export: ML Program (iOS 17), FP16 compute by default, optional int8 weights.

Route: ``torch.export`` -> ``coremltools.convert`` (ML Program, ``minimum_deployment_target``
iOS17). ``int8`` means int8 weights (``coremltools.optimize.coreml.linear_quantize_weights``,
symmetric per-channel) with FP16 compute, so it is a valid choice for an FP16 target such as the
Neural Engine: it shrinks the artifact, not the arithmetic.

Verification: Core ML prediction runs only on macOS. On Linux edgekit checks what it can without
running the model (input and output names, shapes and dtypes, the op list, the size) and records
in the manifest that the numeric check was not run; on macOS it runs the model and compares with
torch like the other formats.

The op inventory is read from the saved ML Program (its MIL op types, ``const`` left out); MIL
names map to ONNX op types with ``ONNX_OPS``, ``matmul`` by its operands (:func:`semantic_onnx_op`:
a constant weight makes it ``Gemm``).
"""

from __future__ import annotations

import platform
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from edgekit.export.protocol import (
    ConvertOptions,
    Inventory,
    NotRunnableError,
    OpRecord,
    TensorSpec,
)
from edgekit.exporters import require, versions
from edgekit.precision import Precision

if TYPE_CHECKING:
    import numpy as np
    from torch import nn

ONNX_OPS = {
    "conv": "Conv", "conv_transpose": "ConvTranspose", "linear": "Gemm", "matmul": "MatMul",
    "add": "Add", "sub": "Sub", "mul": "Mul", "real_div": "Div", "pow": "Pow", "sqrt": "Sqrt",
    "rsqrt": "Sqrt", "exp": "Exp", "log": "Log", "tanh": "Tanh", "sigmoid": "Sigmoid",
    "relu": "Relu", "relu6": "Clip", "clip": "Clip", "leaky_relu": "LeakyRelu", "prelu": "PRelu",
    "silu": "Swish", "gelu": "Gelu", "softmax": "Softmax", "layer_norm": "LayerNormalization",
    "batch_norm": "BatchNormalization", "instance_norm": "InstanceNormalization",
    "reduce_mean": "ReduceMean", "reduce_sum": "ReduceSum", "reduce_max": "ReduceMax",
    "avg_pool": "AveragePool", "max_pool": "MaxPool", "pad": "Pad", "reshape": "Reshape",
    "squeeze": "Squeeze", "expand_dims": "Unsqueeze", "transpose": "Transpose",
    "concat": "Concat", "split": "Split", "slice_by_index": "Slice", "slice_by_size": "Slice",
    "gather": "Gather", "tile": "Tile", "upsample_bilinear": "Resize",
    "upsample_nearest_neighbor": "Resize", "cast": "Cast", "maximum": "Max", "minimum": "Min",
    "sigmoid_hard": "HardSigmoid", "select": "Where", "erf": "Erf", "shape": "Shape",
    "constexpr_affine_dequantize": "DequantizeLinear", "constexpr_blockwise_shift_scale":
    "DequantizeLinear", "scaled_dot_product_attention": "Attention",
}
_SKIP = {"const"}


def semantic_onnx_op(op: Any, const: set[str]) -> str | None:
    """The ONNX op type a MIL op computes: ``matmul`` with a constant operand is ``Gemm``.

    ``linear`` is always ``Gemm``; ``matmul`` of two activations (attention's QKᵀ, AV) stays
    ``MatMul``.
    """
    if op.type == "matmul":
        names = [b.name for k in ("x", "y") if k in op.inputs
                 for b in op.inputs[k].arguments if b.name]
        values = [b for k in ("x", "y") if k in op.inputs
                  for b in op.inputs[k].arguments if not b.name]
        return "Gemm" if values or any(n in const for n in names) else "MatMul"
    return ONNX_OPS.get(op.type)


def _dtype_name(value: int) -> str:
    from coremltools.proto import FeatureTypes_pb2

    name = FeatureTypes_pb2.ArrayFeatureType.ArrayDataType.Name(value)
    return {"FLOAT32": "float32", "FLOAT16": "float16", "DOUBLE": "float64",
            "INT32": "int32"}.get(name, name.lower())


def class_labels(spec: Any) -> list[str]:
    """The labels of an ML Program classifier, read from its ``classify`` op (empty if none)."""
    consts: dict[str, Any] = {}
    classes = None
    for fn in spec.mlProgram.functions.values():
        for block in fn.block_specializations.values():
            for op in block.operations:
                if op.type == "const":
                    consts[op.outputs[0].name] = op.attributes["val"]
                elif op.type == "classify":
                    classes = op.inputs["classes"].arguments[0]
    if classes is None:
        return []
    val = consts[classes.name] if classes.HasField("name") else classes.value
    out = []
    for item in val.immediateValue.list.values:  # a list of scalar tensors, one per class
        t = item.immediateValue.tensor
        vals = list(t.strings.values) if t.HasField("strings") else list(t.longInts.values)
        out.extend(v.decode() if isinstance(v, bytes) else str(v) for v in vals)
    return out


def _mil_dtype_name(value: int) -> str:
    from coremltools.proto import MIL_pb2

    return MIL_pb2.DataType.Name(value).lower()


def image_input(model: nn.Module, options: ConvertOptions, ct: Any) -> tuple[Any, Any, dict]:
    """An ``ImageType`` input (RGB pixels 0-255) whose scale and bias do the model's normalisation.

    Core ML computes ``scale * pixel + bias[c]`` with ONE scale for all channels, so the scale is
    ``1 / (255 * s)`` with ``s`` the mean of the model's stds and ``bias[c] = -mean[c] / s``; when
    the stds differ per channel, a per-channel factor ``s / std[c]`` is put in front of the model
    (exact, one multiply) so the network sees ``(pixel / 255 - mean) / std`` as trained.
    """
    import torch

    mean, std = options.mean, options.std
    s = sum(std) / len(std)
    scale, bias = 1.0 / (255.0 * s), [-m / s for m in mean]
    factor = [s / v for v in std]
    r = options.resolution
    inp = ct.ImageType(name="input", shape=(1, 3, r, r), scale=scale, bias=bias,
                       color_layout=ct.colorlayout.RGB)
    net: nn.Module = model
    if any(abs(f - 1.0) > 1e-9 for f in factor):
        net = _ChannelScale(model, torch.tensor(factor, dtype=torch.float32).view(1, 3, 1, 1))
    return net, inp, {"color_layout": "RGB", "pixel_range": "0-255", "scale": scale, "bias": bias,
                      "per_channel_factor": factor,
                      "computes": "(pixel / 255 - mean) / std, as the model was trained"}


def _channel_scale_class() -> type:
    from torch import nn

    class ChannelScale(nn.Module):
        """``model(x * factor)``: the per-channel part of the normalisation Core ML cannot do."""

        def __init__(self, model: nn.Module, factor: Any) -> None:
            super().__init__()
            self.model = model
            self.register_buffer("factor", factor)

        def forward(self, x: Any) -> Any:
            return self.model(x * self.factor)

    return ChannelScale


def _ChannelScale(model: nn.Module, factor: Any) -> nn.Module:  # noqa: N802 - a class factory
    return _channel_scale_class()(model, factor)


class CoremlRunner:
    """A Core ML model loaded by coremltools (macOS only)."""

    def __init__(self, model: Any, inputs: list[TensorSpec], outputs: list[TensorSpec]) -> None:
        self._model = model
        self.inputs = tuple(inputs)
        self._output = next(o.name for o in outputs if o.dtype != "string")  # not classLabel
        self.precision = "fp16" if inputs and inputs[0].dtype == "float16" else "fp32"

    def run(self, images: np.ndarray) -> np.ndarray:
        import numpy as np

        name = self.inputs[0].name
        dtype = np.float16 if self.inputs[0].dtype == "float16" else np.float32
        res = [self._model.predict({name: images[i:i + 1].astype(dtype)})[self._output]
               for i in range(len(images))]
        return np.concatenate([np.asarray(r, dtype=np.float32) for r in res])

    def invoker(self, feed: Mapping[str, np.ndarray]) -> Callable[[], object]:
        model, bound = self._model, dict(feed)
        return lambda: model.predict(bound)


class CoremlExporter:
    """Core ML ML Program (FP16 by default, int8 weights optional)."""

    name: ClassVar[str] = "coreml"
    suffix: ClassVar[str] = ".mlpackage"
    precisions: ClassVar[tuple[Precision, ...]] = (Precision.FP16, Precision.FP32, Precision.INT8)
    extra: ClassVar[str] = "coreml"
    toolchain: ClassVar[tuple[str, ...]] = ("coremltools",)
    input_layout: ClassVar[str] = "NCHW"
    runtime: ClassVar[str] = "coreml"
    dynamic_batch: ClassVar[bool] = False

    def check_toolchain(self, precision: Precision) -> None:
        require("coremltools", "coremltools", self.extra, "Core ML export")

    def needs_calibration(self, precision: Precision) -> bool:
        return False  # int8 here is weight-only: no activation statistics needed

    def accepts(self, profile_precision: Precision, precision: Precision) -> bool:
        # int8 weights keep FP16 compute, so an FP16 target runs them.
        return precision is profile_precision or (
            profile_precision is Precision.FP16 and precision is Precision.INT8)

    def tool_versions(self) -> dict[str, str]:
        return versions("coremltools")

    def convert(self, model: nn.Module, options: ConvertOptions, dest: Path,
                log: Callable[[str], None]) -> dict[str, Any]:
        import torch

        from edgekit import __version__

        ct = require("coremltools", "coremltools", self.extra, "Core ML export")
        r = options.resolution
        x = torch.zeros(1, 3, r, r)
        app = options.app
        net, inp, pre = model.eval(), ct.TensorType(name="input", shape=tuple(x.shape)), None
        if app.image_input:
            net, inp, pre = image_input(model.eval(), options, ct)
        with torch.no_grad():
            program = torch.export.export(net, (x,)).run_decompositions({})
        fp32 = options.precision is Precision.FP32
        classifier = (ct.ClassifierConfig(list(app.labels), predicted_feature_name="classLabel")
                      if app.labels is not None else None)
        ml = ct.convert(
            program, inputs=[inp], outputs=[ct.TensorType(name="logits")],
            classifier_config=classifier, convert_to="mlprogram",
            compute_precision=ct.precision.FLOAT32 if fp32 else ct.precision.FLOAT16,
            minimum_deployment_target=ct.target.iOS17,
        )
        notes: dict[str, Any] = {"route": "torch.export -> coremltools.convert (mlprogram, iOS17)",
                                 "compute_precision": "fp32" if fp32 else "fp16"}
        if pre is not None:
            notes["image_input"] = pre
        if options.precision is Precision.INT8:
            import coremltools.optimize.coreml as cto

            cfg = cto.OptimizationConfig(
                global_config=cto.OpLinearQuantizerConfig(mode="linear_symmetric"))
            ml = cto.linear_quantize_weights(ml, cfg)
            notes["weights"] = "int8 (linear_symmetric, per-channel), fp16 compute"
        from edgekit.export.appinfo import app_facts

        ml.short_description = f"{options.model_name} exported by edgekit {__version__}"
        ml.author = "edgekit"
        ml.license = app.license or "unknown"
        ml.version = app.version
        ml.user_defined_metadata.update(app_facts(options))
        notes["metadata"] = ("Core ML metadata (name, version, license, user_defined_metadata)"
                             + (", ClassifierConfig labels" if classifier else "")
                             + (", ImageType input" if pre else ", tensor input"))
        ml.save(str(dest))
        return notes

    def _spec(self, artifact: Path) -> Any:
        ct = require("coremltools", "coremltools", self.extra, "reading Core ML models")
        return ct.utils.load_spec(str(artifact))

    def io(self, artifact: Path) -> tuple[list[TensorSpec], list[TensorSpec]]:
        spec = self._spec(artifact)

        def tensor(f: Any, layout: str | None) -> TensorSpec:
            kind = f.type.WhichOneof("Type")
            if kind == "imageType":  # RGB pixels, one image: (1, 3, H, W) uint8
                im = f.type.imageType
                return TensorSpec(f.name, (1, 3, int(im.height), int(im.width)), "uint8", layout)
            if kind == "dictionaryType":  # classifier probabilities, one per label
                return TensorSpec(f.name, (1, len(class_labels(spec))), "float32", None)
            if kind == "stringType":  # the predicted label
                return TensorSpec(f.name, (1,), "string", None)
            a = f.type.multiArrayType
            return TensorSpec(f.name, tuple(int(s) for s in a.shape), _dtype_name(a.dataType),
                              layout)

        return ([tensor(f, "NCHW") for f in spec.description.input],
                [tensor(f, None) for f in spec.description.output])

    def inventory(self, artifact: Path) -> Inventory:
        spec = self._spec(artifact)
        counts: Counter[tuple[str, str | None]] = Counter()
        dtypes: dict[tuple[str, str | None], set[str]] = {}
        for fn in spec.mlProgram.functions.values():
            for block in fn.block_specializations.values():
                const: set[str] = set()
                for op in block.operations:
                    if op.type in _SKIP or op.type.startswith("constexpr_"):
                        const.update(o.name for o in op.outputs)
                    if op.type in _SKIP:
                        continue
                    key = (op.type, semantic_onnx_op(op, const))
                    counts[key] += 1
                    outs = [_mil_dtype_name(o.type.tensorType.dataType) for o in op.outputs[:1]
                            if o.type.HasField("tensorType")]
                    dtypes.setdefault(key, set()).update(outs)
        ops = tuple(OpRecord(n, sem, c, tuple(sorted(dtypes[(n, sem)])))
                    for (n, sem), c in sorted(counts.items(),
                                              key=lambda kv: (-kv[1], kv[0][0], kv[0][1] or "")))
        return Inventory(ops)

    def can_run_here(self) -> bool:
        return platform.system() == "Darwin"  # Core ML prediction exists on macOS only

    def load(self, artifact: Path, *, threads: int = 2, delegates: bool = True) -> CoremlRunner:
        """A coremltools model (macOS only; Core ML picks its compute units and threads)."""
        if not self.can_run_here():
            raise NotRunnableError(
                "Core ML prediction needs macOS; on this platform edgekit checked inputs, "
                "outputs, op list and size only (re-run the export on a Mac for numbers)")
        ct = require("coremltools", "coremltools", self.extra, "running Core ML models")
        ins, outs = self.io(artifact)
        if ins and ins[0].dtype == "uint8":  # an ImageType input takes pixels, not tensors
            raise NotRunnableError(
                "this Core ML model takes an image input (pixels, normalised inside); the "
                "numeric check feeds normalised tensors, so re-export with --tensor-input for it")
        return CoremlRunner(ct.models.MLModel(str(artifact)), ins, outs)
