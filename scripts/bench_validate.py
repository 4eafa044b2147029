"""Reference validation runs: the roofline against onnxruntime fp32 and LiteRT int8 on this host.

    python scripts/bench_validate.py ort                # edgekit validate, ORT fp32, 1 thread
    python scripts/bench_validate.py litert [--no-xnnpack] --models mobilenetv4_* ...
    python scripts/bench_validate.py measure-only       # latencies only (no roofline needed)

Outputs go to validation/<run>/ (measurements.csv, summary.csv, layers.csv, scatter.png,
meta.json). The host is calibrated once per run unless --device is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", choices=("ort", "litert", "measure-only"))
    ap.add_argument("--models", nargs="+")
    ap.add_argument("--device")
    ap.add_argument("--no-xnnpack", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="validation")
    args = ap.parse_args()
    if args.run == "measure-only":
        from edgekit.validate import measure_population, population

        entries = population(args.models)
        df = measure_population(entries, repeats=args.repeats)
        out = Path(args.out) / "ort-fp32-measured.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(out, index=False)
        print(df[["label", "latency_ms", "repeat_min_ms", "repeat_max_ms", "p10_ms",
                  "p90_ms"]].to_string())
        return 0
    from edgekit.cli import main as cli

    argv = ["validate", "--repeats", str(args.repeats)]
    if args.models:
        argv += ["--models", *args.models]
    if args.device:
        argv += ["--device", args.device]
    if args.run == "ort":
        argv += ["--out", f"{args.out}/ort-fp32"]
    else:
        tag = "no-xnnpack" if args.no_xnnpack else "xnnpack"
        argv += ["--runtime", "litert", "--precision", "int8", "--no-layers",
                 "--out", f"{args.out}/litert-int8-{tag}"]
        if args.no_xnnpack:
            argv.append("--no-xnnpack")
    return cli(argv)


if __name__ == "__main__":
    sys.exit(main())
