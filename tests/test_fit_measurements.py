"""Measurement CSVs (edgekit.fit.measurements): the format, a column mapping, bad inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.cli import main
from edgekit.errors import ConfigError
from edgekit.fit.measurements import read_measurements

from edgekit.data import PUBLISHED_MNV4 as PUBLISHED


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "m.csv"
    p.write_text(text, encoding="utf-8")
    return p


def test_reads_the_documented_format(tmp_path: Path) -> None:
    p = write(tmp_path, "model,latency_ms,resolution,deploy,extra\n"
                        "mobileone_s0,1.5,224,false,x\nmobilenetv4_conv_small,2.25,,true,y\n")
    df = read_measurements(p)
    assert list(df["latency_ms"]) == [1.5, 2.25]
    assert list(df["deploy"]) == [False, True]
    assert df["resolution"].iloc[0] == 224 and df["resolution"].iloc[1] is None


def test_missing_column_names_it_and_the_fix(tmp_path: Path) -> None:
    p = write(tmp_path, "model,latency\nmobileone_s0,1.5\n")
    with pytest.raises(ConfigError, match=r"missing required column 'latency_ms'; did you mean "
                                          r"'latency'\?.*--column latency_ms=NAME"):
        read_measurements(p)


@pytest.mark.parametrize(("value", "why"), [("0", "must be > 0, got '0'"),
                                            ("-2.5", "must be > 0, got '-2.5'"),
                                            ("fast", "not a number, got 'fast'"),
                                            ("", "not a number, got ''")])
def test_bad_latency_names_line_and_column(tmp_path: Path, value: str, why: str) -> None:
    p = write(tmp_path, f"model,latency_ms\nmobileone_s0,1.5\nmobileone_s1,{value}\n")
    with pytest.raises(ConfigError, match=rf"m.csv: line 3 \(mobileone_s1\), column "
                                          rf"'latency_ms': {why}"):
        read_measurements(p)


def test_bad_resolution(tmp_path: Path) -> None:
    p = write(tmp_path, "model,latency_ms,resolution\nmobileone_s0,1.5,-1\n")
    with pytest.raises(ConfigError, match=r"line 2 \(mobileone_s0\), column 'resolution'"):
        read_measurements(p)


def test_published_table_with_where_and_status_filter() -> None:
    if not PUBLISHED.is_file():
        pytest.skip(f"{PUBLISHED} not present")
    df = read_measurements(PUBLISHED, where={"device": "pixel4-dsp"})
    # The two hybrid models failed on the DSP; their empty latency is skipped with the status.
    assert sorted(df["model"]) == ["mobilenetv4_conv_large", "mobilenetv4_conv_medium",
                                   "mobilenetv4_conv_small"]
    assert dict(zip(df["model"], df["resolution"], strict=True))["mobilenetv4_conv_large"] == 384


def test_column_mapping(tmp_path: Path) -> None:
    p = write(tmp_path, "net,time_ms\nmobileone_s0,1.5\n")
    df = read_measurements(p, columns={"model": "net", "latency_ms": "time_ms"})
    assert df["latency_ms"].iloc[0] == 1.5
    with pytest.raises(ConfigError, match="no column 'nope'"):
        read_measurements(p, columns={"latency_ms": "nope"})


def test_cli_fit_device_bad_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path, "model,latency_ms\nmobileone_s0,0\n")
    rc = main(["fit-device", str(p), "--name", "x", "--base", str(p)])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith("edgekit: error: ") and "line 2 (mobileone_s0), column 'latency_ms'" in err


def test_cli_fit_device_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["fit-device", str(tmp_path / "none.csv"), "--name", "x", "--base", "pixel6-cpu"])
    assert rc == 1
    assert "measurement file" in capsys.readouterr().err


def test_cli_fit_device_bad_column_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path, "model,latency_ms\nmobileone_s0,1\n")
    rc = main(["fit-device", str(p), "--name", "x", "--base", "pixel6-cpu", "--column", "oops"])
    assert rc == 1
    assert "--column takes KEY=VALUE, got 'oops'" in capsys.readouterr().err
