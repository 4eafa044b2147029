"""The report job (``edgekit report``) on a small model set, without measurement."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from edgekit.cli import main
from edgekit.report.writer import markdown_table, published_scores


def test_markdown_table_formats_and_escapes() -> None:
    df = pd.DataFrame({"a": ["x|y", "z"], "b": [1.23456, np.nan]})
    text = markdown_table(df)
    assert text.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 1.23 |", "| z |  |"]


def test_published_scores_rank_and_error() -> None:
    comp = pd.DataFrame({
        "model": ["a", "b", "c", "a", "b", "c"],
        "device": ["d1"] * 3 + ["d2"] * 3,
        "predicted_ms": [1.0, 2.0, 3.0, 3.0, 2.0, 1.0],
        "published_ms": [1.0, 2.0, 4.0, 1.0, 2.0, 3.0],
    })
    macs = pd.Series({"a": 1.0, "b": 2.0, "c": 3.0})
    s = published_scores(comp, macs).set_index("device")
    assert s.loc["d1", "r_s_roofline"] == pytest.approx(1.0)
    assert s.loc["d2", "r_s_roofline"] == pytest.approx(-1.0)
    assert s.loc["d2", "r_s_macs"] == pytest.approx(1.0)
    assert s.loc["d1", "median_abs_err_pct"] == pytest.approx(0.0)
    assert s.loc["d1", "within_25_pct"] == pytest.approx(100.0)


def test_report_writes_tables_figures_and_readme(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("EDGEKIT_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "rep"
    rc = main(["report", "--out", str(out), "--no-validate", "--models",
               "mobilenetv4_conv_small", "mobilenetv2_050", "--workers", "1"])
    assert rc == 0
    assert str(out / "README.md") in capsys.readouterr().out
    zoo = pd.read_csv(out / "roofline_zoo.csv")
    assert set(zoo["model"]) == {"mobilenetv4_conv_small", "mobilenetv2_050"}
    assert {"pixel8-edgetpu", "rp0", "rp500"} <= set(zoo["device"])
    assert (zoo["latency_ms"] > 0).all()
    comp = pd.read_csv(out / "published_comparison.csv")
    # conv_small is in the paper's table on all seven devices
    assert set(comp["device"]) >= {"pixel6-cpu", "s23-cpu", "pixel4-dsp", "pixel8-edgetpu"}
    assert (comp["model"] == "mobilenetv4_conv_small").all()
    for name in ("latency_vs_accuracy_sweep.png", "latency_vs_accuracy_devices.png",
                 "roofline__mobilenetv4_conv_small__pixel6-cpu.png"):
        assert (out / "figures" / name).stat().st_size > 10_000
    meta = json.loads((out / "roofline_zoo.csv.meta.json").read_text())
    assert "pixel8-edgetpu" in meta["devices"]
    assert "roofline_zoo.csv" in (out / "README.md").read_text()
    assert not list(out.rglob(".*.tmp*")), "temporary files left behind"


def test_report_bad_repeats(capsys) -> None:
    assert main(["report", "--repeats", "0", "--no-validate"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "edgekit: error: --repeats must be >= 1, got 0"
