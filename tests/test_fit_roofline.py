"""Roofline fits (edgekit.fit) on synthetic populations with known answers, and fit groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edgekit.device import load_device, load_profile_file
from edgekit.errors import ConfigError
from edgekit.fit import (
    ATTENTION_NORM_OPS,
    FIT_GROUPS,
    FitGroup,
    ModelCosts,
    costs_from_layers,
    fit_group,
    fit_modes,
    fit_report,
    fit_roofline,
    fittable_classes,
    loo_predictions,
    predict_layers_s,
    predict_s,
    profile_from_fit,
    toml_string,
)
from edgekit.roofline.opclass import OpClass

DW, CONV = FitGroup.DEPTHWISE.value, FitGroup.CONV.value


def synthetic(n: int = 24, seed: int = 0, dw_share: float = 0.0,
              ridge: float = 10.0) -> list[ModelCosts]:
    """Random models whose layer intensities spread around ``ridge`` (so P and B are both seen)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        layers = int(rng.integers(15, 50))
        macs = rng.lognormal(15, 1.5, layers)
        intensity = rng.lognormal(np.log(ridge), 1.3, layers)
        cls = [DW if rng.random() < dw_share else CONV for _ in range(layers)]
        out.append(ModelCosts(f"m{i}", macs, macs / intensity, tuple(cls)))
    return out


def test_prediction_is_the_hand_computed_roofline() -> None:
    c = ModelCosts("m", [1e9, 2e6], [1e6, 4e6], (CONV, DW))
    # Layer 1: max(1e9 / 1e10, 1e6 / 1e8) = 0.1 s; layer 2: max(2e-4, 0.04) = 0.04 s.
    np.testing.assert_allclose(predict_layers_s(c, 1e10, 1e8), [0.1, 0.04])
    assert predict_s(c, 1e10, 1e8, 0.5) == pytest.approx(0.64)
    assert predict_s(c, 1e10, 1e8, 0.0, {DW: 3.0}) == pytest.approx(0.1 + 0.12)


@pytest.mark.parametrize(("peak", "bw", "overhead"), [(50e9, 5e9, 4e-4), (4e12, 9e9, 1e-3),
                                                       (20e9, 40e9, 0.0)])
def test_free_fit_recovers_known_parameters(peak: float, bw: float, overhead: float) -> None:
    costs = synthetic(ridge=peak / bw)
    meas = np.array([predict_s(c, peak, bw, overhead) for c in costs])
    fit = fit_roofline(costs, meas)
    assert fit.mode == "free"
    assert fit.peak_mac_s == pytest.approx(peak, rel=1e-3)
    assert fit.mem_bytes_s == pytest.approx(bw, rel=1e-3)
    assert fit.overhead_s == pytest.approx(overhead, rel=1e-3, abs=1e-6)
    assert fit.ridge_mac_per_byte == pytest.approx(peak / bw, rel=1e-3)
    assert fit.rms_log_err < 1e-4


def test_fixed_ridge_fits_scale_and_overhead_only() -> None:
    costs = synthetic(seed=1)
    meas = np.array([predict_s(c, 31.2 * 2e9, 2e9, 2e-3) for c in costs])
    fit = fit_roofline(costs, meas, ridge=31.2)
    assert fit.mode == "ridge"
    assert fit.ridge_mac_per_byte == pytest.approx(31.2, rel=1e-9)
    assert fit.mem_bytes_s == pytest.approx(2e9, rel=1e-3)
    assert fit.overhead_ms == pytest.approx(2.0, rel=1e-3)
    # A wrong fixed ridge cannot fit exactly: the residual shows it.
    wrong = fit_roofline(costs, meas, ridge=500.0)
    assert wrong.rms_log_err > 10 * fit.rms_log_err + 1e-3


def test_no_overhead_mode_reports_zero() -> None:
    costs = synthetic(seed=2)
    meas = np.array([predict_s(c, 60e9, 6e9) for c in costs])
    fit = fit_roofline(costs, meas, overhead=False)
    assert fit.mode == "free-no-overhead"
    assert fit.overhead_s == 0.0
    assert fit.peak_mac_s == pytest.approx(60e9, rel=1e-3)
    assert fit.mem_bytes_s == pytest.approx(6e9, rel=1e-3)


