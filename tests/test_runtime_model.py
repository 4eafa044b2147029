"""The runtime model: the .tflite op table, LiteRT's placement, the prediction formula, the fit."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from edgekit.fit.kernel_fit import fit_kernel_table
from edgekit.runtime.efficiency import KernelModel


def _tiny_tflite(module, path: Path, precision: str, resolution: int = 16) -> Path:
    """A tiny module converted by edgekit's own TFLite exporter (image input 3 x r x r)."""
    from edgekit.export.calibration import generated_set
    from edgekit.export.protocol import ConvertOptions
    from edgekit.export.registry import get_exporter
    from edgekit.precision import Precision

    opts = ConvertOptions(model_name=path.stem, precision=Precision(precision),
                          resolution=resolution, calib=generated_set(resolution, count=8))
    get_exporter("tflite").convert(module.eval(), opts, path, lambda _m: None)
    return path


class ConvHswishConv:
    """conv 3x3 (3->16) -> hard-swish -> depthwise 3x3 -> conv 1x1 (16->8)."""

    @staticmethod
    def build():
        import torch
        from torch import nn

        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.Hardswish(),
                             nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.Conv2d(16, 8, 1))


@pytest.fixture(scope="module")
def hswish_int8(tmp_path_factory) -> Path:
    pytest.importorskip("litert_torch")
    pytest.importorskip("ai_edge_quantizer")
    return _tiny_tflite(ConvHswishConv.build(), tmp_path_factory.mktemp("rt") / "hs.tflite", "int8")


@pytest.mark.toolchain("tflite")
def test_op_table_counts_the_graph_that_runs(hswish_int8: Path) -> None:
    from edgekit.runtime.tflite_graph import op_table

    t = op_table(hswish_int8)
    convs = t[t["op"] == "CONV_2D"].reset_index(drop=True)
    dw = t[t["op"] == "DEPTHWISE_CONV_2D"].reset_index(drop=True)
    assert len(convs) == 2 and len(dw) == 1
    # 16x16 output, 16 channels, 3x3x3 filter; then 16x16x8 outputs of a 1x1x16 filter
    assert convs.loc[0, "macs"] == 16 * 16 * 16 * 27
    assert convs.loc[1, "macs"] == 16 * 16 * 8 * 16
    assert dw.loc[0, "macs"] == 16 * 16 * 16 * 9 and dw.loc[0, "kernel"] == 3
    assert set(t["dtype"]) <= {"int8", "int32"}
    assert convs.loc[0, "op_class"] == "dense_conv" and dw.loc[0, "op_class"] == "depthwise"
    assert convs.loc[1, "weight_bytes"] >= 16 * 8  # int8 weights (+ int32 bias)
    assert (t["bytes"] == t["in_bytes"] + t["weight_bytes"] + t["out_bytes"]).all()


@pytest.mark.toolchain("tflite")
def test_xnnpack_placement_reads_the_fallback(hswish_int8: Path) -> None:
    """int8 HARD_SWISH is not taken by XNNPACK in ai-edge-litert 2.3.0: it runs on the built-in
    kernels and cuts the graph into two delegate partitions."""
    from edgekit.runtime.placement import litert_placement
    from edgekit.runtime.tflite_graph import op_table

    t = op_table(hswish_int8)
    pl = litert_placement(hswish_int8, "litert-xnnpack", t)
    units = dict(zip(t["op"], pl.units, strict=True))
    assert units["HARD_SWISH"] == "builtin"
    assert units["CONV_2D"] == "xnnpack" and units["DEPTHWISE_CONV_2D"] == "xnnpack"
    assert pl.partitions == 2
    s = pl.summary(t["op"], "xnnpack")
    assert s["fallback_ops"] == {"HARD_SWISH": 1}
    builtin = litert_placement(hswish_int8, "litert-builtin", t)
    assert set(builtin.units) <= {"builtin", ""} and builtin.partitions == 0


def test_xnnpack_folds_a_spatial_pad_into_the_conv_it_alone_feeds() -> None:
    """A zero H/W PAD read only by a (depthwise) conv of the same partition runs as no kernel;
    a PAD read by two ops, one that pads channels, one before an ADD or on the built-in
    kernels, one whose conv is in another partition, or a PADV2 (its own value) still runs."""
    from edgekit.runtime.placement import xnnpack_fused_pads

    def node(i: int, op: str, ins: list[int], outs: list[int]) -> dict[str, object]:
        return {"index": i, "op_name": op, "inputs": ins, "outputs": outs}

    details = [node(0, "PAD", [0, 90], [1]), node(1, "DEPTHWISE_CONV_2D", [1, 91], [2]),
               node(2, "PAD", [2, 90], [3]), node(3, "CONV_2D", [3, 92], [4]),
               node(4, "ADD", [3, 4], [5]),  # PAD 2's output read twice
               node(5, "PAD", [5, 93], [6]), node(6, "CONV_2D", [6, 92], [7]),  # pads channels
               node(7, "PAD", [7, 90], [8]), node(8, "ADD", [8, 8], [9]),
               node(9, "PAD", [9, 90], [10]), node(10, "CONV_2D", [10, 92], [11]),  # builtin
               node(11, "PAD", [11, 90], [12]), node(12, "CONV_2D", [12, 92], [13]),
               node(13, "PADV2", [13, 90, 94], [14]), node(14, "CONV_2D", [14, 92], [15]),
               node(15, "DELEGATE", [0], [15])]
    shapes = {0: (1, 8, 8, 16), 1: (1, 9, 9, 16), 2: (1, 4, 4, 16), 3: (1, 5, 5, 16),
              5: (1, 4, 4, 16), 6: (1, 4, 4, 32), 7: (1, 4, 4, 16), 8: (1, 6, 6, 16),
              9: (1, 4, 4, 16), 10: (1, 6, 6, 16), 11: (1, 4, 4, 16), 12: (1, 6, 6, 16),
              13: (1, 4, 4, 16), 14: (1, 6, 6, 16)}  # PADV2: its own value, not folded
    taken = {i: 15 for i in range(9)} | {11: 15, 12: 16, 13: 15, 14: 15}
    assert xnnpack_fused_pads(details, taken, shapes) == {0}


@pytest.mark.toolchain("tflite")
def test_fp32_stride2_depthwise_pad_is_folded_by_xnnpack(tmp_path: Path) -> None:
    """The converter writes a stride-2 depthwise conv's padding as an explicit PAD; XNNPACK
    runs it inside the conv, so it has no unit and costs nothing in the prediction."""
    pytest.importorskip("litert_torch")
    import torch
    from torch import nn

    from edgekit.runtime.placement import litert_placement
    from edgekit.runtime.tflite_graph import op_table

    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 16, 1), nn.Conv2d(16, 16, 3, 2, 1, groups=16))
    path = _tiny_tflite(m, tmp_path / "dw2.tflite", "fp32")
    t = op_table(path)
    assert "PAD" in set(t["op"]), set(t["op"])
    pl = litert_placement(path, "litert-xnnpack", t)
    units = dict(zip(t["op"], pl.units, strict=True))
    assert units["PAD"] == "" and units["DEPTHWISE_CONV_2D"] == "xnnpack"
    summary = pl.summary(t["op"], "xnnpack")
    assert summary["folded_ops"] == {"PAD": 1} and "PAD" not in summary["fallback_ops"]
    builtin = dict(zip(t["op"], litert_placement(path, "litert-builtin", t).units, strict=True))
    assert builtin["PAD"] == "builtin"  # the built-in kernels run the PAD as its own op
    assert "folded_ops" not in litert_placement(path, "litert-builtin", t).summary(t["op"], "")


