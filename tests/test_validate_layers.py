"""Mapping onnxruntime profile nodes to roofline layer rows."""

from __future__ import annotations

import onnx
from onnx import helper

from edgekit.validate.layers import node_to_row


def _graph() -> onnx.GraphProto:
    nodes = [helper.make_node("Conv", ["x", "w"], ["/fc2/Conv_output_0"],
                              name="/fc2/Conv_output_0"),  # an onnxslim-fused, renamed node
             helper.make_node("Relu", ["/fc2/Conv_output_0"], ["y"], name="/act/Relu")]
    return helper.make_graph(nodes, "g", [], [])


def test_output_suffix_is_stripped_to_find_the_row() -> None:
    to_row = node_to_row(_graph(), ["/fc2/Conv", "/other/Conv"])
    assert to_row("/fc2/Conv_output_0") == 0
    assert to_row("/act/Relu") == 0  # fused into its producer, found through the suffix too
    assert to_row("/fc3/Conv_output_0") is None
