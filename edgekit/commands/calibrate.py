"""``edgekit calibrate``: measure this host as a device profile."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  edgekit calibrate                         # writes ./host-<hostname>.toml and -int8.toml
  edgekit calibrate --name host-ci --out devices-local
  edgekit roofline mobilenetv4_conv_small --device ./host-ci.toml
"""


def register(sub: Any, add_common: Any) -> None:
    p = sub.add_parser("calibrate", help="measure this host's peak MAC/s and memory bandwidth",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", help="profile name (default host-<hostname>)")
    p.add_argument("--out", default=".", metavar="DIR",
                   help="directory for <name>.toml and <name>-int8.toml (default: current)")
    p.add_argument("--threads", type=int, default=1, help="threads (default 1)")
    p.add_argument("--quick", action="store_true", help="small, short kernels (rough numbers)")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgekit.bench.micro import calibrate_host, default_host_name, write_profiles
    from edgekit.commands._output import print_json, print_table
    from edgekit.commands._checks import check_output_dir, check_threads
    from edgekit.errors import check_kebab_name

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
