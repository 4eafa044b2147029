"""The report job (``edgekit report``) on a small model set, without measurement."""

from __future__ import annotations

import json
import re

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


PNG = b"\x89PNG\r\n\x1a\n"
QUICK_MODELS = ("test_mobilenetv4", "test_mobilenetv4_hybrid", "mobilenetv4_conv_small",
                "mobilenetv4_hybrid_medium")


def _fake_manifests(model, profiles, **_kw):
    """Stands in for real conversions (minutes): what export_all_targets' manifests hold."""
    out = {}
    for p in profiles:
        if p.format == "coreml":
            out[p.name] = "coreml: toolchain missing"
            continue
        out[p.name] = {"status": "ok", "size_bytes": 2_000_000, "target_fingerprint":
                       p.fingerprint(), "fidelity": {"sqnr_db": 30.0, "top1_agreement": 0.97},
                       "unsupported_ops": ["MatMul"] if "hybrid" in model and p.name ==
                       "pixel4-dsp" else []}
    return out


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("report")
    mp.setenv("EDGEKIT_CACHE_DIR", str(root / "cache"))
    mp.setattr("edgekit.report.exports.export_manifests", _fake_manifests)
    out = root / "rep"
    rc = main(["report", "--quick", "--out", str(out), "--models", *QUICK_MODELS,
               "--validate-models", "test_mobilenetv4", "test_mobilenetv4_hybrid",
               "test_replknet", "--export-models", "test_mobilenetv4_hybrid", "--workers", "1"])
    yield rc, out
    mp.undo()


