"""``edgekit report``: the reference report (roofline of the zoo, figures, validation)."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  edgekit report --out reports
  edgekit report --out reports --full
  edgekit report --out /tmp/quick --quick

The default validates on a representative population (every family at least once) and exports
two mission models; --full validates the whole zoo in both forms and exports every mission
model; --quick uses the tiny test_* variants (about a minute, for tests). Progress and an ETA per stage
go to stderr; layer tables and exports are cached between runs ($EDGEKIT_CACHE_DIR).
"""


def register(sub: Any, add_common: Any) -> None:
    from edgekit.commands import add_devices_dir

    p = sub.add_parser("report", help="the reference report: roofline tables, figures, validation",
                       description="Analyse every zoo model on every device profile, compare with "
                       "the MobileNetV4 paper's measurements, draw the figures and validate the "
                       "roofline against runtimes measured on this host.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="reports", metavar="DIR", help="output folder (default reports)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true",
                      help="validate every zoo model (both forms), export every mission model")
    size.add_argument("--quick", action="store_true",
                      help="tiny test_* variants only, one timing round (for tests)")
    p.add_argument("--models", nargs="+", metavar="NAME", help="models (default: the whole zoo)")
    p.add_argument("--no-validate", action="store_true",
                   help="skip measuring runtimes on this host")
    p.add_argument("--validate-models", nargs="+", metavar="GLOB",
                   help="validation population (default: one or two models of every family; "
                        "--full: every zoo model)")
    p.add_argument("--no-export", action="store_true", help="skip the export matrix")
    p.add_argument("--export-models", nargs="+", metavar="NAME",
                   help="models exported for every target (default: "
                        "mobilenetv4_conv_small mobilenetv4_hybrid_medium; --full: the mission "
                        "zoo)")
    p.add_argument("--repeats", type=int, help="interleaved timing rounds (default 3, --quick 1)")
    p.add_argument("--workers", type=int, metavar="N", help="processes building layer tables")
    add_devices_dir(p)
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgekit.errors import ConfigError
    from edgekit.report.writer import write_report

    if args.repeats is not None and args.repeats < 1:
        raise ConfigError(f"--repeats must be >= 1, got {args.repeats}")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    mode = "full" if args.full else "quick" if args.quick else "default"
    headline = write_report(args.out, mode=mode, models=args.models,
                            devices_dirs=args.devices_dir, validate=not args.no_validate,
                            validate_models=args.validate_models, exports=not args.no_export,
                            export_models=args.export_models, repeats=args.repeats,
                            workers=args.workers)
    print(f"{args.out}/README.md ({headline['models']} models, {headline['devices']} devices, "
          f"{headline['elapsed_s']} s)")
    return 0
