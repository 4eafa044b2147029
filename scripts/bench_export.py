"""Benchmark the int8 TFLite export routes side by side, and LiteRT latency on this host.

Measures, in one run:

1. wall time of ``edgekit export MODEL --target TARGET`` (litert-torch + ai-edge-quantizer), as a
   subprocess, the way a user runs it;
2. wall time of the onnx2tf route for the same model: ``edgekit export --format onnx`` then
   ``onnx2tf -oiqt`` (full int8, int8 input and output) run from a separate virtualenv (default
   ``/tmp/onnx2tf-venv``; see shared/TOOLCHAIN.md for how it is installed), calibrated on the same
   generated images edgekit uses;
3. artifact sizes, and fidelity of each int8 artifact against torch fp32 (SQNR, cosine, top-1
   agreement) on held-out generated images;
4. LiteRT latency of the fp32 and int8 artifacts, 1 thread, with and without XNNPACK: median,
   p10 and p90 over ``--runs`` timed invocations after warm-up.

Writes ``bench_export.json`` (raw timings included) to ``--out`` and prints a summary. Models have
random weights here (no downloads), so fidelity figures on them are only a cross-route comparison.

    /tmp/ekvenv/bin/python scripts/bench_export.py --out /tmp/bench_export
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def run(cmd: list[str], log: Path, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> tuple[int, float]:
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, check=False,
                              cwd=cwd)
    return proc.returncode, time.perf_counter() - t0


def last_line(path: Path) -> str:
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def latency(path: Path, xnnpack: bool, runs: int, warmup: int = 10) -> dict[str, Any]:
    """LiteRT latency on one thread, through edgekit bench (the exporter's own loader)."""
    from edgekit.bench import bench

    res = bench(path, runtime="litert", threads=1, runs=runs, warmup=warmup, xnnpack=xnnpack)
    times = [t / 1e6 for t in res.times_ns]
    q = statistics.quantiles(times, n=10)
    return {"median_ms": statistics.median(times), "p10_ms": q[0], "p90_ms": q[-1],
            "runs": runs, "raw_ms": times}


def fidelity(model_name: str, ckpt: Path, artifact: Path, resolution: int) -> dict[str, Any]:
    from edgekit.export import compare_outputs, get_exporter, torch_logits
    from edgekit.export.calibration import generated_set, model_mean_std
    from edgekit.models import create_model

    model = create_model(model_name, checkpoint=ckpt, deploy=True)
    mean, std = model_mean_std(model)
    images = generated_set(resolution, count=32, seed=7, mean=mean, std=std).images
    ref = torch_logits(model, images)
    out = get_exporter("tflite").load(artifact).run(images)
    return compare_outputs(ref, out)


def onnx2tf_route(args: argparse.Namespace, out: Path, resolution: int) -> dict[str, Any]:
    """ONNX from edgekit, then onnx2tf -oiqt with edgekit's generated calibration images."""
    import numpy as np

    from edgekit.export.calibration import generated_set

    res: dict[str, Any] = {"route": "edgekit export --format onnx, then onnx2tf -oiqt"}
    o2t = Path(args.onnx2tf_venv) / "bin" / "onnx2tf"
    if not o2t.exists():
        return {**res, "status": f"skipped: {o2t} not found"}
    work = out / "onnx2tf"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    rc, onnx_s = run([sys.executable, "-m", "edgekit.cli", "export", args.model, "--format",
                      "onnx", "--checkpoint", str(args.ckpt), "--out", str(work)],
                     work / "onnx.log")
    if rc:
        return {**res, "status": f"onnx export failed (rc {rc}), see {work / 'onnx.log'}"}
    onnx_path = Path(last_line(work / "onnx.log"))
    # onnx2tf wants NHWC float32 in [0, 1] and applies mean/std itself.
    gen = generated_set(resolution, count=64, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    calib = work / "calib.npy"
    np.save(calib, np.ascontiguousarray(gen.images.transpose(0, 2, 3, 1)).astype(np.float32))
    cmd = [str(o2t), "-i", str(onnx_path), "-o", str(work / "tf"), "-oiqt", "-qt", "per-channel",
           "-iqd", "int8", "-oqd", "int8", "-cind", "input", str(calib),
           "[[[[0.485,0.456,0.406]]]]", "[[[[0.229,0.224,0.225]]]]"]
    # onnx2tf fetches a 20x128x128x3 sample from GitHub for its own dummy inference even when
    # -cind is given, and fails offline; it reads the file from the working directory first, so
    # put generated images there under that name (no network, and recorded in the report).
    sample = generated_set(128, count=20, seed=2, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    np.save(work / "calibration_image_sample_data_20x128x128x3_float32.npy",
            np.ascontiguousarray(sample.images.transpose(0, 2, 3, 1)).astype(np.float32))
    res["offline_workaround"] = ("local calibration_image_sample_data_20x128x128x3_float32.npy "
                                 "(generated images) in onnx2tf's working directory")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    rc, convert_s = run(cmd, work / "onnx2tf.log", env=env, cwd=work)
    res.update({"onnx_export_s": onnx_s, "onnx2tf_s": convert_s,
                "wall_s": time.perf_counter() - t0, "returncode": rc,
                "command": " ".join(cmd), "log": str(work / "onnx2tf.log")})
    full = sorted((work / "tf").glob("*_full_integer_quant.tflite"))
    text = (work / "onnx2tf.log").read_text(errors="replace")
    res["download_attempted"] = any(k in text for k in ("calibration_image_sample",
                                                         "urllib", "HTTPError", "URLError"))
    if rc or not full:
        tail = [ln for ln in text.splitlines() if ln.strip()][-5:]
        return {**res, "status": "failed", "log_tail": tail}
    res.update({"status": "ok", "artifact": str(full[0]), "size_bytes": full[0].stat().st_size})
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mobilenetv4_conv_small")
    ap.add_argument("--target", default="pixel8-edgetpu")
    ap.add_argument("--out", default="/tmp/bench_export")
    ap.add_argument("--onnx2tf-venv", default="/tmp/onnx2tf-venv")
    ap.add_argument("--runs", type=int, default=100)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from edgekit.models import get_spec

    resolution = get_spec(args.model).resolution
    report: dict[str, Any] = {"model": args.model, "target": args.target,
                              "host": f"{platform.node()} {platform.machine()} "
                                      f"{os.cpu_count()} cpus",
                              "load_avg_start": os.getloadavg()}

    # 0. one set of (random, seeded) weights for every route, so they can be compared
    import torch

    from edgekit.export import RANDOM_INIT_SEED, seeded_model

    args.ckpt = out / f"{args.model}_seed{RANDOM_INIT_SEED}.pt"
    torch.save(seeded_model(args.model, deploy=False).state_dict(), args.ckpt)

    # 1. edgekit's route, as a user runs it
    ek = out / "edgekit"
    shutil.rmtree(ek, ignore_errors=True)
    rc, wall = run([sys.executable, "-m", "edgekit.cli", "export", args.model, "--target",
                    args.target, "--checkpoint", str(args.ckpt), "--out", str(ek)],
                   out / "edgekit_int8.log")
    if rc:
        print(f"edgekit export failed, see {out / 'edgekit_int8.log'}", file=sys.stderr)
        return 1
    int8_path = Path(last_line(out / "edgekit_int8.log"))
    manifest = json.loads((int8_path.parent / "manifest.json").read_text())
    report["edgekit_int8"] = {"wall_s": wall, "artifact": str(int8_path),
                              "size_bytes": manifest["size_bytes"],
                              "timing_s": manifest["timing_s"],
                              "fidelity_manifest": manifest["fidelity"],
                              "inputs": manifest["inputs"], "outputs": manifest["outputs"]}
    rc, wall32 = run([sys.executable, "-m", "edgekit.cli", "export", args.model, "--format",
                      "tflite", "--precision", "fp32", "--checkpoint", str(args.ckpt),
                      "--out", str(ek)], out / "edgekit_fp32.log")
    fp32_path = Path(last_line(out / "edgekit_fp32.log"))
    report["edgekit_fp32"] = {"wall_s": wall32, "artifact": str(fp32_path),
                              "size_bytes": fp32_path.stat().st_size}

    # 2. the onnx2tf route
    report["onnx2tf_int8"] = onnx2tf_route(args, out, resolution)

    # 3. fidelity of both int8 artifacts on the same held-out images
    report["edgekit_int8"]["fidelity_heldout"] = fidelity(args.model, args.ckpt, int8_path,
                                                          resolution)
    report["edgekit_fp32"]["fidelity_heldout"] = fidelity(args.model, args.ckpt, fp32_path,
                                                          resolution)
    if report["onnx2tf_int8"].get("status") == "ok":
        report["onnx2tf_int8"]["fidelity_heldout"] = fidelity(
            args.model, args.ckpt, Path(report["onnx2tf_int8"]["artifact"]), resolution)

    # 4. LiteRT latency, 1 thread, with and without XNNPACK
    lat = {}
    arts = {"edgekit_fp32": fp32_path, "edgekit_int8": int8_path}
    if report["onnx2tf_int8"].get("status") == "ok":
        arts["onnx2tf_int8"] = Path(report["onnx2tf_int8"]["artifact"])
    for key, path in arts.items():
        for xnn in (True, False):
            lat[f"{key}/{'xnnpack' if xnn else 'builtin'}"] = latency(path, xnn, args.runs)
    report["litert_latency_1thread"] = lat
    report["load_avg_end"] = os.getloadavg()
    (out / "bench_export.json").write_text(json.dumps(report, indent=2, default=str))

    print(f"model {args.model} -> {args.target}  (host {report['host']}, "
          f"load {report['load_avg_start'][0]:.1f})")
    print(f"edgekit int8 export wall {report['edgekit_int8']['wall_s']:.1f} s, "
          f"{report['edgekit_int8']['size_bytes'] / 1e6:.2f} MB")
    o = report["onnx2tf_int8"]
    print(f"onnx2tf route: {o.get('status')}"
          + (f", wall {o['wall_s']:.1f} s, {o['size_bytes'] / 1e6:.2f} MB" if "size_bytes" in o
             else ""))
    print(f"edgekit fp32 export wall {wall32:.1f} s, {report['edgekit_fp32']['size_bytes'] / 1e6:.2f} MB")
    for k in ("edgekit_fp32", "edgekit_int8", "onnx2tf_int8"):
        f = report[k].get("fidelity_heldout") if isinstance(report[k], dict) else None
        if f:
            print(f"{k} vs torch fp32: SQNR {f['sqnr_db']} dB, cosine {f['cosine']}, "
                  f"top-1 agreement {f['top1_agreement']}")
    for k, v in lat.items():
        print(f"LiteRT {k:28s} median {v['median_ms']:.2f} ms  p10 {v['p10_ms']:.2f}  "
              f"p90 {v['p90_ms']:.2f}  (n={v['runs']})")
    print(out / "bench_export.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
