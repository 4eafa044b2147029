"""``edgekit fit-device --model runtime``: --where on a CSV with extra columns and devices, an
unbuildable row skipped with one line, and the layer-table shape fix for run-time shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgekit.cli import main
from edgekit.device import load_device, load_profile_file
from edgekit.fit.runtime_fit import RuntimeFit, run_costs
from edgekit.roofline import layer_table

pytestmark = pytest.mark.usefixtures("module_cache")

TRUTH = RuntimeFit(peak_mac_s=5e11, mem_bytes_s=2e10, per_op_s=3e-6, overhead_s=2e-4)
RESOLUTIONS = (64, 96, 128, 160, 192, 224)


def _csv(tmp_path: Path) -> Path:
    base = load_device("s23-npu")
    lines = ["model,resolution,latency_ms,device,target,precision,layers_total,status,source"]
    for r in RESOLUTIONS:
        c = run_costs(layer_table("test_mobilenetv4", r), base, "test_mobilenetv4")
        n = c.n_ops + r // 32  # the row's own op count is what the fit uses
        c = type(c)(c.model, c.macs, c.bytes, c.op_class, n)
        t = TRUTH.predict_s(c) * 1e3
        lines.append(f"test_mobilenetv4,{r},{t!r},Galaxy S23,s23-npu,fp16,{n},measured,x @ 1")
        lines.append(f"test_mobilenetv4,{r},{2 * t!r},Galaxy S25,s25-npu,fp16,{n},measured,y")
        lines.append(f"test_mobilenetv4,{r},{t / 2!r},Galaxy S23,s23-npu,int8,{n},measured,z")
    lines.append("no_such_model,224,1.0,Galaxy S23,s23-npu,fp16,100,measured,x @ 1")
    p = tmp_path / "aihub.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_runtime_fit_device_selects_rows_skips_unbuildable_and_recovers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = _csv(tmp_path)
    rc = main(["fit-device", str(csv), "--name", "my-s23", "--base", "s23-npu", "--model",
               "runtime", "--where", "target=s23-npu", "--where", "precision=fp16",
               "--out", str(tmp_path / "out"), "--json"])
    cap = capsys.readouterr()
    assert rc == 0
    assert "skipped model 'no_such_model'" in cap.err and "line 20" in cap.err
    out = json.loads(cap.out)
    assert out["rows_used"] == len(RESOLUTIONS) and out["rows"] == len(RESOLUTIONS) + 1
    assert out["loo"]["loo_median_abs_err_pct"] < 1.0
    prof = load_profile_file(tmp_path / "out" / "my-s23.toml")
    assert prof.runtime == "tflite-qnn" and prof.precision.value == "fp16"
    assert prof.runtime_costs is not None
    assert prof.runtime_costs.per_op_us == pytest.approx(3.0, rel=0.05)
    assert prof.overhead_ms is not None and prof.overhead_ms.value == pytest.approx(0.2, rel=0.05)


def test_runtime_fit_device_rejects_ridge_flags(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["fit-device", str(_csv(tmp_path)), "--name", "x-fit", "--base", "s23-npu",
               "--model", "runtime", "--fix-ridge", "--where", "target=s23-npu"])
    assert rc == 1
    assert "drop them with --model runtime" in capsys.readouterr().err


def test_shapes_computed_at_run_time_count_their_macs() -> None:
    """A Swin-style pad-to-window and reshape whose sizes come from the input's shape."""
    import onnx
    import torch
    from torch import nn

    from edgekit._onnx import torch_to_onnx
    from edgekit.roofline.counting import count_graph, rows_to_frame
    from edgekit.roofline.extract import shapes_by_running

    class Windows(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:  # (1, 4, 10, 10)
            b, c, h, w = x.shape
            pad = (7 - w % 7) % 7
            x = nn.functional.pad(x, (0, pad, 0, pad))  # (1, 4, 14, 14)
            n = x.shape[-1] // 7
            win = x.reshape(b, c, n, 7, n, 7).permute(0, 2, 4, 3, 5, 1).reshape(-1, 49, c)
            return win @ win.transpose(1, 2)  # (4, 49, 49): 4 * 49 * 49 * 4 MACs

    with torch.no_grad():
        proto = torch_to_onnx(Windows().eval(), (1, 4, 10, 10), export_params=False)
    del proto.graph.value_info[:]  # as if shape inference had left every size symbolic
    fixed = shapes_by_running(proto)
    macs = rows_to_frame(count_graph(fixed, ["input"]))["macs"].sum()
    assert macs == 4 * 49 * 49 * 4
    assert isinstance(fixed, onnx.ModelProto)


def test_npu_targets_plan_tflite_fp16_and_int8() -> None:
    from edgekit.device import Precision
    from edgekit.export import plan

    assert (plan("s23-npu").exporter.name, plan("s23-npu").precision) == ("tflite", Precision.FP16)
    assert plan("s25-npu-int8").precision is Precision.INT8


@pytest.mark.slow
@pytest.mark.parametrize(("target", "precision"), [("s23-npu", "fp16"), ("s23-npu-int8", "int8")])
def test_export_for_npu_targets(target: str, precision: str, tmp_path: Path) -> None:
    import json as _json

    from edgekit.export import export

    pytest.importorskip("litert_torch", reason="needs the tflite extra (litert-torch)")
    res = export("test_mobilenetv4", target=target, out=tmp_path)
    manifest = _json.loads((Path(res.artifact).parent / "manifest.json").read_text())
    assert manifest["format"] == "tflite" and manifest["precision"] == precision
    assert manifest["target"] == target and manifest["unsupported_ops"] == []
    if precision == "int8":
        assert manifest["calibration"]