def test_ridge_without_overhead_fits_the_scale_alone() -> None:
    costs = synthetic(n=8, seed=6)
    meas = np.array([predict_s(c, 20 * 3e9, 3e9) for c in costs])
    fit = fit_roofline(costs, meas, ridge=20.0, overhead=False)
    assert fit.mode == "ridge-no-overhead"
    assert fit.mem_bytes_s == pytest.approx(3e9, rel=1e-6)
    assert fit.overhead_s == 0.0


def test_class_factor_is_recovered() -> None:
    costs = synthetic(n=30, seed=3, dw_share=0.4)
    meas = np.array([predict_s(c, 50e9, 5e9, 5e-4, {DW: 3.0}) for c in costs])
    assert fittable_classes(costs) == [DW]
    plain = fit_roofline(costs, meas)
    fit = fit_roofline(costs, meas, classes=[DW])
    assert fit.mode == "free+classes"
    assert fit.factors[DW] == pytest.approx(3.0, rel=1e-2)
    assert fit.peak_mac_s == pytest.approx(50e9, rel=1e-2)
    assert fit.rms_log_err < plain.rms_log_err / 10
    assert fit.row()[f"factor_{DW}"] == fit.factors[DW]


def test_fittable_classes_needs_share_and_models() -> None:
    costs = synthetic(n=10, seed=7, dw_share=0.4)
    assert fittable_classes(costs) == [DW]
    assert fittable_classes(costs, min_models=11) == []  # only 10 models carry it
    assert fittable_classes(synthetic(n=10, seed=7)) == []  # no depthwise layers at all


def test_fit_modes_reports_the_plain_and_the_class_fit() -> None:
    costs = synthetic(n=12, seed=8, dw_share=0.4)
    meas = np.array([predict_s(c, 40e9, 4e9, 1e-3, {DW: 2.0}) for c in costs])
    reps = fit_modes(costs, meas)
    assert list(reps) == ["roofline", "roofline+classes"]
    cls = reps["roofline+classes"]
    assert cls.fit.factors[DW] == pytest.approx(2.0, rel=1e-2)
    assert cls.stats_loo["median_abs_err_pct"] < 1.0
    assert reps["roofline"].stats_loo["median_abs_err_pct"] > cls.stats_loo["median_abs_err_pct"]
    assert len(cls.loo_pred_s) == len(cls.in_sample_pred_s) == 12
    row = cls.row()
    assert row["mode"] == "free+classes" and "loo_r_s" in row and "fit_mape_pct" in row
    assert list(fit_modes(costs, meas, with_classes=False)) == ["roofline"]


def test_fit_report_on_noiseless_data() -> None:
    costs = synthetic(n=6, seed=9)
    meas = np.array([predict_s(c, 30e9, 3e9, 2e-4) for c in costs])
    rep = fit_report(costs, meas, ridge=10.0)
    np.testing.assert_allclose(rep.loo_pred_s, meas, rtol=1e-4)
    assert rep.stats_in_sample["within_10_pct"] == 100.0


def test_too_few_models_for_the_parameters() -> None:
    costs = synthetic(n=2)
    with pytest.raises(ConfigError, match="at least 3 measured models, got 2"):
        fit_roofline(costs, [1e-3, 2e-3])


def test_loo_on_noiseless_data_predicts_exactly() -> None:
    costs = synthetic(n=10, seed=4)
    meas = np.array([predict_s(c, 40e9, 8e9, 1e-4) for c in costs])
    loo = loo_predictions(costs, meas)
    np.testing.assert_allclose(loo, meas, rtol=1e-3)


def test_loo_exposes_an_outlier_the_full_fit_hides() -> None:
    costs = synthetic(n=10, seed=5)
    meas = np.array([predict_s(c, 40e9, 8e9, 1e-4) for c in costs])
    meas[3] *= 2.0  # one model runs twice as slow as its roofline
    loo = loo_predictions(costs, meas)
    err = np.abs(loo - meas) / meas
    assert err[3] == pytest.approx(0.5, abs=0.08)  # predicted from the other nine: half
    assert np.median(np.delete(err, 3)) < 0.15


