"""Runners, per-layer profiling, host calibration, and the bench/calibrate CLIs."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.bench import Runtime, bench, profile_onnxruntime
from edgekit.bench.runners import onnx_for_model
from edgekit.cli import main


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory) -> str:
    path, _ = onnx_for_model("test_mobilenetv4", cache_dir=tmp_path_factory.mktemp("cache"))
    return path


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory: pytest.TempPathFactory) -> str:
    litert_torch = pytest.importorskip("litert_torch")
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, padding=1, groups=8)).eval()
    out = tmp_path_factory.mktemp("tfl") / "tiny.tflite"
    litert_torch.convert(model, (torch.zeros(1, 3, 16, 16),)).export(str(out))
    return str(out)


def test_onnxruntime_model_name(tmp_path: Path) -> None:
    r = bench("test_mobilenetv4", runs=5, warmup=1, cache_dir=tmp_path)
    assert r.runtime is Runtime.ONNXRUNTIME and r.threads == 1 and r.runs == 5
    assert 0 < r.p10_ms <= r.median_ms <= r.p90_ms
    assert r.resolution == 64 and r.affinity and "onnxruntime" in r.versions
    row = r.to_frame().iloc[0]
    assert {"median_ms", "p10_ms", "p90_ms", "mean_ms"} <= set(row.index)


def test_torch_runtime() -> None:
    r = bench("test_mobilenetv4", runtime="torch", runs=3, warmup=1, threads=1)
    assert r.runtime is Runtime.TORCH and r.artifact is None and r.median_ms > 0
    import torch

    assert torch.get_num_threads() == 1


@pytest.mark.toolchain
@pytest.mark.parametrize("xnnpack", [True, False])
def test_litert_artifact(tiny_tflite: str, xnnpack: bool) -> None:
    r = bench(tiny_tflite, runs=3, warmup=1, xnnpack=xnnpack)
    assert r.runtime is Runtime.LITERT and r.xnnpack is xnnpack and r.median_ms > 0
    assert r.resolution == 16


def test_min_time_extends_runs(tiny_onnx: str) -> None:
    r = bench(tiny_onnx, runs=2, warmup=0, min_time_s=0.05)
    assert r.runs > 2


def test_profile_maps_every_kernel_to_a_graph_node(tiny_onnx: str) -> None:
    import onnx

    prof = profile_onnxruntime(tiny_onnx, runs=3, warmup=1)
    nodes = {n.name for n in onnx.load(tiny_onnx).graph.node}
    assert (prof["time_ms"] > 0).all()
    assert set(prof["onnx_node"]) <= nodes  # no "<layout>" leftovers
    assert prof["onnx_node"].str.contains("Conv|Relu|Mul|Gemm").sum() > 20


@pytest.mark.parametrize(("argv", "message"), [
    (["bench", "test_mobilenetv4", "--runtime", "tensorrt"],
     "unknown runtime 'tensorrt'"),
    (["bench", "test_mobilenetv4", "--runtime", "onnxruntim"],
     "did you mean 'onnxruntime'?"),
    (["bench", "test_mobilenetv4", "--threads", "0"], "--threads must be >= 1, got 0"),
    (["bench", "test_mobilenetv4", "--runs", "0"], "--runs must be >= 1, got 0"),
    (["bench", "test_mobilenetv4", "--no-xnnpack"], "--no-xnnpack applies to --runtime litert"),
    (["validate", "--runtime", "tpu"], "unknown runtime 'tpu'"),
])
def test_bad_options(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("edgekit: error: ") and message in err


def test_artifact_of_unknown_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "model.txt"
    p.write_text("not a model")
    assert main(["bench", str(p)]) == 1
    err = capsys.readouterr().err
    assert "format '.txt', which no runtime here can run" in err and ".tflite (litert)" in err


def test_onnx_artifact_to_litert(tiny_onnx: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", tiny_onnx, "--runtime", "litert"]) == 1
    err = capsys.readouterr().err
    assert "is a .onnx file, but --runtime litert runs .tflite files; use --runtime onnxruntime" in err


def test_artifact_to_torch(tiny_onnx: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", tiny_onnx, "--runtime", "torch"]) == 1
    assert "--runtime torch runs registry models, not artifacts" in capsys.readouterr().err


def test_corrupt_onnx(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "broken.onnx"
    p.write_bytes(b"\x00garbage")
    assert main(["bench", str(p)]) == 1
    assert "onnxruntime cannot load" in capsys.readouterr().err


def test_missing_artifact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", str(tmp_path / "nope.onnx")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_bench_cli_table_and_layers(tiny_onnx: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", tiny_onnx, "--runs", "3", "--warmup", "1", "--layers"]) == 0
    out = capsys.readouterr().out
    assert "median_ms" in out and "p90_ms" in out and "slowest layers" in out


def test_calibrate_writes_loadable_profiles(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from edgekit.device import load_device

    assert main(["calibrate", "--quick", "--name", "host-test", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ridge" in out
    fp32 = load_device(tmp_path / "host-test.toml")
    int8 = load_device("host-test-int8", [str(tmp_path)])
    assert fp32.format == "onnx" and fp32.precision.value == "fp32" and fp32.kind.value == "cpu"
    assert int8.precision.value == "int8"
    assert fp32.peak_gmac_s.value > 0.5 and fp32.mem_gb_s.value > 0.1
    assert fp32.peak_gmac_s.source.startswith("edgekit calibrate on ")


def test_calibrate_bad_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "--name", "Host_1"]) == 1
    assert "--name must be kebab-case" in capsys.readouterr().err
