"""The numeric precisions a target runs and an artifact is exported at."""

from __future__ import annotations

import enum


class Precision(enum.StrEnum):
    INT8 = "int8"
    FP16 = "fp16"
    FP32 = "fp32"

    @property
    def bytes(self) -> int:
        """Bytes per activation or weight element at this precision."""
        return {"int8": 1, "fp16": 2, "fp32": 4}[self.value]

    @property
    def bias_bytes(self) -> int:
        """Bytes per bias element (int8 kernels accumulate and store bias in int32)."""
        return 4 if self is Precision.INT8 else self.bytes
