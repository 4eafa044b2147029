"""Exporters: the format registry, each format on a tiny model, manifests, and every failure path.

The contract tests iterate the exporter registry, so a format added through the entry point is
tested without edits here; a format whose toolchain is not installed skips, naming its extra.
Conversions are slow (litert-torch 15-30 s even for tiny models), so each artifact is made once
per module and shared by the tests that inspect it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from edgekit.cli import main
from edgekit.errors import ConfigError, ExportError, ToolchainMissingError
from edgekit.export import get_exporter, list_formats
from edgekit.precision import Precision

MODEL = "test_mobilenetv4"
RES = 64

# Device profiles written by the tests, so they do not depend on the shipped ones.
PROFILE = """\
name = "{name}"
description = "test profile"
kind = "{kind}"
precision = "{precision}"
format = "{format}"
unsupported_ops = {unsupported}

[peak_gmac_s]
value = 100.0
source = "test value"
confidence = "low"

[mem_gb_s]
value = 10.0
source = "test value"
confidence = "low"
"""

FORMATS = list_formats()  # the registry, not a hand-written list


def write_profile(d: Path, name: str, fmt: str, precision: str, kind: str = "npu",
                  unsupported: tuple[str, ...] = ()) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.toml").write_text(PROFILE.format(
        name=name, kind=kind, precision=precision, format=fmt,
        unsupported=json.dumps(list(unsupported))))


@pytest.fixture(scope="module")
def devices_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("devices")
    write_profile(d, "toy-npu", "tflite", "int8", unsupported=("Gemm", "Softmax"))
    write_profile(d, "toy-gpu", "tflite", "fp16", kind="gpu")
    write_profile(d, "toy-ane", "coreml", "fp16")
    write_profile(d, "toy-cpu", "onnx", "fp32", kind="cpu", unsupported=("Gemm",))
    return d


def hide_modules(monkeypatch: pytest.MonkeyPatch, names: tuple[str, ...]) -> None:
    for n in names:
        monkeypatch.setitem(sys.modules, n, None)  # import of a None entry raises ImportError


def sha256(path: Path) -> str:
    from edgekit.export import sha256_of

    return sha256_of(path)


def skip_without_toolchain(fmt: str, precision: Precision | None = None) -> None:
    """Skip the calling test, naming the extra, when ``fmt``'s toolchain is not installed."""
    exp = get_exporter(fmt)
    try:
        exp.check_toolchain(precision or exp.precisions[0])
    except ToolchainMissingError as exc:
        pytest.skip(f"format {fmt} needs edgekit[{exp.extra}]: {exc}")


