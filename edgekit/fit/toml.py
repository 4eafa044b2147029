"""TOML literals for the device profiles edgekit writes (strings and lists of strings)."""

from __future__ import annotations

from collections.abc import Iterable


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string: double quotes, with backslashes and quotes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_list(items: Iterable[str]) -> str:
    """``items`` as a one-line TOML array of strings."""
    return "[" + ", ".join(toml_string(x) for x in items) + "]"


__all__ = ["toml_list", "toml_string"]
