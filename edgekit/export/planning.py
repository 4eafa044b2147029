"""What to export for a target: the format and precision, from the profile and the user's options.

The target profile decides; an explicit ``--format`` or ``--precision`` must agree with it (an
error names the conflict, never a silent change). Without a target the format is required and its
exporter's first precision is the default.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from edgekit.device import DeviceProfile, load_device
from edgekit.errors import ConfigError, unknown_name
from edgekit.export.protocol import Exporter
from edgekit.export.registry import get_exporter, list_formats
from edgekit.precision import Precision


def parse_precision(value: str | Precision) -> Precision:
    """``'INT8'`` -> ``Precision.INT8``; unknown names raise with the choices."""
    if isinstance(value, Precision):
        return value
    try:
        return Precision(str(value).lower())
    except ValueError:
        choices = [p.value for p in Precision]
        raise unknown_name("precision", str(value), choices,
                           "choose " + ", ".join(choices)) from None


@dataclass(frozen=True, slots=True)
class Plan:
    """The resolved format and precision for one export."""

    exporter: Exporter
    precision: Precision
    profile: DeviceProfile | None


def plan(target: str | os.PathLike[str] | DeviceProfile | None = None, *,
         format: str | None = None, precision: str | Precision | None = None,
         devices_dirs: Sequence[str | os.PathLike[str]] = ()) -> Plan:
    """Resolve format and precision: the target profile decides, explicit options must agree."""
    profile = load_device(target, devices_dirs) if target is not None else None
    prec = parse_precision(precision) if precision is not None else None
    if profile is None and format is None:
        raise ConfigError("no --target and no --format given; pass --target DEVICE (edgekit "
                          f"devices) or --format {{{','.join(list_formats())}}}")
    if profile is not None and format is not None and format != profile.format:
        get_exporter(format)  # an unknown format name is reported as such first
        raise ConfigError(f"--format {format} conflicts with target {profile.name}, which runs "
                          f"{profile.format} only; drop --format or choose another --target")
    exporter = get_exporter(format or profile.format)  # type: ignore[union-attr]
    if profile is not None:
        if prec is not None and not exporter.accepts(profile.precision, prec):
            raise ConfigError(f"--precision {prec.value} conflicts with target {profile.name}, "
                              f"which runs {profile.precision.value} only")
        prec = prec or profile.precision
    prec = prec or exporter.precisions[0]
    if prec not in exporter.precisions:
        raise ConfigError(
            f"format {exporter.name} cannot be exported at precision {prec.value}; choose "
            + ", ".join(p.value for p in exporter.precisions))
    return Plan(exporter, prec, profile)
