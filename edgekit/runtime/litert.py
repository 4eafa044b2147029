"""LiteRT (TFLite) runtimes: XNNPACK, built-in kernels, and the GPU, EdgeTPU and Hexagon delegates."""

from __future__ import annotations

from edgekit.runtime.spec import RuntimeSpec

# Ops the TFLite Hexagon delegate documents (tensorflow/lite/delegates/hexagon/README.md), as in
# devices/pixel4-dsp.toml's notes.
HEXAGON_OPS = (
    "ADD", "ARG_MAX", "ARG_MIN", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTH_TO_SPACE",
    "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "HARD_SWISH", "L2_NORMALIZATION", "LOGISTIC",
    "MAXIMUM", "MINIMUM", "MAX_POOL_2D", "MEAN", "MIRROR_PAD", "MUL", "NEG", "PACK", "PAD",
    "QUANTIZE", "DEQUANTIZE", "RELU", "RELU6", "RESHAPE", "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR", "RSQRT", "SLICE", "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT",
    "SQUARED_DIFFERENCE", "STRIDED_SLICE", "SUB", "TANH", "TRANSPOSE", "TRANSPOSE_CONV",
)

RUNTIMES = (
    RuntimeSpec(
        id="litert-xnnpack", description="LiteRT CPU with the XNNPACK delegate",
        format="tflite", delegate="XNNPACK"),
    RuntimeSpec(
        id="litert-builtin", description="LiteRT CPU, built-in reference/optimized kernels",
        format="tflite"),
    RuntimeSpec(
        id="litert-gpu", description="LiteRT GPU delegate (OpenCL), fp16", format="tflite",
        delegate="GPU"),
    RuntimeSpec(
        id="litert-edgetpu", description="LiteRT int8 with the EdgeTPU delegate", format="tflite",
        delegate="EdgeTPU"),
    RuntimeSpec(
        id="litert-hexagon", description="LiteRT int8 with the Hexagon (or NNAPI) delegate",
        format="tflite", delegate="Hexagon", delegate_ops=HEXAGON_OPS,
        op_list_source="tensorflow/lite/delegates/hexagon/README.md (supported ops), as recalled"),
)

__all__ = ["HEXAGON_OPS", "RUNTIMES"]
