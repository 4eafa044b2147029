"""The RuntimeSpec: what a runtime is (format, delegate, placement rules, fixed costs)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RuntimeSpec:
    """One runtime a device profile can name (``runtime = "tflite-qnn"``).

    Attributes:
        id: the structured id, kebab-case (``litert-xnnpack``, ``tflite-qnn``).
        description: one line for ``edgekit devices``.
        format: the export format it runs (``tflite``, ``coreml``, ``onnx``).
        delegate: the accelerator delegate or execution provider, empty for a plain CPU runtime.
        delegate_ops: placement rules: the runtime's own op names the delegate accelerates
            (empty: every op the format has); the ONNX types outside them are the profile's
            ``unsupported_ops``.
        op_list_source: where ``delegate_ops`` comes from.
        per_op_s: default dispatch cost per op that runs (a profile's fit overrides it).
        per_partition_s: default cost per delegate/fallback boundary.
        per_invoke_s: default fixed cost per inference.
    """

    id: str
    description: str
    format: str
    delegate: str = ""
    delegate_ops: tuple[str, ...] = ()
    op_list_source: str = ""
    per_op_s: float = 0.0
    per_partition_s: float = 0.0
    per_invoke_s: float = 0.0

    def __post_init__(self) -> None:
        assert self.per_op_s >= 0 and self.per_partition_s >= 0 and self.per_invoke_s >= 0


__all__ = ["RuntimeSpec"]
