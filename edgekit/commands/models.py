"""``edgekit models``: list the model zoo."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  edgekit models
  edgekit models 'mobilenetv4_*' --json
"""


def register(subparsers: Any, add_common: Any) -> None:
    p = subparsers.add_parser("models", help="list the model zoo", epilog=EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pattern", nargs="?", help="glob over model names, e.g. 'replknet_*'")
    p.add_argument("--all", action="store_true", help="include the tiny test_* variants")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgekit.commands._output import print_json, print_table
    from edgekit.errors import unknown_name
    from edgekit.models import get_spec, list_models
    from edgekit.models.registry import registered

    names = list_models(args.pattern, include_test=args.all)
    if args.pattern and not names:
        raise unknown_name("model pattern", args.pattern, registered(), "edgekit models")
    rows = []
    for n in names:
        s = get_spec(n)
        rows.append({"name": n, "family": s.family, "resolution": s.resolution,
                     "params_m": s.params_m, "macs_g": s.macs_g, "top1": s.top1,
                     "reparameterizable": s.reparameterizable, "mission": s.mission})
    if args.json:
        print_json(rows)
    else:
        print_table(rows)
    return 0
