"""Layer tables of real models: MACs against torch's flop counter and the papers, cache safety."""

from __future__ import annotations

import json

import pytest

from edgekit.models import get_spec, list_models
from edgekit.roofline import count_macs, layer_table, layer_tables
from edgekit.roofline.extract import build_deploy_model

torch = pytest.importorskip("torch")


pytestmark = pytest.mark.usefixtures("module_cache")


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEKIT_CACHE_DIR", str(tmp_path / "cache"))


def _flop_counter_macs(name: str, resolution: int) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    model = build_deploy_model(name)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(torch.zeros(1, 3, resolution, resolution))
    return fc.get_total_flops() // 2  # the counter reports 2 FLOPs per MAC


def _check_against_counter(name: str, *, total: bool) -> None:
    """Within 1% of torch's counter: conv/matmul MACs always, the total (with pooling) if asked.

    The flop counter ignores pooling; on the tiny test variants pooling is a few % of the total,
    on the full-size zoo well under 1%.
    """
    spec = get_spec(name)
    table = layer_table(name)
    pooling = table["note"].isin(["pooling", "reduction"])
    ours = int(table["macs"].sum() if total else table.loc[~pooling, "macs"].sum())
    ref = _flop_counter_macs(name, spec.resolution)
    assert abs(ours - ref) <= 0.01 * ref, f"{name}: edgekit {ours:,} vs flop counter {ref:,} MACs"


@pytest.mark.parametrize("name", ["test_mobilenetv4", "test_fastvit", "test_mobileone",
                                  "test_efficientformer", "mobilenetv4_conv_small"])
def test_macs_match_flop_counter(name):
    _check_against_counter(name, total=name.startswith("mobilenetv4"))


@pytest.mark.slow
@pytest.mark.parametrize("name", list_models())
def test_zoo_macs_match_flop_counter(name):
    _check_against_counter(name, total=True)


@pytest.mark.parametrize(("name", "published_g"), [("mobilenetv4_conv_small", 0.2),
                                                   ("mobilenetv4_conv_medium", 1.0)])
def test_macs_match_the_paper(name, published_g):
    """MNv4 Table 6 rounds to one significant digit: Conv-S 0.2 G at 224, Conv-M 1.0 G at 256."""
    macs = int(layer_table(name)["macs"].sum())
    assert abs(macs / 1e9 - published_g) <= 0.1 * published_g, f"{name}: {macs / 1e9:.3f} G"


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in list_models() if get_spec(n).macs_g])
def test_zoo_macs_near_published(name):
    macs = int(layer_table(name)["macs"].sum()) / 1e9
    pub = get_spec(name).macs_g
    assert abs(macs - pub) <= 0.15 * pub, f"{name}: {macs:.3f} G vs published {pub} G"


def test_table_columns_attrs_and_modules():
    t = layer_table("test_efficientformer")
    for c in ("name", "op_type", "module", "macs", "weight_elems", "bias_elems", "in_act_elems",
              "out_act_elems", "kind"):
        assert c in t.columns
    assert set(t["kind"]) <= {"compute", "elementwise", "movement", "other"}
    assert t.attrs["model"] == "test_efficientformer" and t.attrs["resolution"] == 224
    assert t.attrs["params"] > 0
    conv = t[t["op_type"] == "Conv"]
    assert (conv["module"] != "").all()
    assert "BatchNormalization" not in set(t["op_type"])  # folded into the convolutions
    att = t[(t["op_type"] == "MatMul") & t["note"].str.startswith("attention")]
    assert len(att) > 0 and (att["weight_elems"] == 0).all()


def test_deploy_graph_is_reparameterized():
    """MobileOne's train-time branches are fused: one conv per block, not three."""
    train = layer_table("test_mobileone", deploy=False)
    deploy = layer_table("test_mobileone")
    assert (deploy["op_type"] == "Conv").sum() < (train["op_type"] == "Conv").sum()


def test_count_macs_for_a_module():
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                            torch.nn.Linear(8, 5))
    assert count_macs(m, 16) == 8 * 16 * 16 * 27 + 8 * 16 * 16 + 8 * 5


def test_resolution_changes_macs():
    a = int(layer_table("test_mobilenetv4", 64)["macs"].sum())
    b = int(layer_table("test_mobilenetv4", 128)["macs"].sum())
    assert 3.5 < b / a < 4.5


def test_cache_hit_then_corrupt_file_is_rewritten(own_cache):
    from edgekit.roofline import cache

    first = layer_table("test_mobilenetv4")
    files = list(cache.cache_dir().glob("*.json"))
    assert len(files) == 1
    hit = layer_table("test_mobilenetv4")
    assert hit.equals(first) and hit.attrs == first.attrs
    files[0].write_text("{ not json", encoding="utf-8")
    again = layer_table("test_mobilenetv4")
    assert again.equals(first)
    assert json.loads(files[0].read_text())["key"]["model"] == "test_mobilenetv4"


