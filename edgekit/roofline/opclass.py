"""The op classes a layer-table row belongs to (its ``op_class`` column).

:mod:`edgekit.roofline.counting` classifies each ONNX node when it builds the row, from the node
itself (its op type, group count and which operands are weights), so nothing downstream parses
the row's ``note`` text. The classes are a closed set; the column holds their string values.
"""

from __future__ import annotations

import enum


class OpClass(enum.StrEnum):
    """What kind of work a layer does, at the granularity a runtime's kernels differ."""

    DENSE_CONV = "dense_conv"  # convolution with one group
    GROUPED_CONV = "grouped_conv"  # several groups, more than one input channel per filter
    DEPTHWISE = "depthwise"  # groups == input channels, one input channel per filter
    LINEAR = "linear"  # a GEMM against a weight operand (Gemm, MatMul with a constant, FC)
    MATMUL = "matmul"  # a product of two activations (attention Q Kᵀ, A V)
    NORM = "norm"  # BatchNorm, LayerNorm and friends, Softmax
    ACTIVATION = "activation"  # Relu, Clip, HardSwish, Sigmoid, Gelu, ...
    ELEMENTWISE = "elementwise"  # arithmetic and math: Add, Mul, Div, Sqrt, Erf, Cast, ...
    POOL = "pool"  # window and global pooling, Reduce*
    DATA_MOVEMENT = "data_movement"  # copies and views: Transpose, Concat, Slice, Reshape, ...
    CONSTANT = "constant"  # constants, folded constants, shape arithmetic: no run-time work
    OTHER = "other"  # an op type the counting rules do not know (memory traffic only)


__all__ = ["OpClass"]
