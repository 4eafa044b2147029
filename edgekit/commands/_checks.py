"""Checks of command-line values shared by subcommands, each failing as one line before any work.

Every check raises a :class:`~edgekit.errors.ConfigError` naming the option, the value and the fix,
so a bad ``--threads`` or ``--out`` is refused before a model is built or measured.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from edgekit.errors import ConfigError


def max_threads() -> int:
    """The most threads a command may ask for: the CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_threads(threads: int, option: str = "--threads") -> int:
    """``threads`` if it is between 1 and :func:`max_threads`, else a ConfigError."""
    top = max_threads()
    if not 1 <= threads <= top:
        raise ConfigError(f"{option} must be between 1 and {top} (the CPUs this process may use), "
                          f"got {threads}")
    return threads


def check_resolution_option(resolution: int | None, option: str = "--resolution") -> int | None:
    """``None`` (the model's default) or a resolution :func:`check_resolution` accepts."""
    from edgekit.models.registry import MIN_RESOLUTION, check_resolution

    return None if resolution is None else check_resolution(resolution, option, MIN_RESOLUTION)


def check_output_dir(path: str | os.PathLike[str], option: str = "--out") -> Path:
    """Create ``path`` as a directory and prove it writable, or raise one line naming ``option``."""
    from edgekit.errors import ensure_dir

    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{option} '{p}' is a file, but a directory is expected; "
                          f"choose another {option}")
    ensure_dir(p, option)
    try:
        with tempfile.NamedTemporaryFile(dir=p, prefix=".edgekit-write-test-"):
            pass
    except OSError as exc:
        raise ConfigError(f"{option} directory '{p}' is not writable: {exc.strerror or exc}; "
                          f"choose another {option}") from exc
    return p


def check_output_file(path: str | os.PathLike[str], option: str,
                      example: str = "out.csv") -> Path | None:
    """Check that the file ``path`` can be written (``-``, stdout, passes); its folder is created.

    Refuses a directory, and a folder that cannot be created or written, before any work is done.
    """
    if str(path) == "-":
        return None
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{option} '{p}' is a directory, but a file is expected; "
                          f"give a file path, e.g. {option} {p / example}")
    check_output_dir(p.parent if str(p.parent) else ".", option)
    return p


ARTIFACT_SUFFIXES = (".onnx", ".tflite", ".mlpackage", ".mlmodel", ".pt", ".pth", ".safetensors")


def check_model_name(model: str, command: str) -> str:
    """Refuse an artifact or weights file where ``command`` takes a model name."""
    suffix = Path(model).suffix.lower()
    if suffix in ARTIFACT_SUFFIXES:
        hint = ("give the model's name and this file as --checkpoint"
                if suffix in (".pt", ".pth", ".safetensors")
                else "give the name of the model it was exported from (edgekit models)")
        raise ConfigError(f"{command} takes a model name, got the {suffix} file '{model}'; {hint}")
    return model


def check_export_args(args: Any) -> None:
    """``edgekit export``'s values, before any model is built: case-insensitive format and
    precision names, the model name, the resolution."""
    for opt in ("format", "precision"):
        if getattr(args, opt, None):
            setattr(args, opt, getattr(args, opt).lower())
    check_model_name(args.model, "export")
    check_resolution_option(args.resolution)


__all__ = ["ARTIFACT_SUFFIXES", "check_export_args", "check_model_name", "check_output_dir", "check_output_file", "check_resolution_option", "check_threads",
           "max_threads"]