def test_quick_report_figures_exist_and_are_png(quick_report) -> None:
    rc, out = quick_report
    assert rc == 0
    readme = (out / "README.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
    assert len(images) >= 6, images
    assert "figures/latency_vs_accuracy_dsp.png" in images
    assert "figures/latency_vs_accuracy_sweep.png" in images
    assert "validation/scatter.png" in images
    for rel in images:
        data = (out / rel).read_bytes()
        assert data[:8] == PNG and len(data) > 5000, rel
    assert not list(out.rglob(".*.tmp*")), "temporary files left behind"
    for section in ("## Choosing a model", "## Best model per device", "## Export matrix",
                    "## Validation per runtime", "## What changed since the previous run"):
        assert section in readme


def test_quick_report_tables_parse(quick_report) -> None:
    _, out = quick_report
    csvs = sorted(out.rglob("*.csv"))
    assert {p.name for p in csvs} >= {"roofline_zoo.csv", "best_models.csv", "pareto_front.csv",
                                      "export_matrix.csv", "devices.csv", "summary.csv"}
    for path in csvs:
        pd.read_csv(path)
    for path in sorted(out.rglob("*.md")):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.startswith("|---"):
                width = lines[i - 1].count(" | ")
                body = [ln for ln in lines[i + 1:] if ln.startswith("| ")]
                body = body[:next((k for k, ln in enumerate(lines[i + 1:])
                                   if not ln.startswith("|")), len(body))]
                assert all(ln.replace("\\|", "").count(" | ") == width for ln in body), path
    zoo = pd.read_csv(out / "roofline_zoo.csv", keep_default_na=False)
    assert set(zoo["model"]) == set(QUICK_MODELS)
    assert list(zoo.columns[-2:]) == ["runnable", "unsupported_ops"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "quick" and set(summary["stage_s"]) >= {"layer tables", "exports",
                                                                     "validation"}


def test_unrunnable_models_leave_fronts_and_best_tables(quick_report) -> None:
    _, out = quick_report
    zoo = pd.read_csv(out / "roofline_zoo.csv", keep_default_na=False)
    dsp = zoo[zoo["device"] == "pixel4-dsp"].set_index("model")
    assert not dsp.loc["mobilenetv4_hybrid_medium", "runnable"]
    assert not dsp.loc["test_mobilenetv4_hybrid", "runnable"]
    assert dsp.loc["mobilenetv4_conv_small", "runnable"]
    bad = zoo[~zoo["runnable"]]
    front = pd.read_csv(out / "pareto_front.csv")
    best = pd.read_csv(out / "best_models.csv", keep_default_na=False)
    assert "mobilenetv4_conv_small" in set(front.loc[front["device"] == "pixel4-dsp", "model"])
    assert len(bad)
    for r in bad.itertuples(index=False):
        assert r.model not in set(front.loc[front["device"] == r.device, "model"])
        rows = best[best["device"] == r.device]
        assert r.model not in set(rows["model"])
        assert all(r.model not in f.split() for f in rows["fitting"])
    # ...while the hybrid stays on the front where it runs.
    assert "mobilenetv4_hybrid_medium" in set(front.loc[front["device"] == "pixel8-edgetpu",
                                                         "model"])
    matrix = pd.read_csv(out / "export_matrix.csv", keep_default_na=False).set_index("target")
    assert matrix.loc["pixel4-dsp", "runnable"] in (False, "False")
    assert matrix.loc["pixel4-dsp", "unsupported_ops"] == "MatMul"
    assert matrix.loc["iphone13-ane", "status"] == "failed"
    readme = (out / "README.md").read_text()
    assert "mobilenetv4_hybrid_medium (MatMul)" in readme


def test_second_run_reports_what_changed(quick_report, monkeypatch, tmp_path) -> None:
    import shutil

    _, first = quick_report
    out = tmp_path / "rep"
    shutil.copytree(first, out)  # the other tests keep reading the first run's folder
    monkeypatch.setenv("EDGEKIT_CACHE_DIR", str(first.parent / "cache"))
    assert main(["report", "--quick", "--out", str(out), "--no-validate", "--no-export",
                 "--models", "test_mobilenetv4", "mobilenetv4_conv_small", "--workers", "1"]) == 0
    readme = (out / "README.md").read_text()
    assert "* models removed: mobilenetv4_hybrid_medium, test_mobilenetv4_hybrid" in readme
    assert "* latencies that moved by more than 5%: 0" in readme
    assert pd.read_csv(out / "changes.csv").empty


def test_report_bad_repeats(capsys) -> None:
    assert main(["report", "--repeats", "0", "--no-validate"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "edgekit: error: --repeats must be >= 1, got 0"


@pytest.mark.parametrize("flag", ["--validate-models", "--export-models"])
def test_report_bad_model_fails_before_any_stage(capsys, tmp_path, flag) -> None:
    out = tmp_path / "rep"
    assert main(["report", "--quick", "--out", str(out), flag, "mobilenetv4_conv_smal"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("edgekit: error: unknown model 'mobilenetv4_conv_smal'")
    assert not (out / "roofline_zoo.csv").exists()


def test_failed_exports_name_each_conversion_once_with_the_targets_sharing_it() -> None:
    from edgekit.report.readme import failed_exports

    why = "m (target pixel7-gpu, tflite fp16) failed verification: SQNR 18.8 dB, below the floor"
    shared = "shares the tflite fp16 conversion made for pixel7-gpu, which failed: " + why
    matrix = pd.DataFrame([
        {"model": "m", "target": "pixel7-gpu", "format": "tflite", "precision": "fp16",
         "error": why},
        {"model": "m", "target": "s23-npu", "format": "tflite", "precision": "fp16",
         "error": shared},
        {"model": "m", "target": "s23-npu-int8", "format": "tflite", "precision": "int8",
         "error": ""},
        {"model": "m", "target": "x86", "format": "onnx", "precision": "fp32", "error": None},
    ])
    lines = failed_exports(matrix)
    rows = [ln for ln in "\n".join(lines).splitlines() if ln.startswith("| m ")]
    assert len(rows) == 1 and "pixel7-gpu, s23-npu" in rows[0] and why in rows[0]
    assert "shares the" not in rows[0]  # the error shown is the one of the target that made it
    assert failed_exports(matrix.assign(error="")) == []


def test_trust_line_names_a_profiles_kernel_prior() -> None:
    """The report's "how far to trust it" says when a phone CPU's numbers carry the x86 kernel
    prior, and says nothing of one for a profile without it."""
    from edgekit.report.readme import _kernel_prior

    line = _kernel_prior("pixel6-cpu")
    assert "host-litert-xnnpack-int8-1t" in line and "never saw" in line and "low" in line
    assert _kernel_prior("pixel8-edgetpu") == ""
