"""Export reliability (issue 9): ops judged by what they compute, fidelity floors, trained-like
random weights, Ctrl-C, quiet stderr and JSON stdout, no silent overwrite, ``import timm``.

Conversions are the slow part (litert-torch ~10 s even for tiny models), so each artifact is
made once per module and shared by the tests that inspect it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edgekit.cli import main
from edgekit.errors import ConfigError, ExportError, ToolchainMissingError
from edgekit.export import get_exporter
from edgekit.precision import Precision

RES = 64
ROOT = Path(__file__).resolve().parents[1]


def skip_without(fmt: str, precision: Precision | None = None) -> None:
    exp = get_exporter(fmt)
    try:
        exp.check_toolchain(precision or exp.precisions[0])
    except ToolchainMissingError as exc:
        pytest.skip(f"format {fmt} needs edgekit[{exp.extra}]: {exc}")


def op_counts(manifest: dict) -> dict[str, int]:
    """Op name -> count, summed over the inventory's (op, ONNX op) records."""
    counts: dict[str, int] = {}
    for r in manifest["op_inventory"]:
        counts[r["op"]] = counts.get(r["op"], 0) + r["count"]
    return counts


def onnx_ops(manifest: dict) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in manifest["op_inventory"]:
        counts[r["onnx_op"] or r["op"]] = counts.get(r["onnx_op"] or r["op"], 0) + r["count"]
    return counts


def conv2d_count(module: object) -> int:
    import torch

    return sum(isinstance(m, torch.nn.Conv2d)
               for m in module.modules())  # type: ignore[attr-defined]


def linear_net() -> object:
    """Conv stem, nn.Linear on (B, tokens, C) tokens, pooling, nn.Linear head: no attention."""
    import torch
    from torch import nn

    class Tokens(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 16, 3, stride=4, padding=1)
            self.mix = nn.Linear(16, 16)
            self.head = nn.Linear(16, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            t = self.stem(x).flatten(2).transpose(1, 2)  # (B, HW, C)
            return self.head(torch.relu(self.mix(t)).mean(1))

    torch.manual_seed(0)
    return Tokens().eval()


def attention_net() -> object:
    """A product of two activations (QKᵀ) next to a constant-weight head."""
    import torch
    from torch import nn

    class Attn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 16, 3, stride=4, padding=1)
            self.head = nn.Linear(16, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            f = self.stem(x).flatten(2)  # (B, C, HW)
            t = f.transpose(1, 2)  # (B, HW, C)
            a = torch.softmax(torch.bmm(t, f), dim=-1)  # (B, HW, HW)
            return self.head(torch.bmm(a, t).mean(1))

    torch.manual_seed(0)
    return Attn().eval()


def tiny_resnet() -> object:
    """A timm ResNet (BasicBlock) with timm's zero-initialised last BatchNorm per block."""
    from edgekit._compat import import_timm

    import_timm()
    from timm.models.resnet import BasicBlock, ResNet

    return ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10, channels=(8, 16, 32, 64),
                  stem_width=8)


@pytest.fixture(scope="module")
def resnet_name() -> object:
    """``test_resnet_zero_init`` in the model registry for this module only."""
    from edgekit.models import registry

    spec = registry.ModelSpec("test_resnet_zero_init", "ResNet", RES, "He et al. 2016",
                              builder=lambda **kw: tiny_resnet(), tags=("test",))
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(registry._REGISTRY, spec.name, spec)  # noqa: SLF001 - test-scoped entry
        yield spec.name


# --- 1. ops judged by what they compute ---------------------------------------------------------
def test_tflite_products_are_judged_by_their_operands() -> None:
    from edgekit.exporters.tflite import semantic_onnx_op

    const = {5}
    assert semantic_onnx_op("FULLY_CONNECTED", [1, 5, 6], const) == "Gemm"  # a weight
    assert semantic_onnx_op("FULLY_CONNECTED", [1, 2, -1], const) == "MatMul"  # two activations
    assert semantic_onnx_op("BATCH_MATMUL", [1, 2], const) == "MatMul"
    assert semantic_onnx_op("BATCH_MATMUL", [1, 5], const) == "Gemm"
    assert semantic_onnx_op("CONV_2D", [1, 5, 6], const) == "Conv"


