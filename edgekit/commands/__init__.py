"""The subcommands of the ``edgekit`` CLI: the contract of their modules and their shared options.

Each module ``edgekit/commands/<name>.py`` is one subcommand over the public API. It exposes
``register(subparsers, add_common)``, which adds its parser (help text leading with copy-pasteable
examples), calls ``add_common(parser)`` for ``--debug`` and sets ``func=run``, and
``run(args) -> int``. Modules import nothing heavy at top level, so ``edgekit --help`` stays fast.
Output helpers shared by the modules live in :mod:`edgekit.commands._output`.
"""

from __future__ import annotations

import argparse


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

