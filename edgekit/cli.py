"""The ``edgekit`` command line: a thin parser that registers one module per subcommand.

Every subcommand lives in ``edgekit/commands/<name>.py`` (the contract is in
:mod:`edgekit.commands`): it parses its options, calls the public function of the same name and
prints a summary. This module only builds the parser and turns an :class:`EdgekitError` into one
``edgekit: error: ...`` line. Nothing heavy is imported at start-up, so ``edgekit --help`` answers
at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence


from edgekit import __version__
from edgekit.errors import EdgekitError

EXAMPLES = """\
examples:
  edgekit models 'mobilenetv4_*'
  edgekit info replknet_31b
  edgekit roofline mobilenetv4_conv_small --device pixel8-edgetpu
  edgekit export mobilenetv4_conv_small --target pixel8-edgetpu
"""

# Helpers that moved to edgekit.commands, still importable from here for command modules that
# have not switched their imports yet (resolved on use, so this module imports no command).
# Subcommand modules under edgekit/commands/, in the order shown by --help.
COMMAND_MODULES = ("models", "devices", "info", "roofline", "export", "bench", "calibrate",
                   "fit_device", "validate", "report")


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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="edgekit",
        description="Put vision models on edge devices and know how fast they will run there.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"edgekit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    for name in COMMAND_MODULES:
        importlib.import_module(f"edgekit.commands.{name}").register(sub, _add_common)
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
