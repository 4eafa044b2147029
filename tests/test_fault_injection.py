"""Fault injection: Ctrl-C at several points, concurrent runs on one folder, corrupt cache files.

Each interrupted run is a subprocess sent SIGINT right after a marker line it prints on stderr
(never after a sleep), so no test depends on timing. The parts that take more than ~30 s are
marked ``slow``; the default run keeps a fast subset of each kind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edgekit.errors import ConfigError


def _cmd(*argv: str) -> list[str]:
    return [sys.executable, "-m", "edgekit.cli", *argv]


def interrupt_after(argv: list[str], marker: str, *, timeout: float = 600) -> tuple[int, str]:
    """Run edgekit, send SIGINT once ``marker`` appears on stderr; (exit status, stderr)."""
    proc = subprocess.Popen(_cmd(*argv), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if marker in line:
            proc.send_signal(signal.SIGINT)
            break
    else:
        proc.wait(timeout)
        pytest.fail(f"marker {marker!r} never appeared:\n{''.join(seen)}")
    _, rest = proc.communicate(timeout=timeout)
    return proc.returncode, "".join(seen) + rest


def run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_cmd(*argv), capture_output=True, text=True, timeout=600, check=False,
                          env=env)


# --- export --------------------------------------------------------------------------------------
@pytest.mark.parametrize("marker", [
    "converting test_mobilenetv4",
    pytest.param("verifying against torch", marks=pytest.mark.slow),
])
def test_export_interrupted_leaves_nothing_and_reruns(tmp_path: Path, marker: str) -> None:
    out = tmp_path / "exports"
    argv = ["export", "test_mobilenetv4", "--format", "onnx", "--out", str(out)]
    code, err = interrupt_after(argv, marker)
    assert code == 130, err
    left = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert left == [], left  # nothing half-written
    again = run(argv)
    assert again.returncode == 0, again.stderr
    assert Path(again.stdout.strip().splitlines()[-1]).is_file()


@pytest.mark.slow
def test_two_concurrent_exports_to_one_folder(tmp_path: Path) -> None:
    argv = _cmd("export", "test_mobilenetv4", "--format", "onnx", "--no-verify", "--out",
                str(tmp_path))
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in results]
    (artifact,) = {Path(o.strip().splitlines()[-1]) for o, _ in results}
    manifest = json.loads((artifact.parent / "manifest.json").read_text(encoding="utf-8"))
    from edgekit.export.manifest import sha256_of

    assert manifest["sha256"] == sha256_of(artifact)
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]


# --- validate ------------------------------------------------------------------------------------
VALIDATE = ["validate", "--models", "test_mobilenetv4", "test_mobileone", "test_fastvit",
            "test_efficientformer", "--include-test", "--no-train-form", "--device",
            "x86-desktop-cpu", "--repeats", "2", "--runs", "2", "--min-time", "0", "--no-layers"]


@pytest.mark.slow
def test_validate_interrupted_keeps_its_rounds_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "val"
    argv = [*VALIDATE, "--out", str(out)]
    code, err = interrupt_after(argv, "[round 1/2 2/4]")
    assert code == 130, err
    assert "continue with --resume" in err
    partial = out / "measurements.partial.csv"
    kept = partial.read_text(encoding="utf-8").splitlines()[1:]
    assert len(kept) >= 2 and not (out / "measurements.csv").exists()
    refused = run(argv)  # without --resume the kept rounds are not overwritten
    assert refused.returncode == 1 and "--resume" in refused.stderr
    resumed = run([*argv, "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.count("[round ") == 8 - len(kept)  # measured rounds are skipped
    assert (out / "measurements.csv").is_file() and (out / "rounds.csv").is_file()
    assert not partial.exists()


def test_journal_drops_a_torn_line_and_refuses_other_options(tmp_path: Path) -> None:
    from edgekit.validate.journal import PARTIAL, Journal, Round

    cfg = {"runtime": "onnxruntime", "precision": "fp32", "threads": 1}
    j = Journal(tmp_path, cfg)
    j.record("a", 0, Round(1.5, 1.0, 2.0, (1_000_000, 2_000_000), 64, "onnxruntime", "fp32",
                           None, "/x.onnx"))
    j.record_failure("b", "boom")
    with open(tmp_path / PARTIAL, "a", encoding="utf-8") as f:
        f.write("c,0,onnxruntime,fp3")  # a kill in the middle of a write
    back = Journal(tmp_path, cfg, resume=True)
    assert set(back.rounds) == {("a", 0)} and back.failed == {"b": "boom"}
    assert back.rounds[("a", 0)].times_ns == (1_000_000, 2_000_000)
    with pytest.raises(ConfigError, match="holds 2 measurements of an interrupted run"):
        Journal(tmp_path, cfg)
    with pytest.raises(ConfigError, match="measured with threads 1, this run asks for 2"):
        Journal(tmp_path, {**cfg, "threads": 2}, resume=True)


def test_validate_checks_before_measuring(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    for argv, msg in [([*VALIDATE, "--out", str(f)], "is a file, but a directory is expected"),
                      ([*VALIDATE[:4], "--out", str(tmp_path / "v")], "at least 4 models")]:
        r = run(argv)
        assert r.returncode == 1 and msg in r.stderr and "[round" not in r.stderr, r.stderr


# --- roofline and the caches ----------------------------------------------------------------------
def test_two_concurrent_roofline_runs_agree(tmp_path: Path) -> None:
    env = {**os.environ, "EDGEKIT_CACHE_DIR": str(tmp_path / "cache")}  # both start cold
    outs = [tmp_path / f"{i}.csv" for i in range(2)]
    procs = [subprocess.Popen(_cmd("roofline", "test_mobilenetv4", "test_mobileone", "--device",
                                   "rp5", "--workers", "1", "--csv", str(o)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
             for o in outs]
    errs = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert outs[0].read_text() == outs[1].read_text()
    for f in (tmp_path / "cache" / "layers").glob("*.json"):
        json.loads(f.read_text(encoding="utf-8"))  # every entry is whole


def test_corrupt_layer_cache_entry_is_named_and_rebuilt(tmp_path: Path, monkeypatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from edgekit.roofline import layer_table

    monkeypatch.setenv("EDGEKIT_CACHE_DIR", str(tmp_path))
    first = layer_table("test_mobilenetv4")
    (entry,) = (tmp_path / "layers").glob("*.json")
    entry.write_text(entry.read_text(encoding="utf-8")[:100], encoding="utf-8")  # truncated
    again = layer_table("test_mobilenetv4")
    assert "layer-table cache file" in capsys.readouterr().err
    assert again["macs"].tolist() == first["macs"].tolist()
    json.loads(entry.read_text(encoding="utf-8"))  # rewritten whole


def test_corrupt_benchmark_artifact_is_named_and_rebuilt(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from edgekit.bench.artifacts import artifact_for_model
    from edgekit.export.manifest import sha256_of
    from edgekit.export.registry import get_exporter
    from edgekit.precision import Precision

    onnx = get_exporter("onnx")
    path, _ = artifact_for_model("test_mobilenetv4", onnx, precision=Precision.FP32,
                                 cache_dir=tmp_path)
    good = sha256_of(path)
    path.write_bytes(path.read_bytes()[:1000])  # a torn copy
    again, _ = artifact_for_model("test_mobilenetv4", onnx, precision=Precision.FP32,
                                  cache_dir=tmp_path)
    assert again == path and sha256_of(path) == good
    assert "benchmark cache file" in capsys.readouterr().err
