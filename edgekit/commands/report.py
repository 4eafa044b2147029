"""``edgekit report``: the reference report (roofline of the zoo, figures, validation)."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  edgekit report --out reports
  edgekit report --out /tmp/quick --no-validate --models 'mobilenetv4_*'
"""


def register(sub: Any, add_common: Any) -> None:
    from edgekit.commands import add_devices_dir

    p = sub.add_parser("report", help="the reference report: roofline tables, figures, validation",
                       description="Analyse every zoo model on every device profile, compare with "
                       "the MobileNetV4 paper's measurements, draw the figures and validate the "
                       "roofline against runtimes measured on this host.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="reports", metavar="DIR", help="output folder (default reports)")
    p.add_argument("--models", nargs="+", metavar="NAME", help="models (default: the whole zoo)")
    p.add_argument("--no-validate", action="store_true",
                   help="skip measuring runtimes on this host")
    p.add_argument("--validate-models", nargs="+", metavar="GLOB",
                   help="validation population (default: every zoo model)")
    p.add_argument("--repeats", type=int, default=3, help="interleaved timing rounds (default 3)")
    p.add_argument("--workers", type=int, metavar="N", help="processes building layer tables")
    add_devices_dir(p)
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgekit.errors import ConfigError
    from edgekit.report.writer import write_report

    if args.repeats < 1:
        raise ConfigError(f"--repeats must be >= 1, got {args.repeats}")
    headline = write_report(args.out, models=args.models, devices_dirs=args.devices_dir,
                            validate=not args.no_validate, validate_models=args.validate_models,
                            repeats=args.repeats, workers=args.workers)
    print(f"{args.out}/README.md ({headline['models']} models, {headline['devices']} devices, "
          f"{headline['elapsed_s']} s)")
    return 0
