"""Runnability: an op is judged by what it does (its ``op_class``), not by its ONNX name."""

from __future__ import annotations

import pandas as pd
import pytest

from edgekit.device import load_device
from edgekit.roofline import analyze, layer_table
from edgekit.roofline.support import judged_op_types, unsupported_ops

pytestmark = pytest.mark.usefixtures("module_cache")


def _rows(*specs: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame([{"op_type": t, "op_class": c} for t, c in specs])


def test_products_are_judged_by_class() -> None:
    t = _rows(("Gemm", "matmul"), ("MatMul", "linear"), ("Einsum", "matmul"), ("Sqrt", "constant"),
              ("Gelu", "activation"))
    assert list(judged_op_types(t)) == ["MatMul", "Gemm", "MatMul", "", "Gelu"]
    dsp = load_device("pixel4-dsp")
    assert unsupported_ops(t, dsp) == ("Gelu", "MatMul")
    assert unsupported_ops(t.iloc[[1, 3]], dsp) == ()  # a linear layer and a folded constant


@pytest.mark.parametrize("name", ["test_mobilenetv4_hybrid", "mobilenetv4_hybrid_medium"])
def test_hybrids_cannot_run_on_the_dsp(name: str) -> None:
    rows = analyze([name], ["pixel4-dsp", "pixel6-cpu", "pixel8-edgetpu"]).set_index("device")
    assert not rows.loc["pixel4-dsp", "runnable"]
    assert "MatMul" in rows.loc["pixel4-dsp", "unsupported_ops"].split(",")
    assert rows.loc["pixel6-cpu", "runnable"] and rows.loc["pixel8-edgetpu", "runnable"]
    assert rows.loc["pixel6-cpu", "unsupported_ops"] == ""


def test_conv_mnv4_runs_on_the_dsp() -> None:
    row = analyze(["test_mobilenetv4"], ["pixel4-dsp"]).iloc[0]
    assert row["runnable"] and row["unsupported_ops"] == ""


def test_a_true_linear_layer_runs_on_the_dsp() -> None:
    """nn.Linear on 2-D (Gemm) and on 3-D tokens (ONNX MatMul with a weight) is FULLY_CONNECTED."""
    torch = pytest.importorskip("torch")

    class Tokens(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, stride=4)
            self.fc = torch.nn.Linear(8, 8)
            self.head = torch.nn.Linear(8, 4)

        def forward(self, x):  # (B, 3, 32, 32)
            t = self.conv(x).flatten(2).transpose(1, 2)  # (B, 64, 8)
            return self.head(torch.relu(self.fc(t)).mean(1))

    table = layer_table(Tokens().eval(), 32, cache=False)
    products = table[table["op_type"].isin(["MatMul", "Gemm"])]
    assert "MatMul" in set(products["op_type"]) and set(products["op_class"]) == {"linear"}
    assert unsupported_ops(table, load_device("pixel4-dsp")) == ()