def test_profile_placement_counts_partitions() -> None:
    from edgekit.device import load_device
    from edgekit.runtime.placement import profile_placement

    dev = load_device("pixel4-dsp")
    bad = dev.unsupported_ops[0]
    layers = pd.DataFrame({
        "op_type": ["Conv", bad, "Conv", "Conv", bad, "Conv"],
        "op_class": ["dense_conv", "other", "dense_conv", "dense_conv", "other", "dense_conv"],
        "fusable": [False] * 6})
    pl = profile_placement(layers, dev)
    assert pl.units.count("cpu") == 2 and pl.partitions == 3 and pl.source == "profile"


def _ops(**cols) -> pd.DataFrame:
    base = {"op": ["CONV_2D"], "op_class": ["dense_conv"], "unit": ["xnnpack"], "macs": [1e6],
            "bytes": [1e3], "kernel": [3], "stride": [1], "cin": [16], "cout": [16],
            "spatial": [256]}
    base.update(cols)
    return pd.DataFrame(base)


def test_prediction_formula_by_hand() -> None:
    fit = {"fixed": {"invoke_s": 1e-4, "per_op_s": {"xnnpack": 1e-5, "builtin": 3e-5},
                     "per_partition_s": 2e-5},
           "points": [{"op": "CONV_2D", "op_class": "dense_conv", "unit": "xnnpack",
                       "kernel": 3, "stride": 1, "cin": 16, "cout": 16, "spatial": 256,
                       "eta": 0.5}]}
    m = KernelModel(fit, peak_mac_s=1e9, mem_bytes_s=1e9)
    ops = pd.concat([_ops(), _ops(op=["HARD_SWISH"], op_class=["activation"], unit=["builtin"],
                                  macs=[0.0], bytes=[2e6], kernel=[0]),
                     _ops(op=["RESHAPE"], unit=[""])], ignore_index=True)
    t = m.op_times(ops)
    # conv: max(1e6/(0.5e9), 1e3/(0.5e9)) = 2 ms, + 10 us dispatch
    assert t.loc[0, "time_s"] == pytest.approx(2e-3 + 1e-5)
    # hard-swish: no point for it on builtin, nor for its class: the plain roofline, 2e6/1e9
    assert t.loc[1, "eta_source"] == "op-any-unit" or t.loc[1, "eta_source"] == "none"
    assert t.loc[1, "eta_source"] == "none" and t.loc[1, "time_s"] == pytest.approx(2e-3 + 3e-5)
    assert t.loc[2, "time_s"] == 0.0  # no unit: no run-time work
    assert m.total_s(t, partitions=2) == pytest.approx(1e-4 + 2e-3 + 1e-5 + 2e-3 + 3e-5 + 4e-5)


def test_efficiency_interpolates_by_shape() -> None:
    """Two points of a depthwise kernel: the nearer one in kernel size dominates."""
    pts = [{"op": "DEPTHWISE_CONV_2D", "op_class": "depthwise", "unit": "xnnpack", "kernel": k,
            "stride": 1, "cin": 64, "cout": 64, "spatial": 196, "eta": e}
           for k, e in ((3, 0.5), (31, 0.01))]
    m = KernelModel({"fixed": {}, "points": pts}, 1e9, 1e9)
    ops = pd.concat([_ops(op=["DEPTHWISE_CONV_2D"], op_class=["depthwise"], kernel=[k],
                          cin=[64], cout=[64], spatial=[196]) for k in (3, 29, 31)],
                    ignore_index=True)
    eta, src = m.eta(ops)
    assert eta[0] > 0.3 and eta[2] < 0.02 and eta[1] < 0.03
    assert list(src) == ["op", "op", "op"]


def test_fit_recovers_known_costs_and_efficiencies() -> None:
    """Synthetic timings from known invoke/per-op/partition costs and efficiencies, read from
    ``latency_s`` over ``median_s``."""
    invoke, c_x, c_b, c_p, P, B = 20e-6, 0.5e-6, 4e-6, 3e-6, 50e9, 10e9
    true_eta = {"CONV_2D": 0.6, "DEPTHWISE_CONV_2D": 0.2, "HARD_SWISH": 0.05}
    classes = {"CONV_2D": "dense_conv", "DEPTHWISE_CONV_2D": "depthwise", "HARD_SWISH": "activation"}
    graphs: dict[str, tuple[pd.DataFrame, int]] = {}
    rows = []

    def add(case: str, ops: pd.DataFrame, partitions: int) -> None:
        m = KernelModel({"fixed": {"invoke_s": invoke, "per_op_s": {"xnnpack": c_x, "builtin": c_b},
                                   "per_partition_s": c_p},
                         "points": [{"op": o, "op_class": classes[o], "unit": u, "kernel": 0, "stride": 1,
                                     "cin": 1, "cout": 1, "spatial": 1, "eta": e}
                                    for o, e in true_eta.items() for u in ("xnnpack", "builtin")]},
                        P, B)
        graphs[case] = (ops, partitions)
        t = m.total_s(m.op_times(ops), partitions)
        # latency_s (the fastest round) is what the fit takes; the rounds' median is a decoy
        rows.append({"case": case, "artifact": case, "fixed_cost": case.startswith(("chain", "alt")),
                     "latency_s": t, "median_s": 3 * t})

    tiny = dict(op="ADD", op_class="elementwise", macs=0.0, bytes=64.0, kernel=0)
    for n in (1, 4, 16):
        add(f"chain_x{n}", pd.concat([_ops(**{k: [v] for k, v in tiny.items()})] * n,
                                     ignore_index=True), 1)
        alt = [_ops(**{k: [v] for k, v in tiny.items()}, unit=[u])
               for _ in range(n) for u in ("xnnpack", "builtin")]
        add(f"alt_{n}", pd.concat(alt, ignore_index=True), n)
    for i, (macs, nbytes) in enumerate(((5e7, 1e5), (2e8, 3e5))):
        add(f"conv{i}", _ops(macs=[macs], bytes=[nbytes], cin=[16 * (i + 1)]), 1)
    add("dw", _ops(op=["DEPTHWISE_CONV_2D"], op_class=["depthwise"], macs=[1e6], bytes=[4e5]), 1)
    add("hs", _ops(op=["HARD_SWISH"], op_class=["activation"], unit=["builtin"], macs=[0.0],
                   bytes=[6e5], kernel=[0]), 0)
    fit = fit_kernel_table(pd.DataFrame(rows), runtime="litert-xnnpack", precision="int8",
                           peak_mac_s=P, mem_bytes_s=B, graph=lambda a: graphs[a])
    fx = fit["fixed"]
    assert fx["invoke_s"] == pytest.approx(invoke, rel=0.05)
    assert fx["per_op_s"]["xnnpack"] == pytest.approx(c_x, rel=0.05)
    assert fx["per_op_s"]["builtin"] == pytest.approx(c_b, rel=0.05)
    assert fx["per_partition_s"] == pytest.approx(c_p, rel=0.1)
    etas = {p["case"]: p["eta"] for p in fit["points"]}
    assert etas["conv0"] == pytest.approx(0.6, rel=0.02)
    assert etas["dw"] == pytest.approx(0.2, rel=0.02)
    assert etas["hs"] == pytest.approx(0.05, rel=0.02)
    assert not math.isnan(sum(etas.values()))
    assert np.isfinite([r["measured_ms"] for r in fit["summary"]]).all()


