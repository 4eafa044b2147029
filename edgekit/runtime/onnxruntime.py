"""onnxruntime runtimes: the CPU execution provider."""

from __future__ import annotations

from edgekit.runtime.spec import RuntimeSpec

RUNTIMES = (
    RuntimeSpec(id="onnxruntime-cpu", description="onnxruntime, CPU execution provider",
                format="onnx", delegate="CPUExecutionProvider"),
)

__all__ = ["RUNTIMES"]
