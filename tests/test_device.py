"""Device profiles: every shipped file loads, the paper's ridges hold, bad profiles fail clearly."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from edgekit.device import (
    ENV_VAR,
    ComputeKind,
    DeviceProfile,
    Precision,
    builtin_devices_dir,
    list_devices,
    load_device,
    load_profile_file,
    onnx_op_types,
)
from edgekit.errors import ConfigError, UnknownNameError

BUILTIN = sorted(p.stem for p in builtin_devices_dir().glob("*.toml"))
PROFILES = {p.stem: load_profile_file(p) for p in sorted(builtin_devices_dir().glob("*.toml"))}
from edgekit.data import PUBLISHED_MNV4 as PUBLISHED_CSV

# The MobileNetV4 paper's int8 ridge points (Qin et al. 2024, roofline table).
PAPER_RIDGES = {"pixel6-cpu": 31.2, "s23-cpu": 39.7, "pixel4-dsp": 347.3, "pixel8-edgetpu": 433.8}
SWEEP_RIDGES = {"rp0": 0.0, "rp5": 5.0, "rp50": 50.0, "rp500": 500.0}
REQUIRED = {*PAPER_RIDGES, *SWEEP_RIDGES, "pixel7-gpu", "s23-gpu", "iphone13-ane", "x86-desktop-cpu"}


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)  # a user's $EDGEKIT_DEVICES must not leak in


# --- the shipped profiles --------------------------------------------------------------------
def test_required_profiles_ship() -> None:
    missing = REQUIRED - set(BUILTIN)
    assert not missing, f"devices/ lacks {sorted(missing)}"


@pytest.mark.parametrize("name", BUILTIN)
def test_profile_loads_and_is_consistent(name: str) -> None:
    d = load_device(name)
    assert isinstance(d, DeviceProfile) and d.name == name
    assert d.description and d.notes.strip(), f"{name}: say where the numbers come from in notes"
    for num in (d.peak_gmac_s, d.mem_gb_s, *([d.overhead_ms] if d.overhead_ms else [])):
        assert num.value >= 0 and len(num.source) > 20, f"{name}: thin source {num.source!r}"
    assert d.ridge_mac_per_byte == pytest.approx(d.peak_gmac_s.value / d.mem_gb_s.value)
    assert d.peak_mac_s == pytest.approx(d.peak_gmac_s.value * 1e9)
    assert set(d.fuses) <= onnx_op_types() and set(d.unsupported_ops) <= onnx_op_types()
    assert not set(d.fuses) & set(d.unsupported_ops), f"{name}: an op both fused and unsupported"
    assert re.fullmatch(r"[0-9a-f]{12}", d.fingerprint())


@pytest.mark.parametrize("name", sorted(PAPER_RIDGES))
def test_paper_ridge_points(name: str) -> None:
    d = PROFILES[name]
    assert abs(d.ridge_mac_per_byte - PAPER_RIDGES[name]) <= 0.05, (
        f"{name}: ridge {d.ridge_mac_per_byte:.3f} != paper {PAPER_RIDGES[name]}")
    assert (d.precision, d.format) == (Precision.INT8, "tflite")
    assert not d.sweep


@pytest.mark.parametrize("name", sorted(SWEEP_RIDGES))
def test_sweep_profiles(name: str) -> None:
    d = PROFILES[name]
    assert d.sweep and d.kind is ComputeKind.CPU and d.precision is Precision.INT8
    assert d.format == "tflite"
    assert d.ridge_mac_per_byte == pytest.approx(SWEEP_RIDGES[name], abs=1e-6)
    assert d.overhead_s == 0.0


def test_formats_and_precisions_of_the_paper_devices() -> None:
    expect = {"pixel7-gpu": ("gpu", "fp16", "tflite"), "s23-gpu": ("gpu", "fp16", "tflite"),
              "iphone13-ane": ("npu", "fp16", "coreml"), "x86-desktop-cpu": ("cpu", "fp32", "onnx"),
              "pixel4-dsp": ("dsp", "int8", "tflite"), "pixel8-edgetpu": ("npu", "int8", "tflite")}
    got = {n: (PROFILES[n].kind.value, PROFILES[n].precision.value, PROFILES[n].format) for n in expect}
    assert got == expect


def test_only_sweep_profiles_are_sweeps() -> None:
    assert {n for n, d in PROFILES.items() if d.sweep} == set(SWEEP_RIDGES)


def test_fitted_profiles_reproduce_the_published_latencies() -> None:
    """The seven paper devices' scale was fit to the published latencies (scripts/fit_devices.py)
    and each source states the fit's leave-one-out median error. The stored numbers must really
    be that fit: the roofline with them predicts the published latencies (in-sample) at least as
    well as the stated out-of-sample error, and the ridge stays the paper's."""
    import statistics

    from edgekit.roofline import estimate_latency, layer_tables

    rows: dict[str, list[tuple[str, float]]] = {}
    with PUBLISHED_CSV.open(newline="") as f:
        for r in csv.DictReader(f):
            if r["status"] == "measured":
                rows.setdefault(r["device"], []).append((r["model"], float(r["latency_ms"])))
    assert set(rows) <= set(PROFILES), f"CSV devices without a profile: {set(rows) - set(PROFILES)}"
    models = sorted({m for pts in rows.values() for m, _ in pts})
    tables = dict(zip(models, layer_tables(models, None, workers=1), strict=True))
    for dev, pts in sorted(rows.items()):
        d = PROFILES[dev]
        stated = re.search(r"LOO median \|err\| (\d+(?:\.\d+)?)%", d.peak_gmac_s.source)
        assert stated, f"{dev}: source does not state the fit's LOO error: {d.peak_gmac_s.source}"
        errors = [abs(estimate_latency(tables[m], d).latency_s * 1e3 - t) / t for m, t in pts]
        in_sample = 100 * statistics.median(errors)
        assert in_sample <= float(stated.group(1)) + 0.5, (dev, in_sample, stated.group(0))


