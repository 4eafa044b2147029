"""Fit the Hexagon NPU profiles (s23-npu, s25-npu, fp16 and int8) to Qualcomm AI Hub's latencies.

    python scripts/fit_npu.py            # leave-one-out tables, op-count errors, mission models
    python scripts/fit_npu.py --write    # also write devices/s2{3,5}-npu{,-int8}.toml

Data: edgekit/data/published_latency_aihub.csv (ai-hub-models perf.yaml, commit per row in its
source column): 15 backbones, TFLite + QNN delegate, all ops on the NPU. Model (one formula,
edgekit.roofline.latency): T = sum_l max(MACs/(eta_c P), bytes/(eta_c B)) + n_ops * c
+ n_slices * c_s + O, with n_ops the rows' layers_total where a row has it (the graph that ran),
else the QNN op-count model (edgekit.runtime.qnn), and n_slices the 2-D products of the batched
attention matmuls (edgekit.runtime.matmul_slices: Swin's 64 windows x 3 heads are 192 per
matmul). fp16 fits P, B, c, c_s, O and the efficiency of the classes in CLASSES per device; int8
(5 and 8 rows) keeps the fp16 structure (op counts, class efficiencies, B, c, c_s) and fits P and
O (the invoke overhead holds the graph's input/output conversion, which differs by precision).
Layer tables are built once (cached, about 10 minutes cold on 2 cores).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "edgekit" / "data" / "published_latency_aihub.csv"
DEVICES = {"s23-npu": ("Samsung Galaxy S23 (Snapdragon 8 Gen 2 for Galaxy) Hexagon NPU (HTP)",
                       "19dc3e8bdf77"),
           "s25-npu": ("Samsung Galaxy S25 (Snapdragon 8 Elite for Galaxy) Hexagon NPU (HTP)",
                       "52c080d245d2")}
FUSES = ("Relu", "Clip")  # QNN runs ReLU/ReLU6 in the conv (or BN) kernel; BN folds at export
CLASSES = ("matmul", "activation")  # fp16 efficiency classes (chosen on the LOO table below)
INT8_FREE = ("peak", "overhead")  # int8: what the few rows refit on the fp16 structure
MISSION = ("mobilenetv4_conv_small", "mobilenetv4_conv_medium", "mobilenetv4_conv_large",
           "mobilenetv4_hybrid_medium", "mobilenetv4_hybrid_large", "efficientformer_l1",
           "efficientformer_l3", "efficientformer_l7")


def base_profile(name: str, precision: str):  # noqa: ANN201 - a DeviceProfile
    from edgekit.device import DeviceProfile
    from edgekit.runtime.qnn import HTP_UNSUPPORTED_ONNX

    src = "placeholder before the fit"
    return DeviceProfile.model_validate({
        "name": name, "description": "fit", "kind": "npu", "precision": precision,
        "format": "tflite", "runtime": "tflite-qnn", "fuses": list(FUSES),
        "unsupported_ops": list(HTP_UNSUPPORTED_ONNX),
        "peak_gmac_s": {"value": 1.0, "source": src, "confidence": "low"},
        "mem_gb_s": {"value": 1.0, "source": src, "confidence": "low"},
    })


def costs_for(df, precision: str, *, row_counts: bool):  # noqa: ANN001, ANN201
    from dataclasses import replace

    from edgekit.fit.runtime_fit import run_costs
    from edgekit.roofline import layer_table

    dev = base_profile("s23-npu", precision)
    out = []
    for r in df.itertuples():
        c = run_costs(layer_table(r.model, int(r.resolution)), dev, r.model)
        if row_counts:
            c = replace(c, n_ops=int(r.layers_total))
        out.append(c)
    return out


def stats(pred, meas) -> str:  # noqa: ANN001
    from edgekit.fit import error_stats

    s = error_stats(pred, meas)
    return (f"r_s {s['r_s']:.3f}  median {s['median_abs_err_pct']:5.1f}%  "
            f"within25 {s['within_25_pct']:5.1f}%")


def macs_only_loo(costs, y):  # noqa: ANN001, ANN201
    import numpy as np

    macs = np.array([c.macs.sum() for c in costs])
    out = np.empty(y.size)
    for i in range(y.size):
        k = np.arange(y.size) != i
        out[i] = np.exp(np.median(np.log(y[k] / macs[k]))) * macs[i]
    return out


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    import pandas as pd

    from edgekit.fit.runtime_fit import fit_runtime, loo_runtime, run_costs
    from edgekit.roofline import layer_table
    from edgekit.runtime.qnn import ops_per_row

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="write the four NPU profiles")
    args = ap.parse_args(argv)
    df = pd.read_csv(CSV)
    df = df[df["status"] == "measured"]

    print("== op count: QNN op-count model vs the rows' layers_total (fp16, graph that ran)")
    fp = df[df.precision == "fp16"].drop_duplicates("model")
    errs = []
    for r in fp.itertuples():
        n = int(ops_per_row(layer_table(r.model, int(r.resolution)), FUSES).sum())
        errs.append(n / r.layers_total - 1)
        print(f"  {r.model:32s} rows {r.layers_total:5d}  model {n:5d}  err {errs[-1]*100:+6.1f}%")
    print(f"  median |err| {np.median(np.abs(errs))*100:.1f}%")

    fits: dict[tuple[str, str], object] = {}
    loo_lines = {}
    for target in DEVICES:
        for prec in ("fp16", "int8"):
            g = df[(df.target == target) & (df.precision == prec)].reset_index(drop=True)
            y = g.latency_ms.to_numpy() / 1e3
            costs = costs_for(g, prec, row_counts=True)
            mcosts = costs_for(g, prec, row_counts=False)
            print(f"\n== {target} {prec}: {len(g)} rows, leave-one-out")
            print(f"  MACs-only (scaled)             {stats(macs_only_loo(costs, y), y)}")
            print(f"  plain roofline (P, B, O)       "
                  f"{stats(loo_runtime(costs, y, per_op=False, per_slice=False), y)}")
            if prec == "fp16":
                for slc in (False, True):
                    for cls in ((), ("matmul",), ("activation",), ("matmul", "norm"),
                                ("matmul", "data_movement"), ("matmul", "depthwise"), CLASSES):
                        label = "+per-op" + ("+slice" if slc else "") + "".join(
                            f"+eta_{c}" for c in cls)
                        loo = loo_runtime(costs, y, classes=cls, per_slice=slc)
                        print(f"  {label:36s} {stats(loo, y)}")
                main_loo = loo_runtime(costs, y, classes=CLASSES)
                model_loo = loo_runtime(mcosts, y, classes=CLASSES)
                print(f"  same, op-count model's n_ops   {stats(model_loo, y)}")
                fit = fit_runtime(costs, y, classes=CLASSES)
                rng = np.random.default_rng(0)
                med = []
                for _ in range(20):  # 8-row fit-device, predicting the device's other rows
                    pick = rng.choice(len(g), 8, replace=False)
                    rest = np.setdiff1d(np.arange(len(g)), pick)
                    f8 = fit_runtime([costs[i] for i in pick], y[pick], classes=CLASSES)
                    p = np.array([f8.predict_s(costs[i]) for i in rest])
                    med.append(np.median(np.abs(p - y[rest]) / y[rest]) * 100)
                print(f"  8-row fit-device (P,B,c,c_s,O,eta), other rows: median |err| "
                      f"{np.median(med):.1f}% (median of 20 seeded draws; p10 "
                      f"{np.percentile(med, 10):.1f}%, p90 {np.percentile(med, 90):.1f}%)")
            else:
                base = fits[(target, "fp16")]
                p_only = loo_runtime(costs, y, base=base, free=("peak",))
                print(f"  fp16 structure, fit P only     {stats(p_only, y)}")
                main_loo = loo_runtime(costs, y, base=base, free=INT8_FREE)
                print(f"  fp16 structure, fit P and O    {stats(main_loo, y)}")
                fit = fit_runtime(costs, y, base=base, free=INT8_FREE)
            loo_lines[(target, prec)] = stats(main_loo, y)
            fits[(target, prec)] = fit
            print(f"  runtime model (LOO)            {loo_lines[(target, prec)]}")
            for m, t, lo in zip(g.model, y, main_loo, strict=True):
                print(f"    {m:32s} measured {t*1e3:7.3f} ms  LOO {lo*1e3:7.3f} ms  "
                      f"{(lo/t-1)*100:+6.1f}%")
            print("  fit:", {k: round(v, 4) if isinstance(v, float) else v
                             for k, v in fit.row().items()})

    print("\n== mission models on s23-npu (runtime model, op-count model's n_ops)")
    from edgekit.runtime.qnn import HTP_UNSUPPORTED_ONNX

    dev = base_profile("s23-npu", "fp16")
    for m in MISSION:
        t = layer_table(m)
        bad = sorted(set(t["op_type"]) & set(HTP_UNSUPPORTED_ONNX))
        c = run_costs(t, dev, m)
        print(f"  {m:28s} {fits[('s23-npu', 'fp16')].predict_s(c)*1e3:7.3f} ms  "
              f"n_ops {c.n_ops:4d}  {'runs on the NPU' if not bad else 'NOT runnable: ' + str(bad)}")
    if args.write:
        for (target, prec), fit in fits.items():
            name = target if prec == "fp16" else f"{target}-int8"
            n = int(((df.target == target) & (df.precision == prec)).sum())
            text = profile_text(name, target, prec, fit, n, loo_lines[(target, prec)])
            (ROOT / "devices" / f"{name}.toml").write_text(text, encoding="utf-8")
            print(f"wrote devices/{name}.toml")
    return 0


def profile_text(name: str, target: str, prec: str, fit, n: int, loo: str) -> str:  # noqa: ANN001
    from edgekit.fit.toml import toml_list, toml_string
    from edgekit.runtime.qnn import HTP_UNSUPPORTED_ONNX

    desc, commit = DEVICES[target]
    today = dt.date.today().isoformat()
    how = ("fp16: P, B, per-op cost, per-matmul-slice cost, overhead and the efficiencies of "
           + ", ".join(CLASSES) + " fit jointly" if prec == "fp16" else
           "int8: op counts, class efficiencies, B, per-op and per-slice costs kept from "
           f"{target}'s fp16 fit; P and overhead fit")
    src = (f"fit by scripts/fit_npu.py to the {n} {target} {prec} rows of "
           f"edgekit/data/published_latency_aihub.csv (quic/ai-hub-models perf.yaml @ {commit}); "
           f"least squares on log latency; {how}; LOO {loo} ({today})")
    eff = ", ".join(f"{k} = {v:.6g}" for k, v in fit.efficiency.items())
    text = NOTES.format(target=target, prec=prec, n=n, loo=loo, commit=commit)
    if fit.mem_bytes_s > 1e12:  # no DRAM does this: say what the number is
        text += ("\nB is not a DRAM bandwidth: these rows pin no memory-bound time except that "
                 "of unfused\nactivations (their efficiency sits at its lower bound), so B is "
                 "whatever keeps every\nother layer compute-bound. Read it as 'not memory-bound "
                 "here', not as a bandwidth.")
    notes = '"""\n' + text + '\n"""'
    return f"""# {desc}: TFLite {prec} with the QNN delegate, as measured by Qualcomm AI Hub.
