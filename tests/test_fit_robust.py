"""Robust fits: an outlier is named, not fit; duplicates and spreadsheet CSVs are read right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekit.cli import main
from edgekit.errors import ConfigError
from edgekit.fit import fit_roofline, predict_s, read_measurements
from test_fit_roofline import synthetic


def test_clean_data_keeps_the_least_squares_fit() -> None:
    costs = synthetic(n=10, seed=2)
    meas = np.array([predict_s(c, 40e9, 8e9, 1e-4) for c in costs])
    meas *= np.random.default_rng(0).lognormal(0, 0.05, meas.size)  # 5% noise
    fit = fit_roofline(costs, meas)
    assert fit.loss == "linear" and fit.outliers == ()


@pytest.mark.parametrize("ridge", [None, 5.0])
def test_a_3x_outlier_is_named_and_does_not_drag_the_fit(ridge: float | None) -> None:
    costs = synthetic(n=10, seed=1)
    meas = np.array([predict_s(c, 40e9, 8e9, 1e-4) for c in costs])
    meas[2] *= 3.0
    fit = fit_roofline(costs, meas, ridge=ridge)
    assert fit.loss == "soft_l1" and fit.outliers == (2,)
    others = np.delete(np.arange(10), 2)
    err = [abs(fit.predict_s(costs[i]) / meas[i] - 1) for i in others]
    assert max(err) < 0.10, err


def test_extreme_values_do_not_overflow() -> None:
    costs = synthetic(n=6, seed=3)
    meas = np.array([predict_s(c, 40e9, 8e9) for c in costs])
    meas[0] *= 1e6
    fit = fit_roofline(costs, meas, overhead=False)
    assert 0 in fit.outliers and np.isfinite(fit.rms_log_err)


def _csv(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "m.csv"
    p.write_text(text, encoding="utf-8")
    return p


def test_conflicting_duplicates_are_merged_and_named(tmp_path: Path) -> None:
    df = read_measurements(_csv(tmp_path, "model,latency_ms\na,1.0\nb,2.0\na,4.0\nb,2.0\n"))
    assert list(df["model"]) == ["a", "b"]
    assert df["latency_ms"].tolist() == pytest.approx([2.0, 2.0])  # geometric mean of 1 and 4
    (w,) = df.attrs["warnings"]  # b's identical rows are merged silently
    assert "conflicting duplicate rows for a (lines 2, 4: 1 ms, 4 ms)" in w and "geometric" in w


def test_semicolon_and_decimal_comma(tmp_path: Path) -> None:
    df = read_measurements(_csv(tmp_path, "model;latency_ms;resolution\na;1,5;224\nb;2;224\n"))
    assert df["latency_ms"].tolist() == [1.5, 2.0] and df["resolution"].tolist() == [224, 224]


def test_decimal_comma_in_a_comma_file_is_diagnosed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"line 2 has 3 fields but the header has 2; a decimal "
                                          r"comma"):
        read_measurements(_csv(tmp_path, "model,latency_ms\na,1,5\n"))


def test_cli_names_the_outlier_and_the_duplicate(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from edgekit.device import load_device
    from edgekit.fit import model_costs

    base = load_device("x86-desktop-cpu")
    models = ["test_mobilenetv4", "test_mobileone", "test_efficientformer", "test_fastvit",
              "test_replknet", "test_mobilenetv4_hybrid"]
    lines = ["model,latency_ms"]
    for i, m in enumerate(models):
        t = predict_s(model_costs(m, base)[0], 40e9, 4e9, 2e-4) * 1e3
        lines.append(f"{m},{t * (3 if i == 1 else 1)!r}")
    lines.append(f"{models[0]},{float(lines[1].split(',')[1]) * 1.2!r}")
    code = main(["fit-device", str(_csv(tmp_path, "\n".join(lines) + "\n")), "--name", "h",
                 "--base", "x86-desktop-cpu", "--fix-ridge", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    assert "conflicting duplicate rows for test_mobilenetv4" in err
    assert "outlier: test_mobileone measured" in err


def test_cli_too_few_models_names_its_own_flags(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    csv = _csv(tmp_path, "model,latency_ms\ntest_mobilenetv4,1\ntest_mobileone,2\n"
                         "test_fastvit,3\n")
    code = main(["fit-device", str(csv), "--name", "h", "--base", "x86-desktop-cpu"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "needs at least 4 measured models, got 3" in err and "--fix-ridge" in err
