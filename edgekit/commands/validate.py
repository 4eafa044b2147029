"""``edgekit validate``: the roofline against measurement over a population of models."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  edgekit validate --out validation/ort-fp32          # every zoo model, onnxruntime fp32
  edgekit validate --models 'mobilenetv4_*' 'mobileone_*' --device ./host-vm.toml
  edgekit validate --runtime litert --device ./host-vm-int8.toml --no-xnnpack --models ...
  edgekit calibrate --runtime litert-xnnpack --precision int8 && \
      edgekit validate --runtime litert-xnnpack --precision int8 --out validation/xnnpack-int8

A runtime id (litert-xnnpack, litert-builtin, onnxruntime-cpu) predicts every model from that runtime's table of
micro-benchmarks alone (edgekit calibrate --runtime ID; --table names another file), beside the
MACs-only, plain-roofline and whole-model-fitted predictions.
"""


def register(sub: Any, add_common: Any) -> None:
    from edgekit.commands import add_devices_dir

    p = sub.add_parser("validate", help="roofline vs measured latency over a model population",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", metavar="GLOB", help="model names or globs "
                   "(default: every zoo model; re-parameterizable ones in both forms)")
    p.add_argument("--runtime", default="onnxruntime",
                   help="onnxruntime (default), litert, torch, or a runtime id with a table: "
                        "litert-xnnpack, litert-builtin, onnxruntime-cpu")
    p.add_argument("--table", metavar="FILE",
                   help="runtime table (default: the one edgekit calibrate --runtime wrote)")
    p.add_argument("--allow-foreign-table", action="store_true",
                   help="use a runtime table measured on another host or library versions")
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
    p.add_argument("--no-drift-check", action="store_true",
                   help="with a runtime id: do not re-time the table's --quick cases first "
                        "(how fast the host runs now against when the table was measured)")
    p.add_argument("--out", default="validation", metavar="DIR", help="output directory")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from DIR/measurements.partial.csv")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_devices_dir(p)
    add_common(p)
    p.set_defaults(func=run)


def _table(args: argparse.Namespace) -> tuple[dict[str, Any], str, bool]:
    """The runtime table for ``--runtime ID``: its model, its meta, the bench runtime, XNNPACK."""
    import sys
    from pathlib import Path

    from edgekit.errors import ConfigError, unknown_name
    from edgekit.runtime import get_runtime
    from edgekit.runtime.efficiency import KernelModel
    from edgekit.runtime.table import check_table, default_table_path, read_table
    from edgekit.validate.table_predict import HOST_RUNTIMES

    get_runtime(args.runtime)  # an unknown id gets a did-you-mean over the registry
    if args.runtime not in HOST_RUNTIMES:
        raise unknown_name("runtime with a runtime table", args.runtime, list(HOST_RUNTIMES),
                           "runtime ids validate predicts from a table: "
                           + ", ".join(HOST_RUNTIMES))
    if args.no_xnnpack:
        raise ConfigError("--no-xnnpack does not combine with a runtime id; use --runtime "
                          "litert-builtin")
    precision = args.precision or ("fp32" if args.runtime == "onnxruntime-cpu" else "int8")
    path = Path(args.table) if args.table else default_table_path(args.runtime, precision,
                                                                  args.threads)
    if not path.is_file():
        raise ConfigError(f"no runtime table for {args.runtime} {precision} with "
                          f"{args.threads} thread(s) at '{path}'; make it with edgekit calibrate "
                          f"--runtime {args.runtime} --precision {precision} --threads "
                          f"{args.threads}, or pass --table FILE")
    table = read_table(path)
    if table.threads != args.threads:
        raise ConfigError(f"runtime table '{path}' was measured with {table.threads} thread(s), "
                          f"but --threads is {args.threads}; calibrate with --threads "
                          f"{args.threads}")
    warnings = check_table(table, runtime=args.runtime, precision=precision,
                           allow_foreign=args.allow_foreign_table)
    for w in warnings:
        print(f"edgekit: warning: {w}", file=sys.stderr)
    meta = {"path": str(path), "runtime": table.runtime, "precision": table.precision,
            "threads": table.threads, "host": table.host,
            "host_fingerprint": table.host_fingerprint, "date": table.date,
            "versions": table.versions, "cases": len(table.timings), "warnings": warnings}
    bench_rt, xnnpack = HOST_RUNTIMES[args.runtime]
    kw = {"kernel_model": KernelModel(table.fit, table.peak_mac_s, table.mem_bytes_s),
          "table_runtime": args.runtime, "table_meta": meta, "precision": precision}
    if not args.no_drift_check:
        from edgekit.bench.kernels import table_drift

        kw["drift_probe"] = lambda: table_drift(table)
    return kw, bench_rt, xnnpack


def run(args: argparse.Namespace) -> int:
    from edgekit.bench.runners import parse_runtime
    from edgekit.commands._output import print_json, print_table
    from edgekit.errors import ConfigError
    from edgekit.validate import run_validation

    from edgekit.commands._checks import check_threads

    check_threads(args.threads)
    table_kw: dict[str, Any] = {}
    xnnpack = not args.no_xnnpack
    if "-" in args.runtime:  # a structured runtime id: predict from its runtime table
        table_kw, bench_rt, xnnpack = _table(args)
        rt = parse_runtime(bench_rt)
    else:
        if args.table:
            raise ConfigError(f"--table needs a runtime id (--runtime litert-xnnpack ...), got "
                              f"--runtime {args.runtime}")
        rt = parse_runtime(args.runtime)
    if args.no_xnnpack and rt.value != "litert":
        raise ConfigError(f"--no-xnnpack applies to --runtime litert only, got {rt.value}")
    v = run_validation(
        args.models, runtime=rt.value, device=args.device, devices_dirs=args.devices_dir,
        threads=args.threads, repeats=args.repeats, runs=args.runs, min_time_s=args.min_time,
        precision=table_kw.pop("precision", args.precision), xnnpack=xnnpack, **table_kw,
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
    drift = (v.meta.get("runtime_table") or {}).get("drift")
    if drift:
        from edgekit.bench.kernels import drift_line

        print()
        for when, d in drift.items():
            print(drift_line(d, f"{when} measuring"))
    missing = (v.meta.get("runtime_table") or {}).get("missing_ops")
    if missing:
        print(f"\nthe runtime table has no kernel point for {', '.join(missing)}: those ops were "
              "predicted by the plain roofline")
    if v.meta.get("layer_summary"):
        print()
        print_table([{k: (round(x, 3) if isinstance(x, float) else x) for k, x in r.items()}
                     for r in v.meta["layer_summary"]])
    print(f"\nwrote {args.out}/ (measurements.csv for fit-device, summary.csv, scatter.png); "
          f"{v.meta['elapsed_s']} s")
    return 0