@pytest.fixture(scope="module")
def dsp_exports(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The tiny hybrid MobileNetV4 and a linear-only net, exported for the shipped pixel4-dsp."""
    skip_without("tflite", Precision.INT8)
    from edgekit.export import export

    out = tmp_path_factory.mktemp("dsp")
    return {"hybrid": export("test_mobilenetv4_hybrid", "pixel4-dsp", out=out, log=None),
            "linear": export(linear_net(), "pixel4-dsp", resolution=RES, name="linear_net",
                             out=out, log=None)}


@pytest.mark.toolchain
def test_attention_is_flagged_on_pixel4_dsp(dsp_exports: dict) -> None:
    m = dsp_exports["hybrid"].manifest
    assert "MatMul" in m["unsupported_ops"], m["unsupported_ops"]
    fc = {r["onnx_op"]: r["count"] for r in m["op_inventory"] if r["op"] == "FULLY_CONNECTED"}
    assert fc.get("MatMul", 0) > 0 and fc.get("Gemm") == 1, fc  # QKᵀ/AV vs the classifier


@pytest.mark.toolchain
def test_a_true_fully_connected_is_not_flagged(dsp_exports: dict) -> None:
    m = dsp_exports["linear"].manifest
    assert m["unsupported_ops"] == [], m["unsupported_ops"]
    assert onnx_ops(m).get("Gemm", 0) >= 2 and "MatMul" not in onnx_ops(m), m["op_inventory"]


@pytest.mark.toolchain
def test_onnx_inventory_tells_linear_from_matmul(tmp_path: Path) -> None:
    skip_without("onnx")
    from edgekit.export import export

    lin = export(linear_net(), format="onnx", resolution=RES, name="lin", out=tmp_path, log=None)
    att = export(attention_net(), format="onnx", resolution=RES, name="att", out=tmp_path,
                 log=None)
    lin_ops, att_ops = onnx_ops(lin.manifest), onnx_ops(att.manifest)
    assert "MatMul" not in lin_ops and lin_ops.get("Gemm", 0) >= 2, lin.manifest["op_inventory"]
    assert att_ops.get("MatMul", 0) == 2, att.manifest["op_inventory"]


@pytest.mark.toolchain
def test_coreml_inventory_tells_linear_from_matmul(tmp_path: Path) -> None:
    skip_without("coreml")
    from edgekit.export import export

    lin = export(linear_net(), format="coreml", resolution=RES, name="lin", out=tmp_path,
                 log=None)
    att = export(attention_net(), format="coreml", resolution=RES, name="att", out=tmp_path,
                 log=None)
    assert "MatMul" not in onnx_ops(lin.manifest), lin.manifest["op_inventory"]
    assert onnx_ops(att.manifest).get("MatMul", 0) >= 2, att.manifest["op_inventory"]


@pytest.mark.slow
@pytest.mark.toolchain
@pytest.mark.parametrize("model", ["mobilenetv4_hybrid_medium", "mobilenetv4_hybrid_large"])
def test_full_size_hybrids_are_flagged_on_pixel4_dsp(model: str, tmp_path: Path) -> None:
    skip_without("tflite", Precision.INT8)
    from edgekit.export import export

    assert "MatMul" in export(model, "pixel4-dsp", out=tmp_path, log=None).manifest[
        "unsupported_ops"]


# --- 2. fidelity floors -------------------------------------------------------------------------
def test_the_issue_int8_figures_fail_and_random_int8_passes() -> None:
    from edgekit.export.verify import judge

    broken = {"sqnr_db": 0.0, "top1_agreement": 0.0, "n": 64}
    assert "degenerate" in judge(broken, Precision.INT8, 1e-16, 3.9e-12)
    assert "below the int8 floor" in judge({**broken, "sqnr_db": 2.0}, Precision.INT8, 1.0, 0.1)
    # the tiny hybrid MNv4, trained-like random weights: chaotic but not broken
    chaotic = {"sqnr_db": 9.7, "top1_agreement": 0.55, "n": 64}
    assert judge(chaotic, Precision.INT8, 1.0, 0.1) is None
    assert judge({"sqnr_db": 35.0, "top1_agreement": 1.0, "n": 16}, Precision.FP16, 1.0) is None
    fp32 = judge({"sqnr_db": 30.0, "top1_agreement": 1.0, "n": 16}, Precision.FP32, 1.0)
    assert fp32 is not None and "SQNR 30 dB" in fp32 and ">= 40 dB" in fp32


@pytest.mark.toolchain
def test_degenerate_output_is_failed_in_the_manifest(tmp_path: Path) -> None:
    skip_without("onnx")
    import torch

    from edgekit.export import export
    from edgekit.export.verify import FidelityError

    class Vanishing(torch.nn.Module):  # what 1e-6 layer scales do to a deep model's logits
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 10, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(x).mean((2, 3)) * 1e-16

    with pytest.raises(FidelityError, match=r"vanishing \(no target, onnx fp32\) failed "
                                            r"verification: degenerate output \(std "):
        export(Vanishing().eval(), format="onnx", resolution=RES, name="vanishing",
               out=tmp_path, log=None)
    manifest = json.loads(next(tmp_path.rglob("manifest.json")).read_text())
    assert manifest["fidelity"]["status"] == "failed" and manifest["fidelity"]["sqnr_db"] > 60


@pytest.mark.toolchain
def test_cli_exits_1_below_the_floor(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                     capsys: pytest.CaptureFixture) -> None:
    skip_without("onnx")
    from edgekit.export import verify

    monkeypatch.setitem(verify.FIDELITY_FLOORS, Precision.FP32, verify.FidelityFloor(1e3, None))
    rc = main(["export", "test_mobilenetv4", "--format", "onnx", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert err[-1].startswith("edgekit: error: test_mobilenetv4 (no target, onnx fp32) failed "
                              "verification: SQNR "), err[-1]
    assert "below the fp32 floor (SQNR >= 1000 dB)" in err[-1]


# --- 3. trained-like random weights -------------------------------------------------------------
def test_trained_like_init_is_seeded_scoped_and_realistic() -> None:
    import torch

    from edgekit.models.init import trained_like_init

    with torch.random.fork_rng(devices=[]):  # building draws from the global RNG; the init not
        a = (torch.manual_seed(0), tiny_resnet())[1]
        b = (torch.manual_seed(0), tiny_resnet())[1]
    state = torch.random.get_rng_state()
    a, b = trained_like_init(a, 3), trained_like_init(b, 3)
    assert torch.equal(torch.random.get_rng_state(), state), "the global RNG was used"
    bns = [m for m in a.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(float(m.weight.detach().min()) >= 0.5 and float(m.running_var.min()) > 0
                       for m in bns)
    for (n, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        torch.testing.assert_close(p, q, msg=n)

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gamma = torch.nn.Parameter(torch.full((8,), 1e-6))
            self.ls1 = torch.nn.Module()
            self.ls1.gamma = torch.nn.Parameter(torch.full((8, 1, 1), 1e-5))
            self.norm = torch.nn.LayerNorm(8)

    blk = trained_like_init(Block(), 0)
    assert float(blk.gamma.detach().min()) >= 0.1 and float(blk.ls1.gamma.detach().min()) >= 0.1
    assert torch.equal(blk.norm.weight, torch.ones(8)), "a norm weight is not a layer scale"


def test_export_build_gets_the_trained_like_init() -> None:
    import torch

    from edgekit.export.build import seeded_model

    model = seeded_model("test_mobilenetv4_hybrid", deploy=False)
    bn_min = min(float(m.weight.detach().min()) for m in model.modules()
                 if isinstance(m, torch.nn.BatchNorm2d))
    scales = [p for n, p in model.named_parameters() if n.endswith("gamma")]
    assert bn_min >= 0.5 and scales and min(float(p.detach().min()) for p in scales) >= 0.1


@pytest.fixture(scope="module")
def conv_exports(tmp_path_factory: pytest.TempPathFactory, resnet_name: str) -> dict:
    from edgekit.export import export

    out = tmp_path_factory.mktemp("convs")
    done = {}
    for fmt, prec in (("onnx", Precision.FP32), ("tflite", Precision.FP32),
                      ("tflite", Precision.INT8)):
        try:
            get_exporter(fmt).check_toolchain(prec)
        except ToolchainMissingError:
            continue
        done[(fmt, prec.value)] = export(resnet_name, format=fmt, precision=prec, out=out,
                                         log=None)
    return done


@pytest.mark.toolchain
@pytest.mark.parametrize(("fmt", "prec"), [("onnx", "fp32"), ("tflite", "fp32"),
                                           ("tflite", "int8")])
def test_every_conv_of_a_zero_init_residual_net_survives(fmt: str, prec: str, conv_exports: dict,
                                                         resnet_name: str) -> None:
    from edgekit.export.build import seeded_model

    if (fmt, prec) not in conv_exports:
        pytest.skip(f"format {fmt} {prec} toolchain not installed")
    want = conv2d_count(seeded_model(resnet_name))
    ops = op_counts(conv_exports[(fmt, prec)].manifest)
    got = ops.get("Conv", 0) if fmt == "onnx" else (ops.get("CONV_2D", 0)
                                                    + ops.get("DEPTHWISE_CONV_2D", 0))
    assert got == want, (fmt, prec, ops)


@pytest.mark.toolchain
def test_every_conv_of_the_hybrid_survives_int8(dsp_exports: dict) -> None:
    from edgekit.export.build import seeded_model

    ops = op_counts(dsp_exports["hybrid"].manifest)
    want = conv2d_count(seeded_model("test_mobilenetv4_hybrid"))
    assert ops.get("CONV_2D", 0) + ops.get("DEPTHWISE_CONV_2D", 0) == want, ops
    assert dsp_exports["hybrid"].manifest["fidelity"]["status"] == "ok"


# --- 8. Ctrl-C ----------------------------------------------------------------------------------
def test_a_swallowed_interrupt_is_still_raised() -> None:
    from edgekit.export.interrupt import interrupt_guard, raise_if_interrupted

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), interrupt_guard():
        try:  # what a garbage-collector callback does with the KeyboardInterrupt
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pass
        raise_if_interrupted()
    assert signal.getsignal(signal.SIGINT) is before
    raise_if_interrupted()  # outside the guard: nothing recorded any more


DRIVER = """\
import signal, sys
from edgekit.cli import main
import edgekit.export.pipeline as pipeline
from edgekit.export.stdio import terminal
build = pipeline.build_model
def announcing(*a, **kw):  # READY: inside export, before the model is built
    print("READY", file=terminal(), flush=True)
    return build(*a, **kw)
pipeline.build_model = announcing
if sys.argv[1] == "swallow":  # a converter that swallows Ctrl-C, as JAX's gc callback does
    from edgekit.exporters.onnx import OnnxExporter
    convert = OnnxExporter.convert
    def swallowing(self, *a, **kw):
        notes = convert(self, *a, **kw)
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            print("Exception ignored in: _xla_gc_callback", file=sys.stderr)
        return notes
    OnnxExporter.convert = swallowing
sys.exit(main(sys.argv[2:]))
"""


def _interrupted_run(tmp_path: Path, mode: str, wait_for: str | None, fmt: str) -> int:
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, mode, "export", "test_mobilenetv4", "--format", fmt,
         "--out", str(out)], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        cwd=tmp_path)
    assert proc.stderr is not None
    for line in proc.stderr:
        if wait_for is not None and wait_for in line:
            proc.send_signal(signal.SIGINT)
            break
    proc.communicate(timeout=300)
    return proc.returncode


@pytest.mark.toolchain
@pytest.mark.parametrize(("mode", "wait_for", "fmt"), [
    ("plain", "READY", "tflite"),  # start-up: building the model, importing the converter
    ("plain", "edgekit: converting", "tflite"),  # inside litert-torch
    ("swallow", None, "onnx"),  # the interrupt never reaches edgekit as an exception
])
def test_ctrl_c_stops_the_export_and_leaves_nothing(mode: str, wait_for: str | None, fmt: str,
                                                    tmp_path: Path) -> None:
    skip_without(fmt)
    rc = _interrupted_run(tmp_path, mode, wait_for, fmt)
    out = tmp_path / "out"
    left = sorted(str(p.relative_to(tmp_path)) for p in out.rglob("*")) if out.exists() else []
    assert rc == 130 and left == [], (rc, left)
    assert main(["export", "test_mobilenetv4", "--format", "onnx", "--out", str(out)]) == 0


# --- 9. import edgekit; import timm -------------------------------------------------------------
def test_import_edgekit_leaves_timm_importable_and_torch_unloaded() -> None:
    code = textwrap.dedent("""\
        import sys
        import edgekit
        assert "torch" not in sys.modules, "import edgekit imported torch"
        import timm
        print(timm.__version__)
        """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]


# --- 11 and 13. JSON-only stdout, quiet stderr --------------------------------------------------
@pytest.mark.toolchain
def test_json_stdout_and_quiet_stderr(tmp_path: Path) -> None:
    skip_without("tflite", Precision.INT8)
    r = subprocess.run(
        [sys.executable, "-c", "import sys; from edgekit.cli import main; sys.exit(main())",
         "export", "test_mobilenetv4", "--format", "tflite", "--precision", "int8", "--json",
         "--out", str(tmp_path)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    manifest = json.loads(r.stdout)  # nothing but JSON on stdout
    assert manifest["precision"] == "int8"
    for noise in ("FutureWarning", "absl", "Running Calibration", "%|", "torchao", "[START]"):
        assert noise not in r.stderr, (noise, r.stderr[-3000:])
    assert "edgekit: converting test_mobilenetv4 to tflite int8" in r.stderr
    assert "edgekit: warning: no --calib DIR given" in r.stderr


# --- 14. no silent overwrite --------------------------------------------------------------------
@pytest.mark.toolchain
def test_a_different_artifact_is_replaced_only_with_force(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    skip_without("onnx")
    base = ["export", "test_mobilenetv4", "--format", "onnx", "--out", str(tmp_path)]
    assert main(base) == 0
    art = Path(capsys.readouterr().out.strip().splitlines()[-1])
    before = art.read_bytes()
    assert main(base) == 0, "an identical re-export must be allowed"
    capsys.readouterr()
    assert main([*base, "--resolution", "80"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"edgekit: error: {art} exists and differs from this export; pass "
                       "--force to replace it, or choose another --out"), err
    assert art.read_bytes() == before
    assert main([*base, "--resolution", "80", "--force"]) == 0
    assert art.read_bytes() != before


@pytest.mark.toolchain
def test_coreml_fp16_and_int8_for_one_target_keep_their_own_files(tmp_path: Path) -> None:
    skip_without("coreml")
    from edgekit.export import export

    devs = tmp_path / "devices"
    devs.mkdir()
    (devs / "toy-ane.toml").write_text(textwrap.dedent("""\
        name = "toy-ane"
        description = "test profile"
        kind = "npu"
        precision = "fp16"
        format = "coreml"
        unsupported_ops = []
        [peak_gmac_s]
        value = 100.0
        source = "test value"
        confidence = "low"
        [mem_gb_s]
        value = 10.0
        source = "test value"
        confidence = "low"
        """))
    out = tmp_path / "out"
    fp16 = export("test_mobilenetv4", "toy-ane", out=out, devices_dirs=[devs], log=None)
    int8 = export("test_mobilenetv4", "toy-ane", precision="int8", out=out,
                  devices_dirs=[devs], log=None)
    assert fp16.artifact != int8.artifact and fp16.artifact.exists() and int8.artifact.exists()
    assert int8.artifact.name == "test_mobilenetv4_toy-ane_int8.mlpackage"
    assert json.loads(fp16.manifest_path.read_text())["precision"] == "fp16"


# --- converter errors are edgekit's -------------------------------------------------------------
def test_onnxsim_failure_is_an_export_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import edgekit.exporters.onnx as onnx_exporter

    fake = types.SimpleNamespace(simplify=lambda m: (m, False))
    monkeypatch.setitem(sys.modules, "onnxslim", None)
    monkeypatch.setitem(sys.modules, "onnxsim", fake)
    tool, simplify = onnx_exporter._simplifier()  # noqa: SLF001
    model = types.SimpleNamespace(graph=types.SimpleNamespace(node=[1, 2]))
    assert tool == "onnxsim"
    with pytest.raises(ExportError, match=r"onnxsim could not validate the simplified ONNX "
                                          r"model \(2 nodes\); install onnxslim"):
        simplify(model)


def test_int8_tflite_without_calibration_is_a_config_error(tmp_path: Path) -> None:
    from edgekit.export.protocol import ConvertOptions
    from edgekit.exporters.tflite import TfliteExporter

    opts = ConvertOptions("m", Precision.INT8, RES)
    with pytest.raises(ConfigError, match="int8 TFLite export of 'm' got no calibration set; "
                                          "pass calib=DIR"):
        TfliteExporter()._quantize_int8(  # noqa: SLF001 - the guard before any work
            tmp_path / "a.tflite", tmp_path / "b.tflite", opts, print)
