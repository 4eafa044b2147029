"""Runners, per-layer profiling, host calibration, the artifact cache, bench and calibrate CLIs."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.bench import Runtime, bench, profile_onnxruntime
from edgekit.bench.artifacts import artifact_for_model
from edgekit.cli import main
from edgekit.export import get_exporter
from edgekit.precision import Precision

# Benchmark artifacts go to a cache of this module (conftest's module_cache), not the user's.
pytestmark = pytest.mark.usefixtures("module_cache")


@pytest.fixture(scope="module")
def tiny_onnx(module_cache: None) -> str:
    path, _ = artifact_for_model("test_mobilenetv4", get_exporter("onnx"),
                                 precision=Precision.FP32)
    return str(path)


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory: pytest.TempPathFactory) -> str:
    pytest.importorskip("litert_torch", reason="TFLite needs litert-torch: pip install -c "
                        "constraints.txt 'edgekit[tflite]'")
    import torch
    from torch import nn

    from edgekit.export import export

    with torch.random.fork_rng(devices=[]):  # seeded weights, the caller's RNG untouched
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                              nn.Conv2d(8, 8, 3, padding=1, groups=8)).eval()
    out = tmp_path_factory.mktemp("tfl") / "tiny.tflite"
    return str(export(model, format="tflite", resolution=16, out=out, verify=False,
                      log=None).artifact)


def test_onnxruntime_model_name() -> None:
    r = bench("test_mobilenetv4", runs=5, warmup=1)
    assert r.runtime is Runtime.ONNXRUNTIME and r.threads == 1 and r.runs == 5
    assert 0 < r.p10_ms <= r.median_ms <= r.p90_ms
    assert r.resolution == 64 and r.affinity and "onnxruntime" in r.versions
    row = r.to_frame().iloc[0]
    assert {"median_ms", "p10_ms", "p90_ms", "mean_ms"} <= set(row.index)


def test_torch_runtime_restores_the_thread_count() -> None:
    import torch

    from edgekit.bench.runners import prepare

    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        p = prepare("test_mobilenetv4", runtime="torch", threads=1)
        assert torch.get_num_threads() == 2, "prepare must not change the thread count"
        with p.context():
            assert torch.get_num_threads() == 1  # the timed runs are pinned
        assert torch.get_num_threads() == 2
        r = bench("test_mobilenetv4", runtime="torch", runs=3, warmup=1, threads=1)
        assert r.runtime is Runtime.TORCH and r.artifact is None and r.median_ms > 0
        assert r.threads == 1 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(saved)


def test_bench_leaves_the_global_rng_alone() -> None:
    import torch

    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    bench("test_mobilenetv4", runtime="torch", runs=1, warmup=0)
    bench("test_mobilenetv4", runs=1, warmup=0)  # onnxruntime: exported (or cached) first
    torch.testing.assert_close(torch.rand(3), expected)


def test_model_name_times_the_exported_artifact(tmp_path: Path) -> None:
    """bench of a model name runs what `edgekit export` ships (simplified ONNX), from the cache."""
    import json

    import onnx

    r = bench("test_mobilenetv4", runs=2, warmup=0, cache_dir=tmp_path)
    art = Path(r.artifact)
    assert art.parent == tmp_path and art.suffix == ".onnx"
    manifest = json.loads(art.with_name(art.name.replace(".onnx", ".manifest.json")).read_text())
    # simplified (with trained-like weights nothing is dead, so it may remove no node)
    assert manifest["notes"]["simplifier"] in ("onnxslim", "onnxsim")
    assert manifest["notes"]["nodes"] <= manifest["notes"]["nodes_before_simplify"]
    assert len(onnx.load(str(art)).graph.node) == manifest["notes"]["nodes"]
    assert manifest["form"] == "deploy" and manifest["fidelity"]["status"] == "not run"
    mtime = art.stat().st_mtime_ns
    assert bench("test_mobilenetv4", runs=1, warmup=0, cache_dir=tmp_path).artifact == str(art)
    assert art.stat().st_mtime_ns == mtime, "a cached artifact must be reused, not rewritten"
    assert not list(tmp_path.glob(".*")), "temporary files left in the cache"


# --- the artifact cache key ---------------------------------------------------------------------
def _key(**kw: object) -> str:
    from edgekit.bench.artifacts import artifact_key, key_digest

    args = {"model": "test_mobileone", "resolution": 64, "deploy": True,
            "weights": "random init seed 0", "precision": Precision.FP32,
            "exporter": get_exporter("onnx"), **kw}
    return key_digest(artifact_key(**args))  # type: ignore[arg-type]


def test_artifact_key_covers_what_the_artifact_depends_on(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import edgekit.bench.artifacts as artifacts

    base = _key()
    assert _key() == base  # deterministic
    variants = {
        "train form": _key(deploy=False),
        "resolution": _key(resolution=96),
        "weights": _key(weights="sha256 0123"),
        "model": _key(model="test_fastvit"),
        "precision": _key(precision=Precision.INT8),
        "format": _key(exporter=get_exporter("tflite")),
    }
    for what, digest in variants.items():
        assert digest != base, f"the key ignores the {what}"
    ckpt = tmp_path / "w.pt"
    ckpt.write_bytes(b"weights A")
    a = artifacts.weights_id(ckpt)
    ckpt.write_bytes(b"weights B")
    assert artifacts.weights_id(ckpt) != a and a.startswith("sha256 ")
    assert artifacts.weights_id(None) == "random init seed 0"
    monkeypatch.setattr(artifacts, "code_version", lambda: "edited-checkout")
    assert _key() != base, "a code change must invalidate cached artifacts"


def test_train_and_deploy_forms_get_their_own_artifacts(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    """The old bug: ``bench --train-form --runtime litert`` timed the deploy model."""
    import edgekit.bench.runners as runners
    import edgekit.export.pipeline as pipeline

    calls: list[dict] = []

    def fake_export(name: str, **kw: object) -> None:  # what export would write, instantly
        calls.append({"name": name, **kw})
        out = Path(str(kw["out"]))
        out.write_bytes(b"artifact")
        out.with_name(out.name.replace(".tflite", ".manifest.json")).write_text("{}")

    monkeypatch.setattr(pipeline, "export", fake_export)
    monkeypatch.setattr(runners, "prepare_artifact", lambda path, rt, **kw: (Path(path), rt))
    deploy, rt = runners.prepare("test_mobileone", runtime="litert", cache_dir=tmp_path)
    train, _ = runners.prepare("test_mobileone", runtime="litert", deploy=False,
                               cache_dir=tmp_path)
    assert rt is Runtime.LITERT
    assert deploy != train and "_deploy_" in deploy.name and "_train_" in train.name
    assert [c["deploy"] for c in calls] == [True, False]
    assert all(c["verify"] is False and c["format"] == "tflite" for c in calls)
    runners.prepare("test_mobileone", runtime="litert", deploy=False, cache_dir=tmp_path)
    assert len(calls) == 2, "the cached train-form artifact was exported again"


@pytest.mark.toolchain
def test_litert_train_and_deploy_artifacts_differ(tmp_path: Path) -> None:
    """Real conversions: the train-form .tflite keeps the parallel branches the deploy one fuses."""
    pytest.importorskip("litert_torch", reason="TFLite needs litert-torch: pip install -c "
                        "constraints.txt 'edgekit[tflite]'")
    from edgekit.export import sha256_of

    exp = get_exporter("tflite")
    forms = {d: artifact_for_model("test_mobileone", exp, precision=Precision.FP32, deploy=d,
                                   cache_dir=tmp_path)[0] for d in (True, False)}
    assert sha256_of(forms[True]) != sha256_of(forms[False])

    def convs(path: Path) -> int:
        return sum(r.count for r in exp.inventory(path).ops
                   if r.op in ("CONV_2D", "DEPTHWISE_CONV_2D"))

    assert convs(forms[False]) > convs(forms[True]), {d: convs(p) for d, p in forms.items()}


def test_train_form_is_exported_as_such() -> None:
    import json

    nodes = {}
    for deploy in (True, False):
        r = bench("test_replknet", runs=1, warmup=0, deploy=deploy)
        art = Path(r.artifact)
        m = json.loads(art.with_name(art.name.replace(".onnx", ".manifest.json")).read_text())
        assert m["form"] == ("deploy" if deploy else "train")
        nodes[deploy] = m["notes"]["nodes"]
    assert nodes[False] > nodes[True], nodes  # the train form keeps its parallel branches


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
    # the profiled runs' own wall time holds their kernels (medians, so with some slack)
    assert prof.attrs["run_ms"] >= 0.5 * prof["time_ms"].sum() > 0
    # each node's fastest run, from the same events: never above its median, never zero
    assert (prof["min_ms"] <= prof["time_ms"]).all() and (prof["min_ms"] > 0).all()
    assert 0 < prof.attrs["run_min_ms"] <= prof.attrs["run_ms"]


def test_profile_charges_a_rewritten_kernel_to_the_case_op(tmp_path: Path) -> None:
    """A kernel case's layout Transpose then HardSwish: ORT moves the Transpose past the
    HardSwish and runs that as HardSigmoid + Mul, under names no original tensor has; the
    kernels are still the HardSwish node's, not "<layout>"."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 16])
    graph = helper.make_graph(
        [helper.make_node("Transpose", ["x"], ["t"], name="/Transpose", perm=[0, 2, 3, 1]),
         helper.make_node("HardSwish", ["t"], ["y"], name="/HardSwish")], "case", [x], [y])
    path = tmp_path / "hswish.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=9), path)
    prof = profile_onnxruntime(str(path), runs=3, warmup=1)
    assert set(prof["onnx_node"]) <= {"/Transpose", "/HardSwish"}
    assert "/HardSwish" in set(prof["onnx_node"])
    assert np.isfinite(prof["time_ms"]).all()


@pytest.mark.parametrize(("argv", "message"), [
    (["bench", "test_mobilenetv4", "--runtime", "tensorrt"],
     "unknown runtime 'tensorrt'"),
    (["bench", "test_mobilenetv4", "--runtime", "onnxruntim"],
     "did you mean 'onnxruntime'?"),
    (["bench", "test_mobilenetv4", "--threads", "0"], "--threads must be between 1 and"),
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


def test_round_latency_is_the_fastest_rounds_median() -> None:
    from edgekit.bench.results import round_latency

    # two rounds in the contended mode, one in the fast one: the fast one is the latency
    assert round_latency([6.7, 4.2, 6.8]) == 4.2
    assert round_latency((3.0,)) == 3.0
    with pytest.raises(ValueError, match="at least one round"):
        round_latency([])
