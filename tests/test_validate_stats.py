"""Statistics and roofline fits on synthetic populations with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.validate import (
    ModelCosts,
    OpClass,
    bootstrap_spearman,
    error_stats,
    fit_roofline,
    fittable_classes,
    loo_predictions,
    op_class,
    predict_s,
    spearman,
)


def synthetic(n: int = 24, seed: int = 0, dw_share: float = 0.0,
              ridge: float = 10.0) -> list[ModelCosts]:
    """Random models whose layer intensities spread around ``ridge`` (so P and B are both seen)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        layers = int(rng.integers(15, 50))
        macs = rng.lognormal(15, 1.5, layers)
        intensity = rng.lognormal(np.log(ridge), 1.3, layers)
        cls = [OpClass.DEPTHWISE.value if rng.random() < dw_share else OpClass.CONV.value
               for _ in range(layers)]
        out.append(ModelCosts(f"m{i}", macs, macs / intensity, tuple(cls)))
    return out


@pytest.mark.parametrize(("peak", "bw", "overhead"), [(50e9, 5e9, 4e-4), (4e12, 9e9, 1e-3),
                                                       (20e9, 40e9, 0.0)])
def test_free_fit_recovers_known_parameters(peak: float, bw: float, overhead: float) -> None:
    costs = synthetic(ridge=peak / bw)
    meas = np.array([predict_s(c, peak, bw, overhead) for c in costs])
    fit = fit_roofline(costs, meas)
    assert fit.peak_mac_s == pytest.approx(peak, rel=1e-3)
    assert fit.mem_bytes_s == pytest.approx(bw, rel=1e-3)
    assert fit.overhead_s == pytest.approx(overhead, rel=1e-3, abs=1e-6)
    assert fit.ridge_mac_per_byte == pytest.approx(peak / bw, rel=1e-3)


def test_fixed_ridge_fits_scale_and_overhead_only() -> None:
    costs = synthetic(seed=1)
    meas = np.array([predict_s(c, 31.2 * 2e9, 2e9, 2e-3) for c in costs])
    fit = fit_roofline(costs, meas, ridge=31.2)
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
    assert fit.overhead_s == 0.0
    assert fit.peak_mac_s == pytest.approx(60e9, rel=1e-3)


def test_op_class_factor_is_recovered() -> None:
    costs = synthetic(n=30, seed=3, dw_share=0.4)
    meas = np.array([predict_s(c, 50e9, 5e9, 5e-4, {"depthwise": 3.0}) for c in costs])
    assert fittable_classes(costs) == ["depthwise"]
    plain = fit_roofline(costs, meas)
    fit = fit_roofline(costs, meas, classes=["depthwise"])
    assert fit.factors["depthwise"] == pytest.approx(3.0, rel=1e-2)
    assert fit.rms_log_err < plain.rms_log_err / 10


def test_too_few_models_for_the_parameters() -> None:
    costs = synthetic(n=2)
    with pytest.raises(Exception, match="at least 3 measured models, got 2"):
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


def test_spearman_on_known_orderings() -> None:
    a = [1, 2, 3, 4, 5]
    assert spearman(a, [10, 20, 30, 40, 50]) == pytest.approx(1.0)
    assert spearman(a, [5, 4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman(a, [1, 2, 3, 5, 4]) == pytest.approx(0.9)  # 1 - 6*2/(5*24)
    assert np.isnan(spearman([1, 2], [2, 1]))
    lo, hi = bootstrap_spearman(np.arange(30), np.arange(30) + 0.5)
    assert lo == pytest.approx(1.0) and hi == pytest.approx(1.0)


def test_error_stats_known_values() -> None:
    st = error_stats([1.05, 0.8, 2.0, 1.0], [1.0, 1.0, 1.0, 1.0])
    assert st["median_abs_err_pct"] == pytest.approx(12.5)
    assert st["mape_pct"] == pytest.approx((5 + 20 + 100 + 0) / 4)
    assert st["within_10_pct"] == pytest.approx(50.0)
    assert st["within_25_pct"] == pytest.approx(75.0)


@pytest.mark.parametrize(("op", "kw", "want"), [
    ("Conv", {"kind": "conv"}, OpClass.CONV),
    ("Conv", {"kind": "depthwise"}, OpClass.DEPTHWISE),
    ("Conv", {"groups": 32}, OpClass.DEPTHWISE),
    ("MatMul", {"weight_elems": 0}, OpClass.ATTENTION_NORM),
    ("MatMul", {"weight_elems": 4096}, OpClass.CONV),
    ("Gemm", {"weight_elems": 4096}, OpClass.CONV),
    ("Softmax", {}, OpClass.ATTENTION_NORM),
    ("LayerNormalization", {}, OpClass.ATTENTION_NORM),
    ("Transpose", {}, OpClass.DATA_MOVEMENT),
    ("Add", {}, OpClass.DATA_MOVEMENT),
])
def test_op_class(op: str, kw: dict, want: OpClass) -> None:
    assert op_class(op, **kw) is want


def test_a_model_that_fails_to_run_is_reported_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    """One model the runtime cannot run (e.g. LiteRT's int8 DIV by zero) must not sink the run:
    it is recorded as failed with the runtime's message and the others are still measured."""
    import edgekit.bench.runners as runners
    from edgekit.validate import Entry, measure_population

    real_prepare = runners.prepare

    def prepare(model: str, **kw: object) -> object:
        if model == "test_mobileone":
            raise RuntimeError("tflite/kernels/div.cc:262 data[i] != zero_point was not true.")
        return real_prepare(model, **kw)

    monkeypatch.setattr(runners, "prepare", prepare)
    entries = [Entry("test_mobilenetv4"), Entry("test_mobileone")]
    df = measure_population(entries, repeats=2, runs=2, warmup=1, min_time_s=0.0,
                            log=lambda msg: None).set_index("label")
    assert df.loc["test_mobilenetv4", "status"] == "measured"
    assert df.loc["test_mobilenetv4", "latency_ms"] > 0
    assert df.loc["test_mobileone", "status"] == "failed"
    assert "div.cc:262" in df.loc["test_mobileone", "error"]
