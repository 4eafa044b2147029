"""The errors edgekit raises.

Every message follows one shape: what went wrong, the offending value, and the fix or the valid
choices. The CLI prints an :class:`EdgekitError` as a single ``edgekit: error: ...`` line and exits
with status 1; the traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from pathlib import Path

# Device and host names: kebab-case ``<product>-<unit>`` (lowercase letters, digits, '-').
KEBAB_NAME = r"[a-z0-9]+(-[a-z0-9]+)*"


class EdgekitError(Exception):
    """Base class of every error a user can cause or fix."""


class UnknownNameError(EdgekitError, KeyError):
    """A model, device, format or runtime name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ConfigError(EdgekitError, ValueError):
    """A file or option a user wrote is invalid (device profile, measurement CSV, option combo)."""


class ToolchainMissingError(EdgekitError, ImportError):
    """An optional conversion or runtime package is not installed."""


class ExportError(EdgekitError, RuntimeError):
    """A converter failed; the converter's own error is kept as ``__cause__``."""


class VerificationError(EdgekitError, AssertionError):
    """An artifact does not compute what the PyTorch model computes."""


def ensure_dir(path: str | os.PathLike[str], option: str) -> Path:
    """Create an output directory (and parents), or raise a one-line ConfigError naming the option."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {option} directory '{p}': {exc.strerror or exc}; "
                          f"choose another {option}") from exc
    return p


def check_kebab_name(value: str, flag: str) -> str:
    """``value`` if it is a kebab-case name (see :data:`KEBAB_NAME`), else a ConfigError naming
    ``flag``."""
    if not re.fullmatch(KEBAB_NAME, value):
        raise ConfigError(f"{flag} must be kebab-case (a-z, 0-9, '-'), got '{value}'")
    return value


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def unknown_name(kind: str, name: str, choices: Iterable[str], hint: str) -> UnknownNameError:
    """Build the standard unknown-name error: ``unknown model 'x'; did you mean 'y'? (hint)``."""
    return UnknownNameError(f"unknown {kind} '{name}'{did_you_mean(name, choices)} ({hint})")


def missing_toolchain(package: str, extra: str, purpose: str) -> ToolchainMissingError:
    """Build the standard error for an optional package that is not installed."""
    return ToolchainMissingError(
        f"{purpose} needs '{package}', which is not installed; "
        f"install it with: pip install -c constraints.txt 'edgekit[{extra}]'"
    )
