"""``edgekit devices``: list the device profiles, or show one in full."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  edgekit devices
  edgekit devices pixel8-edgetpu --json
"""


def register(subparsers: Any, add_common: Any) -> None:
    from edgekit.commands import add_devices_dir

    p = subparsers.add_parser("devices", help="list or show device profiles", epilog=EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", help="show one profile in full")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_devices_dir(p)
    add_common(p)
    p.set_defaults(func=run)


def _row(d: Any) -> dict[str, Any]:
    return {"name": d.name, "kind": d.kind.value, "precision": d.precision.value,
            "format": d.format, "runtime": d.runtime or "-", "peak_gmac_s": round(d.peak_gmac_s.value, 1),
            "mem_gb_s": round(d.mem_gb_s.value, 2),
            "ridge_mac_per_byte": round(d.ridge_mac_per_byte, 1),
            "overhead_ms": d.overhead_ms.value if d.overhead_ms else 0.0}


def run(args: argparse.Namespace) -> int:
    from edgekit.commands._output import print_json, print_table
    from edgekit.device import list_devices, load_device

    if args.name:
        d = load_device(args.name, args.devices_dir)
        if args.json:
            print_json({**d.model_dump(mode="json"), "ridge_mac_per_byte": d.ridge_mac_per_byte})
        else:
            for k, v in _row(d).items():
                print(f"{k:20s} {v}")
            print(f"{'peak source':20s} {d.peak_gmac_s.source} ({d.peak_gmac_s.confidence.value})")
            print(f"{'bandwidth source':20s} {d.mem_gb_s.source} ({d.mem_gb_s.confidence.value})")
            print(f"{'fuses':20s} {', '.join(d.fuses) or '-'}")
            print(f"{'unsupported ops':20s} {', '.join(d.unsupported_ops) or '-'}")
            spec = d.runtime_spec
            if spec is not None:
                print(f"{'runtime':20s} {spec.id}: {spec.description}")
            if d.runtime_notes:
                print(f"{'runtime notes':20s} {d.runtime_notes}")
            if d.runtime_costs is not None:
                rc = d.runtime_costs
                eff = ", ".join(f"{k} {v:.3g}" for k, v in rc.efficiency.items()) or "-"
                print(f"{'per-op cost':20s} {rc.per_op_us:.4g} us; class efficiency: {eff}")
                if rc.per_matmul_slice_us:
                    print(f"{'matmul slice cost':20s} {rc.per_matmul_slice_us:.4g} us per 2-D "
                          "product of a batched activation matmul")
                print(f"{'runtime costs source':20s} {rc.source} ({rc.confidence.value})")
            print(f"{'description':20s} {d.description}")
        return 0
    rows = [_row(d) for d in list_devices(args.devices_dir)]
    if args.json:
        print_json(rows)
    else:
        print_table(rows)
    return 0
