"""``edgekit bench``: time a model or artifact on this host."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  edgekit bench mobilenetv4_conv_small
  edgekit bench model_int8.tflite --runtime litert --no-xnnpack --runs 50
  edgekit bench efficientformer_l1 --runtime torch --threads 2 --json
  edgekit bench mobilenetv4_conv_small --layers          # per-layer times (onnxruntime)
"""


def register(sub: Any, add_common: Any) -> None:
    p = sub.add_parser("bench", help="time a model or artifact on this host (median, p10, p90)",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", metavar="MODEL|ARTIFACT", help="model name, or an artifact file whose suffix picks the runtime")
    p.add_argument("--runtime", help="onnxruntime, litert or torch (default: from the artifact's "
                   "suffix, else onnxruntime)")
    p.add_argument("--threads", type=int, default=1, help="threads (default 1: most repeatable)")
    p.add_argument("--runs", type=int, default=50, help="timed runs (default 50)")
    p.add_argument("--warmup", type=int, default=10, help="untimed warm-up runs (default 10)")
    p.add_argument("--min-time", type=float, default=0.0, metavar="S",
                   help="keep timing until this many seconds have passed")
    p.add_argument("--no-xnnpack", action="store_true",
                   help="LiteRT: built-in kernels without the default XNNPACK delegate")
    p.add_argument("--precision", default="fp32", choices=("fp32", "int8"),
                   help="LiteRT export precision for model names (default fp32)")
    p.add_argument("--resolution", type=int, help="input resolution for model names")
    p.add_argument("--train-form", action="store_true",
                   help="time the train-time form (exported without re-parameterization)")
    p.add_argument("--layers", action="store_true",
                   help="per-layer kernel times from the onnxruntime profiler")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgekit.bench.runners import prepare, profile_onnxruntime, run_prepared
    from edgekit.commands._checks import check_resolution_option, check_threads
    from edgekit.commands._output import print_json, print_table
    from edgekit.errors import ConfigError

    check_threads(args.threads)
    check_resolution_option(args.resolution)

    p = prepare(args.target, runtime=args.runtime, threads=args.threads,
                xnnpack=not args.no_xnnpack, resolution=args.resolution,
                precision=args.precision, deploy=not args.train_form)
    res = run_prepared(p, runs=args.runs, warmup=args.warmup, min_time_s=args.min_time)
    layers = None
    if args.layers:
        if res.runtime.value != "onnxruntime":
            raise ConfigError(f"--layers needs --runtime onnxruntime, got {res.runtime.value}: "
                              "the LiteRT Python API exposes no op profiler")
        layers = profile_onnxruntime(str(res.artifact), threads=args.threads)
    if args.json:
        out: dict[str, Any] = res.to_dict()
        out.pop("times_ns")
        if layers is not None:
            out["layers"] = layers.to_dict(orient="records")
        print_json(out)
        return 0
    row = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in res.row().items()
           if k not in ("artifact",)}
    print_table([row])
    print(f"host: {res.host}; versions: "
          + ", ".join(f"{k} {v}" for k, v in res.versions.items()))
    if layers is not None:
        top = layers.sort_values("time_ms", ascending=False).head(25)
        rows = [{"onnx_node": r.onnx_node, "ort_ops": r.ort_ops, "time_ms": round(r.time_ms, 4)}
                for r in top.itertuples()]
        print(f"\nslowest layers ({len(layers)} in all, {layers.time_ms.sum():.3f} ms summed):")
        print_table(rows)
    return 0