def test_thread_pools_of_litert_builtin_kernels() -> None:
    from edgekit.runtime.threadpools import op_pool, op_pools, pool_switches, ruy_threaded

    assert op_pool("CONV_2D", "builtin", "int8", 1e6, 16, 784, 2) == "ruy"
    assert op_pool("CONV_2D", "builtin", "float32", 1e6, 16, 784, 2) == "eigen"
    assert op_pool("CONV_2D", "builtin", "int8", 1e4, 16, 16, 2) == ""  # too small to split
    assert op_pool("DEPTHWISE_CONV_2D", "builtin", "int8", 1e5, 16, 784, 2) == "gemmlowp"
    assert op_pool("DEPTHWISE_CONV_2D", "builtin", "int8", 1e5, 16, 784, 1) == ""
    assert op_pool("ADD", "builtin", "int8", 0, 16, 784, 4) == ""
    assert op_pool("CONV_2D", "xnnpack", "int8", 1e6, 16, 784, 2) == "xnnpack"
    assert op_pool("RESHAPE", "", "int8", 0, 16, 784, 2) == ""
    # ruy's rule: ceil_log2 of rows, cols and depth summed over 15
    assert not ruy_threaded(8 * 256 * 16, 8, 256)  # 3 + 8 + 4 = 15
    assert ruy_threaded(9 * 256 * 16, 9, 256)  # 4 + 8 + 4 = 16
    assert ruy_threaded(10 * 64 * 40, 10, 64) and not ruy_threaded(0, 10, 64)
    # conv, add (calling thread), dw, conv, conv, dw: ruy|gemmlowp|ruy|gemmlowp = 3 switches
    assert pool_switches(["ruy", "", "gemmlowp", "ruy", "ruy", "gemmlowp"]) == 3
    assert pool_switches(["ruy", "ruy", ""]) == 0 and pool_switches([]) == 0
    ops = pd.concat([_ops(unit=["builtin"], dtype=["int8"]),
                     _ops(op=["DEPTHWISE_CONV_2D"], op_class=["depthwise"], unit=["builtin"],
                          dtype=["int8"])], ignore_index=True)
    assert op_pools(ops, ["builtin", "builtin"], 2) == ("ruy", "gemmlowp")
    assert op_pools(ops, ["builtin", "builtin"], 1) == ()


def test_pool_switch_latency_in_the_formula_and_from_pairs_of_chains() -> None:
    """An op starting a pool's turn shares the cores (f x, f the threads' oversubscription)
    for its first c_w of work and cannot end before c_w; c_w comes back from alternating vs
    blocked chains of the same ops, whatever the ops themselves cost, and a pair of ops that
    outlast the wait gives no c_w."""
    from edgekit.runtime.threadpools import oversubscription, switch_penalty_s

    assert [oversubscription(t) for t in (1, 2, 4)] == [1.0, 1.5, 1.75]
    # by hand: ops of 0.1, 0.5, 0.2 ms on ruy, gemmlowp, ruy: the 2nd and 3rd start a turn
    assert switch_penalty_s([1e-4, 5e-4, 2e-4], ["ruy", "gemmlowp", "ruy"], 4e-4) == \
        pytest.approx(0.0 + 2e-4)
    # shared with the other pool's spinning worker (x1.5) for the first 0.4 ms, until that
    # worker stops spinning: 1.5 x 0.4 + 0.1 - 0.5, and max(1.5 x 0.2, 0.4) - 0.2
    assert switch_penalty_s([1e-4, 5e-4, 2e-4], ["ruy", "gemmlowp", "ruy"], 4e-4, 1.5) == \
        pytest.approx(2e-4 + 2e-4)
    # a 4 ms op pays (1.5 - 1) x 0.4 ms, not half its time; with no wait measured it shares whole
    assert switch_penalty_s([1e-4, 4e-3], ["ruy", "gemmlowp"], 4e-4, 1.5) == pytest.approx(2e-4)
    assert switch_penalty_s([1e-4, 4e-3], ["ruy", "gemmlowp"], 0.0, 1.5) == pytest.approx(2e-3)
    assert switch_penalty_s([1e-4, 5e-4], ["ruy", "ruy"], 4e-4, 1.5) == 0.0
    assert switch_penalty_s([1e-4, 5e-4], [], 4e-4, 1.5) == 0.0
    P, B, c_w, invoke, per_op = 50e9, 10e9, 4e-4, 1e-5, 1e-6
    m = KernelModel({"threads": 2, "fixed": {"invoke_s": invoke, "per_op_s": {"builtin": per_op},
                                             "per_pool_switch_s": c_w}, "points": []}, P, B)
    ops = pd.concat([_ops(unit=["builtin"])] * 2, ignore_index=True)
    t = m.op_times(ops)  # 1e6 MACs at 50 GMAC/s + 1 us: 21 us each
    assert m.total_s(t, 0, ["ruy", "gemmlowp"]) == pytest.approx(
        m.total_s(t, 0) + (c_w - 2.1e-5))
    big = m.op_times(pd.concat([_ops(unit=["builtin"], macs=[5e7])] * 2, ignore_index=True))
    assert m.total_s(big, 0, ["ruy", "gemmlowp"]) == pytest.approx(  # 1.001 ms: x1.5 for c_w
        m.total_s(big, 0) + 0.5 * c_w)
    graphs: dict[str, tuple[pd.DataFrame, int]] = {}
    rows = []
    # the ops' own time differs per pair; pair "c"'s ops outlast the wait
    for group, macs in (("a", 1e6), ("b", 5e6), ("c", 5e7)):
        for order, seq in (("alt", ["ruy", "gemmlowp"] * 4),
                           ("blk", ["ruy"] * 4 + ["gemmlowp"] * 4)):
            ops = pd.concat([_ops(unit=["builtin"], pool=[p], macs=[macs]) for p in seq],
                            ignore_index=True)
            name = f"pool_{order}_{group}"
            graphs[name] = (ops, 0)
            rows.append({"case": name, "artifact": name, "fixed_cost": False, "pool_chain": True,
                         "group": group, "order": order, "op_class": "other",
                         "median_s": m.total_s(m.op_times(ops), 0, seq)})
    tiny = dict(op="ADD", op_class="elementwise", macs=0.0, bytes=64.0, kernel=0,
                unit="builtin")
    for n in (1, 4, 16):
        ops = pd.concat([_ops(**{k: [v] for k, v in tiny.items()})] * n, ignore_index=True)
        graphs[f"chain{n}"] = (ops, 0)
        rows.append({"case": f"chain{n}", "artifact": f"chain{n}", "fixed_cost": True,
                     "pool_chain": False, "median_s": m.total_s(m.op_times(ops), 0)})
    fit = fit_kernel_table(pd.DataFrame(rows), runtime="litert-builtin", precision="int8",
                           peak_mac_s=P, mem_bytes_s=B, threads=2, graph=lambda a: graphs[a])
    fx = fit["fixed"]
    assert fx["per_op_s"]["builtin"] == pytest.approx(per_op, rel=1e-3)
    assert fx["per_pool_switch_s"] == pytest.approx(c_w, rel=1e-3)
    assert set(fx["pool_switch_s_by_pair"]) == {"a", "b"}
    assert not any(p["case"].startswith("pool_") for p in fit["points"])  # no efficiency points
    assert any(r["op"] == "(pool switches: 7)" for r in fit["summary"])
    # a runtime with one pool: the pair has no switches either way, so no latency
    for g in graphs.values():
        g[0]["pool"] = "xnnpack"
    one = fit_kernel_table(pd.DataFrame(rows), runtime="litert-xnnpack", precision="int8",
                           peak_mac_s=P, mem_bytes_s=B, threads=2, graph=lambda a: graphs[a])
    assert one["fixed"]["per_pool_switch_s"] == 0.0 and one["fixed"]["pool_switch_s_by_pair"] == {}


