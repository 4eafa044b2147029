"""Core ML runtimes: the Apple Neural Engine."""

from __future__ import annotations

from edgekit.runtime.spec import RuntimeSpec

RUNTIMES = (
    RuntimeSpec(id="coreml-ane", description="Core ML FP16 on the Apple Neural Engine",
                format="coreml", delegate="ANE"),
)

__all__ = ["RUNTIMES"]
