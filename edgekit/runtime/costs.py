"""The op classes a runtime's kernel efficiency is stated for (``[runtime_costs] efficiency``)."""

from __future__ import annotations

from edgekit.roofline.opclass import OpClass

# Every op class that does run-time work; dense convolution is the reference (efficiency 1.0).
EFFICIENCY_CLASSES: tuple[str, ...] = tuple(c.value for c in OpClass if c is not OpClass.CONSTANT)

__all__ = ["EFFICIENCY_CLASSES"]
