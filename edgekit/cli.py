"""The ``edgekit`` command line: a thin layer over the public API.

Each subcommand parses its options, calls the public function of the same name and prints a
summary. Subcommands beyond the basic ones live in ``edgekit/commands/<name>.py``, each with a
``register(subparsers)`` that adds its parser and sets ``func``. Nothing heavy is imported at
start-up, so ``edgekit --help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from typing import Any

from edgekit import __version__
from edgekit.errors import EdgekitError

EXAMPLES = """\
examples:
  edgekit models 'mobilenetv4_*'
  edgekit info replknet_31b
  edgekit roofline mobilenetv4_conv_small --device pixel8-edgetpu
  edgekit export mobilenetv4_conv_small --target pixel8-edgetpu
"""

# Subcommand modules under edgekit/commands/, in the order shown by --help.
COMMAND_MODULES = ("roofline", "export", "bench", "calibrate", "fit_device", "validate", "report")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so errors print as one edgekit line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{self.prog}: {message}")

    def format_help(self) -> str:
        """Help that leads with the copy-pasteable examples (kept in ``epilog``)."""
        epilog, self.epilog = self.epilog, None
        try:
            body = super().format_help()
        finally:
            self.epilog = epilog
        return f"{epilog.rstrip()}\n\n{body}" if epilog else body


class _UsageError(Exception):
    pass


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show tracebacks for errors")


def add_devices_dir(p: argparse.ArgumentParser) -> None:
    """The ``--devices-dir`` option shared by every command that takes a device."""
    p.add_argument("--devices-dir", action="append", default=[], metavar="DIR",
                   help="extra directory of device profiles (repeatable; also $EDGEKIT_DEVICES)")


def add_weights(p: argparse.ArgumentParser) -> None:
    """``--checkpoint`` / ``--pretrained``, shared by every command that builds a model."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--checkpoint", metavar="PATH",
                   help="local weights: .safetensors or a torch state_dict (weights_only)")
    g.add_argument("--pretrained", action="store_true",
                   help="published weights through timm's hub (needs network; else --checkpoint)")


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def print_table(rows: list[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    """A plain aligned text table on stdout (no colour, safe to pipe)."""
    if not rows:
        print("(none)")
        return
    cols = list(columns or rows[0].keys())
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


# --- models -------------------------------------------------------------------------------------
def _cmd_models(args: argparse.Namespace) -> int:
    from edgekit.models import get_spec, list_models

    names = list_models(args.pattern, include_test=args.all)
    if args.pattern and not names:
        from edgekit.errors import unknown_name
        from edgekit.models.registry import registered

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


# --- devices ------------------------------------------------------------------------------------
def _device_row(d: Any) -> dict[str, Any]:
    return {"name": d.name, "kind": d.kind.value, "precision": d.precision.value,
            "format": d.format, "peak_gmac_s": round(d.peak_gmac_s.value, 1),
            "mem_gb_s": round(d.mem_gb_s.value, 2),
            "ridge_mac_per_byte": round(d.ridge_mac_per_byte, 1),
            "overhead_ms": d.overhead_ms.value if d.overhead_ms else 0.0}


def _cmd_devices(args: argparse.Namespace) -> int:
    from edgekit.device import list_devices, load_device

    if args.name:
        d = load_device(args.name, args.devices_dir)
        if args.json:
            print_json({**d.model_dump(mode="json"), "ridge_mac_per_byte": d.ridge_mac_per_byte})
        else:
            for k, v in _device_row(d).items():
                print(f"{k:20s} {v}")
            print(f"{'peak source':20s} {d.peak_gmac_s.source} ({d.peak_gmac_s.confidence.value})")
            print(f"{'bandwidth source':20s} {d.mem_gb_s.source} ({d.mem_gb_s.confidence.value})")
            print(f"{'fuses':20s} {', '.join(d.fuses) or '-'}")
            print(f"{'unsupported ops':20s} {', '.join(d.unsupported_ops) or '-'}")
            print(f"{'description':20s} {d.description}")
        return 0
    rows = [_device_row(d) for d in list_devices(args.devices_dir)]
    if args.json:
        print_json(rows)
    else:
        print_table(rows)
    return 0


# --- info ---------------------------------------------------------------------------------------
def _cmd_info(args: argparse.Namespace) -> int:
    from edgekit.models import create_model, get_spec

    from edgekit.models.registry import check_resolution
    from edgekit.roofline import count_macs

    spec = get_spec(args.model)
    resolution = check_resolution(spec.resolution if args.resolution is None else args.resolution,
                                  "--resolution")
    model = create_model(args.model, pretrained=args.pretrained, checkpoint=args.checkpoint)
    params = sum(p.numel() for p in model.parameters())
    info: dict[str, Any] = {
        "name": spec.name, "family": spec.family, "paper": spec.paper,
        "resolution": resolution, "params": params, "params_m_published": spec.params_m,
        "macs": None, "macs_g_published": spec.macs_g,
        "top1": spec.top1, "top1_source": spec.top1_source,
        "reparameterizable": spec.reparameterizable, "deploy": spec.deploy,
        "timm_name": spec.timm_name,
        "weights": ("pretrained (timm hub)" if args.pretrained else
                    str(args.checkpoint) if args.checkpoint else "random init"),
    }
    info["macs"] = int(count_macs(model, resolution))
    if args.json:
        print_json(info)
    else:
        for k, v in info.items():
            if k in ("params", "macs") and isinstance(v, int):
                v = f"{v:,} ({v / 1e6:.2f} M)" if k == "params" else f"{v:,} ({v / 1e9:.3f} G)"
            print(f"{k:20s} {v if v is not None else '-'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="edgekit",
        description="Put vision models on edge devices and know how fast they will run there.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"edgekit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("models", help="list the model zoo", epilog="examples:\n  edgekit models\n"
                       "  edgekit models 'mobilenetv4_*' --json",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pattern", nargs="?", help="glob over model names, e.g. 'replknet_*'")
    p.add_argument("--all", action="store_true", help="include the tiny test_* variants")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_common(p)
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("devices", help="list or show device profiles",
                       epilog="examples:\n  edgekit devices\n  edgekit devices pixel8-edgetpu --json",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", help="show one profile in full")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_devices_dir(p)
    _add_common(p)
    p.set_defaults(func=_cmd_devices)

    p = sub.add_parser("info", help="params, MACs, resolution, top-1 and deploy form of a model",
                       epilog="examples:\n  edgekit info replknet_31b\n"
                       "  edgekit info mobilenetv4_conv_medium --json",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="model name (edgekit models) or any timm model name")
    p.add_argument("--resolution", type=int, help="input resolution (default: the model's)")
    add_weights(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_common(p)
    p.set_defaults(func=_cmd_info)

    for mod_name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"edgekit.commands.{mod_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"edgekit.commands.{mod_name}":
                raise
            continue  # command not built yet
        mod.register(sub, _add_common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 error, 2 usage)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 0
        return int(args.func(args) or 0)
    except _UsageError as exc:
        print(f"edgekit: error: {str(exc).removeprefix('edgekit: ')} (see --help)", file=sys.stderr)
        return 2 if not debug else _reraise(exc)
    except EdgekitError as exc:
        if debug:
            raise
        print(f"edgekit: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("edgekit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `edgekit models | head`: the reader left; not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _reraise(exc: BaseException) -> int:
    raise exc


if __name__ == "__main__":
    sys.exit(main())