def test_dsp_fails_hybrid_mnv4_but_runs_conv_mnv4() -> None:
    """The paper: MNv4-Hybrid 'Failed' on the Pixel 4 DSP; every other device ran it."""
    from edgekit._onnx import torch_to_onnx
    from edgekit.models import create_model, get_spec

    ops = {}
    for name in ("test_mobilenetv4", "test_mobilenetv4_hybrid"):
        r = get_spec(name).resolution
        proto = torch_to_onnx(create_model(name), (1, 3, r, r), export_params=False)
        ops[name] = {n.op_type for n in proto.graph.node}
    dsp = set(PROFILES["pixel4-dsp"].unsupported_ops)
    assert not ops["test_mobilenetv4"] & dsp, f"conv MNv4 hits {ops['test_mobilenetv4'] & dsp}"
    assert ops["test_mobilenetv4_hybrid"] & dsp, "hybrid MNv4 would run on the DSP"
    for dev in ("pixel6-cpu", "s23-cpu", "pixel8-edgetpu", "pixel7-gpu", "s23-gpu"):
        hit = ops["test_mobilenetv4_hybrid"] & set(PROFILES[dev].unsupported_ops)
        assert not hit, f"{dev} ran MNv4-Hybrid in the paper but its profile rejects {hit}"


# --- bad profiles ----------------------------------------------------------------------------
GOOD = '''\
name = "{name}"
description = "A test device"
kind = "npu"
precision = "int8"
format = "tflite"
fuses = ["BatchNormalization", "Relu"]
unsupported_ops = ["Gelu"]

[peak_gmac_s]
value = 100.0
source = "made up for the test"
confidence = "low"

[mem_gb_s]
value = 4.0
source = "made up for the test"
confidence = "medium"
'''


def write(dirpath: Path, name: str = "my-npu", text: str | None = None, stem: str | None = None) -> Path:
    p = dirpath / f"{stem or name}.toml"
    p.write_text(GOOD.format(name=name) if text is None else text, encoding="utf-8")
    return p


def test_good_profile_loads(tmp_path: Path) -> None:
    d = load_profile_file(write(tmp_path))
    assert d.ridge_mac_per_byte == 25.0 and d.overhead_s == 0.0 and d.unsupported_ops == ("Gelu",)


