"""``edgekit fit-device``: fit a device profile's roofline to measured model latencies."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  edgekit fit-device validation/measurements.csv --name host-fit --base host-vm.toml
  edgekit fit-device published_latency_mnv4.csv --name pixel6-cpu-fit --base pixel6-cpu \\
      --where device=pixel6-cpu --fix-ridge
  edgekit fit-device times.csv --name my-npu --base pixel8-edgetpu --column latency_ms=time_ms
  edgekit fit-device published_latency_aihub.csv --name my-s23 --base s23-npu --model runtime \
      --where target=s23-npu --where precision=fp16

The CSV needs columns model and latency_ms (> 0); resolution and deploy are optional; rows with a
status column other than "measured" are skipped (see README, "Measurement CSV").
"""


def register(sub: Any, add_common: Any) -> None:
    from edgekit.commands import add_devices_dir

    p = sub.add_parser("fit-device", help="fit PeakMACs, PeakMemBW and overhead to measurements",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("csv", metavar="MEASUREMENTS.csv", help="measured latencies (see below)")
    p.add_argument("--name", required=True, help="name of the fitted profile")
    p.add_argument("--base", required=True, metavar="DEVICE",
                   help="profile that supplies precision, fusions and format (name or .toml)")
    ridge = p.add_mutually_exclusive_group()
    ridge.add_argument("--ridge", type=float, metavar="MAC_PER_BYTE",
                       help="fix the ridge point and fit only the scale (and overhead)")
    ridge.add_argument("--fix-ridge", action="store_true", help="fix the ridge to --base's")
    p.add_argument("--no-overhead", action="store_true", help="fit no per-inference overhead")
    p.add_argument("--no-classes", action="store_true", help="skip the per-op-class fit")
    p.add_argument("--column", action="append", default=[], metavar="OURS=THEIRS",
                   help="read column THEIRS as OURS (repeatable), e.g. latency_ms=time_ms")
    p.add_argument("--where", action="append", default=[], metavar="COL=VALUE",
                   help="keep rows where COL equals VALUE (repeatable)")
    p.add_argument("--model", choices=("roofline", "runtime"), default="roofline",
                   help="roofline: P, B, O (default); runtime: + per-op cost and class "
                        "efficiencies (uses a layers_total column where present)")
    p.add_argument("--out", metavar="DIR", default=".", help="where to write <name>.toml")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_devices_dir(p)
    add_common(p)
    p.set_defaults(func=run)


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    from edgekit.errors import ConfigError

    out = {}
    for it in items:
        if "=" not in it:
            raise ConfigError(f"{flag} takes KEY=VALUE, got '{it}'")
        k, v = it.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def run(args: argparse.Namespace) -> int:
    import datetime as dt
    from pathlib import Path


    from edgekit.commands._output import print_json, print_table
    from edgekit.device import load_device
    from edgekit.errors import ConfigError
    from edgekit.fit import fit_modes, model_costs, profile_from_fit, read_measurements

    from edgekit.errors import check_kebab_name

    check_kebab_name(args.name, "--name")
    from edgekit.commands._checks import check_output_dir

    out = check_output_dir(args.out, "--out")
    df = read_measurements(args.csv, columns=_pairs(args.column, "--column"),
                           where=_pairs(args.where, "--where"))
    base = load_device(args.base, args.devices_dir)
    if args.model == "runtime":
        from edgekit.commands._fit_runtime import run_runtime

        return run_runtime(args, df, base)
    ridge = base.ridge_mac_per_byte if args.fix_ridge else args.ridge
    if ridge is not None and ridge <= 0:
        raise ConfigError(f"--ridge must be > 0, got {ridge}")
    import sys

    for w in df.attrs.get("warnings", []):
        print(f"edgekit: warning: {w}", file=sys.stderr)
    n_par = (1 if ridge else 2) + int(not args.no_overhead)
    if len(df) < n_par + 1:
        raise ConfigError(
            f"fit-device fits {n_par} parameter(s) and checks each model leave-one-out, so it "
            f"needs at least {n_par + 1} measured models, got {len(df)} in {args.csv}; measure "
            "more models, fix the ridge (--ridge or --fix-ridge) or drop the overhead "
            "(--no-overhead)")
    costs = []
    # The fitted profile is a plain roofline (no [runtime_costs]): fit it on plain costs, not on
    # costs a base's kernel-table prior has scaled (pixel6-cpu, s23-cpu).
    plain = (base.model_copy(update={"runtime_costs": None})
             if base.runtime_costs is not None and base.runtime_costs.kernel_table else base)
    for r in df.itertuples():
        c, _ = model_costs(r.model, plain, resolution=r.resolution, deploy=bool(r.deploy))
        costs.append(c)
    meas = df["latency_ms"].to_numpy() / 1e3
    reports = fit_modes(costs, meas, ridge=ridge, overhead=not args.no_overhead,
                        with_classes=not args.no_classes)
    main = reports["roofline"]
    for i in main.fit.outliers:
        print(f"edgekit: warning: outlier: {df['model'][i]} measured {meas[i] * 1e3:.4g} ms, "
              f"fit {main.in_sample_pred_s[i] * 1e3:.4g} ms (more than a factor 2 off; the fit "
              "used a robust loss)", file=sys.stderr)
    st = main.stats_loo
    source = (f"edgekit fit-device on {Path(args.csv).name} ({len(df)} models, "
              f"{main.fit.mode}; LOO median |err| {st['median_abs_err_pct']:.1f}%) "
              f"{dt.date.today().isoformat()}")
    path = out / f"{args.name}.toml"
    path.write_text(profile_from_fit(main.fit, args.name, base, source=source), encoding="utf-8")
    from edgekit.device import load_profile_file

    load_profile_file(path)
    rows = [{"fit": k, **{c: (round(v, 4) if isinstance(v, float) else v)
                          for c, v in rep.row().items()}} for k, rep in reports.items()]
    per_model = [{"model": m, "measured_ms": round(t * 1e3, 3),
                  "fit_ms": round(i * 1e3, 3), "loo_ms": round(lo * 1e3, 3),
                  "loo_err_pct": round((lo - t) / t * 100, 1)}
                 for m, t, i, lo in zip(df["model"], meas, main.in_sample_pred_s,
                                        main.loo_pred_s, strict=True)]
    if args.json:
        print_json({"profile": str(path), "fits": rows, "models": per_model})
        return 0
    print_table(per_model)
    print()
    cols = ["fit", "n", "peak_gmac_s", "mem_gb_s", "ridge_mac_per_byte", "overhead_ms",
            "loo_median_abs_err_pct", "loo_mape_pct", "loo_within_10_pct", "loo_within_25_pct",
            "loo_r_s"]
    print_table(rows, cols + sorted({c for r in rows for c in r if c.startswith("factor_")}))
    print(f"\nwrote {path} (the plain roofline fit)")
    return 0
