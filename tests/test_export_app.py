"""From a checkpoint to an app: own weights, held-out calibration, labels and normalisation inside.

The checkpoints are written here: a short 10-class fine-tune of a tiny model on the toy task
(``shapes_dataset``), saved as a state dict, exported the way a user would (CLI, ``--checkpoint
--num-classes --labels --calib``). The artifacts are read back: TFLite's metadata entries, the
Core ML spec (image input, classifier labels, metadata; Core ML cannot run off macOS) and ONNX's
metadata_props.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgekit.cli import main

RES = 64
LABELS = [f"class_{i}" for i in range(10)]


def fine_tune(name: str, num_classes: int, path: Path, steps: int = 15) -> Path:
    """A few AdamW steps on the toy task (labels 0-5 of ``num_classes``); the state dict saved."""
    import torch

    from edgekit.export.calibration import shapes_dataset
    from edgekit.models import create_model

    x, y = shapes_dataset(steps * 16, RES, seed=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = create_model(name, num_classes=num_classes).train()
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
        for i in range(steps):
            xb = torch.from_numpy(x[i * 16:(i + 1) * 16])
            yb = torch.from_numpy(y[i * 16:(i + 1) * 16])
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    torch.save(model.state_dict(), path)
    return path


def write_pngs(d: Path, count: int, bad: int = 0) -> Path:
    from PIL import Image

    from edgekit.export.calibration import generated_set

    d.mkdir(parents=True)
    imgs = generated_set(RES, count=count, seed=3, mean=(0, 0, 0), std=(1, 1, 1)).images
    for i, im in enumerate(imgs):
        rgb = np.clip(im * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
        Image.fromarray(rgb).save(d / f"{i:03d}.png")
    for i in range(bad):
        (d / f"broken{i}.png").write_bytes(b"not a png")
    return d


@pytest.fixture
def labels_file(tmp_path: Path) -> Path:
    p = tmp_path / "labels.txt"
    p.write_text("\n".join(LABELS) + "\n")
    return p


def _manifest(out: Path) -> tuple[Path, dict]:
    (m,) = out.rglob("manifest.json")
    return m, json.loads(m.read_text())


@pytest.mark.toolchain("tflite", "coreml")
@pytest.mark.parametrize("name", ["test_mobilenetv4", "test_replknet"])
def test_checkpoint_to_tflite_int8_and_coreml(name: str, tmp_path: Path, labels_file: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    import coremltools as ct

    from edgekit.exporters.coreml import class_labels
    from edgekit.exporters.tflite import LABELS_NAME, METADATA_NAME, read_metadata
    from edgekit.export import get_exporter, torch_logits
    from edgekit.export.calibration import shapes_dataset
    from edgekit.models import create_model

    ckpt = fine_tune(name, 10, tmp_path / "ft.pt")
    calib = write_pngs(tmp_path / "calib", 40, bad=1)
    out = tmp_path / "tfl"
    rc = main(["export", name, "--target", "pixel8-edgetpu", "--checkpoint", str(ckpt),
               "--num-classes", "10", "--labels", str(labels_file), "--calib", str(calib),
               "--license", "apache-2.0", "--model-version", "2.1", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "1 of 41 image files" in err and "could not be read" in err
    assert "calibrating int8 scales on 32 images" in err  # < 100 is a warning with the number
    _, m = _manifest(out)
    cal = m["calibration"]
    assert (cal["count"], cal["calibration_images"], cal["held_out_images"],
            cal["unreadable_files"]) == (40, 32, 8, 1)
    assert m["fidelity"]["n"] == 8 and "held-out" in m["fidelity"]["data"]
    assert m["app"]["labels"] == LABELS
    q = m["app"]["int8_input"]
    assert q["scale"] == m["inputs"][0]["quantization"]["scale"]
    assert len(q["example"]["int8"]) == 3
    lat = m["predicted_latency"]
    assert lat["device"] == "pixel8-edgetpu" and lat["latency_ms"] > 0
    assert set(lat["confidence"]) >= {"peak_gmac_s", "mem_gb_s"}
    # embedded in the flatbuffer, not only in the manifest
    artifact = next(out.rglob("*.tflite"))
    meta = read_metadata(artifact)
    assert meta[LABELS_NAME].splitlines() == LABELS
    facts = json.loads(meta[METADATA_NAME])
    assert json.loads(facts["labels"]) == LABELS and facts["license"] == "apache-2.0"
    assert json.loads(facts["mean"]) == m["preprocessing"]["mean"]
    assert json.loads(facts["int8_input"])["zero_point"] == q["zero_point"]
    # it runs and computes the fine-tuned model's function
    x, _ = shapes_dataset(16, RES, seed=5)
    ref = torch_logits(create_model(name, checkpoint=ckpt, num_classes=10, deploy=True), x)
    got = get_exporter("tflite").load(artifact).run(x)
    assert got.shape == (16, 10)
    assert np.mean(ref.argmax(1) == got.argmax(1)) >= 0.75

    out_ml = tmp_path / "ml"
    rc = main(["export", name, "--format", "coreml", "--checkpoint", str(ckpt),
               "--num-classes", "10", "--labels", str(labels_file), "--license", "apache-2.0",
               "--model-version", "2.1", "--out", str(out_ml)])
    assert rc == 0, capsys.readouterr().err
    spec = ct.utils.load_spec(str(next(out_ml.rglob("*.mlpackage"))))
    (inp,) = spec.description.input
    assert inp.type.WhichOneof("Type") == "imageType"
    pre = spec.neuralNetwork.preprocessing if spec.HasField("neuralNetwork") else None
    assert pre is None  # an ML Program keeps scale and bias in its graph; check them there
    assert class_labels(spec) == LABELS
    assert spec.description.predictedFeatureName == "classLabel"
    md = spec.description.metadata
    assert (md.license, md.versionString) == ("apache-2.0", "2.1")
    assert md.userDefined["edgekit_model"] == name
    assert json.loads(md.userDefined["labels"]) == LABELS
    _, mm = _manifest(out_ml)
    img = mm["notes"]["image_input"]
    s = sum(mm["preprocessing"]["std"]) / 3
    assert img["scale"] == pytest.approx(1 / (255 * s))
    assert img["bias"] == pytest.approx([-v / s for v in mm["preprocessing"]["mean"]])
    assert mm["fidelity"]["status"] in ("not run", "ok")


@pytest.mark.toolchain("coreml")
def test_coreml_tensor_input_keeps_a_tensor(tmp_path: Path) -> None:
    import coremltools as ct

    from edgekit.export import export
    from edgekit.export.appinfo import AppInfo

    r = export("test_mobilenetv4", format="coreml", out=tmp_path, log=None,
               app=AppInfo(image_input=False))
    spec = ct.utils.load_spec(str(r.artifact))
    assert spec.description.input[0].type.WhichOneof("Type") == "multiArrayType"
    assert "image_input" not in r.manifest["notes"]


@pytest.mark.toolchain("onnx")
def test_other_class_count_needs_num_classes(tmp_path: Path, labels_file: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    import onnx

    ckpt = fine_tune("test_mobilenetv4", 6, tmp_path / "six.pt", steps=2)
    rc = main(["export", "test_mobilenetv4", "--format", "onnx", "--checkpoint", str(ckpt),
               "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1
    assert "does not match model 'test_mobilenetv4'" in err and "--num-classes N" in err
    assert "MobileNetV3" not in err  # timm's class name is not the user's model name
    six = tmp_path / "labels6.txt"
    six.write_text("\n".join(LABELS[:6]))
    rc = main(["export", "test_mobilenetv4", "--format", "onnx", "--checkpoint", str(ckpt),
               "--num-classes", "6", "--labels", str(six), "--dynamic-batch",
               "--out", str(tmp_path / "o")])
    assert rc == 0, capsys.readouterr().err
    _, m = _manifest(tmp_path / "o")
    assert m["batch"] == "dynamic" and m["outputs"][0]["shape"][-1] == 6
    proto = onnx.load(str(next((tmp_path / "o").rglob("*.onnx"))))
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props["labels"]) == LABELS[:6]
    assert props["batch"] == "dynamic" and props["resolution"] == str(RES)
    assert json.loads(props["std"]) == m["preprocessing"]["std"]
    # ten labels for six classes
    rc = main(["export", "test_mobilenetv4", "--format", "onnx", "--checkpoint", str(ckpt),
               "--num-classes", "6", "--labels", str(labels_file), "--out", str(tmp_path / "x")])
    assert rc == 1
    assert "--labels has 10 labels but the model has 6 classes" in capsys.readouterr().err


def test_calib_with_a_float_target_is_an_error(tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    calib = write_pngs(tmp_path / "c", 2)
    rc = main(["export", "test_mobilenetv4", "--format", "onnx", "--calib", str(calib),
               "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1
    assert "calibration images only apply to int8 targets" in err and "onnx fp32" in err
    assert not list(tmp_path.rglob("*.onnx"))


def test_int8_report_needs_an_int8_tflite_export(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    rc = main(["export", "test_mobilenetv4", "--format", "onnx", "--int8-report",
               "--out", str(tmp_path)])
    assert rc == 1
    assert "--int8-report compares a TFLite int8 artifact" in capsys.readouterr().err


def test_bad_num_classes_and_labels_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc = main(["export", "test_mobilenetv4", "--format", "onnx", "--num-classes", "0",
               "--out", str(tmp_path)])
    assert rc == 1 and "--num-classes must be a positive number" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("a\n\nb\n")
    rc = main(["export", "test_mobilenetv4", "--format", "onnx", "--labels", str(empty),
               "--out", str(tmp_path)])
    assert rc == 1 and "has an empty line" in capsys.readouterr().err


def test_held_out_split_is_disjoint_and_seeded() -> None:
    from edgekit.export.calibration import split_held_out

    x = np.arange(50, dtype=np.float32).reshape(50, 1)
    cal, held = split_held_out(x)
    assert (len(cal), len(held)) == (40, 10)
    assert not set(cal[:, 0]) & set(held[:, 0])
    np.testing.assert_array_equal(split_held_out(x)[1], held)
    assert split_held_out(x[:1])[1] is None
