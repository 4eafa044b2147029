"""``edgekit fit-device`` succeeds on a measurement CSV and recovers the profile it came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgekit.cli import main
from edgekit.device import load_device, load_profile_file
from edgekit.fit import model_costs, predict_s

pytestmark = pytest.mark.usefixtures("module_cache")

# (model, deploy form): four measured entries of three tiny models.
ENTRIES = [("test_mobilenetv4", True), ("test_mobileone", True), ("test_mobileone", False),
           ("test_efficientformer", True)]
PEAK, BW, OVERHEAD = 40e9, 2e9, 3e-4  # the "device" the latencies are generated from


def _write_csv(tmp_path: Path, ridge: float) -> Path:
    base = load_device("x86-desktop-cpu")
    lines = ["model,latency_ms,deploy,status,device"]
    for model, deploy in ENTRIES:
        costs, _ = model_costs(model, base, deploy=deploy)
        t = predict_s(costs, ridge * BW, BW, OVERHEAD)
        lines.append(f"{model},{t * 1e3!r},{str(deploy).lower()},measured,host")
    lines.append("test_fastvit,,true,failed,host")  # skipped by its status
    p = tmp_path / "measurements.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_fit_device_with_a_fixed_ridge_recovers_scale_and_overhead(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ridge = PEAK / BW
    csv = _write_csv(tmp_path, ridge)
    rc = main(["fit-device", str(csv), "--name", "host-fit", "--base", "x86-desktop-cpu",
               "--ridge", str(ridge), "--where", "device=host", "--out", str(tmp_path / "out"),
               "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    prof = load_profile_file(out["profile"])
    assert Path(out["profile"]) == tmp_path / "out" / "host-fit.toml"
    assert prof.name == "host-fit"
    assert prof.mem_gb_s.value == pytest.approx(BW / 1e9, rel=1e-3)
    assert prof.peak_gmac_s.value == pytest.approx(PEAK / 1e9, rel=1e-3)
    assert prof.overhead_s == pytest.approx(OVERHEAD, rel=1e-2)
    assert prof.precision.value == "fp32" and "ridge" in prof.notes
    assert [m["model"] for m in out["models"]] == [m for m, _ in ENTRIES]
    assert max(abs(m["loo_err_pct"]) for m in out["models"]) < 1.0  # noiseless: LOO is exact
    assert out["fits"][0]["fit"] == "roofline" and out["fits"][0]["mode"] == "ridge"


def test_fit_device_table_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = _write_csv(tmp_path, PEAK / BW)
    rc = main(["fit-device", str(csv), "--name", "host-fit2", "--base", "x86-desktop-cpu",
               "--fix-ridge", "--no-overhead", "--no-classes", "--out", str(tmp_path)])
    text = capsys.readouterr().out
    assert rc == 0
    assert "wrote" in text and "host-fit2.toml" in text
    prof = load_profile_file(tmp_path / "host-fit2.toml")
    assert prof.ridge_mac_per_byte == pytest.approx(
        load_device("x86-desktop-cpu").ridge_mac_per_byte, rel=1e-4)
    assert prof.overhead_s == 0.0
