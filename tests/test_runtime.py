"""The runtime registry, the QNN op-count model, the runtime fit and the runtime latency terms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from edgekit.device import load_device, load_profile_file
from edgekit.errors import ConfigError, UnknownNameError
from edgekit.fit.runtime_fit import RunCosts, fit_runtime, loo_runtime
from edgekit.roofline.latency import estimate_latency
from edgekit.runtime import get_runtime, list_runtimes, ops_run
from edgekit.runtime.qnn import OpCountModel, heads, ops_per_row

SHIPPED_IDS = {"litert-xnnpack", "litert-builtin", "litert-edgetpu", "litert-hexagon",
               "litert-gpu", "coreml-ane", "onnxruntime-cpu", "tflite-qnn"}


def _table(rows: list[tuple]) -> pd.DataFrame:
    """A hand-built layer table: (name, op_type, op_class, fusable, producer, out_shape, macs,
    in_act, out_act, weights)."""
    cols = ["name", "op_type", "op_class", "fusable", "producer", "out_shape", "macs",
            "in_act_elems", "out_act_elems", "weight_elems"]
    t = pd.DataFrame(rows, columns=cols)
    return t.assign(bias_elems=0, kind="compute", module="", groups=1, note="")


def test_registry_has_every_shipped_id_and_profiles_use_them() -> None:
    assert SHIPPED_IDS <= set(list_runtimes())
    spec = get_runtime("tflite-qnn")
    assert spec.format == "tflite" and "MatMul" in spec.delegate_ops and spec.op_list_source
    from edgekit.device import list_devices

    for d in list_devices():
        assert d.sweep or d.runtime in SHIPPED_IDS, d.name
        if d.runtime:
            assert d.runtime_spec is not None and d.runtime_spec.format == d.format, d.name


def test_unknown_runtime_id_is_a_did_you_mean_naming_the_file(tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "devices" / "s23-gpu.toml").read_text()
    bad = tmp_path / "s23-gpu.toml"
    bad.write_text(text.replace('runtime = "litert-gpu"', 'runtime = "litert-gpuu"'))
    with pytest.raises(ConfigError, match=r"s23-gpu\.toml: runtime names 'litert-gpuu'.*"
                                          r"did you mean 'litert-gpu'\?"):
        load_profile_file(bad)
    with pytest.raises(UnknownNameError, match="did you mean 'tflite-qnn'"):
        get_runtime("tflite-qn")


def test_runtime_costs_reject_an_unknown_class(tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "devices" / "s23-npu.toml").read_text()
    bad = tmp_path / "s23-npu.toml"
    bad.write_text(text.replace("efficiency = { matmul", "efficiency = { matmull"))
    with pytest.raises(ConfigError, match=r"\[runtime_costs\] efficiency names class 'matmull'; "
                                          r"did you mean 'matmul'\?"):
        load_profile_file(bad)


def test_npu_profiles_decide_format_and_precision() -> None:
    for name, prec in (("s23-npu", "fp16"), ("s25-npu", "fp16"), ("s23-npu-int8", "int8"),
                       ("s25-npu-int8", "int8")):
        d = load_device(name)
        assert (d.kind.value, d.format, d.runtime, d.precision.value) == (
            "npu", "tflite", "tflite-qnn", prec)
        assert d.runtime_costs is not None and "published_latency_aihub.csv" in d.peak_gmac_s.source


def test_qnn_op_count_on_a_hand_built_graph() -> None:
    # conv -> relu (fused into conv), a concat, BN after the concat (runs: 1 op, its relu fused),
    # attention over 4 heads: matmul, softmax, matmul; LayerNorm; Gelu; a reshape view; a weight.
    t = _table([
        ("w", "Identity", "constant", False, "", "8x3x3x3", 0, 0, 0, 0),
        ("c1", "Conv", "dense_conv", False, "", "1x8x8x8", 100, 10, 10, 9),
        ("r1", "Relu", "activation", True, "c1", "1x8x8x8", 0, 10, 10, 0),
        ("cat", "Concat", "data_movement", False, "", "1x16x8x8", 0, 20, 20, 0),
        ("bn", "BatchNormalization", "norm", True, "cat", "1x16x8x8", 0, 20, 20, 32),
        ("r2", "Relu", "activation", True, "bn", "1x16x8x8", 0, 20, 20, 0),
        ("qk", "MatMul", "matmul", False, "", "1x4x16x16", 50, 10, 10, 0),
        ("sm", "Softmax", "norm", True, "qk", "1x4x16x16", 0, 10, 10, 0),
        ("av", "MatMul", "matmul", False, "", "1x4x16x8", 50, 10, 10, 0),
        ("ln", "LayerNormalization", "norm", False, "", "1x16x32", 0, 10, 10, 64),
        ("g", "Gelu", "activation", True, "ln", "1x16x32", 0, 10, 10, 0),
        ("rs", "Reshape", "data_movement", False, "", "1x512", 0, 0, 0, 0),
    ])
    m = OpCountModel(matmul=1, per_head=False, layer_norm=5, gelu=1, view=1, graph=6)
    got = ops_per_row(t, ("Relu", "Clip", "BatchNormalization"), m)
    # row 0 carries the graph's 6; conv 1, concat 1, bn 1, qk 1, softmax 1, av 1, ln 5, gelu 1,
    # reshape 1 (the Gelu is not in fuses, so it runs)
    assert got.tolist() == [6, 1, 0, 1, 1, 0, 1, 1, 1, 5, 1, 1]
    per_head = ops_per_row(t, ("Relu",), OpCountModel(per_head=True, matmul=2, graph=0))
    assert per_head[[6, 7, 8]].tolist() == [8, 4, 8]  # 4 heads x (2, 1, 2)
    assert heads("1x4x16x16") == 4 and heads("16x32") == 1


def test_default_runtime_counts_live_unfused_rows() -> None:
    t = _table([
        ("c1", "Conv", "dense_conv", False, "", "1x8x8x8", 100, 10, 10, 9),
        ("r1", "Relu", "activation", True, "c1", "1x8x8x8", 0, 10, 10, 0),
        ("a", "Add", "elementwise", True, "c1", "1x8x8x8", 0, 20, 10, 0),
        ("w", "Identity", "constant", False, "", "8", 0, 0, 0, 0),
    ])
    assert ops_run(t, load_device("s23-gpu")).sum() == 1  # s23-gpu fuses Relu and Add
    assert ops_run(t, load_device("pixel4-dsp")).sum() == 2  # pixel4-dsp fuses Relu only


def _synthetic(n: int, seed: int, *, slices: bool = False,
               classes: tuple[str, ...] = ("dense_conv", "matmul", "elementwise"),
               ) -> list[RunCosts]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        k = int(rng.integers(5, 30))
        cls = tuple(rng.choice(list(classes), k))
        macs = rng.uniform(1e6, 5e8, k) * np.array([c != "elementwise" for c in cls])
        n_slices = int(rng.integers(0, 3000)) if slices and i % 3 else 0
        out.append(RunCosts(f"m{i}", macs, rng.uniform(1e4, 5e6, k), cls,
                            int(rng.integers(20, 2000)), n_slices))
    return out


def test_matmul_slices_counts_the_2d_products_of_activation_matmuls() -> None:
    from edgekit.runtime import matmul_slices

    t = _table([
        ("c1", "Conv", "dense_conv", False, "", "1x8x8x8", 100, 10, 10, 9),
        ("qk", "MatMul", "matmul", False, "", "64x3x49x49", 1, 1, 1, 0),  # Swin stage 1
        ("av", "MatMul", "matmul", False, "", "1x12x197x64", 1, 1, 1, 0),  # ViT-B
        ("fc", "MatMul", "matmul", False, "", "197x64", 1, 1, 1, 0),
    ])
    assert matmul_slices(t).tolist() == [0, 192, 12, 1]


def test_runtime_fit_recovers_a_per_slice_cost_and_leaves_unpinned_terms_alone() -> None:
    from edgekit.fit.runtime_fit import RuntimeFit

    truth = RuntimeFit(peak_mac_s=2e12, mem_bytes_s=5e10, per_op_s=1e-6, overhead_s=3e-4,
                       efficiency={"matmul": 0.1}, per_slice_s=2.5e-6)
    costs = _synthetic(14, 2, slices=True)
    y = np.array([truth.predict_s(c) for c in costs])
    fit = fit_runtime(costs, y, classes=("matmul",))
    assert fit.per_slice_s == pytest.approx(2.5e-6, rel=1e-3)
    assert fit.efficiency["matmul"] == pytest.approx(0.1, rel=1e-3)
    without = fit_runtime(costs, y, classes=("matmul",), per_slice=False)
    assert without.per_slice_s == 0 and without.rms_log_err > 10 * fit.rms_log_err
    # CNN-only rows: no slices and no matmul layers pin neither term, so neither moves
    cnn = _synthetic(10, 3, classes=("dense_conv", "elementwise"))
    y_cnn = np.array([truth.predict_s(c) for c in cnn])
    f = fit_runtime(cnn, y_cnn, classes=("matmul",))
    assert "per_slice" not in f.free and "eta_matmul" not in f.free
    assert f.per_slice_s == 0 and f.efficiency["matmul"] == 1.0


def test_runtime_fit_recovers_known_parameters() -> None:
    from edgekit.fit.runtime_fit import RuntimeFit

    truth = RuntimeFit(peak_mac_s=2e12, mem_bytes_s=5e10, per_op_s=4e-6, overhead_s=3e-4,
                       efficiency={"matmul": 0.2})
    costs = _synthetic(14, 0)
    y = np.array([truth.predict_s(c) for c in costs])
    fit = fit_runtime(costs, y, classes=("matmul",))
    for got, want in ((fit.peak_mac_s, 2e12), (fit.mem_bytes_s, 5e10), (fit.per_op_s, 4e-6),
                      (fit.overhead_s, 3e-4), (fit.efficiency["matmul"], 0.2)):
        assert got == pytest.approx(want, rel=1e-3)
    loo = loo_runtime(costs, y, classes=("matmul",))
    np.testing.assert_allclose(loo, y, rtol=1e-3)
    # the int8 route: structure kept from a base fit, only P free
    y2 = np.array([RuntimeFit(4e12, 5e10, 4e-6, 3e-4, {"matmul": 0.2}).predict_s(c)
                   for c in costs])
    only_p = fit_runtime(costs, y2, base=fit, free=("peak",))
    assert only_p.peak_mac_s == pytest.approx(4e12, rel=1e-3) and only_p.free == ("peak",)
    assert only_p.per_op_s == fit.per_op_s


def test_runtime_fit_needs_enough_rows() -> None:
    costs = _synthetic(3, 1)
    with pytest.raises(ConfigError, match="at least 4 measured models"):
        fit_runtime(costs, [1e-3, 2e-3, 3e-3])


def test_prediction_formula_hand_computed(tmp_path: Path) -> None:
    text = "\n".join([
        'name = "hand-npu"', 'description = "hand"', 'kind = "npu"', 'precision = "fp16"',
        'format = "tflite"', 'runtime = "tflite-qnn"', 'fuses = ["Relu"]',
        '[peak_gmac_s]', 'value = 1000.0', 'source = "hand"', 'confidence = "low"',
        '[mem_gb_s]', 'value = 10.0', 'source = "hand"', 'confidence = "low"',
        '[overhead_ms]', 'value = 0.5', 'source = "hand"', 'confidence = "low"',
        '[runtime_costs]', 'per_op_us = 2.0', 'per_matmul_slice_us = 3.0',
        'efficiency = { matmul = 0.25 }', 'source = "hand"', 'confidence = "low"', ''])
    p = tmp_path / "hand-npu.toml"
    p.write_text(text)
    dev = load_profile_file(p)
    t = _table([
        # conv: 1e9 MACs / 1e12 = 1 ms; bytes (100+100+50) * 2 = 500 B -> 50 ns: compute-bound
        ("c1", "Conv", "dense_conv", False, "", "1x8x8x8", 1e9, 100, 100, 50),
        ("r1", "Relu", "activation", True, "c1", "1x8x8x8", 0, 100, 100, 0),  # fused: 0
        # matmul: 1e8 / 1e12 = 0.1 ms at eta 1; bytes 4e6 * 2 / 1e10 = 0.8 ms: memory; / 0.25
        ("mm", "MatMul", "matmul", False, "", "1x2x16x16", 1e8, 2e6, 2e6, 0),
    ])
    est = estimate_latency(t, dev)
    n_ops = 6 + 1 + 1  # graph + conv + matmul (one op: no per-head split)
    slices = 2  # the matmul's 1x2 leading dims: two 16x16 products, 3 us each
    want = (max(1e-3, 500 / 1e10) + max(0.1e-3, 0.8e-3) / 0.25 + n_ops * 2e-6 + slices * 3e-6
            + 0.5e-3)
    assert est.n_ops_run == n_ops and est.matmul_slices == slices
    assert est.slice_s == pytest.approx(slices * 3e-6)
    assert est.latency_s == pytest.approx(want, rel=1e-9)
    assert est.dispatch_s == pytest.approx(n_ops * 2e-6)