@pytest.mark.parametrize("cls", list(OpClass))
def test_every_op_class_has_a_fit_group(cls: OpClass) -> None:
    assert isinstance(FIT_GROUPS[cls], FitGroup)


@pytest.mark.parametrize(("cls", "op", "want"), [
    (OpClass.DENSE_CONV, "Conv", FitGroup.CONV),
    (OpClass.GROUPED_CONV, "Conv", FitGroup.CONV),
    (OpClass.DEPTHWISE, "Conv", FitGroup.DEPTHWISE),
    (OpClass.LINEAR, "Gemm", FitGroup.CONV),
    (OpClass.LINEAR, "MatMul", FitGroup.CONV),
    (OpClass.MATMUL, "MatMul", FitGroup.ATTENTION_NORM),
    (OpClass.NORM, "Softmax", FitGroup.ATTENTION_NORM),
    (OpClass.NORM, "LayerNormalization", FitGroup.ATTENTION_NORM),
    (OpClass.ACTIVATION, "Relu", FitGroup.DATA_MOVEMENT),
    (OpClass.ACTIVATION, "Gelu", FitGroup.ATTENTION_NORM),  # as the fit always grouped it
    (OpClass.ELEMENTWISE, "Add", FitGroup.DATA_MOVEMENT),
    (OpClass.ELEMENTWISE, "Div", FitGroup.ATTENTION_NORM),
    (OpClass.POOL, "GlobalAveragePool", FitGroup.DATA_MOVEMENT),
    (OpClass.POOL, "ReduceMean", FitGroup.ATTENTION_NORM),
    (OpClass.DATA_MOVEMENT, "Transpose", FitGroup.DATA_MOVEMENT),
    (OpClass.CONSTANT, "Constant", FitGroup.DATA_MOVEMENT),
])
def test_fit_group(cls: OpClass, op: str, want: FitGroup) -> None:
    assert fit_group(cls.value, op) is want


def test_attention_norm_ops_are_named_onnx_ops() -> None:
    from edgekit.device import onnx_op_types

    assert ATTENTION_NORM_OPS <= onnx_op_types()


def test_costs_from_layers_reads_the_op_class_column() -> None:
    layers = pd.DataFrame({"op_type": ["Conv", "Conv", "MatMul", "Relu"],
                           "op_class": ["dense_conv", "depthwise", "matmul", "activation"],
                           "macs": [10, 20, 30, 0], "bytes": [1, 2, 3, 4]})
    c = costs_from_layers("m", layers)
    assert c.fit_group == ("conv", "depthwise", "attention_norm", "data_movement")
    assert c.total_macs == 60.0 and c.total_bytes == 10.0
    assert c.relabel("m[train]").model == "m[train]"


def test_profile_from_fit_round_trips(tmp_path) -> None:  # noqa: ANN001
    costs = synthetic(n=6, seed=10)
    meas = np.array([predict_s(c, 12e9, 3e9, 1e-3) for c in costs])
    fit = fit_roofline(costs, meas)
    base = load_device("x86-desktop-cpu")
    path = tmp_path / "host-fit.toml"
    path.write_text(profile_from_fit(fit, "host-fit", base, source='fit "by" C:\\test'),
                    encoding="utf-8")
    prof = load_profile_file(path)
    assert prof.peak_gmac_s.value == pytest.approx(12.0, rel=1e-4)
    assert prof.mem_gb_s.value == pytest.approx(3.0, rel=1e-4)
    assert prof.overhead_s == pytest.approx(1e-3, rel=1e-3)
    assert prof.peak_gmac_s.source == 'fit "by" C:\\test'
    assert prof.precision == base.precision and prof.fuses == base.fuses


def test_toml_string_escapes() -> None:
    import tomllib

    text = 'a "quoted" back\\slash'
    assert tomllib.loads(f"x = {toml_string(text)}")["x"] == text
