"""``edgekit validate``: the roofline against measurement over a population of models."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  edgekit validate --out validation/ort-fp32          # every zoo model, onnxruntime fp32
  edgekit validate --models 'mobilenetv4_*' 'mobileone_*' --device ./host-vm.toml
  edgekit validate --runtime litert --device ./host-vm-int8.toml --no-xnnpack --models ...
"""


def register(sub: Any, add_common: Any) -> None:
    from edgekit.commands import add_devices_dir

    p = sub.add_parser("validate", help="roofline vs measured latency over a model population",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", metavar="GLOB", help="model names or globs "
                   "(default: every zoo model; re-parameterizable ones in both forms)")
    p.add_argument("--runtime", default="onnxruntime", help="onnxruntime (default), litert, torch")
    p.add_argument("--device", help="calibrated profile to predict with (default: calibrate now)")
    p.add_argument("--precision", choices=("fp32", "int8"), help="default: the device's")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--runs", type=int, default=10, help="timed runs per round, at least")
    p.add_argument("--min-time", type=float, default=0.3, metavar="S",
                   help="time each model at least this long per round (default 0.3)")
    p.add_argument("--no-xnnpack", action="store_true", help="LiteRT without XNNPACK")
    p.add_argument("--no-train-form", action="store_true",
                   help="skip the un-reparameterized forms")
    p.add_argument("--include-test", action="store_true", help="include the tiny test_* variants")
    p.add_argument("--no-layers", action="store_true", help="skip per-layer profiling")
    p.add_argument("--out", default="validation", metavar="DIR", help="output directory")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from DIR/measurements.partial.csv")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_devices_dir(p)
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgekit.bench.runners import parse_runtime
    from edgekit.commands._output import print_json, print_table
    from edgekit.errors import ConfigError
    from edgekit.validate import run_validation

    from edgekit.commands._checks import check_threads

    check_threads(args.threads)
    rt = parse_runtime(args.runtime)
    if args.no_xnnpack and rt.value != "litert":
        raise ConfigError(f"--no-xnnpack applies to --runtime litert only, got {rt.value}")
    v = run_validation(
        args.models, runtime=rt.value, device=args.device, devices_dirs=args.devices_dir,
        threads=args.threads, repeats=args.repeats, runs=args.runs, min_time_s=args.min_time,
        precision=args.precision, xnnpack=not args.no_xnnpack,
        include_train_form=not args.no_train_form, include_test=args.include_test,
        layers=not args.no_layers, out_dir=args.out, resume=args.resume,
    )
    if args.json:
        print_json({"summary": v.summary.to_dict(orient="records"), "meta": v.meta})
        return 0
    cols = ["predictor", "n", "r_s", "r_s_ci_lo", "r_s_ci_hi", "r_s_macs", "median_abs_err_pct",
            "mape_pct", "within_10_pct", "within_25_pct"]
    print_table([{c: (round(r[c], 3) if isinstance(r.get(c), float) else r.get(c)) for c in cols}
                 for r in v.summary.to_dict(orient="records")], cols)
    if v.meta.get("layer_summary"):
        print()
        print_table([{k: (round(x, 3) if isinstance(x, float) else x) for k, x in r.items()}
                     for r in v.meta["layer_summary"]])
    print(f"\nwrote {args.out}/ (measurements.csv for fit-device, summary.csv, scatter.png); "
          f"{v.meta['elapsed_s']} s")
    return 0
