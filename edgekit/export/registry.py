"""The format registry: exporters found through the ``edgekit.exporters`` entry-point group.

The core never imports a format module by name; it asks here. Another package adds a format by
declaring an entry point in the same group (``name = "pkg.module:ExporterClass"``). Listing the
formats reads only the entry points' names (cheap: device profiles are checked against it);
:func:`get_exporter` loads the class.
"""

from __future__ import annotations

import functools
import importlib.metadata

from edgekit.errors import ConfigError, unknown_name
from edgekit.export.protocol import Exporter

ENTRY_POINT_GROUP = "edgekit.exporters"


@functools.cache
def _scan() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    """The registered entry points by format name (tests inject fakes by replacing this)."""
    return _scan()


def list_formats() -> list[str]:
    """Names of the registered export formats (entry points in ``edgekit.exporters``)."""
    return sorted(_entry_points())


def get_exporter(name: str) -> Exporter:
    """An instance of the exporter registered as ``name``."""
    eps = _entry_points()
    if name not in eps:
        raise unknown_name("format", name, eps, "choose " + ", ".join(sorted(eps)))
    exporter = eps[name].load()()
    if not isinstance(exporter, Exporter):
        raise ConfigError(f"entry point '{name}' in {ENTRY_POINT_GROUP} ({eps[name].value}) does "
                          "not follow the edgekit.export.Exporter protocol")
    return exporter


def all_exporters() -> list[Exporter]:
    """One instance of every registered exporter, sorted by format name."""
    return [get_exporter(n) for n in list_formats()]


def exporter_for_suffix(suffix: str) -> Exporter | None:
    """The exporter whose artifacts end in ``suffix`` (case-insensitive), or ``None``."""
    return next((e for e in all_exporters() if e.suffix.lower() == suffix.lower()), None)