def test_stale_cache_entry_is_ignored(own_cache):
    from edgekit.roofline import cache

    first = layer_table("test_mobilenetv4")
    path = next(cache.cache_dir().glob("*.json"))
    blob = json.loads(path.read_text())
    blob["data"] = blob["data"][:3]
    blob["key"]["edgekit"] = "0.0.0-stale"
    path.write_text(json.dumps(blob))
    assert len(layer_table("test_mobilenetv4")) == len(first)


@pytest.mark.slow  # two spawned interpreters importing torch: ~15 s on 2 cores
def test_layer_tables_in_worker_processes(own_cache):
    names = ["test_mobilenetv4", "test_fastvit"]
    tables = layer_tables(names, workers=2)
    assert [t.attrs["model"] for t in tables] == names
    direct = layer_table("test_mobilenetv4", cache=False)
    assert int(tables[0]["macs"].sum()) == int(direct["macs"].sum())


def test_onnx_file_input(tmp_path):
    from edgekit._onnx import torch_to_onnx

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    proto = torch_to_onnx(model, (1, 3, 10, 10))
    path = tmp_path / "tiny_net.onnx"
    path.write_bytes(proto.SerializeToString())
    t = layer_table(path)
    assert t.attrs["model"] == "tiny_net" and t.attrs["resolution"] == 10
    assert int(t["macs"].sum()) == 4 * 8 * 8 * 27
    assert t.attrs["params"] == 4 * 27 + 4


def test_run_time_shape_arithmetic_is_resolved():
    """Shapes computed from ``x.shape`` (Shape/Gather/Div/Concat/Reshape) still give MACs."""

    class Attn(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Conv2d(3, 4, 1)

        def forward(self, x):
            x = self.proj(x)
            b, c, h, w = x.shape
            q = x.reshape(b, c // 2, 2, h * w)  # (B, C/2, 2, N)
            return q.transpose(-1, -2) @ q  # (B, C/2, N, N), K = 2

    t = layer_table(Attn(), 8)
    mm = t[t["op_type"] == "MatMul"]
    assert len(mm) == 1 and int(mm["macs"].iloc[0]) == 2 * 64 * 64 * 2


# --- building without random init, and nothing of torch left changed ---------------------------
def test_skip_weight_init_zeroes_draws_only_inside_its_block_and_thread():
    import threading

    from edgekit.roofline.extract import skip_weight_init

    methods = (torch.Tensor.uniform_, torch.Tensor.normal_, torch.nn.init.kaiming_uniform_)
    seen = {}
    with skip_weight_init():
        lin, bn = torch.nn.Linear(16, 8), torch.nn.BatchNorm2d(4)
        drawn = torch.empty(32).normal_(3.0, 1.0)
        other = threading.Thread(target=lambda: seen.update(w=torch.nn.Linear(16, 8).weight))
        other.start()
        other.join()
    assert lin.weight.abs().sum() == 0 and lin.bias.abs().sum() == 0 and drawn.abs().sum() == 0
    assert torch.equal(bn.weight, torch.ones(4))  # deterministic fills run as written
    assert seen["w"].abs().sum() > 0  # another thread builds with random init meanwhile
    assert torch.nn.Linear(16, 8).weight.abs().sum() > 0  # and so does this one afterwards
    assert (torch.Tensor.uniform_, torch.Tensor.normal_, torch.nn.init.kaiming_uniform_) == methods


@pytest.mark.parametrize("name", ["test_mobilenetv4", "test_efficientformer", "test_replknet"])
def test_table_does_not_depend_on_weight_values(name, monkeypatch):
    """Zero weights count the same as random ones. The only difference: the exporter shares equal
    (zero) initializers through extra Identity nodes, which count nothing."""
    import contextlib

    import pandas as pd

    from edgekit.roofline import extract

    counts = ["macs", "weight_elems", "bias_elems", "in_act_elems", "out_act_elems"]

    def by_op(table):
        real = table[table["op_type"] != "Identity"]
        assert (table.loc[table["op_type"] == "Identity", counts] == 0).all().all()
        return real.groupby(["op_type", "kind"])[counts].sum()

    zero = extract.layer_table(name, cache=False)
    monkeypatch.setattr(extract, "skip_weight_init", contextlib.nullcontext)
    random = extract.layer_table(name, cache=False)
    pd.testing.assert_frame_equal(by_op(zero), by_op(random))
    assert zero.attrs == random.attrs


def test_pool_worker_restores_its_thread_count():
    from edgekit.roofline.extract import _worker

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        table = _worker("test_replknet", None, None, True, False)
        assert torch.get_num_threads() == 2 and len(table) > 0
    finally:
        torch.set_num_threads(before)
