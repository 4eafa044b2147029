"""Counting rules of the layer table, each against a hand computation on a tiny ONNX graph."""

from __future__ import annotations

import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from edgekit.roofline.counting import (  # noqa: E402
    ACTIVATION_OPS,
    ELEMENTWISE_OPS,
    NORM_OPS,
    count_graph,
    module_of,
)
from edgekit.roofline.opclass import OpClass  # noqa: E402

F = TensorProto.FLOAT


def _model(nodes, inputs, outputs, inits=()):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, F, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, F, s) for n, s in outputs],
        initializer=[helper.make_tensor(n, F, s, [0.0] * _n(s)) for n, s in inits])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    return onnx.shape_inference.infer_shapes(m, strict_mode=True)


def _n(shape):
    out = 1
    for d in shape:
        out *= d
    return out


def _rows(model):
    return {r["name"]: r for r in count_graph(model)}


@pytest.mark.parametrize(("cin", "cout", "k", "group", "note", "op_class"), [
    (8, 16, 3, 1, "conv 3x3", "dense_conv"),          # dense
    (8, 16, 3, 4, "grouped conv 3x3", "grouped_conv"),  # grouped
    (8, 8, 5, 8, "depthwise 5x5", "depthwise"),       # depthwise
    (8, 16, 3, 8, "depthwise 3x3", "depthwise"),      # depthwise, channel multiplier 2
    (8, 8, 3, 4, "grouped conv 3x3", "grouped_conv"),  # 2 input channels per filter
])
def test_conv(cin, cout, k, group, note, op_class):
    h = 10  # same padding, stride 1 -> 10x10 output
    m = _model([helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", group=group,
                                 pads=[k // 2] * 4)],
               [("x", [1, cin, h, h])], [("y", [1, cout, h, h])],
               [("w", [cout, cin // group, k, k]), ("b", [cout])])
    r = _rows(m)["conv"]
    assert r["macs"] == cout * h * h * (cin // group) * k * k
    assert r["weight_elems"] == cout * (cin // group) * k * k
    assert r["bias_elems"] == cout
    assert r["in_act_elems"] == cin * h * h
    assert r["out_act_elems"] == cout * h * h
    assert r["kind"] == "compute" and r["note"].startswith(note)
    assert r["op_class"] == op_class and r["groups"] == group


def test_strided_conv_counts_output_positions():
    m = _model([helper.make_node("Conv", ["x", "w"], ["y"], name="c", strides=[2, 2],
                                 pads=[1, 1, 1, 1])],
               [("x", [1, 3, 32, 32])], [("y", [1, 4, 16, 16])], [("w", [4, 3, 3, 3])])
    assert _rows(m)["c"]["macs"] == 4 * 16 * 16 * 3 * 9


def test_gemm_linear():
    m = _model([helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="fc", transB=1)],
               [("x", [2, 64])], [("y", [2, 10])], [("w", [10, 64]), ("b", [10])])
    r = _rows(m)["fc"]
    assert r["macs"] == 2 * 10 * 64
    assert (r["weight_elems"], r["bias_elems"]) == (640, 10)
    assert (r["in_act_elems"], r["out_act_elems"]) == (128, 20)
    assert r["op_class"] == "linear"


def test_matmul_with_weight():
    m = _model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
               [("x", [1, 49, 32])], [("y", [1, 49, 64])], [("w", [32, 64])])
    r = _rows(m)["mm"]
    assert r["macs"] == 49 * 32 * 64
    assert r["weight_elems"] == 32 * 64 and r["in_act_elems"] == 49 * 32
    assert r["op_class"] == "linear"


def test_attention_qk_and_av():
    b, heads, n, d = 1, 4, 49, 16
    m = _model([
        helper.make_node("Transpose", ["k"], ["kt"], name="t", perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["s"], name="qk"),
        helper.make_node("Softmax", ["s"], ["p"], name="sm", axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["y"], name="av"),
    ], [("q", [b, heads, n, d]), ("k", [b, heads, n, d]), ("v", [b, heads, n, d])],
        [("y", [b, heads, n, d])])
    r = _rows(m)
    assert r["qk"]["macs"] == b * heads * n * n * d
    assert r["av"]["macs"] == b * heads * n * d * n
    assert r["qk"]["weight_elems"] == 0 and r["qk"]["in_act_elems"] == 2 * b * heads * n * d
    assert r["av"]["in_act_elems"] == b * heads * n * n + b * heads * n * d
    assert r["sm"]["macs"] == 0 and r["sm"]["kind"] == "elementwise"
    assert r["t"]["kind"] == "movement" and r["t"]["macs"] == 0
    assert r["t"]["in_act_elems"] == r["t"]["out_act_elems"] == b * heads * n * d
    assert (r["qk"]["op_class"], r["av"]["op_class"]) == ("matmul", "matmul")
    assert (r["sm"]["op_class"], r["t"]["op_class"]) == ("norm", "data_movement")


def test_mobile_mqa_shared_keys_and_values():
    """One key/value head broadcast over 4 query heads: MACs follow the output, bytes the inputs."""
    heads, n, m_kv, d = 4, 64, 16, 8  # keys/values spatially reduced (SR) to 16 tokens
    m = _model([
        helper.make_node("MatMul", ["q", "kt"], ["s"], name="qk"),
        helper.make_node("MatMul", ["s", "v"], ["y"], name="av"),
    ], [("q", [1, heads, n, d]), ("kt", [1, 1, d, m_kv]), ("v", [1, 1, m_kv, d])],
        [("y", [1, heads, n, d])])
    r = _rows(m)
    assert r["qk"]["macs"] == heads * n * m_kv * d
    assert r["qk"]["in_act_elems"] == heads * n * d + d * m_kv  # the shared K is read once
    assert r["av"]["macs"] == heads * n * d * m_kv
    assert r["av"]["in_act_elems"] == heads * n * m_kv + m_kv * d


def test_pooling():
    m = _model([
        helper.make_node("AveragePool", ["x"], ["a"], name="avg", kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("MaxPool", ["x"], ["b"], name="max", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["a"], ["g"], name="gap"),
    ], [("x", [1, 8, 16, 16])], [("b", [1, 8, 8, 8]), ("g", [1, 8, 1, 1])])
    r = _rows(m)
    assert r["avg"]["macs"] == 8 * 8 * 8 * 9
    assert r["max"]["macs"] == 8 * 8 * 8 * 4
    assert r["gap"]["macs"] == 8 * 8 * 8
    assert all(r[k]["weight_elems"] == 0 for k in ("avg", "max", "gap"))
    assert all(r[k]["op_class"] == "pool" for k in ("avg", "max", "gap"))


def test_elementwise_ops_and_bias_add():
    m = _model([
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Add", ["r", "bias"], ["a"], name="bias_add"),
        helper.make_node("Mul", ["a", "scale"], ["s"], name="scale"),
        helper.make_node("Add", ["s", "x"], ["y"], name="residual"),
    ], [("x", [1, 8, 4, 4])], [("y", [1, 8, 4, 4])], [("bias", [1, 8, 1, 1]), ("scale", [8, 1, 1])])
    r = _rows(m)
    n = 8 * 16
    assert all(r[k]["macs"] == 0 and r[k]["kind"] == "elementwise" for k in r)
    assert (r["relu"]["in_act_elems"], r["relu"]["out_act_elems"]) == (n, n)
    assert (r["bias_add"]["bias_elems"], r["bias_add"]["weight_elems"]) == (8, 0)
    assert r["scale"]["weight_elems"] == 8
    assert r["residual"]["in_act_elems"] == 2 * n and r["residual"]["out_act_elems"] == n
    # Fusable: one activation input whose producer feeds only this node.
    assert r["bias_add"]["fusable"] and r["scale"]["fusable"]
    assert not r["relu"]["fusable"]  # its input is a graph input (x also feeds the residual)
    assert not r["residual"]["fusable"]  # two activation inputs
    assert r["relu"]["op_class"] == "activation"
    assert all(r[k]["op_class"] == "elementwise" for k in ("bias_add", "scale", "residual"))


def test_data_movement_and_views():
    m = _model([
        helper.make_node("Pad", ["x", "pads"], ["p"], name="pad"),
        helper.make_node("Concat", ["p", "p2"], ["c"], name="cat", axis=1),
        helper.make_node("Reshape", ["c", "shape"], ["y"], name="view"),
    ], [("x", [1, 4, 6, 6]), ("p2", [1, 4, 8, 8])], [("y", [1, 512])])
    m.graph.initializer.extend([
        helper.make_tensor("pads", TensorProto.INT64, [8], [0, 0, 1, 1, 0, 0, 1, 1]),
        helper.make_tensor("shape", TensorProto.INT64, [2], [1, 512]),
    ])
    m = onnx.shape_inference.infer_shapes(m, data_prop=True)
    r = _rows(m)
    assert r["pad"]["macs"] == 0 and r["pad"]["weight_elems"] == 0  # int64 pads are metadata
    assert (r["pad"]["in_act_elems"], r["pad"]["out_act_elems"]) == (144, 256)
    assert (r["cat"]["in_act_elems"], r["cat"]["out_act_elems"]) == (512, 512)
    assert r["cat"]["kind"] == "movement"
    assert r["view"]["in_act_elems"] == r["view"]["out_act_elems"] == 0
    assert r["view"]["note"] == "view (no copy)"
    assert all(r[k]["op_class"] == "data_movement" for k in ("pad", "cat", "view"))


def test_parameter_inputs_and_folded_constants():
    """export_params=False makes weights graph inputs; a weight-only node is folded (free)."""
    m = _model([
        helper.make_node("Transpose", ["w"], ["wt"], name="wT", perm=[1, 0]),
        helper.make_node("MatMul", ["x", "wt"], ["y"], name="mm"),
    ], [("x", [3, 5]), ("w", [7, 5])], [("y", [3, 7])])
    r = {row["name"]: row for row in count_graph(m, data_inputs=["x"])}
    assert r["wT"]["note"] == "folded constant" and r["wT"]["in_act_elems"] == 0
    assert r["mm"]["weight_elems"] == 35 and r["mm"]["in_act_elems"] == 15
    assert r["mm"]["macs"] == 3 * 7 * 5
    assert (r["wT"]["op_class"], r["mm"]["op_class"]) == ("constant", "linear")


def test_unknown_op_counts_memory_only():
    m = helper.make_model(helper.make_graph(
        [helper.make_node("Foo", ["x"], ["y"], name="foo", domain="custom")], "g",
        [helper.make_tensor_value_info("x", F, [2, 3])], [helper.make_tensor_value_info("y", F, [2, 3])]),
        opset_imports=[helper.make_opsetid("", 20), helper.make_opsetid("custom", 1)])
    r = count_graph(m)[0]
    assert r["kind"] == "other" and r["macs"] == 0 and r["in_act_elems"] == 6
    assert "unknown op" in r["note"] and r["op_class"] == "other"


def test_norm_and_activation_classes_split_the_elementwise_ops():
    assert NORM_OPS <= ELEMENTWISE_OPS and ACTIVATION_OPS <= ELEMENTWISE_OPS
    assert not NORM_OPS & ACTIVATION_OPS
    m = _model([
        helper.make_node("LayerNormalization", ["x", "g", "b"], ["n"], name="ln", axis=-1),
        helper.make_node("Gelu", ["n"], ["a"], name="gelu"),
        helper.make_node("Div", ["a", "x"], ["y"], name="div"),
    ], [("x", [1, 8, 16])], [("y", [1, 8, 16])], [("g", [16]), ("b", [16])])
    r = _rows(m)
    assert [r[k]["op_class"] for k in ("ln", "gelu", "div")] == ["norm", "activation",
                                                               "elementwise"]


@pytest.mark.parametrize(("name", "module"), [
    ("/blocks/blocks.2/blocks.2.4/attn/MatMul", "blocks.2.4.attn"),
    ("/conv_stem/Conv", "conv_stem"),
    ("/Flatten", ""),
    ("conv", ""),
])
def test_module_of(name, module):
    assert module_of(name) == module


def test_op_class_of_torch_convs() -> None:
    """Dense, depthwise and grouped convs of a torch module, classified from the exported node."""
    from torch import nn

    from edgekit.fit import costs_from_layers
    from edgekit.roofline import estimate_latency, layer_table

    m = nn.Sequential(nn.Conv2d(3, 8, 1),                         # dense 1x1 (RGB input)
                      nn.Conv2d(8, 8, 3, padding=1, groups=8),   # depthwise
                      nn.Conv2d(8, 8, 3, padding=1, groups=2),   # grouped
                      nn.Conv2d(8, 16, 3, padding=1, groups=8),  # depthwise, multiplier 2
                      nn.Conv2d(16, 9, 1))                        # dense 1x1
    t = layer_table(m, 8, cache=False)
    convs = t[t["op_type"] == "Conv"]
    assert convs["groups"].tolist() == [1, 8, 2, 8, 1]
    assert convs["op_class"].tolist() == ["dense_conv", "depthwise", "grouped_conv", "depthwise",
                                          "dense_conv"]
    costs = costs_from_layers("m", estimate_latency(t, "x86-desktop-cpu").layers)
    groups = [c for c, o in zip(costs.fit_group, t["op_type"], strict=True) if o == "Conv"]
    assert groups == ["conv", "depthwise", "conv", "depthwise", "conv"]


def test_op_class_of_torch_attention_and_linear() -> None:
    """``q @ kᵀ`` and ``attn @ v`` multiply two activations (matmul); ``nn.Linear`` is linear."""
    import torch
    from torch import nn

    from edgekit.roofline import layer_table

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(8, 24)
            self.proj = nn.Linear(8, 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W)
            x = x.flatten(2).transpose(1, 2)[..., :1].expand(-1, -1, 8)  # (B, N, 8)
            q, k, v = self.qkv(x).chunk(3, dim=-1)
            a = (q @ k.transpose(-2, -1)).softmax(dim=-1)
            return self.proj(a @ v)

    t = layer_table(Attention(), 4, cache=False)
    prod = t[t["op_type"].isin(["MatMul", "Gemm"])]
    by_module = dict(zip(prod["name"], prod["op_class"], strict=True))
    assert sorted(by_module.values()) == ["linear", "linear", "matmul", "matmul"]
    assert all(v == "linear" for k, v in by_module.items() if "qkv" in k or "proj" in k)
    assert (t.loc[t["op_type"] == "Softmax", "op_class"] == "norm").all()


@pytest.mark.usefixtures("module_cache")
@pytest.mark.parametrize("model", ["test_mobilenetv4_hybrid", "test_efficientformer",
                                   "test_mobileone"])
def test_op_class_column_of_test_models(model: str) -> None:
    """Every row carries a known class, consistent with what the note says."""
    from edgekit.roofline import layer_table

    t = layer_table(model)
    assert set(t["op_class"]) <= {c.value for c in OpClass}
    conv = t[t["op_type"] == "Conv"]
    assert ((conv["op_class"] == "depthwise") == conv["note"].str.startswith("depthwise")).all()
    mm = t[t["op_type"] == "MatMul"]
    assert ((mm["op_class"] == "matmul") == mm["note"].str.startswith("attention")).all()
    free = t[t["op_class"] == "constant"]
    assert (free[["macs", "in_act_elems", "out_act_elems"]] == 0).all().all()
