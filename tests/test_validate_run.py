"""``run_validation`` end to end on tiny models (onnxruntime), and the pieces it is built from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from edgekit.device import load_device
from edgekit.errors import ConfigError, UnknownNameError
from edgekit.fit import FitGroup, read_measurements
from edgekit.roofline import estimate_latency, layer_table
from edgekit.roofline.opclass import OpClass
from edgekit.validate import (
    Entry,
    Validation,
    layer_summary,
    measure_population,
    population,
    run_validation,
)

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.usefixtures("module_cache")

MODELS = ["test_mobilenetv4", "test_mobileone", "test_efficientformer"]
DEVICE = "x86-desktop-cpu"  # an fp32 onnx profile, so no calibration run is needed


@pytest.fixture(scope="module")
def validation(tmp_path_factory: pytest.TempPathFactory,
               module_cache: None) -> tuple[Validation, Path]:
    out = tmp_path_factory.mktemp("validation")
    v = run_validation(MODELS, device=DEVICE, include_test=True, repeats=2, runs=3, warmup=1,
                       min_time_s=0.0, out_dir=out, cache_dir=tmp_path_factory.mktemp("onnx"),
                       log=lambda msg: None)
    return v, out


def test_population_has_both_forms_of_reparameterizable_models() -> None:
    entries = population(MODELS, include_test=True)
    assert [e.label for e in entries] == ["test_mobilenetv4", "test_mobileone",
                                         "test_mobileone[train]", "test_efficientformer"]
    assert [e.label for e in population(["test_mobile*"], include_test=True,
                                        include_train_form=False)] == [
        "test_mobilenetv4", "test_mobilenetv4_hybrid", "test_mobileone"]


def test_population_rejects_a_glob_that_matches_nothing() -> None:
    with pytest.raises(UnknownNameError, match="unknown model pattern .nope_\*."):
        population(["nope_*"])


def test_run_writes_every_output(validation: tuple[Validation, Path]) -> None:
    v, out = validation
    written = {p.name for p in out.iterdir()}
    assert {"measurements.csv", "predictions.csv", "summary.csv", "layers.csv", "scatter.png",
            "meta.json"} <= written
    assert (out / "scatter.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert meta["device"] == DEVICE and meta["entries"] == 4 and meta["failed"] == []
    assert meta["runtime"] == "onnxruntime" and meta["precision"] == "fp32"
    assert {r["predictor"] for r in meta["layer_summary"]} == {"calibrated", "fitted"}


def test_measurements_are_what_fit_device_reads(validation: tuple[Validation, Path]) -> None:
    v, out = validation
    df = read_measurements(out / "measurements.csv")
    assert list(df["label"]) == ["test_mobilenetv4", "test_mobileone", "test_mobileone[train]",
                                 "test_efficientformer"]
    assert list(df["deploy"]) == [True, True, False, True]
    assert (df["latency_ms"] > 0).all()
    m = v.measurements
    # the latency is the fastest round's median; the rounds' median is kept beside it
    assert (m["latency_ms"] == m["repeat_min_ms"]).all()
    assert (m["latency_ms"] <= m["rounds_median_ms"]).all()
    assert (m["rounds_median_ms"] <= m["repeat_max_ms"]).all()


def test_calibrated_prediction_is_the_roofline_estimate(
        validation: tuple[Validation, Path]) -> None:
    v, _ = validation
    dev = load_device(DEVICE)
    pred = v.predictions.set_index("label")
    for label, model, deploy in [("test_mobilenetv4", "test_mobilenetv4", True),
                                 ("test_mobileone[train]", "test_mobileone", False)]:
        est = estimate_latency(layer_table(model, deploy=deploy), dev)
        assert pred.loc[label, "calibrated_ms"] == pytest.approx(est.latency_ms, rel=1e-12)
        assert pred.loc[label, "macs"] == est.macs


def test_summary_has_every_predictor(validation: tuple[Validation, Path]) -> None:
    v, out = validation
    s = pd.read_csv(out / "summary.csv").set_index("predictor")
    assert list(s.index) == ["macs_only (scaled)", f"calibrated ({DEVICE})",
                             "fitted roofline (LOO)"]
    assert (s["n"] == 4).all()
    assert s.loc["fitted roofline (LOO)", "mode"] == "free"
    assert s.loc[f"calibrated ({DEVICE})", "peak_gmac_s"] == load_device(DEVICE).peak_gmac_s.value
    rep = v.fits["roofline"]
    np.testing.assert_allclose(v.predictions["roofline_loo_ms"], np.array(rep.loo_pred_s) * 1e3)


def test_layer_comparison(validation: tuple[Validation, Path]) -> None:
    v, _ = validation
    lay = v.layers
    assert lay is not None
    assert set(lay["label"]) == {e for e in v.predictions["label"]}
    assert set(lay["op_class"]) <= {c.value for c in OpClass}
    assert set(lay["fit_group"]) <= {g.value for g in FitGroup}
    # Depthwise convs are their own fit group; the mobileone deploy form has them.
    mob = lay[lay["label"] == "test_mobileone"]
    assert ((mob["op_class"] == "depthwise") == (mob["fit_group"] == "depthwise")).all()
    assert (mob["op_class"] == "depthwise").any()
    # Calibrated per-layer times add up to the calibrated model time (less the overhead).
    pred = v.predictions.set_index("label")
    dev = load_device(DEVICE)
    for label, g in lay.groupby("label"):
        assert g["calibrated_ms"].sum() + dev.overhead_s * 1e3 == pytest.approx(
            pred.loc[label, "calibrated_ms"], rel=1e-9)
    # The profiler's time lands on rows; most of each model's time is mapped.
    per_model = lay.groupby("label").agg(mapped=("measured_ms", "sum"),
                                         unmapped=("unmapped_model_ms", "first"))
    assert (per_model["mapped"] > 0).all()
    assert (per_model["mapped"] > per_model["unmapped"]).all()
    assert (lay["fitted_ms"] >= 0).all() and lay["fitted_ms"].sum() > 0


def test_layer_summary_on_known_ranks() -> None:
    df = pd.DataFrame({"label": ["a"] * 4 + ["b"] * 4,
                       "measured_ms": [1, 2, 3, 4, 1, 2, 3, 0],
                       "calibrated_ms": [10, 20, 30, 40, 3, 2, 1, 5],
                       "fitted_ms": [1, 2, 3, 4, 1, 2, 3, 9],
                       "macs": [4, 3, 2, 1, 1, 2, 3, 4]})
    s = layer_summary(df).set_index("predictor")
    assert s.loc["fitted", "layers"] == 7  # the unmeasured row is left out
    assert s.loc["fitted", "layer_r_s_median_per_model"] == pytest.approx(1.0)
    assert s.loc["calibrated", "layer_r_s_median_per_model"] == pytest.approx(0.0)  # 1 and -1


def test_node_to_row_maps_fused_ops_to_their_producer() -> None:
    from onnx import helper

    from edgekit.validate.layers import node_to_row

    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
                           helper.make_node("Relu", ["c"], ["r"], name="relu"),
                           helper.make_node("Add", ["r", "x"], ["y"], name="add")],
                          "g", [], [])
    to_row = node_to_row(g, ["conv", "add"])
    assert to_row("conv") == 0 and to_row("add") == 1
    assert to_row("relu") == 0  # fused into the conv: charged to its row
    assert to_row("not_in_graph") is None


def test_too_few_models_is_an_error() -> None:
    with pytest.raises(ConfigError, match="at least 4 models, got 2"):
        run_validation(["test_mobilenetv4", "test_efficientformer"], device=DEVICE,
                       include_test=True, log=lambda msg: None)


def test_precision_conflict_is_an_error() -> None:
    with pytest.raises(ConfigError, match="--precision int8 conflicts with device"):
        run_validation(MODELS, device=DEVICE, precision="int8", include_test=True,
                       log=lambda msg: None)


def test_calibrating_the_host_leaves_no_temporary_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    import edgekit.bench.micro as micro
    from edgekit.validate.run import calibrated_host

    def fake(threads: int = 1, quick: bool = False) -> micro.HostCalibration:
        k = [micro.KernelResult("fp32_matmul", 2e9, 1e6, 0.1),
             micro.KernelResult("int8_matmul", 8e9, 1e6, 0.1),
             micro.KernelResult("stream_add", 0.0, 1e9, 0.5)]
        return micro.HostCalibration("test host", threads, (0,), tuple(k), {}, "2024-01-01")

    monkeypatch.setattr(micro, "calibrate_host", fake)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dev = calibrated_host(threads=1, precision="fp32", log=lambda msg: None)
    assert dev.name == "host-calibrated" and dev.precision.value == "fp32"
    assert dev.peak_gmac_s.value == pytest.approx(20.0) and dev.mem_gb_s.value == pytest.approx(2.0)
    assert list(tmp_path.iterdir()) == []


def test_a_model_that_fails_to_run_is_reported_not_fatal(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    """One model the runtime cannot run (e.g. LiteRT's int8 DIV by zero) must not sink the run:
    it is recorded as failed with the runtime's message and the others are still measured."""
    import edgekit.bench.runners as runners

    real_prepare = runners.prepare

    def prepare(model: str, **kw: object) -> object:
        if model == "test_mobileone":
            raise RuntimeError("tflite/kernels/div.cc:262 data[i] != zero_point was not true.")
        return real_prepare(model, **kw)

    monkeypatch.setattr(runners, "prepare", prepare)
    entries = [Entry("test_mobilenetv4"), Entry("test_mobileone")]
    df = measure_population(entries, repeats=2, runs=2, warmup=1, min_time_s=0.0,
                            cache_dir=tmp_path, log=lambda msg: None).set_index("label")
    assert df.loc["test_mobilenetv4", "status"] == "measured"
    assert df.loc["test_mobilenetv4", "latency_ms"] > 0
    assert df.loc["test_mobileone", "status"] == "failed"
    assert "div.cc:262" in df.loc["test_mobileone", "error"]


def test_runtime_table_validation_probes_the_host_before_and_after(tmp_path: Path) -> None:
    """With a runtime table and a drift probe, the probe runs right before and right after the
    measurement; the table's prediction at the geometric mean of its two ratios is a separate,
    labelled diagnostic row and column, and both probes are kept in meta.json."""
    from edgekit.runtime.efficiency import KernelModel

    spread = {"p10_ratio": 0.9, "p90_ratio": 1.3}
    probes = iter([{"cases": 2, "median_ratio": 1.21, **spread},
                   {"cases": 2, "median_ratio": 1.0, **spread}])
    calls: list[int] = []

    def probe() -> dict[str, float]:
        calls.append(1)
        return next(probes)

    model = KernelModel({"fixed": {}, "points": []}, 1e11, 1e10)  # plain roofline per op
    v = run_validation(MODELS, device=DEVICE, include_test=True,
                       repeats=1, runs=3, warmup=1, min_time_s=0.0, layers=False,
                       cache_dir=tmp_path / "onnx", log=lambda msg: None, kernel_model=model,
                       table_runtime="onnxruntime-cpu", table_meta={}, drift_probe=probe)
    assert len(calls) == 2
    rows = v.summary.set_index("predictor")
    diag = "runtime table x host drift (diagnostic)"
    assert list(rows.index[1:4]) == ["runtime table (onnxruntime-cpu)", diag,
                                     "plain roofline, same graph"]
    assert "x1.10" in rows.loc[diag, "mode"]
    np.testing.assert_allclose(v.predictions["table_at_drift_ms"],
                               v.predictions["table_ms"] * 1.1, rtol=1e-9)
    drift = v.meta["runtime_table"]["drift"]
    assert drift["before"]["median_ratio"] == 1.21 and drift["after"]["median_ratio"] == 1.0