name = "{name}"
description = "{desc}, {prec}"
kind = "npu"
precision = "{prec}"
format = "tflite"
runtime = "tflite-qnn"
runtime_notes = "TFLite {prec} ({'AI Hub float, runs fp16 on the HTP' if prec == 'fp16' else 'w8a8'}) with the QNN delegate, HTP backend; every op of the 15 measured backbones ran on the NPU"
# QNN runs ReLU / ReLU6 inside the conv (or BN) kernel; BatchNorm after a conv is folded at export.
fuses = {toml_list(list(FUSES))}
# ONNX ops without an HTP op (see edgekit/runtime/qnn.py: HTP_OPS and its source).
unsupported_ops = {toml_list(list(HTP_UNSUPPORTED_ONNX))}
notes = {notes}

[peak_gmac_s]
value = {fit.peak_mac_s / 1e9:.6g}
source = {toml_string(src)}
confidence = "medium"

[mem_gb_s]
value = {fit.mem_bytes_s / 1e9:.6g}
source = {toml_string(src)}
confidence = "medium"

[overhead_ms]
value = {fit.overhead_s * 1e3:.6g}
source = {toml_string(src)}
confidence = "medium"

[runtime_costs]
per_op_us = {fit.per_op_s * 1e6:.6g}
per_matmul_slice_us = {fit.per_slice_s * 1e6:.6g}
efficiency = {{ {eff} }}
source = {toml_string(src)}
confidence = "medium"
"""


NOTES = """Fit to Qualcomm AI Hub's published on-device profiles ({n} {target} {prec} rows of
edgekit/data/published_latency_aihub.csv; quic/ai-hub-models qai_hub_models/models/*/perf.yaml
@ {commit}). The NPU is far from MAC-bound and transformer graphs lower to hundreds to thousands
of small ops, so the profile carries the runtime terms of edgekit's latency formula: per-op
dispatch cost times the ops the QNN delegate runs (edgekit/runtime/qnn.py's op-count model; the
fit used the rows' layers_total, the graph that ran), a launch cost per 2-D product of a batched
attention matmul (Swin's windowed attention runs 64 windows x 3 heads = 192 of them per matmul;
edgekit.runtime.matmul_slices), and the efficiencies of activation-activation matmuls (attention)
and of unfused activations (GELU, SiLU, h-swish, sigmoid) relative to dense convolution.
Leave-one-out on these rows:
{loo}. Op support: Qualcomm's QNN HTP op list as recalled (the SDK page is not available offline)
and the rows, which ran every op of all 15 backbones on the NPU; what cannot run is control flow
and data-dependent shapes. Precision and format are this target's: `edgekit export MODEL --target
NAME` gives TFLite at this precision."""


if __name__ == "__main__":
    sys.exit(main())
