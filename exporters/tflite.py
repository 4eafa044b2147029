"""TFLite export: fp32, fp16 (weights) and full-integer int8, NHWC input, verified with LiteRT.

Routes (see ``shared/TOOLCHAIN.md`` for why these and not others):

* **fp32**: litert-torch ``convert`` of the model wrapped by ``to_channel_last_io`` (NHWC input,
  what mobile camera pipelines and delegates expect). No TensorFlow needed.
* **int8**: the fp32 model, then ai-edge-quantizer's static ``static_wi8_ai8`` recipe calibrated
  on the calibration set: int8 weights (per-channel), int8 activations, and int8 input and output
  tensors. Their scale and zero point are in the manifest; feed ``round(x / scale) + zero_point``
  of the normalised NHWC image.
* **fp16**: the fp32 model with weights cast to float16 (ai-edge-quantizer's ``float_casting``
  algorithm, weight-only on CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED). This is TFLite's
  standard fp16 form: GPU delegates run it in fp16; the CPU dequantizes the weights once.

The op inventory reads the flatbuffer through :mod:`edgekit.runtime.tflite_graph` (the one wrapper
of LiteRT's private op-level view). Its TFLite builtin names map to ONNX op types with ``ONNX_OPS``;
names not in the table are kept as they are. ``FULLY_CONNECTED`` and ``BATCH_MATMUL`` map by what
they compute (:func:`semantic_onnx_op`): ``Gemm`` with a constant weight, ``MatMul`` for a
product of two activations; constant tensors are read from the flatbuffer.

:meth:`TfliteExporter.load` is the one LiteRT interpreter set-up (threads, XNNPACK on or off)
that verification and ``edgekit bench`` share.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from edgekit.errors import ConfigError, ExportError
from edgekit.export.protocol import ConvertOptions, Inventory, OpRecord, TensorSpec
from edgekit.exporters import require, versions
from edgekit.precision import Precision
from edgekit.runtime.tflite_graph import ONNX_OPS, interpreter, ops_details
from edgekit.runtime.tflite_graph import constant_tensors as _constant_tensors

if TYPE_CHECKING:
    import numpy as np
    from torch import nn

# How activation ranges are accumulated over calibration images (see TfliteExporter._calibrate).
CALIBRATION_UPDATE = "min_max"
WEIGHT_ALGORITHM = "min_max_uniform_quantize"  # ai-edge-quantizer AlgorithmName value
# Ops that only move data or convert types: not "left in float" in an int8 model.
_BOUNDARY = {"QUANTIZE", "DEQUANTIZE", "DELEGATE"}
# Ops whose ONNX meaning depends on their operands (see semantic_onnx_op).
_PRODUCTS = {"FULLY_CONNECTED", "BATCH_MATMUL"}


def semantic_onnx_op(name: str, inputs: list[int], const: set[int]) -> str | None:
    """The ONNX op type an op computes: a product of two activations is ``MatMul``.

    ``FULLY_CONNECTED`` and ``BATCH_MATMUL`` are judged by their operands, not their name: with a
    constant weight they are a linear layer (``Gemm``); with two activations (attention's QKᵀ
    and AV, which litert-torch may lower to ``FULLY_CONNECTED``) a batch matmul (``MatMul``).
    """
    if name in _PRODUCTS:
        operands = [i for i in inputs[:2] if i >= 0]
        return "Gemm" if any(i in const for i in operands) else "MatMul"
    return ONNX_OPS.get(name)


def _np_name(dtype: Any) -> str:
    import numpy as np

    return np.dtype(dtype).name


def _interpreter(artifact: Path, threads: int = 2, *, delegates: bool = True) -> Any:
    """A LiteRT interpreter; without ``delegates`` the graph keeps its own ops (no XNNPACK)."""
    return interpreter(artifact, delegates=delegates, threads=threads)


def _spec(d: dict[str, Any], layout: str | None) -> TensorSpec:
    scale, zp = d["quantization"]
    q = _np_name(d["dtype"]) in ("int8", "uint8", "int16")
    return TensorSpec(d["name"], tuple(int(s) for s in d["shape"]), _np_name(d["dtype"]),
                      layout, float(scale) if q else None, int(zp) if q else None)


METADATA_NAME = "edgekit_app_info"  # the flatbuffer metadata entry holding app_facts as JSON
LABELS_NAME = "edgekit_labels"  # the class labels, one per line (the labels.txt convention)


def embed_metadata(path: Path, options: ConvertOptions) -> str:
    """Add named ``metadata`` entries to the flatbuffer at ``path`` (rewritten in place).

    LiteRT's standard metadata writer (``tflite_support``'s ``TFLITE_METADATA`` buffer) is not
    installable with this stack, so the facts go into the schema's own ``metadata`` list (name +
    buffer, which the interpreter keeps and ``Interpreter`` tools can read) as UTF-8 JSON.
    """
    import json

    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    from edgekit.export.appinfo import app_facts, int8_input_example

    facts = app_facts(options)
    interp = _interpreter(path, threads=1, delegates=False)
    inp = interp.get_input_details()[0]
    if _np_name(inp["dtype"]) in ("int8", "uint8"):
        scale, zp = inp["quantization"]
        facts["int8_input"] = json.dumps(int8_input_example(float(scale), int(zp), options.mean,
                                                            options.std))
    entries = {METADATA_NAME: json.dumps(facts, sort_keys=True)}
    if options.app.labels is not None:
        entries[LABELS_NAME] = "\n".join(options.app.labels) + "\n"
    model = fbu.read_model_from_bytearray(bytearray(path.read_bytes()))
    model.metadata = [m for m in (model.metadata or []) if m.name not in entries]
    for name, text in entries.items():
        buf = schema.BufferT()
        buf.data = list(text.encode("utf-8"))
        model.buffers.append(buf)
        meta = schema.MetadataT()
        meta.name, meta.buffer = name, len(model.buffers) - 1
        model.metadata.append(meta)
    path.write_bytes(bytes(fbu.convert_object_to_bytearray(model)))
    return (f"flatbuffer metadata entries {', '.join(entries)} (JSON / text; tflite_support's "
            "TFLITE_METADATA writer is not available)")


def read_metadata(path: Path) -> dict[str, str]:
    """The named metadata entries of a ``.tflite`` file, decoded as UTF-8 where they are text."""
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    model = fbu.read_model_from_bytearray(bytearray(Path(path).read_bytes()))
    out = {}
    for m in model.metadata or []:
        name = m.name.decode() if isinstance(m.name, bytes) else m.name
        data = model.buffers[m.buffer].data
        raw = bytes(bytearray(data)) if data is not None else b""
        try:
            out[name] = raw.decode("utf-8")
        except UnicodeDecodeError:
            out[name] = f"<{len(raw)} bytes>"
    return out


class LiteRtRunner:
    """A TFLite artifact in a LiteRT interpreter (XNNPACK delegate on or off)."""

    def __init__(self, interp: Any) -> None:
        import numpy as np

        self._interp = interp
        self._in = interp.get_input_details()
        self._out = interp.get_output_details()
        self.inputs = tuple(_spec(d, "NHWC") for d in self._in)
        int8_weights = any(np.dtype(t["dtype"]) == np.int8 for t in interp.get_tensor_details())
        integer_input = bool(self._in) and np.dtype(self._in[0]["dtype"]).kind in "iu"
        self.precision = "int8" if integer_input or int8_weights else "fp32"

    def run(self, images: np.ndarray) -> np.ndarray:
        import numpy as np

        interp, inp, out = self._interp, self._in[0], self._out[0]
        in_scale, in_zp = inp["quantization"]
        out_scale, out_zp = out["quantization"]
        in_dtype = np.dtype(inp["dtype"])
        x = np.ascontiguousarray(np.asarray(images, dtype=np.float32).transpose(0, 2, 3, 1))
        results = []
        for i in range(len(x)):
            xi = x[i:i + 1]
            if in_dtype.kind in "iu":
                info = np.iinfo(in_dtype)
                xi = np.clip(np.round(xi / in_scale) + in_zp, info.min, info.max).astype(in_dtype)
            interp.set_tensor(inp["index"], xi)
            interp.invoke()
            y = interp.get_tensor(out["index"])
            if np.dtype(y.dtype).kind in "iu":
                y = (y.astype(np.float32) - out_zp) * out_scale
            results.append(np.asarray(y, dtype=np.float32).copy())
        return np.concatenate(results)

    def invoker(self, feed: Mapping[str, np.ndarray]) -> Callable[[], object]:
        for d in self._in:
            self._interp.set_tensor(d["index"], feed[d["name"]])
        return self._interp.invoke


class TfliteExporter:
    """TFLite via litert-torch (fp32), ai-edge-quantizer (int8 static, fp16 weights)."""

    name: ClassVar[str] = "tflite"
    suffix: ClassVar[str] = ".tflite"
    precisions: ClassVar[tuple[Precision, ...]] = (Precision.FP32, Precision.FP16, Precision.INT8)
    extra: ClassVar[str] = "tflite"
    toolchain: ClassVar[tuple[str, ...]] = ("litert_torch", "ai_edge_litert", "ai_edge_quantizer")
    input_layout: ClassVar[str] = "NHWC"
    runtime: ClassVar[str] = "litert"
    dynamic_batch: ClassVar[bool] = False

    def check_toolchain(self, precision: Precision) -> None:
        require("litert_torch", "litert-torch", self.extra, "TFLite export")
        require("ai_edge_litert.interpreter", "ai-edge-litert", self.extra,
                "running TFLite models (verification)")
        if precision is not Precision.FP32:
            require("ai_edge_quantizer", "ai-edge-quantizer", self.extra,
                    f"{precision.value} TFLite export")

    def needs_calibration(self, precision: Precision) -> bool:
        return precision is Precision.INT8

    def accepts(self, profile_precision: Precision, precision: Precision) -> bool:
        return precision is profile_precision

    def tool_versions(self) -> dict[str, str]:
        return versions("litert-torch", "ai-edge-quantizer", "ai-edge-litert")

    # --- conversion ------------------------------------------------------------------------------
    def convert(self, model: nn.Module, options: ConvertOptions, dest: Path,
                log: Callable[[str], None]) -> dict[str, Any]:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import torch

        litert_torch = require("litert_torch", "litert-torch", self.extra, "TFLite export")
        n, c, h, w = options.example_shape
        fp32_path = dest if options.precision is Precision.FP32 else dest.with_suffix(".fp32.tflite")
        nhwc = litert_torch.to_channel_last_io(model.eval(), args=[0]).eval()
        edge = litert_torch.convert(nhwc, (torch.zeros(n, h, w, c),))
        edge.export(str(fp32_path))
        notes: dict[str, Any] = {"route": "litert-torch convert (to_channel_last_io)",
                                 "fp32_size_bytes": fp32_path.stat().st_size}
        if options.precision is Precision.INT8:
            notes.update(self._quantize_int8(fp32_path, dest, options, log))
        elif options.precision is Precision.FP16:
            notes.update(self._cast_fp16(fp32_path, dest))
        if fp32_path != dest:
            fp32_path.unlink()
        notes["metadata"] = embed_metadata(dest, options)
        return notes

    def _quantize_int8(self, fp32_path: Path, dest: Path, options: ConvertOptions,
                       log: Callable[[str], None]) -> dict[str, Any]:
        import numpy as np

        from ai_edge_quantizer import quantizer, recipe

        if options.calib is None:
            raise ConfigError(f"int8 TFLite export of '{options.model_name}' got no calibration "
                              "set; pass calib=DIR (--calib DIR) or leave it None in export() "
                              "for the generated set")
        interp = _interpreter(fp32_path)
        sigs = interp.get_signature_list()
        sig_key = next(iter(sigs))
        in_name = sigs[sig_key]["inputs"][0]
        nhwc = np.ascontiguousarray(options.calib.images.transpose(0, 2, 3, 1))
        data = {sig_key: [{in_name: nhwc[i:i + 1]} for i in range(len(nhwc))]}
        log(f"calibrating int8 on {len(nhwc)} images ({options.calib.source})")
        q = quantizer.Quantizer(str(fp32_path), recipe.static_wi8_ai8(WEIGHT_ALGORITHM))
        result = q.quantize(self._calibrate(q, fp32_path, data), enable_progress_report=False)
        dest.write_bytes(result.quantized_model)
        interp = _interpreter(dest, delegates=False)
        io_types = {_np_name(d["dtype"]) for d in
                    [*interp.get_input_details(), *interp.get_output_details()]}
        if io_types != {"int8"}:
            raise ExportError(f"int8 TFLite for '{options.model_name}' has input/output dtypes "
                              f"{sorted(io_types)}, expected int8 only")
        return {"quantization": "ai-edge-quantizer static_wi8_ai8 (int8 per-channel weights, "
                                "int8 activations, int8 input and output)",
                "calibration_images": int(len(nhwc))}

    @staticmethod
    def _calibrate(q: Any, fp32_path: Path, data: dict[str, Any]) -> Any:
        """Activation ranges over the calibration set.

        ai-edge-quantizer's default folds per-image min/max into an exponential moving average
        (factor 0.95), which for one image per step tracks the last ~20 images and clips the
        rest; ``CALIBRATION_UPDATE = "min_max"`` keeps the extremes over the whole set instead.
        """
        from ai_edge_quantizer import calibrator
        from ai_edge_quantizer.utils import qsv_utils

        if CALIBRATION_UPDATE == "moving_average":
            return q.calibrate(data, num_threads=2)
        update = {"min_max": qsv_utils.min_max_update}[CALIBRATION_UPDATE]
        calib = calibrator.Calibrator(fp32_path.read_bytes(), num_threads=2,
                                      qsv_update_func=update)
        calib.calibrate(data, q._recipe_manager)  # noqa: SLF001 - the recipe the quantizer uses
        return calib.get_model_qsvs()

    def _cast_fp16(self, fp32_path: Path, dest: Path) -> dict[str, Any]:
        from ai_edge_quantizer import quantizer
        from ai_edge_quantizer.algorithm_manager import AlgorithmName
        from ai_edge_quantizer.qtyping import TFLOperationName

        q = quantizer.Quantizer(str(fp32_path))
        for op in (TFLOperationName.CONV_2D, TFLOperationName.DEPTHWISE_CONV_2D,
                   TFLOperationName.FULLY_CONNECTED):
            q.add_weight_only_config(regex=".*", operation_name=op, num_bits=16,
                                     algorithm_key=AlgorithmName.FLOAT_CASTING)
        dest.write_bytes(q.quantize(enable_progress_report=False).quantized_model)
        return {"quantization": "ai-edge-quantizer float_casting: fp16 weights for CONV_2D, "
                                "DEPTHWISE_CONV_2D, FULLY_CONNECTED; fp32 activations and I/O"}

    # --- inspection ------------------------------------------------------------------------------
    def io(self, artifact: Path) -> tuple[list[TensorSpec], list[TensorSpec]]:
        interp = _interpreter(artifact, threads=1, delegates=False)
        return ([_spec(d, "NHWC") for d in interp.get_input_details()],
                [_spec(d, None) for d in interp.get_output_details()])

    def inventory(self, artifact: Path) -> Inventory:
        interp = _interpreter(artifact, threads=1, delegates=False)
        tensors = {t["index"]: _np_name(t["dtype"]) for t in interp.get_tensor_details()}
        integer_io = tensors.get(interp.get_input_details()[0]["index"]) in ("int8", "uint8")
        const = _constant_tensors(artifact)
        counts: Counter[tuple[str, str | None]] = Counter()
        dtypes: dict[tuple[str, str | None], set[str]] = {}
        float_ops = []
        for op in ops_details(interp):
            name = op["op_name"]
            ins = op["inputs"]
            if ins and all(i < 0 or i in const for i in ins):  # e.g. DEQUANTIZE of fp16 weights
                const.update(int(i) for i in op["outputs"])
            key = (name, semantic_onnx_op(name, ins, const))
            counts[key] += 1
            outs = [tensors.get(i, "?") for i in op["outputs"] if i >= 0]
            dtypes.setdefault(key, set()).update(outs[:1])
            if integer_io and name not in _BOUNDARY and any(t.startswith("float") for t in outs):
                float_ops.append(f"{name}#{op['index']}")
        order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1] or ""))
        ops = tuple(OpRecord(n, onnx_op, c, tuple(sorted(dtypes[(n, onnx_op)])))
                    for (n, onnx_op), c in order)
        return Inventory(ops, tuple(float_ops))

    def placement(self, artifact: Path, profile: Any) -> dict[str, Any]:
        """Where the artifact's ops run on ``profile``: read from this host's LiteRT for the
        XNNPACK and built-in runtimes, else from the profile's op lists
        (:func:`edgekit.runtime.placement.tflite_placement`)."""
        from edgekit.runtime.placement import placement_summary, tflite_placement

        pl, ops = tflite_placement(artifact, profile)
        return placement_summary(pl, ops, profile)

    def can_run_here(self) -> bool:
        return True  # the LiteRT interpreter runs on every platform edgekit installs on

    def load(self, artifact: Path, *, threads: int = 2, delegates: bool = True) -> LiteRtRunner:
        """A LiteRT interpreter; ``delegates=False`` runs the built-in kernels without XNNPACK."""
        require("ai_edge_litert.interpreter", "ai-edge-litert", self.extra, "running TFLite models")
        try:
            return LiteRtRunner(_interpreter(artifact, threads, delegates=delegates))
        except (ValueError, RuntimeError) as exc:
            text = str(exc).strip()
            first = text.splitlines()[0][:200] if text else type(exc).__name__
            raise ConfigError(f"LiteRT cannot load '{artifact}': {first}") from exc