def _fixed_cost_chains(graphs: dict[str, tuple[pd.DataFrame, int]], rows: list[dict],
                       truth: KernelModel, unit: str) -> None:
    """Add chains of 1, 4 and 16 tiny ADDs on ``unit`` (the fixed-cost cases), timed by
    ``truth``, to a synthetic table's ``graphs`` and ``rows``."""
    tiny = dict(op="ADD", op_class="elementwise", macs=0.0, bytes=64.0, kernel=0, unit=unit,
                weight_bytes=0.0)
    for n in (1, 4, 16):
        graphs[f"chain{n}"] = (pd.concat([_ops(**{k: [v] for k, v in tiny.items()})] * n,
                                         ignore_index=True), 0)
        rows.append({"case": f"chain{n}", "artifact": f"chain{n}", "fixed_cost": True,
                     "median_s": truth.total_s(truth.op_times(graphs[f"chain{n}"][0]), 0)})


def test_cold_weights_in_the_formula_and_from_shared_vs_distinct_chains() -> None:
    """An op's weight bytes times the table's cost per cold weight byte add to its time (ops
    without a unit pay none); the cost comes back from a pair of chains of the same convs, all
    on one set of weights or each on its own, whatever the convs themselves cost; a pair whose
    distinct chain runs no slower gives 0, and so does a table without pairs."""
    P, B, c_b = 50e9, 10e9, 2.5e-11  # 2.5e-11 s per byte: weights at 40 GB/s
    fixed = {"invoke_s": 1e-5, "per_op_s": {"cpu": 1e-6}, "weight_s_per_byte": c_b}
    m = KernelModel({"fixed": fixed, "points": []}, P, B)
    ops = pd.concat([_ops(unit=["cpu"], weight_bytes=[4e6]), _ops(unit=[""], weight_bytes=[4e6]),
                     _ops(unit=["cpu"], weight_bytes=[0.0])], ignore_index=True)
    t = m.op_times(ops)
    # 1e6 MACs at 50 GMAC/s = 20 us, + 4 MB x 25 ps = 100 us, + 1 us dispatch
    assert t.loc[0, "weight_s"] == pytest.approx(1e-4)
    assert t.loc[0, "time_s"] == pytest.approx(2e-5 + 1e-4 + 1e-6)
    assert t.loc[1, "time_s"] == 0.0 and t.loc[2, "weight_s"] == 0.0
    assert KernelModel({"fixed": {}, "points": []}, P, B).op_times(ops)["weight_s"].sum() == 0.0
    graphs: dict[str, tuple[pd.DataFrame, int]] = {}
    rows = []
    truth = KernelModel({"fixed": {**fixed, "weight_s_per_byte": 0.0}, "points": []}, P, B)
    for group, macs, w in (("a", 1e6, 5e5), ("b", 3e7, 2e6)):
        ops = pd.concat([_ops(unit=["cpu"], macs=[macs], weight_bytes=[w])] * 8,
                        ignore_index=True)
        warm = truth.total_s(truth.op_times(ops), 0)
        for weights, extra in (("shared", 0.0), ("distinct", 8 * w * c_b)):
            name = f"weights_{weights}_{group}"
            graphs[name] = (ops, 0)
            rows.append({"case": name, "artifact": name, "fixed_cost": False,
                         "weight_chain": True, "group": group, "weights": weights,
                         "op_class": "other", "median_s": warm + extra})
    _fixed_cost_chains(graphs, rows, truth, "cpu")
    fit = fit_kernel_table(pd.DataFrame(rows), runtime="onnxruntime-cpu", precision="fp32",
                           peak_mac_s=P, mem_bytes_s=B, graph=lambda a: graphs[a])
    fx = fit["fixed"]
    assert fx["weight_s_per_byte"] == pytest.approx(c_b, rel=1e-6)
    assert fx["weight_s_per_byte_by_pair"] == pytest.approx({"a": c_b, "b": c_b}, rel=1e-6)
    assert not any(p["case"].startswith("weights_") for p in fit["points"])
    assert any(r["op"] == "(weights: distinct)" for r in fit["summary"])
    warm_of = {r["group"]: r["median_s"] for r in rows if r.get("weights") == "shared"}
    faster = [{**r, "median_s": 0.95 * warm_of[r["group"]]} if r.get("weights") == "distinct"
              else r for r in rows]
    none = fit_kernel_table(pd.DataFrame(faster), runtime="litert-xnnpack", precision="fp32",
                            peak_mac_s=P, mem_bytes_s=B, graph=lambda a: graphs[a])
    assert none["fixed"]["weight_s_per_byte"] == 0.0
    plain = fit_kernel_table(pd.DataFrame([r for r in rows if not r.get("weight_chain")]),
                             runtime="onnxruntime-cpu", precision="fp32", peak_mac_s=P,
                             mem_bytes_s=B, graph=lambda a: graphs[a])
    assert plain["fixed"]["weight_s_per_byte"] == 0.0


def test_cold_weights_on_a_unit_that_packs_weights_per_op() -> None:
    """XNNPACK packs its own copy of the weights for every op, so its shared chain is as cold as
    the distinct one and their difference says nothing: the warm reference is the distinct chain
    predicted from the single-op points. A single-op case of the chain's conv gives the point;
    both chains run at its time plus the cold weights; the cost per byte comes back. The same
    timings on a unit that shares one buffer read 0 (the pair's difference)."""
    P, B, c_b, eta = 50e9, 10e9, 2e-11, 0.4
    fixed = {"invoke_s": 1e-5, "per_op_s": {"xnnpack": 1e-6}}
    truth = KernelModel({"fixed": fixed, "points": [
        {"op": "CONV_2D", "op_class": "dense_conv", "unit": "xnnpack", "kernel": 1, "stride": 1,
         "cin": 768, "cout": 768, "spatial": 49, "eta": eta}]}, P, B)
    conv = dict(op=["CONV_2D"], op_class=["dense_conv"], unit=["xnnpack"], macs=[768 * 768 * 49.0],
                bytes=[768 * 768 * 4 + 2 * 768 * 49 * 4.0], kernel=[1], cin=[768], cout=[768],
                spatial=[49], weight_bytes=[768 * 768 * 4.0])
    graphs = {"conv1x1_c768_h7": (_ops(**conv), 0)}
    rows = [{"case": "conv1x1_c768_h7", "artifact": "conv1x1_c768_h7", "fixed_cost": False,
             "op_class": "dense_conv",
             "median_s": truth.total_s(truth.op_times(graphs["conv1x1_c768_h7"][0]), 0)}]
    chain = pd.concat([_ops(**conv)] * 16, ignore_index=True)
    cold = truth.total_s(truth.op_times(chain), 0) + 16 * 768 * 768 * 4 * c_b
    for weights in ("shared", "distinct"):
        graphs[f"weights_{weights}"] = (chain, 0)
        rows.append({"case": f"weights_{weights}", "artifact": f"weights_{weights}",
                     "fixed_cost": False, "weight_chain": True, "group": "g", "weights": weights,
                     "op_class": "other", "median_s": cold})
    _fixed_cost_chains(graphs, rows, truth, "xnnpack")
    fit = fit_kernel_table(pd.DataFrame(rows), runtime="litert-xnnpack", precision="fp32",
                           peak_mac_s=P, mem_bytes_s=B, graph=lambda a: graphs[a])
    fx = fit["fixed"]
    assert [p["eta"] for p in fit["points"]] == [pytest.approx(eta, rel=1e-3)]
    assert fx["weight_s_per_byte"] == pytest.approx(c_b, rel=1e-2)
    assert fx["weight_reference_by_pair"] == {"g": "predicted"}
    for g in graphs.values():  # the same timings where one buffer serves every op
        g[0]["unit"] = "builtin"
    shared = fit_kernel_table(pd.DataFrame(rows), runtime="litert-builtin", precision="fp32",
                              peak_mac_s=P, mem_bytes_s=B, graph=lambda a: graphs[a])
    assert shared["fixed"]["weight_s_per_byte"] == 0.0
    assert shared["fixed"]["weight_reference_by_pair"] == {"g": "shared"}