BAD_CASES = {
    # case: (edit of the good text, regex the message must match after the file path)
    "unknown key": (lambda t: t.replace('kind = "npu"', 'kind = "npu"\nprecison = "int8"'),
                    r"unknown key 'precison'; did you mean 'precision'\?"),
    "unknown key in a section": (
        lambda t: t.replace('confidence = "low"', 'confidence = "low"\nsorce = "x"'),
        r"\[peak_gmac_s\] unknown key 'sorce'; did you mean 'source'\?"),
    "misspelt section": (lambda t: t + '\n[overhed_ms]\nvalue = 1.0\nsource = "abc"\nconfidence = "low"\n',
                         r"unknown key 'overhed_ms'; did you mean 'overhead_ms'\?"),
    "negative number": (lambda t: t.replace("value = 100.0", "value = -1.0"),
                        r"\[peak_gmac_s\] value must be greater than 0, got -1\.0"),
    "zero bandwidth": (lambda t: t.replace("value = 4.0", "value = 0.0"),
                       r"\[mem_gb_s\] value must be greater than 0, got 0\.0"),
    "negative overhead": (
        lambda t: t + '\n[overhead_ms]\nvalue = -0.5\nsource = "abc"\nconfidence = "low"\n',
        r"\[overhead_ms\] value must be greater than or equal to 0, got -0\.5"),
    "infinite number": (lambda t: t.replace("value = 4.0", "value = inf"),
                        r"\[mem_gb_s\] value must be a finite number, got inf"),
    "number as string": (lambda t: t.replace("value = 100.0", 'value = "100"'),
                         r"\[peak_gmac_s\] value must be a valid number, got '100'"),
    "number as bool": (lambda t: t.replace("value = 100.0", "value = true"),
                       r"\[peak_gmac_s\] value must be a valid number, got True"),
    "missing number": (lambda t: t.replace("value = 4.0\n", ""),
                       r"\[mem_gb_s\] missing required key 'value'"),
    "missing source": (lambda t: t.replace('source = "made up for the test"\n', "", 1),
                       r"\[peak_gmac_s\] missing required key 'source'"),
    "missing confidence": (lambda t: t.replace('confidence = "medium"\n', ""),
                           r"\[mem_gb_s\] missing required key 'confidence'"),
    "missing section": (lambda t: t[: t.index("[mem_gb_s]")],
                        r"missing required key 'mem_gb_s'"),
    "number without a table": (
        lambda t: t.replace('fuses =', 'peak_gmac_s = 100.0\nfuses =').split("[peak_gmac_s]")[0]
        + "[mem_gb_s]" + t.split("[mem_gb_s]")[1],
        r"peak_gmac_s must be a table with value, source and confidence .*got 100\.0"),
    "bad confidence": (lambda t: t.replace('confidence = "low"', 'confidence = "sure"'),
                       r"\[peak_gmac_s\] confidence must be 'high', 'medium' or 'low', got 'sure'"),
    "bad kind": (lambda t: t.replace('kind = "npu"', 'kind = "tpu"'),
                 r"kind must be 'cpu', 'gpu', 'dsp' or 'npu', got 'tpu'"),
    "bad precision": (lambda t: t.replace('precision = "int8"', 'precision = "int4"'),
                      r"precision must be 'int8', 'fp16' or 'fp32', got 'int4'"),
    "bad format": (lambda t: t.replace('format = "tflite"', 'format = "tensorrt"'),
                   r"^format names 'tensorrt', which is not a registered export format "
                   r"\(valid formats: coreml, onnx, tflite\)$"),
    "misspelt format": (lambda t: t.replace('format = "tflite"', 'format = "tflit"'),
                        r"format names 'tflit', which is not a registered export format; "
                        r"did you mean 'tflite'\? \(valid formats: coreml, onnx, tflite\)"),
    "format not lowercase": (lambda t: t.replace('format = "tflite"', 'format = "TFLite"'),
                             r"format names 'TFLite', which is not a registered export format; "
                             r"format names are lowercase: did you mean 'tflite'\?"),
    "duplicate in fuses": (lambda t: t.replace('["BatchNormalization", "Relu"]', '["Relu", "Clip", "Relu"]'),
                           r"fuses lists \['Relu'\] more than once$"),
    "duplicate in unsupported_ops": (lambda t: t.replace('["Gelu"]', '["Gelu", "Gelu"]'),
                                     r"unsupported_ops lists \['Gelu'\] more than once$"),
    "typo in fuses": (lambda t: t.replace('"Relu"]', '"Rleu"]'),
                      r"fuses names 'Rleu', which is not an ONNX op type; did you mean 'Relu'\?"),
    "TFLite name in unsupported_ops": (
        lambda t: t.replace('["Gelu"]', '["BATCH_MATMUL"]'),
        r"unsupported_ops names 'BATCH_MATMUL', which is not an ONNX op type"),
    "invalid TOML": (lambda t: t.replace('kind = "npu"', "kind = npu"),
                     r"invalid TOML: Invalid value \(at line 3, column 8\)"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_profile_message(tmp_path: Path, case: str) -> None:
    edit, pattern = BAD_CASES[case]
    text = edit(GOOD.format(name="my-npu"))
    assert text != GOOD.format(name="my-npu"), "the edit did not change the profile"
    path = write(tmp_path, text=text)
    with pytest.raises(ConfigError) as exc:
        load_profile_file(path)
    msg = str(exc.value)
    assert msg.startswith(f"{path}: "), msg  # names the file
    assert re.search(pattern, msg.removeprefix(f"{path}: ")), msg
    assert "\n" not in msg


def test_name_must_match_file(tmp_path: Path) -> None:
    path = write(tmp_path, name="my-npu", stem="other-npu")
    with pytest.raises(ConfigError, match=r"name 'my-npu' does not match the file name; rename the "
                       r"file to 'my-npu\.toml' or set name = \"other-npu\"") as exc:
        load_profile_file(path)
    assert str(exc.value).startswith(str(path))


def test_name_must_be_kebab_case(tmp_path: Path) -> None:
    path = write(tmp_path, name="My_NPU")
    with pytest.raises(ConfigError, match=r"name must be kebab-case .*e\.g\. 'pixel8-edgetpu', got 'My_NPU'"):
        load_profile_file(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"device profile '.*nope\.toml' does not exist"):
        load_device(tmp_path / "nope.toml")


def test_list_devices_reports_the_broken_file(tmp_path: Path) -> None:
    write(tmp_path, name="good-npu")
    write(tmp_path, name="broken-npu", text=GOOD.format(name="broken-npu").replace("100.0", "-2.0"))
    with pytest.raises(ConfigError, match=r"broken-npu\.toml: \[peak_gmac_s\] value must be greater"):
        list_devices([tmp_path])


# --- search path -----------------------------------------------------------------------------
@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv(ENV_VAR, raising=False)
    return monkeypatch


def _with_peak(name: str, peak: float) -> str:
    return GOOD.format(name=name).replace("value = 100.0", f"value = {peak}")


def test_devices_dir_adds_profiles(tmp_path: Path, no_env: pytest.MonkeyPatch) -> None:
    write(tmp_path, name="my-npu")
    names = [d.name for d in list_devices([tmp_path])]
    assert "my-npu" in names and set(BUILTIN) <= set(names) and names == sorted(names)
    assert load_device("my-npu", [tmp_path]).peak_gmac_s.value == 100.0
    with pytest.raises(UnknownNameError):
        load_device("my-npu")  # not on the default path


def test_precedence_devices_dir_then_env_then_builtin(tmp_path: Path, no_env: pytest.MonkeyPatch) -> None:
    cli_dir, env_dir = tmp_path / "cli", tmp_path / "env"
    cli_dir.mkdir()
    env_dir.mkdir()
    write(cli_dir, text=_with_peak("pixel6-cpu", 1.0), name="pixel6-cpu")
    write(env_dir, text=_with_peak("pixel6-cpu", 2.0), name="pixel6-cpu")
    write(env_dir, text=_with_peak("env-only", 3.0), name="env-only")
    builtin = load_device("pixel6-cpu").peak_gmac_s.value
    assert builtin not in (1.0, 2.0)
    no_env.setenv(ENV_VAR, str(env_dir))
    assert load_device("pixel6-cpu").peak_gmac_s.value == 2.0  # env beats built-in
    assert load_device("pixel6-cpu", [cli_dir]).peak_gmac_s.value == 1.0  # --devices-dir beats env
    assert load_device("env-only").peak_gmac_s.value == 3.0
    no_env.delenv(ENV_VAR)
    assert load_device("pixel6-cpu").peak_gmac_s.value == builtin


def test_env_var_holds_several_dirs(tmp_path: Path, no_env: pytest.MonkeyPatch) -> None:
    import os

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    write(a, text=_with_peak("dev-a", 1.0), name="dev-a")
    write(b, text=_with_peak("dev-a", 9.0), name="dev-a")
    write(b, text=_with_peak("dev-b", 2.0), name="dev-b")
    no_env.setenv(ENV_VAR, os.pathsep.join([str(a), str(b)]))
    assert load_device("dev-a").peak_gmac_s.value == 1.0  # first directory wins
    assert load_device("dev-b").peak_gmac_s.value == 2.0


def test_missing_devices_dir(tmp_path: Path, no_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"devices directory '.*nowhere' does not exist "
                       r"\(check --devices-dir / \$EDGEKIT_DEVICES\)"):
        list_devices([tmp_path / "nowhere"])
    no_env.setenv(ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="nowhere' does not exist"):
        load_device("pixel6-cpu")


def test_load_by_path_and_by_profile(tmp_path: Path) -> None:
    path = write(tmp_path)
    d = load_device(path)
    assert load_device(str(path)) == d
    assert load_device(d) is d


def test_unknown_device_did_you_mean() -> None:
    with pytest.raises(UnknownNameError) as exc:
        load_device("pixel8-edgetup")
    assert str(exc.value) == "unknown device 'pixel8-edgetup'; did you mean 'pixel8-edgetpu'? (edgekit devices)"
    with pytest.raises(UnknownNameError, match=r"^unknown device 'zzz' \(edgekit devices\)$"):
        load_device("zzz")


def test_precision_bytes() -> None:
    assert [(p.bytes, p.bias_bytes) for p in Precision] == [(1, 4), (2, 2), (4, 4)]


# --- formats come from the exporter registry -------------------------------------------------
class _PluginExporter:
    """A format another package registers through the entry point (it only needs to exist)."""

    name = "fakefmt"
    suffix = ".fake"
    precisions = (Precision.INT8,)
    extra = "fakefmt"
    toolchain = ("fakefmt_toolchain",)
    input_layout = "NHWC"
    runtime = "fakert"
    dynamic_batch = False

    def check_toolchain(self, precision: object) -> None:
        return None

    def needs_calibration(self, precision: object) -> bool:
        return False

    def accepts(self, profile_precision: object, precision: object) -> bool:
        return True

    def tool_versions(self) -> dict[str, str]:
        return {}

    def convert(self, model: object, options: object, dest: Path, log: object) -> dict:
        return {}

    def io(self, artifact: Path) -> tuple[list, list]:
        return [], []

    def inventory(self, artifact: Path) -> object:
        return None

    def can_run_here(self) -> bool:
        return False

    def load(self, artifact: Path, **kw: object) -> object:
        raise AssertionError("not reached")


def test_a_plugin_format_can_be_a_device_target(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata
    import sys

    import edgekit.export.registry as registry
    from edgekit.export import plan

    path = write(tmp_path, text=GOOD.format(name="my-npu").replace('"tflite"', '"fakefmt"'))
    with pytest.raises(ConfigError, match="format names 'fakefmt', which is not a registered"):
        load_profile_file(path)
    real = registry._entry_points()
    ep = importlib.metadata.EntryPoint("fakefmt", f"{__name__}:_PluginExporter",
                                       registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "_entry_points", lambda: {**real, "fakefmt": ep})
    monkeypatch.setitem(sys.modules, __name__, sys.modules[__name__])
    d = load_profile_file(path)
    assert d.format == "fakefmt"
    p = plan(d)
    assert isinstance(p.exporter, _PluginExporter) and p.precision is Precision.INT8
    with pytest.raises(ConfigError, match=r"valid formats: coreml, fakefmt, onnx, tflite"):
        load_profile_file(write(tmp_path, name="other-npu",
                                text=GOOD.format(name="other-npu").replace('"tflite"', '"tpu"')))