# --- the registry -------------------------------------------------------------------------------
def test_the_shipped_formats_are_registered() -> None:
    assert {"onnx", "tflite", "coreml"} <= set(FORMATS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_registered_format_follows_the_protocol(fmt: str) -> None:
    from edgekit.export import Exporter
    from edgekit.export.registry import exporter_for_suffix

    exp = get_exporter(fmt)
    assert isinstance(exp, Exporter)
    assert exp.name == fmt and fmt == fmt.lower()
    assert exp.suffix.startswith(".") and exporter_for_suffix(exp.suffix.upper()).name == fmt
    assert exp.precisions and all(isinstance(p, Precision) for p in exp.precisions)
    assert exp.input_layout in ("NCHW", "NHWC")
    assert exp.runtime and exp.toolchain and exp.extra
    assert isinstance(exp.dynamic_batch, bool) and isinstance(exp.can_run_here(), bool)


def test_plan_takes_format_and_precision_from_the_profile(devices_dir: Path) -> None:
    from edgekit.device import Precision
    from edgekit.export import plan

    p = plan("toy-npu", devices_dirs=[devices_dir])
    assert (p.exporter.name, p.precision) == ("tflite", Precision.INT8)
    p = plan("toy-ane", devices_dirs=[devices_dir])
    assert (p.exporter.name, p.precision) == ("coreml", Precision.FP16)
    # int8 weights keep fp16 compute, so an fp16 Core ML target accepts them
    assert plan("toy-ane", precision="int8", devices_dirs=[devices_dir]).precision is Precision.INT8
    assert plan(None, format="tflite").precision is Precision.FP32


@pytest.mark.parametrize(("args", "message"), [
    (["--target", "toy-npu", "--precision", "fp32"],
     "--precision fp32 conflicts with target toy-npu, which runs int8 only"),
    (["--target", "toy-npu", "--format", "onnx"],
     "--format onnx conflicts with target toy-npu, which runs tflite only"),
    (["--target", "toy-cpu", "--precision", "int8"],
     "--precision int8 conflicts with target toy-cpu, which runs fp32 only"),
    (["--format", "tflit"], "unknown format 'tflit'; did you mean 'tflite'?"),
    (["--format", "onnx", "--precision", "int9"], "unknown precision 'int9'"),
    (["--format", "onnx", "--precision", "int8"],
     "format onnx cannot be exported at precision int8; choose fp32"),
    ([], "give --target DEVICE"),
    (["--all-targets", "--format", "onnx"], "--all-targets takes format and precision"),
    (["--format", "tflite", "--dynamic-batch"], "--dynamic-batch applies to --format onnx only"),
    (["--target", "toy-nnpu"], "unknown device 'toy-nnpu'; did you mean 'toy-npu'?"),
])
def test_bad_options_are_one_line_errors(args: list[str], message: str, devices_dir: Path,
                                         tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc = main(["export", MODEL, "--devices-dir", str(devices_dir), "--out", str(tmp_path), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert err[-1].startswith("edgekit: error: ")
    assert message in err[-1]
    assert not any(tmp_path.iterdir()), "a rejected export must write nothing"


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_toolchain_names_the_extra(fmt: str, monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    exp = get_exporter(fmt)
    hide_modules(monkeypatch, exp.toolchain)
    with pytest.raises(ToolchainMissingError, match=rf"edgekit\[{exp.extra}\]"):
        exp.check_toolchain(exp.precisions[0])
    rc = main(["export", MODEL, "--format", fmt, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1
    assert f"pip install -c constraints.txt 'edgekit[{exp.extra}]'" in err
    assert not any(tmp_path.iterdir())


# --- calibration data ---------------------------------------------------------------------------
def write_images(d: Path, n: int, size: tuple[int, int] = (80, 60)) -> None:
    import numpy as np
    from PIL import Image

    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(arr).save(d / f"img{i}.{'png' if i % 2 else 'jpg'}")


def test_calibration_dir_is_resized_and_normalised(tmp_path: Path) -> None:
    import numpy as np

    from edgekit.export.calibration import load_image_dir

    write_images(tmp_path, 5)
    (tmp_path / "broken.png").write_bytes(b"not an image")
    (tmp_path / "notes.txt").write_text("ignored")
    cs = load_image_dir(tmp_path, 32, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    assert cs.images.shape == (5, 3, 32, 32)
    assert cs.images.dtype == np.float32
    # uniform noise in [0, 1] normalised with mean 0.5, std 0.25 lies in [-2, 2] with mean ~0
    assert -2.01 <= cs.images.min() < -1.5 and 1.5 < cs.images.max() <= 2.01
    assert abs(float(cs.images.mean())) < 0.1
    assert "1 unreadable files skipped" in cs.description


def test_generated_set_is_seeded_and_documented() -> None:
    import numpy as np

    from edgekit.export.calibration import generated_set

    a, b = generated_set(32, count=4, seed=3), generated_set(32, count=4, seed=3)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, generated_set(32, count=4, seed=4).images)
    assert "seed 3" in a.description and a.source == "generated"


@pytest.mark.parametrize(("setup", "message"), [
    ("missing", "does not exist"),
    ("file", "is not a directory"),
    ("empty", "has no images"),
    ("unreadable", "none could be read"),
])
def test_bad_calibration_dir(setup: str, message: str, devices_dir: Path, tmp_path: Path,
                             capsys: pytest.CaptureFixture) -> None:
    calib = tmp_path / "calib"
    if setup == "file":
        calib.write_text("x")
    elif setup == "empty":
        calib.mkdir()
        (calib / "readme.txt").write_text("no images here")
    elif setup == "unreadable":
        calib.mkdir()
        (calib / "a.jpg").write_bytes(b"\xff\xd8 truncated")
        (calib / "b.png").write_bytes(b"")
    out = tmp_path / "out"
    rc = main(["export", MODEL, "--target", "toy-npu", "--devices-dir", str(devices_dir),
               "--calib", str(calib), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert err[-1].startswith("edgekit: error: --calib") and message in err[-1]
    assert not out.exists() or not any(out.rglob("*"))


# --- failure safety -----------------------------------------------------------------------------
def test_converter_failure_leaves_nothing_and_keeps_its_message(tmp_path: Path) -> None:
    import torch

    from edgekit.export import export

    class Unexportable(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.linalg.svdvals(x.mean(1))  # no ONNX symbolic exists for this

    with pytest.raises(ExportError, match=r"onnx conversion of 'unexportable' failed: .*"
                                          r"aten::linalg_svdvals") as info:
        export(Unexportable(), format="onnx", resolution=16, out=tmp_path, log=None)
    assert info.value.__cause__ is not None  # the converter's own exception is kept
    assert list(tmp_path.rglob("*")) == []


class _PartialThenFail:
    """A format plug-in that writes half an artifact and then fails, like a crashing converter."""

    name = "broken"
    suffix = ".bin"
    precisions = (Precision.FP32,)
    extra = "broken"
    toolchain = ("broken_toolchain",)
    input_layout = "NCHW"
    runtime = "none"
    dynamic_batch = False

    def check_toolchain(self, precision: object) -> None:
        return None

    def needs_calibration(self, precision: object) -> bool:
        return False

    def accepts(self, profile_precision: object, precision: object) -> bool:
        return profile_precision == precision

    def tool_versions(self) -> dict[str, str]:
        return {}

    def convert(self, model: object, options: object, dest: Path, log: object) -> dict:
        dest.write_bytes(b"half an artifact")
        raise RuntimeError("converter crashed: segment 7 unsupported")

    def io(self, artifact: Path) -> tuple[list, list]:
        raise AssertionError("not reached")

    def inventory(self, artifact: Path) -> object:
        raise AssertionError("not reached")

    def can_run_here(self) -> bool:
        return False

    def load(self, artifact: Path, *, threads: int = 2, delegates: bool = True) -> object:
        raise AssertionError("not reached")


def test_entry_point_plugin_failure_leaves_no_partial_artifact(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.metadata

    import edgekit.export as ex
    import edgekit.export.registry as registry

    real = registry._entry_points()
    ep = importlib.metadata.EntryPoint("broken", f"{__name__}:_PartialThenFail",
                                       registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "_entry_points", lambda: {**real, "broken": ep})
    monkeypatch.setitem(sys.modules, __name__, sys.modules[__name__])
    assert "broken" in ex.list_formats()
    out = tmp_path / "out"
    existing = out / "test_mobilenetv4_broken_fp32" / "test_mobilenetv4_broken_fp32.bin"
    existing.parent.mkdir(parents=True)
    existing.write_bytes(b"previous good artifact")
    with pytest.raises(ExportError, match="converter crashed: segment 7 unsupported"):
        ex.export(MODEL, format="broken", out=out, log=None)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == [existing.relative_to(out)], files  # no partial file, no temp directory
    assert existing.read_bytes() == b"previous good artifact"  # the old artifact is untouched


# --- each format on a tiny model ----------------------------------------------------------------
class Exports:
    """Artifacts made on first use and shared by the module's tests: one per registered format at
    its default precision (key: the format), and one per test profile (key: the profile)."""

    def __init__(self, out: Path, devices_dir: Path) -> None:
        self._out, self._devices, self._done = out, devices_dir, {}

    def __getitem__(self, key: str):  # noqa: ANN204 - an ExportResult
        from edgekit.export import export, plan

        if key not in self._done:
            target = None if key in FORMATS else key
            p = plan(target, format=key if target is None else None,
                     devices_dirs=[self._devices])
            skip_without_toolchain(p.exporter.name, p.precision)
            self._done[key] = export(MODEL, target, format=None if target else key,
                                     devices_dirs=[self._devices], out=self._out, log=None)
        return self._done[key]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory, devices_dir: Path) -> Exports:
    return Exports(tmp_path_factory.mktemp("exports"), devices_dir)


@pytest.mark.toolchain
@pytest.mark.parametrize("fmt", FORMATS)
def test_format_contract(fmt: str, exports: Exports) -> None:
    """Every registered format exports a tiny model, verifies it where it can run, and its loader
    (the one bench uses) runs the artifact and computes what torch computes."""
    import numpy as np

    from edgekit.export import NotRunnableError, compare_outputs, seeded_model, torch_logits
    from edgekit.export.calibration import generated_set

    exp = get_exporter(fmt)
    r = exports[fmt]
    assert r.format == fmt and r.artifact.name.endswith(exp.suffix)
    assert r.manifest["precision"] == exp.precisions[0].value
    fid = r.manifest["fidelity"]
    if not exp.can_run_here():
        assert fid["status"] == "not run" and fid["reason"]
        with pytest.raises(NotRunnableError):
            exp.load(r.artifact)
        return
    assert fid["status"] == "ok" and fid["cosine"] > 0.99, fid
    runner = exp.load(r.artifact, threads=1)
    assert [t.dtype for t in runner.inputs] == [t["dtype"] for t in r.manifest["inputs"]]
    images = generated_set(RES, count=3, seed=5).images
    got = runner.run(images)
    assert got.shape == (3, 10) and got.dtype == np.float32
    figures = compare_outputs(torch_logits(seeded_model(MODEL), images), got)
    assert figures["cosine"] > 0.99, figures
    rng = np.random.default_rng(0)
    feed = {t.name: rng.standard_normal([d if isinstance(d, int) else 1 for d in t.shape])
            .astype(t.dtype) for t in runner.inputs}
    runner.invoker(feed)()  # the timing path runs too


@pytest.mark.toolchain
@pytest.mark.parametrize("key", [*FORMATS, "toy-npu"])
def test_artifact_and_manifest(key: str, exports: Exports) -> None:
    r = exports[key]
    m = json.loads(r.manifest_path.read_text())
    assert r.manifest_path.name == "manifest.json" and r.manifest_path.parent == r.artifact.parent
    assert m == json.loads(json.dumps(r.manifest, default=str))
    assert m["model"] == MODEL and m["resolution"] == RES
    assert m["size_bytes"] > 10_000
    assert m["sha256"] == sha256(r.artifact)
    if r.artifact.is_file():
        assert m["size_bytes"] == r.artifact.stat().st_size
        assert m["sha256"] == hashlib.sha256(r.artifact.read_bytes()).hexdigest()
    for k in ("inputs", "outputs", "op_inventory", "tool_versions", "timing_s", "fidelity",
              "unsupported_ops", "float_ops", "precision", "format", "target"):
        assert k in m, k
    assert m["outputs"][0]["shape"][-1] == 10
    ops = {o["op"]: o for o in m["op_inventory"]}
    assert sum(o["count"] for o in ops.values()) > 20
    assert any(o["onnx_op"] == "Conv" for o in ops.values())
    assert m["timing_s"]["convert"] > 0
    assert not list(r.artifact.parent.glob(".*")), "temporary files left beside the artifact"


@pytest.mark.toolchain
def test_onnx_matches_torch(exports: Exports) -> None:
    m = exports["onnx"].manifest
    assert m["inputs"][0]["shape"] == [1, 3, RES, RES] and m["inputs"][0]["dtype"] == "float32"
    assert m["fidelity"]["status"] == "ok"
    assert m["fidelity"]["sqnr_db"] > 60 and m["fidelity"]["top1_agreement"] == 1.0
    assert m["notes"]["opset"] == 20
    assert m["notes"]["nodes"] <= m["notes"]["nodes_before_simplify"]


@pytest.mark.toolchain
def test_tflite_fp32_is_nhwc_and_matches_torch(exports: Exports) -> None:
    m = exports["tflite"].manifest
    assert m["precision"] == "fp32"
    assert m["inputs"][0]["shape"] == [1, RES, RES, 3] and m["inputs"][0]["layout"] == "NHWC"
    assert m["fidelity"]["sqnr_db"] > 60 and m["fidelity"]["top1_agreement"] == 1.0


@pytest.mark.toolchain
def test_tflite_int8_has_int8_io_and_no_float_ops(exports: Exports) -> None:
    import numpy as np

    r = exports["toy-npu"]
    m = r.manifest
    assert m["target"] == "toy-npu" and (m["format"], m["precision"]) == ("tflite", "int8")
    for t in (*m["inputs"], *m["outputs"]):
        assert t["dtype"] == "int8"
        assert t["quantization"]["scale"] > 0 and -128 <= t["quantization"]["zero_point"] <= 127
    assert m["float_ops"] == []
    compute = [o for o in m["op_inventory"] if o["op"] in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    assert compute and all(o["dtypes"] == ["int8"] for o in compute)
    # the profile lists Gemm (the classifier's FULLY_CONNECTED) and Softmax (absent here)
    assert m["unsupported_ops"] == ["Gemm"]
    assert m["calibration"]["source"] == "generated" and m["calibration"]["count"] > 0
    # run() feeds normalised NCHW floats; int8 logits of a random model still point the same way
    x = np.random.default_rng(0).standard_normal((4, 3, RES, RES)).astype(np.float32)
    assert r.run(x).shape == (4, 10)
    assert m["fidelity"]["cosine"] > 0.9


@pytest.mark.toolchain
def test_coreml_is_checked_without_running_off_macos(exports: Exports) -> None:
    m = exports["coreml"].manifest
    assert exports["coreml"].artifact.suffix == ".mlpackage" and exports["coreml"].artifact.is_dir()
    assert m["precision"] == "fp16"
    assert m["inputs"][0]["name"] == "input" and m["inputs"][0]["shape"] == [1, 3, RES, RES]
    assert {o["op"] for o in m["op_inventory"]} >= {"conv", "linear"}
    if sys.platform != "darwin":
        assert m["fidelity"]["status"] == "not run" and "needs macOS" in m["fidelity"]["reason"]
    else:
        assert m["fidelity"]["status"] == "ok"


@pytest.mark.toolchain
def test_onnx_dynamic_batch_runs_any_batch(tmp_path: Path) -> None:
    import numpy as np

    from edgekit.export import export

    skip_without_toolchain("onnx")
    r = export(MODEL, format="onnx", dynamic_batch=True, out=tmp_path, log=None)
    assert r.manifest["batch"] == "dynamic"
    assert isinstance(r.manifest["inputs"][0]["shape"][0], str)
    x = np.zeros((3, 3, RES, RES), np.float32)
    assert r.run(x).shape == (3, 10)


@pytest.mark.toolchain
def test_cli_prints_progress_on_stderr_and_the_path_last(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    skip_without_toolchain("onnx")
    rc = main(["export", MODEL, "--format", "onnx", "--out", str(tmp_path)])
    cap = capsys.readouterr()
    assert rc == 0
    path = Path(cap.out.strip().splitlines()[-1])
    assert path.is_file() and path.suffix == ".onnx"
    assert (path.parent / "manifest.json").is_file()
    assert "edgekit: converting test_mobilenetv4 to onnx fp32" in cap.err


@pytest.mark.toolchain
def test_all_targets_goes_on_after_a_failure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    import edgekit.device

    devs = tmp_path / "devs"
    write_profile(devs, "cpu-a", "onnx", "fp32", kind="cpu")
    write_profile(devs, "cpu-b", "onnx", "fp32", kind="cpu", unsupported=("Gemm",))
    write_profile(devs, "phone-ane", "coreml", "fp16")
    empty = tmp_path / "no-builtin"
    empty.mkdir()
    monkeypatch.setattr(edgekit.device, "builtin_devices_dir", lambda: empty)
    skip_without_toolchain("onnx")
    hide_modules(monkeypatch, get_exporter("coreml").toolchain)
    out = tmp_path / "out"
    rc = main(["export", MODEL, "--all-targets", "--devices-dir", str(devs), "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 1
    lines = cap.out.strip().splitlines()
    assert any("phone-ane" in ln and "FAILED" in ln and "edgekit[coreml]" in ln for ln in lines)
    paths = [Path(ln) for ln in lines[-2:]]  # the artifact paths come last, after the table
    assert [p.parent.name for p in paths] == [f"{MODEL}_cpu-a", f"{MODEL}_cpu-b"]
    a, b = (json.loads((p.parent / "manifest.json").read_text()) for p in paths)
    assert a["sha256"] == b["sha256"]  # one conversion shared by both targets
    assert (a["unsupported_ops"], b["unsupported_ops"]) == ([], ["Gemm"])
    assert "1 of 3 targets failed: phone-ane" in cap.err
    assert not list(out.glob(".*")), "the shared conversion cache was not removed"


def test_edgekit_export_stays_callable_after_the_package_is_imported() -> None:
    import edgekit
    import edgekit.export.registry  # binds the package to edgekit.export

    for _ in range(2):  # the first call resolves the lazy name; the second meets the package
        with pytest.raises(ConfigError, match="no --target and no --format given"):
            edgekit.export(MODEL, log=None)


def test_nn_module_needs_a_resolution() -> None:
    import torch

    from edgekit.export import export

    with pytest.raises(ConfigError, match="needs resolution=N"):
        export(torch.nn.Conv2d(3, 4, 3), format="onnx", log=None)


# --- full-size models on their targets (slow) ---------------------------------------------------
def _mission_targets() -> list[tuple[str, str]]:
    from edgekit.device import list_devices
    from edgekit.models import list_models

    targets = {d.name for d in list_devices() if not d.sweep}
    want = [t for t in ("pixel8-edgetpu", "iphone13-ane", "s23-gpu") if t in targets]
    return [(m, t) for m in list_models(mission=True) for t in want]


@pytest.mark.slow
@pytest.mark.toolchain
@pytest.mark.parametrize(("model", "target"), _mission_targets())
def test_mission_model_exports_on_its_target(model: str, target: str, tmp_path: Path) -> None:
    from edgekit.export import export

    r = export(model, target, out=tmp_path, log=None)
    m = r.manifest
    assert m["target"] == target
    if (m["format"], m["precision"]) == ("tflite", "int8"):
        assert {t["dtype"] for t in (*m["inputs"], *m["outputs"])} == {"int8"}
    assert r.artifact.exists() and m["size_bytes"] > 0
