"""Export formats, one module each, registered under the ``edgekit.exporters`` entry-point group.

Installed as ``edgekit.exporters`` (``package-dir`` in ``pyproject.toml``). Each module defines one
class following :class:`edgekit.export.Exporter` (name, suffix, precisions, runtime, conversion,
inspection and the loader that verification and benchmarks share); the core finds them only
through the entry points, so a third-party package adds a format by declaring its own entry point
in the same group.
Heavy toolchains are imported inside methods, so loading an entry point is cheap and a missing
toolchain surfaces as :class:`edgekit.errors.ToolchainMissingError` naming the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from edgekit._meta import versions  # noqa: F401 - re-exported for the format modules
from edgekit.errors import missing_toolchain


def require(module: str, package: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise ToolchainMissingError naming ``package`` and the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise missing_toolchain(package, extra, purpose) from exc
