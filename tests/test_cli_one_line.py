"""Bad values and paths of every command: one ``edgekit: error:`` line, exit 1, before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.cli import main
from edgekit.commands._checks import max_threads


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    f = tmp_path / "a-file.txt"
    f.write_text("not a directory\n", encoding="utf-8")
    return f


CASES = [
    (["bench", "test_mobilenetv4", "--resolution", "-5"], "--resolution must be a positive"),
    (["bench", "test_mobilenetv4", "--resolution", "0"], "--resolution must be a positive"),
    (["bench", "test_mobilenetv4", "--resolution", "100000"], "between 16 and 4096 pixels"),
    (["export", "test_mobilenetv4", "--format", "onnx", "--resolution", "-5"],
     "--resolution must be a positive"),
    (["export", "test_mobilenetv4", "--format", "onnx", "--resolution", "100000"],
     "between 16 and 4096 pixels, got 100000"),
    (["bench", "test_mobilenetv4", "--threads", "100000"],
     f"--threads must be between 1 and {max_threads()}"),
    (["calibrate", "--threads", "100000"], f"--threads must be between 1 and {max_threads()}"),
    (["validate", "--models", "test_*", "--threads", "100000"], "--threads must be between 1"),
    (["roofline", "test_mobilenetv4", "--device", "rp5", "--csv", "{dir}"],
     "is a directory, but a file is expected"),
    (["roofline", "test_mobilenetv4", "--device", "rp5", "--json", "/proc/x.json"],
     "--json directory '/proc' is not writable"),
    (["roofline", "test_mobilenetv4", "--device", "rp5", "--plots", "{file}"],
     "is a file, but a directory is expected"),
    (["calibrate", "--out", "/proc/x"], "cannot create --out directory '/proc/x'"),
    (["calibrate", "--out", "{file}"], "is a file, but a directory is expected"),
    (["fit-device", "{file}", "--name", "x", "--base", "rp5", "--out", "{file}"],
     "--out '{file}' is a file, but a directory is expected"),
    (["export", "model.onnx", "--format", "onnx"],
     "export takes a model name, got the .onnx file 'model.onnx'"),
    (["export", "weights.pth", "--format", "onnx"], "this file as --checkpoint"),
    (["roofline", "model.tflite", "--device", "rp5"], "roofline counts ONNX graphs"),
    (["devices", "--devices-dir", "{file}"], "is a file, not a directory"),
    (["validate", "--runtime", "litert-xnnpak"], "did you mean 'litert-xnnpack'?"),
    (["validate", "--runtime", "litert-gpu"], "unknown runtime with a runtime table 'litert-gpu'"),
    (["validate", "--runtime", "litert-xnnpack", "--table", "{dir}/none.json"],
     "make it with edgekit calibrate --runtime litert-xnnpack --precision int8"),
    (["validate", "--runtime", "onnxruntime", "--table", "{dir}/t.json"],
     "--table needs a runtime id"),
    (["validate", "--runtime", "litert-builtin", "--no-xnnpack"],
     "--no-xnnpack does not combine with a runtime id"),
    (["calibrate", "--runtime", "litert-xnnpack", "--refit", "--table", "{dir}/none.json"],
     "--refit needs an existing runtime table"),
    (["roofline", "test_mobilenetv4", "--devices-dir", "{file}"], "is a file, not a directory"),
]


@pytest.mark.parametrize(("argv", "message"), CASES, ids=[" ".join(a[:4]) for a, _ in CASES])
def test_one_line(argv: list[str], message: str, tmp_path: Path, a_file: Path,
                  capsys: pytest.CaptureFixture[str]) -> None:
    def fill(s: str) -> str:
        return s.replace("{file}", str(a_file)).replace("{dir}", str(tmp_path))

    code = main([fill(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.startswith("edgekit: error: ") and err.count("\n") == 1, err
    assert fill(message) in err, err


def test_format_is_case_insensitive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["export", "test_mobilenetv4", "--format", "ONNX", "--precision", "FP32",
                 "--no-verify", "--out", str(tmp_path)])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert out[-1].endswith(".onnx") and Path(out[-1]).is_file()
