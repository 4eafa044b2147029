"""The basic commands: ``edgekit models``, ``edgekit devices``, ``edgekit info`` and their errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgekit.cli import main
from edgekit.device import ENV_VAR, builtin_devices_dir
from edgekit.models import list_models

BUILTIN_DEVICES = sorted(p.stem for p in builtin_devices_dir().glob("*.toml"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


# --- devices ---------------------------------------------------------------------------------
def test_devices_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "devices")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["name", "kind", "precision", "format", "runtime", "peak_gmac_s",
                                "mem_gb_s", "ridge_mac_per_byte", "overhead_ms"]
    assert [ln.split()[0] for ln in lines[1:]] == BUILTIN_DEVICES
    edgetpu = next(ln.split() for ln in lines if ln.startswith("pixel8-edgetpu "))
    assert edgetpu[1:5] == ["npu", "int8", "tflite", "litert-edgetpu"] and edgetpu[7] == "433.8"


def test_devices_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "devices", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["name"] for r in rows] == BUILTIN_DEVICES
    assert {r["name"]: r["ridge_mac_per_byte"] for r in rows}["pixel6-cpu"] == 31.2


def test_devices_one_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "devices", "pixel8-edgetpu", "--json")
    assert code == 0 and err == ""
    d = json.loads(out)
    assert d["name"] == "pixel8-edgetpu" and d["precision"] == "int8" and d["format"] == "tflite"
    assert abs(d["ridge_mac_per_byte"] - 433.8) < 0.05
    assert d["ridge_mac_per_byte"] == pytest.approx(d["peak_gmac_s"]["value"] / d["mem_gb_s"]["value"])
    assert d["peak_gmac_s"]["confidence"] in ("high", "medium", "low") and d["peak_gmac_s"]["source"]
    assert isinstance(d["fuses"], list) and isinstance(d["unsupported_ops"], list)


def test_devices_one_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "devices", "pixel4-dsp")
    assert code == 0
    fields = {ln[:20].strip(): ln[21:] for ln in out.splitlines()}
    assert fields["ridge_mac_per_byte"] == "347.3"
    assert "MatMul" in fields["unsupported ops"].split(", ")
    assert fields["peak source"].endswith("(low)")


def test_devices_with_devices_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (builtin_devices_dir() / "rp50.toml").read_text().replace('name = "rp50"', 'name = "my-rp"')
    (tmp_path / "my-rp.toml").write_text(text)
    code, out, _ = run(capsys, "devices", "--devices-dir", str(tmp_path), "--json")
    assert code == 0 and "my-rp" in [r["name"] for r in json.loads(out)]
    code, out, _ = run(capsys, "devices", "my-rp", "--devices-dir", str(tmp_path), "--json")
    assert code == 0 and json.loads(out)["ridge_mac_per_byte"] == pytest.approx(50.0)


def test_devices_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    text = (builtin_devices_dir() / "rp5.toml").read_text().replace('name = "rp5"', 'name = "env-rp"')
    (tmp_path / "env-rp.toml").write_text(text)
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    code, out, _ = run(capsys, "devices", "env-rp", "--json")
    assert code == 0 and json.loads(out)["name"] == "env-rp"


def test_devices_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "devices", "pixel8-edgetup")
    assert code == 1 and out == ""
    assert err == ("edgekit: error: unknown device 'pixel8-edgetup'; did you mean 'pixel8-edgetpu'? "
                   "(edgekit devices)\n")


def test_devices_bad_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (builtin_devices_dir() / "rp5.toml").read_text().replace('name = "rp5"', 'name = "bad-rp"')
    (tmp_path / "bad-rp.toml").write_text(text.replace("sweep = true", "sweep = true\nswep = 1"))
    code, out, err = run(capsys, "devices", "--devices-dir", str(tmp_path))
    assert code == 1 and out == ""
    assert err == f"edgekit: error: {tmp_path / 'bad-rp.toml'}: unknown key 'swep'; did you mean 'sweep'?\n"


def test_devices_missing_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "devices", "--devices-dir", str(tmp_path / "nope"))
    assert code == 1 and err.startswith("edgekit: error: devices directory ") and err.count("\n") == 1


# --- models ----------------------------------------------------------------------------------
def test_models_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "models")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["name", "family", "resolution"]
    names = [ln.split()[0] for ln in lines[1:]]
    assert names == list_models() and "mobilenetv4_conv_small" in names
    assert not any(n.startswith("test_") for n in names)


def test_models_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "models", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["name"] for r in rows] == list_models()
    small = next(r for r in rows if r["name"] == "mobilenetv4_conv_small")
    assert small["family"] == "MobileNetV4" and small["resolution"] == 224 and small["mission"] is True


def test_models_pattern_and_all(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "models", "mobilenetv4_*", "--json")
    names = [r["name"] for r in json.loads(out)]
    assert code == 0 and names and all(n.startswith("mobilenetv4_") for n in names)
    code, out, _ = run(capsys, "models", "test_*", "--all", "--json")
    assert code == 0 and "test_mobilenetv4" in [r["name"] for r in json.loads(out)]


def test_models_no_match(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "models", "nomatch*")
    assert code == 1 and out == ""
    assert err == "edgekit: error: unknown model pattern 'nomatch*' (edgekit models)\n"


# --- info ------------------------------------------------------------------------------------
def test_info_unknown_model(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "info", "mobilenetv4_conv_smal")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("edgekit: error: ")
    assert "did you mean 'mobilenetv4_conv_small'?" in err


def test_info_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "info", "test_mobilenetv4", "--json")
    info = json.loads(out)
    assert code == 0 and info["name"] == "test_mobilenetv4"
    assert isinstance(info["params"], int) and info["params"] > 0
    assert info["resolution"] == 64 and info["family"] == "MobileNetV4"


def test_info_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "info", "test_mobilenetv4", "--resolution", "96")
    fields = {ln[:20].strip(): ln[21:] for ln in out.splitlines()}
    assert code == 0 and fields["resolution"] == "96" and fields["params"].endswith(" M)")


# --- usage -----------------------------------------------------------------------------------
def test_usage_error_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "devices", "--bogus")
    assert code == 2 and out == ""
    assert err.startswith("edgekit: error: ") and "--bogus" in err and err.count("\n") == 1


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys)
    assert code == 0 and out.startswith("examples:\n  edgekit ") and "usage: edgekit" in out


@pytest.mark.parametrize("command", ["models", "devices", "info"])
def test_subcommand_help_has_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and f"edgekit {command}" in out.split("examples:")[1]


def test_help_is_fast_and_does_not_import_torch() -> None:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "edgekit.cli", "--help"], capture_output=True,
                          text=True, timeout=60)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0 and proc.stdout.startswith("examples:"), proc.stderr
    # Under a second on an idle machine; the bound leaves room for a loaded CI runner.
    assert elapsed < 5.0, f"edgekit --help took {elapsed:.2f} s"
    probe = subprocess.run(
        [sys.executable, "-c", "import edgekit.cli, sys; edgekit.cli.build_parser(); "
         "print(sorted(m for m in ('torch', 'timm', 'onnx', 'pandas', 'coremltools') if m in sys.modules))"],
        capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "[]", f"building the parser imported {probe.stdout.strip()}"


def test_info_loads_a_checkpoint_and_rejects_a_mismatched_one(tmp_path, capsys) -> None:
    from safetensors.torch import save_file

    from edgekit.models import create_model

    state = create_model("test_mobilenetv4").state_dict()
    good = tmp_path / "good.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(good))
    assert main(["info", "test_mobilenetv4", "--checkpoint", str(good), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["weights"] == str(good)

    bad = tmp_path / "bad.safetensors"
    partial = {k: v.contiguous() for k, v in list(state.items())[1:]}
    partial["extra.weight"] = state[next(iter(state))].clone()
    save_file(partial, str(bad))
    assert main(["info", "test_mobilenetv4", "--checkpoint", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "1 missing keys" in err and "1 unexpected keys: extra.weight" in err


@pytest.mark.parametrize("argv", [
    ["info", "test_mobilenetv4", "--resolution", "0"],
    ["roofline", "test_mobilenetv4", "--device", "rp5", "--csv", "{file}/sub/out.csv"],
    ["info", "test_mobilenetv4", "--checkpoint", "{file}"],
    ["export", "test_mobilenetv4", "--format", "onnx", "--out", "{file}/exports"],
])
def test_bad_paths_and_values_give_one_line(argv: list[str], tmp_path, capsys) -> None:
    """A garbage checkpoint, an output path through a file, a zero resolution: one line, exit 1."""
    f = tmp_path / "not-a-dir.txt"
    f.write_text("hi")
    code = main([a.replace("{file}", str(f)) for a in argv])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.startswith("edgekit: error: ") and err.count("\n") == 1, err


# --- one pattern for every subcommand --------------------------------------------------------
def test_every_subcommand_is_a_command_module() -> None:
    """cli.py only builds the parser: every subcommand is edgekit/commands/<name>.py with
    ``register(subparsers, add_common)`` and ``run(args) -> int``."""
    import importlib
    import inspect

    import edgekit.cli as cli

    assert "add_parser(" not in inspect.getsource(cli)
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices) == [m.replace("_", "-") for m in cli.COMMAND_MODULES]
    for name in cli.COMMAND_MODULES:
        module = importlib.import_module(f"edgekit.commands.{name}")
        assert callable(module.register) and callable(module.run), name
        assert sub.choices[name.replace("_", "-")].get_default("func") is module.run, name


def test_kebab_name_check() -> None:
    from edgekit.errors import ConfigError, check_kebab_name

    assert check_kebab_name("my-host-2", "--name") == "my-host-2"
    for bad in ("My_Host", "host-", "-host", "a--b", ""):
        with pytest.raises(ConfigError) as info:
            check_kebab_name(bad, "--name")
        assert str(info.value) == f"--name must be kebab-case (a-z, 0-9, '-'), got '{bad}'"


def test_fit_device_rejects_a_name_that_is_not_kebab_case(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "fit-device", str(tmp_path / "m.csv"), "--name", "My_Phone",
                         "--base", "pixel6-cpu")
    assert code == 1 and out == ""
    assert err == "edgekit: error: --name must be kebab-case (a-z, 0-9, '-'), got 'My_Phone'\n"


def test_write_text_is_atomic_and_dash_is_stdout(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from edgekit.commands._output import write_text

    write_text("a,b\n1,2\n", tmp_path / "new" / "out.csv")
    write_text("x\n", "-")
    out, err = capsys.readouterr()
    assert out == "x\n" and err == f"wrote {tmp_path / 'new' / 'out.csv'}\n"
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["out.csv"]  # no temporary left
    assert (tmp_path / "new" / "out.csv").read_text() == "a,b\n1,2\n"