@pytest.mark.toolchain("tflite")
def test_builtin_placement_counts_pool_switches_at_two_threads(hswish_int8: Path) -> None:
    """conv 3x3 -> hard-swish -> depthwise -> conv 1x1 on the built-in kernels at 2 threads:
    ruy, gemmlowp, then the 1x1 conv's 16x16x8x16 = 2**15 MACs, which ruy keeps on one thread
    (1 switch); no pools at 1 thread."""
    from edgekit.runtime.predict import placed_ops

    _, two = placed_ops(hswish_int8, "litert-builtin", threads=2)
    _, one = placed_ops(hswish_int8, "litert-builtin", threads=1)
    assert [p for p in two.pools if p] == ["ruy", "gemmlowp"]
    assert two.pool_switches == 1 and one.pool_switches == 0 and one.pools == ()
    assert "pool_switches" not in one.summary(pd.Series(["x"] * len(one.units)), "builtin")


@pytest.mark.toolchain("tflite")
def test_predict_artifact_adds_up(hswish_int8: Path) -> None:
    """The prediction of a real .tflite is invoke + per-op (dispatch + kernel) + partitions."""
    from edgekit.runtime.predict import predict_artifact

    fit = {"fixed": {"invoke_s": 5e-6, "per_op_s": {"xnnpack": 1e-6, "builtin": 2e-6},
                     "per_partition_s": 3e-6},
           "points": [{"op": "CONV_2D", "op_class": "dense_conv", "unit": "xnnpack", "kernel": 3,
                       "stride": 1, "cin": 16, "cout": 16, "spatial": 256, "eta": 0.25}]}
    m = KernelModel(fit, peak_mac_s=1e9, mem_bytes_s=1e9)
    p = predict_artifact(hswish_int8, m, runtime="litert-xnnpack")
    live = p.ops[p.ops["unit"] != ""]
    assert p.latency_s == pytest.approx(5e-6 + live["time_s"].sum() + 2 * 3e-6)
    conv = p.ops[p.ops["op"] == "CONV_2D"]
    assert (conv["eta_source"] == "op").all() and np.allclose(conv["eta"], 0.25)
    # no point for DEPTHWISE_CONV_2D: its class has none either, so the plain roofline, and so
    # for HARD_SWISH (on builtin); both are reported as missing, CONV_2D is not
    assert {"DEPTHWISE_CONV_2D", "HARD_SWISH"} <= set(p.missing) and "CONV_2D" not in p.missing
    assert p.plain_roofline_s < p.latency_s
    assert p.placement_summary()["fallback_ops"] == {"HARD_SWISH": 1}


def test_error_attribution_finds_the_mispredicted_class() -> None:
    """Models spending more predicted time in 'matmul' miss by more: matmul is to blame."""
    from edgekit.validate.attribution import attribute_errors

    rng = np.random.default_rng(0)
    labels, by_class, pred, meas = [], {}, [], []
    for i in range(12):
        share = rng.uniform(0.0, 0.8)
        conv_s, mm_s = 1.0 - share, share
        lbl = f"m{i}"
        labels.append(lbl)
        by_class[lbl] = pd.DataFrame({"op_class": ["dense_conv", "matmul"],
                                      "time_s": [conv_s, mm_s]})
        pred.append(conv_s + mm_s)
        meas.append(conv_s + 3.0 * mm_s)  # matmul really takes 3x its prediction
    att = attribute_errors(labels, by_class, np.array(pred), np.array(meas))
    heavy = att[[by_class[lbl]["time_s"].iloc[1] > 0.2 for lbl in labels]]
    assert (heavy["error_class"] == "matmul").all()
    assert (heavy["error_class_delta_pct"] > 50).all()


def test_profile_kernel_table_prior_scales_ops(tmp_path: Path) -> None:
    """A profile naming a packaged runtime table scales each layer by that table's efficiency
    relative to its dense convolutions; the fit sees the same scaled work."""
    from edgekit.device import load_device, load_profile_file
    from edgekit.fit.costs import costs_from_layers
    from edgekit.roofline import estimate_latency, layer_table

    from importlib.resources import files

    base = load_device("pixel6-cpu")
    text = (files("edgekit.devices") / "pixel6-cpu.toml").read_text(encoding="utf-8")
    text = text[:text.index("\n[runtime_costs]\n")]  # the shipped prior, covered list and all
    base = base.model_copy(update={"runtime_costs": None})
    text = text.replace('name = "pixel6-cpu"', 'name = "pixel6-cpu-prior"') + (
        '\n[runtime_costs]\nper_op_us = 0\nkernel_table = "host-litert-xnnpack-int8-1t"\n'
        'source = "test"\nconfidence = "low"\n')
    path = tmp_path / "pixel6-cpu-prior.toml"
    path.write_text(text, encoding="utf-8")
    prior = load_profile_file(path)
    t = layer_table("test_mobilenetv4")
    plain, scaled = estimate_latency(t, base), estimate_latency(t, prior)
    eff = scaled.layers["efficiency"].to_numpy()
    assert (eff > 0).all() and not np.allclose(eff, 1.0)
    np.testing.assert_allclose(scaled.layers["time_s"], plain.layers["time_s"] / eff, rtol=1e-9)
    costs = costs_from_layers("m", scaled.layers)
    live = plain.layers["bytes"].to_numpy() > 0
    np.testing.assert_allclose(costs.bytes[live], plain.layers["bytes"].to_numpy()[live] / eff[live])


def _bad_runtime_costs(tmp_path: Path, body: str) -> Path:
    """pixel4-dsp's profile, renamed ``bad``, with ``[runtime_costs]`` holding ``body``."""
    from importlib.resources import files

    text = (files("edgekit.devices") / "pixel4-dsp.toml").read_text(encoding="utf-8")
    text += f'\n[runtime_costs]\nper_op_us = 0\n{body}source = "test"\nconfidence = "low"\n'
    path = tmp_path / "bad.toml"
    path.write_text(text.replace('name = "pixel4-dsp"', 'name = "bad"'), encoding="utf-8")
    return path


def test_profile_kernel_table_must_be_packaged(tmp_path: Path) -> None:
    from edgekit.device import load_profile_file
    from edgekit.errors import EdgekitError

    path = _bad_runtime_costs(tmp_path, 'kernel_table = "host-litert-xnnpak-int8-1t"\n')
    with pytest.raises(EdgekitError, match="did you mean 'host-litert-xnnpack-int8-1t'"):
        load_profile_file(path)


