"""The int8 report names a planted badly scaled layer of a trained tiny model.

``test_mobilenetv4`` is trained on the toy task with the recipe of ``test_fidelity.py``. Then one
output channel of its stem (``conv_stem`` + ``bn1`` + ReLU) is multiplied by 1000 and the next
convolution's weights for that channel divided by 1000: the float function is unchanged, but
the stem's int8 output tensor gets a scale 1000x too coarse for its other channels, which round
to zero. The report must name ``conv_stem`` as the first layer below the threshold, and the
unplanted model must keep that layer above it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

RES, OUTLIER = 64, 1000.0


@pytest.fixture(scope="module")
def trained() -> object:
    from test_fidelity import train  # the toy-task recipe of the fidelity tests

    from edgekit.export.calibration import shapes_dataset

    x, y = shapes_dataset(1024, RES, seed=0)
    return train("test_mobilenetv4", {"x": x, "y": y}, epochs=3, lr=1e-2)


def plant_outlier(model: object) -> object:
    """Scale the stem's most active channel by OUTLIER, undo it in the next conv (same function)."""
    import torch

    from edgekit.export.calibration import shapes_dataset

    m = copy.deepcopy(model)
    x = torch.from_numpy(shapes_dataset(8, RES, seed=2)[0])
    with torch.no_grad():
        c = int(m.bn1(m.conv_stem(x)).mean((0, 2, 3)).argmax())
        m.bn1.weight[c] *= OUTLIER
        m.bn1.bias[c] *= OUTLIER
        m.blocks[0][0].conv.weight[:, c] /= OUTLIER
    return m


def report(model: object, tmp: Path, calib: Path) -> object:
    from edgekit.export import export
    from edgekit.export.calibration import shapes_dataset
    from edgekit.export.int8_report import compare_layers

    # the planted model fails the int8 fidelity floor, which is the point: the layer report is
    # what says why, so the whole-model verification is skipped here
    q = export(model, format="tflite", precision="int8", resolution=RES, name="m", calib=calib,
               out=tmp / "int8", log=None, verify=False)
    f = export(model, format="tflite", precision="fp32", resolution=RES, name="m",
               out=tmp / "fp32", log=None, verify=False)
    return compare_layers(f.artifact, q.artifact, shapes_dataset(16, RES, seed=7)[0])


@pytest.mark.toolchain("tflite")
def test_planted_bad_layer_is_named(trained: object, tmp_path: Path) -> None:
    import numpy as np
    import torch

    from test_fidelity import write_calibration_pngs

    from edgekit.export.calibration import model_mean_std, shapes_dataset
    from edgekit.export.int8_report import DEFAULT_THRESHOLD_DB

    planted = plant_outlier(trained)
    x = torch.from_numpy(shapes_dataset(8, RES, seed=3)[0])
    with torch.no_grad():  # planting keeps the float function
        np.testing.assert_allclose(planted(x).numpy(), trained(x).numpy(), rtol=1e-3, atol=1e-3)
    calib = tmp_path / "calib"
    write_calibration_pngs(shapes_dataset(64, RES, seed=4)[0], *model_mean_std(trained), calib)

    bad = report(planted, tmp_path / "bad", calib)
    assert bad.first_below is not None, bad.render()
    assert bad.first_below["layer"] == "conv_stem", bad.render()
    assert bad.first_below["channel_sqnr_db"] < DEFAULT_THRESHOLD_DB

    good = report(trained, tmp_path / "good", calib)
    stem = good.layers[good.layers["layer"] == "conv_stem"].iloc[0]
    assert stem["channel_sqnr_db"] > DEFAULT_THRESHOLD_DB, good.render()
    assert good.first_below is None or good.first_below["depth"] > bad.first_below["depth"]

    paths = bad.write(tmp_path / "report")
    assert [p.name for p in paths] == ["int8_report.csv", "int8_report_ops.csv",
                                       "int8_report.png"]
    assert all(p.stat().st_size > 0 for p in paths)
    print(bad.render())


@pytest.mark.toolchain("tflite")
def test_export_int8_report_cli_writes_table_and_figure(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    from edgekit.cli import main

    rc = main(["export", "test_mobilenetv4", "--format", "tflite", "--precision", "int8",
               "--int8-report", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "int8 report on 32 held-out images" in err and "op types by mean SQNR lost" in err
    folder = tmp_path / "test_mobilenetv4_tflite_int8"
    import pandas as pd

    table = pd.read_csv(folder / "int8_report.csv")
    assert list(table["depth"]) == list(range(len(table))) and len(table) > 20
    assert (folder / "int8_report.png").stat().st_size > 0
