"""``edgekit info``: parameters, MACs, resolution, published top-1 and deploy form of one model."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  edgekit info replknet_31b
  edgekit info mobilenetv4_conv_medium --json
"""


def register(subparsers: Any, add_common: Any) -> None:
    from edgekit.commands import add_weights

    p = subparsers.add_parser(
        "info", help="params, MACs, resolution, top-1 and deploy form of a model",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="model name (edgekit models) or any timm model name")
    p.add_argument("--resolution", type=int, help="input resolution (default: the model's)")
    add_weights(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgekit.commands._output import print_json
    from edgekit.models import create_model, get_spec
    from edgekit.models.registry import check_resolution
    from edgekit.roofline import count_macs

    spec = get_spec(args.model)
    resolution = check_resolution(spec.resolution if args.resolution is None else args.resolution,
                                  "--resolution")
    model = create_model(args.model, pretrained=args.pretrained, checkpoint=args.checkpoint)
    info: dict[str, Any] = {
        "name": spec.name, "family": spec.family, "paper": spec.paper,
        "resolution": resolution, "params": sum(p.numel() for p in model.parameters()),
        "params_m_published": spec.params_m,
        "macs": int(count_macs(model, resolution)), "macs_g_published": spec.macs_g,
        "top1": spec.top1, "top1_source": spec.top1_source,
        "reparameterizable": spec.reparameterizable, "deploy": spec.deploy,
        "timm_name": spec.timm_name,
        "weights": ("pretrained (timm hub)" if args.pretrained else
                    str(args.checkpoint) if args.checkpoint else "random init"),
    }
    if args.json:
        print_json(info)
        return 0
    for k, v in info.items():
        if k in ("params", "macs") and isinstance(v, int):
            v = f"{v:,} ({v / 1e6:.2f} M)" if k == "params" else f"{v:,} ({v / 1e9:.3f} G)"
        print(f"{k:20s} {v if v is not None else '-'}")
    return 0
