"""``edgekit calibrate``: measure this host as a device profile, or a runtime's kernels on it."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  edgekit calibrate                         # writes ./host-<hostname>.toml and -int8.toml
  edgekit calibrate --name host-ci --out devices-local
  edgekit roofline mobilenetv4_conv_small --device ./host-ci.toml
  edgekit calibrate --runtime litert-xnnpack --precision int8 --quick
  edgekit calibrate --runtime onnxruntime-cpu --threads 2 --table ort-2t.json
"""


def register(sub: Any, add_common: Any) -> None:
    p = sub.add_parser("calibrate", help="measure this host's peak MAC/s and memory bandwidth",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", help="profile name (default host-<hostname>)")
    p.add_argument("--out", metavar="DIR",
                   help="directory for <name>.toml and <name>-int8.toml (default: current)")
    p.add_argument("--threads", type=int, default=1, help="threads (default 1)")
    p.add_argument("--quick", action="store_true",
                   help="small, short kernels (rough numbers); with --runtime the quick subset")
    p.add_argument("--runtime", metavar="ID",
                   help="time single-op models in this runtime (litert-xnnpack, litert-builtin, "
                        "onnxruntime-cpu) and write its runtime table instead of profiles")
    p.add_argument("--precision", metavar="P",
                   help="with --runtime: int8 or fp32 (default int8 for litert-*, fp32 for "
                        "onnxruntime-cpu)")
    p.add_argument("--table", metavar="PATH",
                   help="with --runtime: the table to write (default: runtime-tables/"
                        "<runtime>-<precision>-<threads>t.json under the cache root)")
    p.add_argument("--refit", action="store_true",
                   help="with --runtime: re-fit the existing table's timings (no new "
                        "measurements), e.g. after an edgekit update")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgekit.bench.micro import calibrate_host, default_host_name, write_profiles
    from edgekit.commands._output import print_json, print_table
    from edgekit.commands._checks import check_output_dir, check_threads
    from edgekit.errors import check_kebab_name

    if args.runtime is not None:
        return run_runtime(args)
    for opt in ("precision", "table"):
        if getattr(args, opt) is not None:
            from edgekit.errors import ConfigError

            raise ConfigError(f"--{opt} applies with --runtime ID only; add --runtime "
                              "litert-xnnpack (or another runtime) or leave it out")
    args.out = args.out if args.out is not None else "."
    name = check_kebab_name(args.name or default_host_name(), "--name")
    check_threads(args.threads)
    check_output_dir(args.out, "--out")
    cal = calibrate_host(threads=args.threads, quick=args.quick)
    paths = write_profiles(cal, name, args.out)
    if args.json:
        print_json({"host": cal.host, "kernels": cal.rows(),
                    "peak_gmac_s_fp32": cal.peak_gmac_s_fp32,
                    "peak_gmac_s_int8": cal.peak_gmac_s_int8, "mem_gb_s": cal.mem_gb_s,
                    "ridge_mac_per_byte": cal.ridge_mac_per_byte,
                    "profiles": [str(p) for p in paths]})
        return 0
    print_table([{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}
                 for r in cal.rows()])
    print(f"\npeak fp32 {cal.peak_gmac_s_fp32:.1f} GMAC/s, int8 {cal.peak_gmac_s_int8:.1f} GMAC/s, "
          f"bandwidth {cal.mem_gb_s:.2f} GB/s, ridge {cal.ridge_mac_per_byte:.2f} MAC/byte "
          f"({cal.threads} thread(s), {cal.host})")
    for p in paths:
        print(f"wrote {p}")
    print(f"use it with --device {paths[0]} or --devices-dir {args.out}")
    return 0


def run_runtime(args: argparse.Namespace) -> int:
    """``--runtime ID``: time the kernel suite in that runtime, fit it, write its runtime table.

    The table is written once, at the end, under a temporary name renamed into place, so an
    interrupted or failed calibration leaves no table (and keeps any older one).
    """
    from edgekit.bench.kernels import calib_runtime, check_toolchain, runtime_versions, suite, \
        time_cases
    from edgekit.bench.micro import calibrate_host
    from edgekit.commands._checks import check_output_file, check_threads
    from edgekit.commands._output import print_json, print_table
    from edgekit.errors import ConfigError
    from edgekit.export.interrupt import interrupt_guard, raise_if_interrupted
    from edgekit.runtime.table import (RuntimeTable, default_table_path, host_fingerprint,
                                       now_iso, write_table)
    from edgekit.validate.measure import log_stderr

    for opt in ("name", "out"):
        if getattr(args, opt) is not None:
            raise ConfigError(f"--{opt} applies without --runtime (device profiles); with "
                              "--runtime the output is --table PATH")
    rt, prec = calib_runtime(args.runtime, args.precision)
    threads = check_threads(args.threads)
    path = args.table or default_table_path(rt.id, prec.value, threads)
    check_output_file(path, "--table", "table.json")
    check_toolchain(rt.id, prec)
    if args.refit:
        return _refit(path, rt.id, prec.value, threads)
    # Only LiteRT's built-in kernels split work over several thread pools (ruy, gemmlowp).
    cases = suite(quick=args.quick, pool_chains=rt.id == "litert-builtin" and threads > 1)
    with interrupt_guard():
        log_stderr(f"calibrate {rt.id} {prec.value}, {threads} thread(s): measuring this host's "
                   "peak MAC rate and bandwidth")
        host = calibrate_host(threads=threads, quick=args.quick)
        peak = host.peak_gmac_s_int8 if prec.value == "int8" else host.peak_gmac_s_fp32
        timings = time_cases(cases, rt.id, prec, threads=threads)
        from edgekit.fit.kernel_fit import fit_kernel_table

        fit = fit_kernel_table(timings, runtime=rt.id, precision=prec.value,
                               peak_mac_s=peak * 1e9, mem_bytes_s=host.mem_gb_s * 1e9,
                               threads=threads)
        table = RuntimeTable(runtime=rt.id, precision=prec.value, threads=threads, host=host.host,
                             host_fingerprint=host_fingerprint(), versions=runtime_versions(rt.id),
                             date=now_iso(), peak_mac_s=peak * 1e9,
                             mem_bytes_s=host.mem_gb_s * 1e9, timings=timings, fit=fit)
        raise_if_interrupted()  # the last moment an interrupt can still leave no table
        written = write_table(table, path)
    # ms: the fastest round's median, which the fit takes; rounds_median_ms: the rounds' median.
    rows = [{"case": r["case"], "op_class": r["op_class"], "ms": r["latency_s"] * 1e3,
             "rounds_median_ms": r["median_s"] * 1e3, "p10_ms": r["p10_s"] * 1e3,
             "p90_ms": r["p90_s"] * 1e3, "ops": r["ops"]}
            for r in timings.to_dict(orient="records")]
    if args.json:
        print_json({"runtime": rt.id, "precision": prec.value, "threads": threads,
                    "table": str(written), "peak_mac_s": table.peak_mac_s,
                    "mem_bytes_s": table.mem_bytes_s, "cases": rows,
                    "fixed": fit.get("fixed", {}), "summary": fit.get("summary", [])})
        return 0
    print_table([{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                 for r in rows])
    summary = fit.get("summary", [])
    if summary:
        print()
        print_table([{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                     for r in summary])
    fixed = fit.get("fixed", {})
    per_op = ", ".join(f"{u} {v * 1e6:.2f} us" for u, v in fixed.get("per_op_s", {}).items())
    print(f"\nfixed costs: invoke {fixed.get('invoke_s', 0.0) * 1e6:.1f} us; per op "
          f"{per_op or '-'}; per partition {fixed.get('per_partition_s', 0.0) * 1e6:.1f} us; "
          f"per thread-pool switch {fixed.get('per_pool_switch_s', 0.0) * 1e6:.1f} us; "
          f"per MB of cold weights {fixed.get('weight_s_per_byte', 0.0) * 1e12:.1f} us")
    print(f"{len(rows)} kernel cases on {rt.id} {prec.value}, {threads} thread(s); peak "
          f"{peak:.1f} GMAC/s, bandwidth {host.mem_gb_s:.2f} GB/s ({host.host})")
    print(f"wrote {written}")
    return 0


def _refit(path: Any, runtime: str, precision: str, threads: int) -> int:
    """Re-fit a stored table's timings with this edgekit's fit; the measurements stay."""
    import dataclasses
    from pathlib import Path

    from edgekit.errors import ConfigError
    from edgekit.fit.kernel_fit import fit_kernel_table
    from edgekit.runtime.table import read_table, write_table

    if not Path(path).is_file():
        raise ConfigError(f"--refit needs an existing runtime table, but '{path}' does not exist; "
                          f"run edgekit calibrate --runtime {runtime} --precision {precision} "
                          "first")
    table = read_table(path)
    if (table.runtime, table.precision, table.threads) != (runtime, precision, threads):
        raise ConfigError(f"'{path}' is a table of {table.runtime} {table.precision} with "
                          f"{table.threads} thread(s), not {runtime} {precision} with {threads}")
    fit = fit_kernel_table(table.timings, runtime=runtime, precision=precision,
                           peak_mac_s=table.peak_mac_s, mem_bytes_s=table.mem_bytes_s,
                           threads=threads)
    written = write_table(dataclasses.replace(table, fit=fit), path)
    print(f"re-fit {len(table.timings)} cases of {runtime} {precision} ({table.date}); "
          f"wrote {written}")
    return 0