def test_validate_refuses_a_foreign_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    """A table measured on another host is one error line naming --allow-foreign-table."""
    from edgekit.cli import main
    from edgekit.runtime.table import RuntimeTable, write_table

    table = RuntimeTable(runtime="litert-xnnpack", precision="int8", threads=1,
                         host="another host", host_fingerprint="0000deadbeef",
                         versions={"ai-edge-litert": "0.0.1"}, date="2026-01-01T00:00:00",
                         peak_mac_s=1e11, mem_bytes_s=1e10,
                         timings=pd.DataFrame({"case": ["x"], "median_s": [1e-3]}),
                         fit={"fixed": {}, "points": []})
    path = write_table(table, tmp_path / "foreign.json")
    code = main(["validate", "--runtime", "litert-xnnpack", "--table", str(path),
                 "--models", "test_*", "--out", str(tmp_path / "v")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    assert "measured elsewhere" in err and "--allow-foreign-table" in err
    assert "0000deadbeef" in err


def test_roofline_placement_from_profile_op_lists(capsys: pytest.CaptureFixture[str]) -> None:
    """--placement on a target that cannot run here follows the profile's op lists."""
    from edgekit.cli import main

    assert main(["roofline", "test_mobilenetv4_hybrid", "--device", "pixel4-dsp",
                 "--placement"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("test_mobilenetv4_hybrid ")
                and "litert-hexagon" in ln)
    assert "profile" in line and "MatMul x" in line  # the DSP cannot run attention's MatMul


@pytest.mark.toolchain("tflite")
def test_tflite_manifest_records_placement(tmp_path: Path) -> None:
    """An int8 export for a LiteRT/XNNPACK target reads its placement from LiteRT."""
    import json

    from edgekit.export.pipeline import export

    res = export("test_mobilenetv4", "pixel6-cpu", out=tmp_path, verify=False, log=None)
    on_disk = json.loads(Path(res.manifest_path).read_text(encoding="utf-8"))
    assert on_disk["placement"] == res.manifest["placement"]
    pl = on_disk["placement"]
    assert pl["source"] == "runtime" and pl["device"] == "pixel6-cpu"
    assert pl["ops_per_unit"].get("xnnpack", 0) > 0 and pl["partitions"] >= 1


def test_fit_takes_the_profilers_op_time_over_the_subtraction() -> None:
    """onnxruntime runs a case's layout Transpose inside its NCHWc reorder: the op table's
    Transpose would be subtracted at its own (high) predicted cost and leave the conv too
    little. With the profiler's per-node times (``node_s``) the conv's point is its own time."""
    import json

    P, B = 50e9, 10e9
    ops = _ops(op=["Conv", "Transpose"], op_class=["dense_conv", "data_movement"],
               unit=["cpu", "cpu"], macs=[5e7, 0.0], bytes=[1e5, 4e6], kernel=[1, 0],
               stride=[1, 1], cin=[64, 64], cout=[64, 64], spatial=[3136, 3136],
               name=["conv", "tr"])
    conv_s = 2e-3  # the profiler's conv time: eta = (5e7 / 50e9) / 2e-3 = 0.5
    rows = [{"case": "c", "artifact": "c", "fixed_cost": False, "op_class": "dense_conv",
             "median_s": conv_s + 1e-4}]  # the reorder took 0.1 ms, not a Transpose's 0.8
    graphs = {"c": (ops, 0)}
    plain = fit_kernel_table(pd.DataFrame(rows), runtime="onnxruntime-cpu", precision="fp32",
                             peak_mac_s=P, mem_bytes_s=B, graph=lambda a: graphs[a])
    rows[0]["node_s"] = json.dumps({"conv": conv_s, "tr": 1e-4})
    prof = fit_kernel_table(pd.DataFrame(rows), runtime="onnxruntime-cpu", precision="fp32",
                            peak_mac_s=P, mem_bytes_s=B, graph=lambda a: graphs[a])
    assert prof["points"][0]["eta"] == pytest.approx(0.5, rel=1e-6)
    assert plain["points"][0]["eta"] > 0.7  # the subtraction's inflated efficiency


def test_profiled_op_times_take_their_level_from_the_timing() -> None:
    """A profile taken in a slower spell than the timing's fastest round (every kernel 2x) is
    scaled by the sum of its kernel times: the op keeps its share of the case, the level comes
    from the timed latency less the fitted invoke and dispatch costs; the profiler's own time
    between kernels (a profiled run longer than its kernels) changes nothing."""
    import json

    P, B, invoke, c_op = 50e9, 10e9, 1e-5, 1e-6
    tiny = {"op": ["Add"], "op_class": ["elementwise"], "unit": ["cpu"], "macs": [0.0],
            "bytes": [64.0], "kernel": [0], "name": ["add"]}
    conv = _ops(op=["Conv", "Transpose"], op_class=["dense_conv", "data_movement"],
                unit=["cpu", "cpu"], macs=[5e7, 0.0], bytes=[1e5, 4e6], kernel=[1, 0],
                stride=[1, 1], cin=[64, 64], cout=[64, 64], spatial=[3136, 3136],
                name=["conv", "tr"])
    graphs = {"t1": (_ops(**tiny), 0), "t2": (pd.concat([_ops(**tiny)] * 2), 0), "c": (conv, 0)}
    rows = [{"case": "t1", "artifact": "t1", "fixed_cost": True, "latency_s": invoke + c_op},
            {"case": "t2", "artifact": "t2", "fixed_cost": True, "latency_s": invoke + 2 * c_op},
            # timed: conv 2 ms + reorder 0.1 ms; profiled in a spell twice as slow
            {"case": "c", "artifact": "c", "fixed_cost": False, "op_class": "dense_conv",
             "latency_s": invoke + 2 * c_op + 2.1e-3,
             "node_s": json.dumps({"conv": 4e-3, "tr": 2e-4, "<run>": 4.2e-3})}]
    for r in rows[:2]:
        r["node_s"] = ""

    def fit(timings: list[dict[str, object]]) -> dict[str, object]:
        return fit_kernel_table(pd.DataFrame(timings), runtime="onnxruntime-cpu",
                                precision="fp32", peak_mac_s=P, mem_bytes_s=B,
                                graph=lambda a: graphs[a])

    scaled = fit(rows)
    assert scaled["fixed"]["invoke_s"] == pytest.approx(invoke, rel=1e-6)
    assert scaled["points"][0]["eta"] == pytest.approx(0.5, rel=1e-4)  # (5e7 / 50e9) / 2e-3
    # the profiler's work between kernels: a longer profiled run, the same kernels
    rows[2]["node_s"] = json.dumps({"conv": 4e-3, "tr": 2e-4, "<run>": 5.0e-3})
    assert fit(rows)["points"][0]["eta"] == pytest.approx(0.5, rel=1e-4)
    # an older table's profile, without its run time, is taken as it is: the conv at 4 ms
    rows[2]["node_s"] = json.dumps({"conv": 4e-3, "tr": 2e-4})
    assert fit(rows)["points"][0]["eta"] == pytest.approx(0.25, rel=1e-6)


def test_a_resize_case_measures_the_resize_not_its_layout_transpose() -> None:
    """A case's layout Transpose is of the data-movement class too, and after a x2 resize it
    moves more bytes than the resize: the fit still takes the resize's point (and a transpose
    case, with nothing else of its class, its transpose)."""
    import json

    P, B = 50e9, 10e9
    ops = _ops(op=["Resize", "Transpose"], op_class=["data_movement", "data_movement"],
               unit=["cpu", "cpu"], macs=[0.0, 0.0], bytes=[1e6, 4e6], kernel=[0, 0],
               stride=[1, 1], cin=[64, 64], cout=[64, 64], spatial=[3136, 3136],
               name=["resize", "tr"])
    tr = _ops(op=["Transpose"], op_class=["data_movement"], unit=["cpu"], macs=[0.0],
              bytes=[4e6], kernel=[0], stride=[1], cin=[64], cout=[64], spatial=[3136],
              name=["tr"])
    graphs = {"r": (ops, 0), "t": (tr, 0)}
    rows = [{"case": "r", "artifact": "r", "fixed_cost": False, "op_class": "data_movement",
             "latency_s": 1.1e-3, "node_s": json.dumps({"resize": 1e-3, "tr": 1e-4})},
            {"case": "t", "artifact": "t", "fixed_cost": False, "op_class": "data_movement",
             "latency_s": 8e-4, "node_s": json.dumps({"tr": 8e-4})}]
    fit = fit_kernel_table(pd.DataFrame(rows), runtime="onnxruntime-cpu", precision="fp32",
                           peak_mac_s=P, mem_bytes_s=B, graph=lambda a: graphs[a])
    by_case = {p["case"]: p for p in fit["points"]}
    assert by_case["r"]["op"] == "Resize"
    assert by_case["r"]["eta"] == pytest.approx((1e6 / B) / 1e-3, rel=0.02)
    assert by_case["t"]["op"] == "Transpose"


def test_onnxruntime_fuses_activations_into_convs_only(tmp_path: Path) -> None:
    """ORT folds a ReLU6 (Clip) into the conv that produces it, as a pass over the conv's output:
    it keeps its unit, flagged ``fused`` (no dispatch), while a fused Relu costs nothing. The
    same Clip after a Transpose runs as its own kernel (and a kernel case of it measures the
    Clip, not the transpose)."""
    import torch

    from edgekit.runtime.onnx_graph import op_table

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(4, 8, 3, padding=1)
            self.conv2 = torch.nn.Conv2d(8, 8, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = torch.nn.functional.relu6(self.conv2(torch.relu(self.conv(x))))
            return torch.nn.functional.relu6(y.permute(0, 2, 3, 1))

    path = tmp_path / "net.onnx"
    torch.onnx.export(Net().eval(), (torch.randn(1, 4, 8, 8),), str(path), dynamo=False,
                      opset_version=17)
    ops = op_table(path)
    live = ops[ops["unit"] != ""]
    kinds = list(live["op"])
    assert kinds.count("Conv") == 2 and "Transpose" in kinds
    assert "Relu" not in kinds  # folded at no cost
    clips = ops[ops["op"] == "Clip"].sort_values("index")
    assert clips["unit"].tolist() == ["cpu", "cpu"]
    assert clips["fused"].tolist() == [True, False]
    model = KernelModel({"fixed": {"invoke_s": 0.0, "per_op_s": {"cpu": 1e-6},
                                   "per_partition_s": 0.0}, "points": []}, 50e9, 10e9)
    timed = model.op_times(ops).set_index("name")
    fused, alone = clips["name"]
    assert timed.loc[fused, "dispatch_s"] == 0.0 and timed.loc[alone, "dispatch_s"] == 1e-6
    assert timed.loc[fused, "kernel_s"] == pytest.approx(timed.loc[alone, "kernel_s"])
    assert timed.loc[fused, "kernel_s"] > 0


def _prior_point(case: str, op: str, cls: str, unit: str, kernel: int, macs: float,
                 nbytes: float, op_s: float) -> dict:
    return {"case": case, "op": op, "op_class": cls, "unit": unit, "dtype": "int8",
            "kernel": kernel, "stride": 1, "cin": 8, "cout": 8, "spatial": 64, "macs": macs,
            "bytes": nbytes, "op_s": op_s,  # eta at the table's own rates, 200 GMAC/s, 20 GB/s
            "eta": max(macs / 200e9, nbytes / 20e9) / op_s}


class _PriorNet:
    """A tiny network of what a prior tells apart: a 1x1 conv, a residual add, 3x3 and 7x7
    depthwise convs, h-swish, a max pool and a transpose."""

    @staticmethod
    def make():  # noqa: ANN205
        import torch

        class Net(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.pw = torch.nn.Conv2d(3, 8, 1)
                self.dw3 = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
                self.dw7 = torch.nn.Conv2d(8, 8, 7, padding=3, groups=8)
                self.act = torch.nn.Hardswish()
                self.pool = torch.nn.MaxPool2d(3, 1, 1)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                y = self.pw(x)
                y = self.act(self.dw7(self.dw3(y) + y))
                return self.pool(y).permute(0, 2, 3, 1)

        return Net().eval()


def test_covered_prior_scales_only_what_the_fit_never_saw(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """With ``kernel_covered``, a row the device's own fit covered keeps 1; an uncovered 7x7
    depthwise conv takes the host's speed of 7x7 against 3x3 at the profile's rates (a ratio
    computed here by hand); an uncovered max pool is anchored to the covered elementwise ops;
    h-swish on the built-in kernels keeps 1, however slow the host ran it; nothing is made
    faster than the fit's rates."""
    from edgekit.roofline import layer_table
    from edgekit.runtime import efficiency

    P, B = 100e9, 5e9
    pts = [
        _prior_point("dw3", "DEPTHWISE_CONV_2D", "depthwise", "xnnpack", 3, 9 * 512, 1100, 2e-6),
        _prior_point("dw7", "DEPTHWISE_CONV_2D", "depthwise", "xnnpack", 7, 49 * 512, 1400, 5e-5),
        _prior_point("pw", "CONV_2D", "dense_conv", "xnnpack", 1, 64 * 64, 1100, 1e-6),
        _prior_point("add", "ADD", "elementwise", "xnnpack", 0, 0, 1536, 4e-7),
        _prior_point("max", "MAX_POOL_2D", "pool", "xnnpack", 0, 0, 640, 1e-6),
        _prior_point("fast", "TRANSPOSE", "data_movement", "xnnpack", 0, 0, 1024, 1e-9),
        _prior_point("hsw", "HARD_SWISH", "activation", "builtin", 0, 0, 1024, 1e-3),
    ]
    model = KernelModel({"fixed": {}, "points": pts}, 200e9, 20e9)
    monkeypatch.setattr(efficiency, "packaged_table", lambda name: model)
    t = layer_table(_PriorNet.make(), 8, cache=False)
    covered = ["CONV_2D/dense_conv/xnnpack/k1", "DEPTHWISE_CONV_2D/depthwise/xnnpack/k3",
               "ADD/elementwise/xnnpack"]
    efficiency.rebased_table.cache_clear()
    try:
        eff = efficiency.relative_efficiency(t, "synthetic", covered, (P, B))
        plain = efficiency.relative_efficiency(t, "synthetic")
    finally:
        efficiency.rebased_table.cache_clear()
    ops = efficiency.prior_ops(t, "synthetic")
    by_key = dict(zip(ops["key"], eff, strict=True))

    def rebased(p: dict) -> float:
        return max(p["macs"] / P, p["bytes"] / B) / p["op_s"]

    dw3, dw7, _, add, mx, _, _ = pts
    assert by_key["CONV_2D/dense_conv/xnnpack/k1"] == 1.0
    assert by_key["DEPTHWISE_CONV_2D/depthwise/xnnpack/k3"] == 1.0
    assert by_key["DEPTHWISE_CONV_2D/depthwise/xnnpack/k7"] == pytest.approx(
        rebased(dw7) / rebased(dw3))
    assert 0.0 < by_key["DEPTHWISE_CONV_2D/depthwise/xnnpack/k7"] < 0.5
    assert by_key["MAX_POOL_2D/pool/xnnpack"] == pytest.approx(rebased(mx) / rebased(add))
    assert by_key["TRANSPOSE/data_movement/xnnpack"] == 1.0  # faster than its anchor: capped
    assert by_key["HARD_SWISH/activation/builtin"] == 1.0
    # without a covered list every row is relative to dense conv, the slow h-swish included
    hsw = ops["key"].to_numpy() == "HARD_SWISH/activation/builtin"
    assert hsw.any() and (plain[hsw] < 0.01).all()


def test_shipped_phone_cpu_prior_leaves_its_fit_alone() -> None:
    """pixel6-cpu's and s23-cpu's prior keeps every covered row at its roofline time, and slows
    a 7x7 depthwise conv, which their MobileNetV4 fit never saw."""
    from edgekit.device import load_device
    from edgekit.roofline import estimate_latency, layer_table
    from edgekit.runtime.efficiency import prior_effect, prior_ops

    t = layer_table(_PriorNet.make(), 16, cache=False)
    for name in ("pixel6-cpu", "s23-cpu"):
        dev = load_device(name)
        rc = dev.runtime_costs
        assert rc is not None and rc.kernel_table and rc.kernel_covered
        est = estimate_latency(t, dev)
        keys = prior_ops(t, rc.kernel_table)["key"].to_numpy()
        eff = est.layers["efficiency"].to_numpy()
        covered = np.isin(keys, rc.kernel_covered)
        assert covered.any() and (eff[covered] == 1.0).all()
        assert (eff <= 1.0).all() and (eff > 0).all()
        assert (eff[keys == "DEPTHWISE_CONV_2D/depthwise/xnnpack/k7"] < 0.5).all()
        plain = estimate_latency(t, dev.model_copy(update={"runtime_costs": None}))
        np.testing.assert_allclose(est.layers["time_s"].to_numpy()[covered],
                                   plain.layers["time_s"].to_numpy()[covered])
        assert est.latency_s > plain.latency_s
        effect = prior_effect(est.layers)
        assert "DEPTHWISE_CONV_2D/depthwise/xnnpack/k7" in set(effect["key"])
        assert (effect["factor"] > 1).all()
        assert effect["added_s"].sum() == pytest.approx(est.latency_s - plain.latency_s)
        assert prior_effect(plain.layers).empty


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pixel6-cpu", "s23-cpu"])
def test_phone_cpu_prior_covers_every_op_of_its_fit(name: str) -> None:
    """Every op the MobileNetV4 models of the fit run is in the shipped ``kernel_covered``: the
    prior leaves the fitted rows exactly where the fit put them."""
    from edgekit.device import load_device
    from edgekit.roofline import estimate_latency, layer_table

    dev = load_device(name)
    for model in ("mobilenetv4_conv_small", "mobilenetv4_conv_medium", "mobilenetv4_conv_large",
                  "mobilenetv4_hybrid_medium", "mobilenetv4_hybrid_large"):
        est = estimate_latency(layer_table(model), dev)
        assert (est.layers["efficiency"].to_numpy() == 1.0).all(), model


def test_kernel_covered_needs_a_table(tmp_path: Path) -> None:
    from edgekit.device import load_profile_file
    from edgekit.errors import EdgekitError

    path = _bad_runtime_costs(tmp_path, 'kernel_covered = ["ADD/elementwise/xnnpack"]\n')
    with pytest.raises(EdgekitError, match="kernel_covered without kernel_table"):
        load_profile_file(path)


def test_kernel_covered_entries_are_op_keys(tmp_path: Path) -> None:
    from edgekit.device import load_profile_file
    from edgekit.errors import EdgekitError

    path = _bad_runtime_costs(tmp_path, 'kernel_table = "host-litert-xnnpack-int8-1t"\n'
                                        'kernel_covered = ["ADD/xnnpack"]\n')
    with pytest.raises(EdgekitError, match="entry 'ADD/xnnpack' is not an op key"):
        load_profile_file(path)


def test_ops_without_a_point_of_their_own_share_the_case_efficiency() -> None:
    """An int8 exp case runs DEQUANTIZE, EXP and QUANTIZE. No case measures DEQUANTIZE or
    QUANTIZE alone, so step 2 predicts them from their class's points, here a DIV at eta 0.002:
    slower than the whole case, which would leave EXP unresolved. The three then share one
    efficiency, the case's roofline over its time, and each gets a point at it."""
    P, B = 50e9, 10e9
    shape = {"kernel": [0], "stride": [1], "cin": [49], "cout": [49], "spatial": [4096]}
    div = _ops(op=["DIV"], op_class=["elementwise"], unit=["builtin"], macs=[0.0],
               bytes=[6e5], name=["div"], **shape)
    exp = _ops(op=["DEQUANTIZE", "EXP", "QUANTIZE"], op_class=["elementwise"] * 3,
               unit=["builtin"] * 3, macs=[0.0] * 3, bytes=[1e6, 1.6e6, 1e6],
               name=["dq", "exp", "q"], **{k: v * 3 for k, v in shape.items()})
    invoke, c_op = 1e-5, 1e-6
    tiny = _ops(op=["ADD"], op_class=["elementwise"], unit=["builtin"], macs=[0.0],
                bytes=[64.0], kernel=[0], name=["add"])
    graphs = {"div": (div, 0), "exp": (exp, 0), "t1": (tiny, 0), "t2": (pd.concat([tiny] * 2), 0)}
    exp_s = 3.6e6 / B / 0.25  # the three ops' roofline at eta 0.25: 1.44 ms
    rows = [{"case": "t1", "artifact": "t1", "fixed_cost": True, "latency_s": invoke + c_op},
            {"case": "t2", "artifact": "t2", "fixed_cost": True, "latency_s": invoke + 2 * c_op},
            {"case": "div", "artifact": "div", "fixed_cost": False, "op_class": "elementwise",
             "latency_s": invoke + c_op + 6e5 / B / 0.002},
            {"case": "exp", "artifact": "exp", "fixed_cost": False, "op_class": "elementwise",
             "latency_s": invoke + 3 * c_op + exp_s}]
    fit = fit_kernel_table(pd.DataFrame(rows), runtime="litert-builtin", precision="int8",
                           peak_mac_s=P, mem_bytes_s=B, graph=lambda a: graphs[a])
    pts = pd.DataFrame(fit["points"])
    assert pts.loc[pts["case"] == "div", "eta"].item() == pytest.approx(0.002, rel=1e-4)
    mine = pts[pts["case"] == "exp"].set_index("op")
    assert sorted(mine.index) == ["DEQUANTIZE", "EXP", "QUANTIZE"]
    assert mine["eta"].to_numpy() == pytest.approx([0.25] * 3, rel=1e-4)
    assert mine["op_s"].sum() == pytest.approx(exp_s, rel=1e-4)
    summary = pd.DataFrame(fit["summary"]).set_index("case")
    assert summary.loc["exp", "op"] == "DEQUANTIZE+EXP+QUANTIZE (shared)"
    # a model's DEQUANTIZE is now predicted from its own point, not from the DIV's class rate
    model = KernelModel({**fit, "points": fit["points"]}, P, B)
    eta, source = model.eta(exp.iloc[[0]])
    assert source[0] == "op" and eta[0] == pytest.approx(0.25, rel=1e-4)
