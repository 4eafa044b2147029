"""The latency model: bytes per precision, fusion, bounds, totals, ranking invariants."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from edgekit.device import DeviceProfile, list_devices
from edgekit.roofline import analyze, estimate_latency, ridge_profile, sweep
from edgekit.roofline.counting import COLUMNS
from edgekit.roofline.latency import roofline_time_s


def _profile(name="dev", peak=100.0, bw=10.0, precision="int8", fuses=(), overhead=None):
    data = {
        "name": name, "description": "test", "kind": "cpu", "precision": precision,
        "format": "tflite", "fuses": list(fuses),
        "peak_gmac_s": {"value": peak, "source": "test", "confidence": "low"},
        "mem_gb_s": {"value": bw, "source": "test", "confidence": "low"},
    }
    if overhead is not None:
        data["overhead_ms"] = {"value": overhead, "source": "test", "confidence": "low"}
    return DeviceProfile.model_validate(data)


def _row(name, op_type, kind, macs=0, w=0, b=0, i=0, o=0, fusable=False, producer=""):
    cls = {"Conv": "dense_conv", "Relu": "activation", "Add": "elementwise"}.get(op_type, "other")
    return {"name": name, "op_type": op_type, "module": "", "kind": kind, "op_class": cls,
            "macs": macs, "weight_elems": w, "bias_elems": b, "in_act_elems": i, "out_act_elems": o,
            "fusable": fusable, "producer": producer, "out_shape": "", "note": ""}


def _table(rows, model="m"):
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df.attrs.update(model=model, resolution=8, params=0, family="f", top1=None)
    return df


@pytest.fixture
def conv_relu():
    # conv: 1e6 MACs, 1000 weights, 10 biases, reads 2000, writes 3000; relu fused onto it.
    return _table([
        _row("conv", "Conv", "compute", macs=1_000_000, w=1000, b=10, i=2000, o=3000),
        _row("relu", "Relu", "elementwise", i=3000, o=3000, fusable=True, producer="conv"),
    ])


@pytest.mark.parametrize(("precision", "nbytes", "bias"), [("int8", 1, 4), ("fp16", 2, 2),
                                                           ("fp32", 4, 4)])
def test_bytes_follow_precision(conv_relu, precision, nbytes, bias):
    est = estimate_latency(conv_relu, _profile(precision=precision))
    conv = est.layers.iloc[0]
    assert conv["weight_bytes"] == 1000 * nbytes + 10 * bias
    assert conv["activation_bytes"] == (2000 + 3000) * nbytes
    relu = est.layers.iloc[1]
    assert relu["bytes"] == 6000 * nbytes and not relu["fused"]  # no fuses in this profile


def test_roofline_formula_by_hand():
    # 1e9 MAC/s, 1e6 B/s: layer 1 compute-bound (1 ms vs 0.1 ms), layer 2 memory-bound (0 vs
    # 2 ms), layer 3 compute only, layer 4 nothing.
    t = roofline_time_s(np.array([1e6, 0.0, 5e5, 0.0]), np.array([100.0, 2000.0, 0.0, 0.0]),
                        1e9, 1e6)
    assert t.tolist() == [1e-3, 2e-3, 5e-4, 0.0]
    assert float(roofline_time_s(2e9, 1e6, 1e9, 1e6)) == 2.0  # scalars: max(2 s, 1 s)


def test_estimate_uses_the_formula(conv_relu):
    est = estimate_latency(conv_relu, _profile(peak=100.0, bw=10.0))
    lay = est.layers
    want = roofline_time_s(lay["macs"].to_numpy(float), lay["bytes"].to_numpy(float), 1e11, 1e10)
    np.testing.assert_array_equal(lay["time_s"].to_numpy(), want)
    np.testing.assert_array_equal(lay["time_s"], np.maximum(lay["compute_s"], lay["memory_s"]))


def test_hand_computed_latency_and_bound(conv_relu):
    dev = _profile(peak=100.0, bw=10.0)  # 1e11 MAC/s, 1e10 B/s, int8
    est = estimate_latency(conv_relu, dev)
    conv_bytes = 1000 + 40 + 5000
    conv_compute, conv_mem = 1e6 / 1e11, conv_bytes / 1e10
    relu_mem = 6000 / 1e10
    assert est.layers["bound"].tolist() == ["compute", "memory"]
    assert math.isclose(est.latency_s, max(conv_compute, conv_mem) + relu_mem)
    assert math.isclose(est.compute_s, conv_compute)
    assert math.isclose(est.memory_s, conv_mem + relu_mem)
    assert math.isclose(est.memory_bound_fraction, relu_mem / est.latency_s)
    assert math.isclose(est.macs_only_s, 1e6 / 1e11)
    assert est.layers["intensity"].iloc[0] == pytest.approx(1e6 / conv_bytes)


def test_fused_op_costs_nothing(conv_relu):
    plain = estimate_latency(conv_relu, _profile())
    fused = estimate_latency(conv_relu, _profile(fuses=("Relu",)))
    relu = fused.layers.iloc[1]
    assert relu["fused"] and relu["bytes"] == 0 and relu["time_s"] == 0 and relu["bound"] == "fused"
    assert math.isclose(plain.latency_s - fused.latency_s, plain.layers["time_s"].iloc[1])
    assert fused.activation_bytes == 5000


def test_unfusable_op_keeps_its_bytes_even_if_listed():
    t = _table([
        _row("a", "Conv", "compute", macs=10, i=4, o=4),
        _row("b", "Conv", "compute", macs=10, i=4, o=4),
        _row("res", "Add", "elementwise", i=8, o=4),  # residual: two producers
    ])
    est = estimate_latency(t, _profile(fuses=("Add",)))
    assert not est.layers["fused"].iloc[2] and est.layers["bytes"].iloc[2] == 12


def test_overhead_is_added_once(conv_relu):
    a = estimate_latency(conv_relu, _profile())
    b = estimate_latency(conv_relu, _profile(overhead=1.5))
    assert math.isclose(b.latency_s - a.latency_s, 1.5e-3)
    assert b.overhead_s == pytest.approx(1.5e-3)


def _random_tables(n=12, seed=0):
    rng = np.random.default_rng(seed)
    tables = []
    for k in range(n):
        rows = []
        for j in range(int(rng.integers(3, 12))):
            rows.append(_row(f"l{j}", "Conv", "compute", macs=int(rng.integers(1e4, 1e8)),
                             w=int(rng.integers(1, 1e6)), b=int(rng.integers(0, 1e3)),
                             i=int(rng.integers(1, 1e6)), o=int(rng.integers(1, 1e6))))
            rows.append(_row(f"r{j}", "Relu", "elementwise", i=10, o=10, fusable=True))
        tables.append(_table(rows, model=f"m{k}"))
    return tables


def _ranking(tables, dev):
    times = [estimate_latency(t, dev).latency_s for t in tables]
    return list(np.argsort(times, kind="stable")), times


def test_same_ridge_point_same_ranking():
    tables = _random_tables()
    slow = _profile("slow", peak=10.0, bw=1.0, fuses=("Relu",))
    fast = _profile("fast", peak=4000.0, bw=400.0, fuses=("Relu",))
    assert slow.ridge_mac_per_byte == fast.ridge_mac_per_byte
    r_slow, t_slow = _ranking(tables, slow)
    r_fast, t_fast = _ranking(tables, fast)
    assert r_slow == r_fast
    np.testing.assert_allclose(np.array(t_slow) / np.array(t_fast), 400.0, rtol=1e-9)


def test_ridge_zero_ranks_exactly_by_macs():
    tables = _random_tables(seed=1)
    ranking, times = _ranking(tables, ridge_profile(0))
    macs = [int(t["macs"].sum()) for t in tables]
    assert ranking == list(np.argsort(macs, kind="stable"))
    np.testing.assert_allclose(times, np.array(macs) / ridge_profile(0).peak_mac_s, rtol=1e-9)


@pytest.mark.parametrize("ridge", [0, 5, 50, 500, 2.5])
def test_ridge_profile(ridge):
    dev = ridge_profile(ridge)
    assert dev.ridge_mac_per_byte == pytest.approx(ridge, abs=1e-9)
    assert dev.sweep and dev.precision.value == "int8"


def test_ridge_profile_rejects_negative():
    from edgekit.errors import ConfigError

    with pytest.raises(ConfigError, match="ridge point must be"):
        ridge_profile(-1)


def test_sweep_and_analyze_tables():
    tables = _random_tables(n=3)
    out = sweep(tables, ridges=(0, 5, 50, 500))
    assert len(out) == 12 and set(out["ridge_mac_per_byte"].round(6)) == {0.0, 5.0, 50.0, 500.0}
    # More bandwidth-starved -> never faster, model by model.
    for _, g in out.groupby("model"):
        assert g.sort_values("ridge_mac_per_byte")["latency_ms"].is_monotonic_increasing
    devs = [_profile("a"), _profile("b", peak=50.0)]
    summ = analyze(tables, devs)
    assert list(summ["device"]) == ["a", "b"] * 3
    assert (summ["latency_ms"] >= summ["macs_only_ms"] - 1e-12).all()


@pytest.mark.parametrize("device", [d.name for d in list_devices()])
def test_every_shipped_profile_gives_a_finite_estimate(conv_relu, device):
    est = estimate_latency(conv_relu, device)
    assert math.isfinite(est.latency_s) and est.latency_s > 0
    assert 0.0 <= est.memory_bound_fraction <= 1.0
