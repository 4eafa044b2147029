"""Subcommands of the ``edgekit`` CLI beyond models/devices/info.

Each module exposes ``register(subparsers, add_common)``: it adds its parser (help text leading with
examples), calls ``add_common(parser)`` for ``--debug``, and sets ``func=run`` where
``run(args) -> int``. Modules must import nothing heavy at top level.
"""
