"""torch -> ONNX in memory: the one export path shared by the roofline and the ONNX exporter."""

from __future__ import annotations

import io
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx
    from torch import nn

DEFAULT_OPSET = 20  # opset 20 emits a native Gelu, which the int8 TFLite route can run


def torch_to_onnx(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = False,
    export_params: bool = True,
    input_name: str = "input",
    output_name: str = "logits",
) -> onnx.ModelProto:
    """Export ``model`` (in eval mode) to an in-memory ONNX model with shapes inferred.

    Uses the TorchScript-based exporter (``dynamo=False``): 0.3-2 s per model here against 5-12 s
    for dynamo, and in eval mode it folds BatchNorm into the preceding convolution.
    ``export_params=False`` skips serialising the weights (they become graph inputs with their
    shapes kept), which is all a layer count needs and is much faster for large models.
    """
    import onnx
    import torch

    model = model.eval()
    dummy = torch.zeros(*input_shape)
    buf = io.BytesIO()
    dynamic_axes = {input_name: {0: "batch"}, output_name: {0: "batch"}} if dynamic_batch else None
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (dummy,), buf, opset_version=opset, input_names=[input_name],
            output_names=[output_name], dynamic_axes=dynamic_axes, do_constant_folding=True,
            export_params=export_params, dynamo=False,
        )
    proto = onnx.load_from_string(buf.getvalue())
    return onnx.shape_inference.infer_shapes(proto, data_prop=True)
