"""Report helpers: Pareto front, pivots, published comparison, and the figures (Agg, no pyplot)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edgekit.report import compare_published, latency_pivot, pareto_mask


def test_pareto_mask_hand_example():
    lat = [1.0, 2.0, 3.0, 2.5, 1.0]
    acc = [70.0, 75.0, 74.0, 80.0, 69.0]
    # (3.0, 74) is beaten by (2.0, 75); (1.0, 69) by (1.0, 70).
    assert pareto_mask(lat, acc).tolist() == [True, True, False, True, False]


def _summary():
    rows = []
    for dev, scale in (("a", 1.0), ("rp5", 3.0)):
        for m, fam, lat, top1 in (("m1", "F1", 1.0, 70.0), ("m2", "F1", 2.0, 75.0),
                                  ("m3", "F2", 1.5, 72.0), ("x", "onnx", 0.5, None)):
            rows.append({"model": m, "family": fam, "device": dev, "resolution": 224,
                         "macs": 1e9, "params": 5e6, "latency_ms": lat * scale, "top1": top1,
                         "ridge_mac_per_byte": 5.0 if dev == "rp5" else 30.0})
    return pd.DataFrame(rows)


def test_latency_pivot():
    wide = latency_pivot(_summary())
    assert list(wide.columns) == ["model", "resolution", "macs_g", "params_m", "top1", "a", "rp5"]
    assert wide.set_index("model").loc["m2", "rp5"] == pytest.approx(6.0)


def test_compare_published(tmp_path):
    pub = pd.DataFrame({"model": ["m1", "m2"], "device": ["a", "a"], "latency_ms": [2.0, None],
                        "status": ["measured", "failed"]})
    out = compare_published(_summary(), pub)
    assert len(out) == 2
    assert out.set_index("model").loc["m1", "ratio"] == pytest.approx(0.5)
    assert np.isnan(out.set_index("model").loc["m2", "ratio"])


def test_figures_render(tmp_path):
    from edgekit.report.figures import latency_accuracy_panels, op_time_chart, roofline_chart
    from edgekit.roofline import estimate_latency
    from edgekit.roofline.counting import COLUMNS

    rows = [
        {"name": "conv", "op_type": "Conv", "module": "c", "kind": "compute", "macs": 10**7,
         "weight_elems": 1000, "bias_elems": 10, "in_act_elems": 5000, "out_act_elems": 5000,
         "fusable": False, "producer": "", "out_shape": "", "note": ""},
        {"name": "add", "op_type": "Add", "module": "c", "kind": "elementwise", "macs": 0,
         "weight_elems": 0, "bias_elems": 0, "in_act_elems": 10**4, "out_act_elems": 5000,
         "fusable": False, "producer": "", "out_shape": "", "note": ""},
        {"name": "mm", "op_type": "MatMul", "module": "a", "kind": "compute", "macs": 10**5,
         "weight_elems": 0, "bias_elems": 0, "in_act_elems": 10**5, "out_act_elems": 10**4,
         "fusable": False, "producer": "", "out_shape": "", "note": ""},
    ]
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table.attrs["model"] = "toy"
    est = estimate_latency(table, "pixel6-cpu")
    figs = {"roof": roofline_chart(est), "ops": op_time_chart(est),
            "panels": latency_accuracy_panels(_summary(), ["a", "rp5"])}
    for name, fig in figs.items():
        path = tmp_path / f"{name}.png"
        fig.savefig(path)
        assert path.stat().st_size > 5000
    ax = figs["roof"].axes[0]
    assert ax.get_xscale() == "log" and "pixel6-cpu" in ax.get_title()
    # The ridge line sits at the profile's ridge point.
    ridge_lines = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert ridge_lines and ridge_lines[0].get_xdata()[0] == pytest.approx(est.device.ridge_mac_per_byte)
    assert len(figs["panels"].axes) == 2
    labels = figs["panels"].legends[0].get_texts()
    assert {t.get_text() for t in labels} >= {"F1", "F2", "Pareto front"}


def _with_unrunnable():
    df = _summary()
    df["runnable"] = True
    df["unsupported_ops"] = ""
    # m2 (fastest at its accuracy) cannot run on device "a": it must leave a's front and tables.
    bad = (df["model"] == "m2") & (df["device"] == "a")
    df.loc[bad, ["runnable", "unsupported_ops"]] = [False, "MatMul"]
    return df


def test_pareto_front_and_best_models_use_runnable_models_only():
    from edgekit.report.tables import best_models, pareto_front

    df = _with_unrunnable()
    front = pareto_front(df)
    assert set(front.loc[front["device"] == "a", "model"]) == {"m1", "m3"}
    assert set(front.loc[front["device"] == "rp5", "model"]) == {"m1", "m2", "m3"}
    best = best_models(df, (1.0, 2.0, 30.0)).set_index(["device", "budget_ms"])
    assert best.loc[("a", 2.0), "model"] == "m3"  # m2 (75%) would win but cannot run
    assert "m2" not in best.loc[("a", 30.0), "fitting"].split()
    assert best.loc[("a", 30.0), "fitting_models"] == 3  # m1, m3 and the no-top1 onnx model
    assert best.loc[("rp5", 30.0), "model"] == "m2"


def test_panels_draw_unrunnable_models_hollow_and_off_the_front():
    from edgekit.report.figures import latency_accuracy_panels

    fig = latency_accuracy_panels(_with_unrunnable(), ["a", "rp5"])
    ax = fig.axes[0]
    hollow = [c for c in ax.collections if c.get_label() == "cannot run (hollow)"]
    assert len(hollow) == 1 and hollow[0].get_offsets().tolist() == [[2.0, 75.0]]
    assert len(hollow[0].get_facecolors()) == 0 or hollow[0].get_facecolors()[0][3] == 0
    step = next(ln for ln in ax.get_lines() if ln.get_label() == "Pareto front")
    assert 2.0 not in list(step.get_xdata())
    legend = {t.get_text() for t in fig.legends[0].get_texts()}
    assert "cannot run on this device (hollow)" in legend


def test_changes_since_previous_run():
    from edgekit.report.tables import changes_since

    now = _summary()
    prev = now[now["model"] != "m3"].copy()
    prev.loc[prev["model"] == "m1", "latency_ms"] *= 1.10
    prev = pd.concat([prev, prev.head(1).assign(model="gone")])
    ch = changes_since(prev, now)
    assert ch["models_added"] == ["m3"] and ch["models_removed"] == ["gone"]
    assert ch["devices_added"] == [] and ch["devices_removed"] == []
    assert set(ch["moved"]["model"]) == {"m1"}
    assert ch["moved"]["change_pct"].round(1).tolist() == [-9.1, -9.1]
    assert changes_since(None, now)["moved"].empty
