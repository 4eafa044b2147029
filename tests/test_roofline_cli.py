"""``edgekit roofline``: outputs and bad inputs (one clear line, exit 1)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from edgekit.cli import main

REQUIRED = ("model", "device", "resolution", "macs", "params", "weight_bytes", "activation_bytes",
            "latency_ms", "compute_ms", "memory_ms", "memory_bound_fraction", "top1")


pytestmark = pytest.mark.usefixtures("module_cache")


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from edgekit._onnx import torch_to_onnx

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                torch.nn.Linear(8, 4))
    path = tmp_path_factory.mktemp("onnx") / "my_net.onnx"
    path.write_bytes(torch_to_onnx(model, (1, 3, 32, 32)).SerializeToString())
    return path


def test_csv_to_stdout_has_required_columns(capsys, onnx_file):
    assert main(["roofline", str(onnx_file), "test_mobilenetv4", "--device", "pixel6-cpu",
                 "--device", "pixel8-edgetpu", "--csv", "-"]) == 0
    out = capsys.readouterr().out
    from io import StringIO

    df = pd.read_csv(StringIO(out))
    for c in REQUIRED:
        assert c in df.columns
    assert list(df["model"]) == ["my_net", "my_net", "test_mobilenetv4", "test_mobilenetv4"]
    assert list(df["device"]) == ["pixel6-cpu", "pixel8-edgetpu"] * 2
    assert df.loc[0, "macs"] == 8 * 32 * 32 * 27 + 8 * 32 * 32 + 8 * 4
    assert (df["latency_ms"] > 0).all()


def test_table_json_layers_and_plots(capsys, tmp_path, onnx_file):
    js, plots = tmp_path / "out.json", tmp_path / "figs"
    assert main(["roofline", str(onnx_file), "--device", "pixel6-cpu", "--ridge", "5",
                 "--json", str(js), "--plots", str(plots)]) == 0
    out = capsys.readouterr().out
    assert "my_net" in out and "pixel6-cpu" in out and "rp5" in out
    rows = json.loads(js.read_text())
    assert {r["device"] for r in rows} == {"pixel6-cpu", "rp5"}
    pngs = sorted(p.name for p in plots.glob("*.png"))
    assert "latency_vs_accuracy.png" in pngs
    assert "roofline__my_net__pixel6-cpu.png" in pngs and "optime__my_net__rp5.png" in pngs
    assert all((plots / p).stat().st_size > 1000 for p in pngs)

    csv = tmp_path / "layers.csv"
    assert main(["roofline", str(onnx_file), "--device", "pixel6-cpu", "--layers",
                 "--csv", str(csv)]) == 0
    layers = pd.read_csv(csv)
    assert {"name", "op_type", "macs", "bytes", "intensity", "time_s", "bound"} <= set(layers.columns)
    assert set(layers["op_type"]) >= {"Conv", "Gemm"}
    assert (tmp_path / "layers.csv.meta.json").exists()


def _error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def test_unknown_device(capsys):
    code, err = _error(capsys, ["roofline", "test_mobilenetv4", "--device", "pixel6-cpux"])
    assert code == 1 and len(err) == 1
    assert err[0].startswith("edgekit: error: unknown device 'pixel6-cpux'; did you mean 'pixel6-cpu'?")


def test_unknown_model(capsys):
    code, err = _error(capsys, ["roofline", "mobilenetv4_conv_smal", "--device", "pixel6-cpu"])
    assert code == 1 and len(err) == 1
    assert "unknown model 'mobilenetv4_conv_smal'" in err[0]


def test_missing_onnx_file(capsys, tmp_path):
    code, err = _error(capsys, ["roofline", str(tmp_path / "nope.onnx"), "--device", "pixel6-cpu"])
    assert code == 1 and len(err) == 1 and "does not exist" in err[0]


def test_unreadable_onnx_file(capsys, tmp_path):
    bad = tmp_path / "garbage.onnx"
    bad.write_bytes(b"\x00\x01 this is not a protobuf \xff" * 10)
    code, err = _error(capsys, ["roofline", str(bad), "--device", "pixel6-cpu"])
    assert code == 1 and len(err) == 1
    assert "is not a readable ONNX file" in err[0] or "is not a valid ONNX model" in err[0]


def test_invalid_onnx_graph(capsys, tmp_path):
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Relu", ["missing"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])])
    path = tmp_path / "broken.onnx"
    path.write_bytes(helper.make_model(g).SerializeToString())
    code, err = _error(capsys, ["roofline", str(path), "--device", "pixel6-cpu"])
    assert code == 1 and len(err) == 1 and "is not a valid ONNX model" in err[0]


def test_resolution_the_model_cannot_take(capsys):
    # EfficientFormer's attention biases are sized for 224 input (7x7 tokens in the last stage).
    code, err = _error(capsys, ["roofline", "test_efficientformer", "--resolution", "64",
                                "--device", "pixel6-cpu"])
    assert code == 1 and len(err) == 1
    assert "model 'test_efficientformer' cannot take resolution 64" in err[0]
    assert "default resolution 224" in err[0]


def test_fixed_onnx_input_rejects_other_resolution(capsys, onnx_file):
    code, err = _error(capsys, ["roofline", str(onnx_file), "--resolution", "64",
                                "--device", "pixel6-cpu"])
    assert code == 1 and len(err) == 1 and "fixed input of 32x32" in err[0]


@pytest.mark.parametrize(("argv", "message"), [
    (["--resolution", "0"], "--resolution must be a positive number of pixels, got 0"),
    (["--ridge", "-5"], "--ridge must be >= 0 MACs/byte, got -5.0"),
    (["--csv", "-", "--json", "-"], "both write to stdout"),
])
def test_bad_options(capsys, argv, message):
    code, err = _error(capsys, ["roofline", "test_mobilenetv4", "--device", "pixel6-cpu", *argv])
    assert code == 1 and len(err) == 1 and message in err[0]


def test_help_leads_with_examples(capsys):
    with pytest.raises(SystemExit):
        main(["roofline", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "edgekit roofline mobilenetv4_conv_small" in out


def test_csv_meta_sidecar_records_the_run(tmp_path, onnx_file):
    from edgekit.device import load_device

    csv = tmp_path / "zoo.csv"
    assert main(["roofline", str(onnx_file), "--device", "pixel6-cpu", "--ridge", "5",
                 "--csv", str(csv)]) == 0
    meta = json.loads((tmp_path / "zoo.csv.meta.json").read_text())
    assert meta["command"] == "edgekit roofline" and meta["edgekit"]
    assert {"torch", "onnx", "pandas"} <= set(meta["versions"]) and "git_commit" in meta
    assert meta["devices"]["pixel6-cpu"] == load_device("pixel6-cpu").fingerprint()
    assert set(meta["devices"]) == {"pixel6-cpu", "rp5"}
    params = 8 * 27 + 8 + 8 * 4 + 4
    assert meta["models"] == [{"model": "my_net", "resolution": 32, "params": params,
                               "source": "onnx"}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zoo.csv", "zoo.csv.meta.json"]


def test_hybrid_is_marked_not_runnable_on_the_dsp(capsys, tmp_path):
    assert main(["roofline", "test_mobilenetv4_hybrid", "test_mobilenetv4", "--device",
                 "pixel4-dsp"]) == 0
    out = capsys.readouterr().out
    row = next(ln for ln in out.splitlines() if ln.startswith("test_mobilenetv4_hybrid "))
    assert row.rstrip().endswith("*")
    assert "* test_mobilenetv4_hybrid cannot run on pixel4-dsp: unsupported ops MatMul" in out
    assert "test_mobilenetv4 cannot run" not in out

    csv, layers = tmp_path / "s.csv", tmp_path / "l.csv"
    assert main(["roofline", "test_mobilenetv4_hybrid", "--device", "pixel4-dsp", "--device",
                 "pixel6-cpu", "--csv", str(csv)]) == 0
    df = pd.read_csv(csv, keep_default_na=False)
    assert list(df.columns[-2:]) == ["runnable", "unsupported_ops"]
    assert list(df["runnable"]) == [False, True] and list(df["unsupported_ops"]) == ["MatMul", ""]
    assert main(["roofline", "test_mobilenetv4_hybrid", "--device", "pixel4-dsp", "--layers",
                 "--csv", str(layers)]) == 0
    lay = pd.read_csv(layers, keep_default_na=False)
    bad = lay[~lay["runnable"]]
    assert len(bad) and set(bad["unsupported_ops"]) == {"MatMul"}
    assert set(bad["op_class"]) == {"matmul"}
