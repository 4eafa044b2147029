"""The contract every format plug-in follows: the Exporter and Runner protocols, what they report.

Each format is one class in ``exporters/`` registered under the ``edgekit.exporters`` entry-point
group (see :mod:`edgekit.export.registry`). Everything the core knows about a format it learns
from that class: its name, suffix, precisions, the runtime that runs it, whether this platform
can run it, how to convert, inspect and load an artifact. The loader (:meth:`Exporter.load`) is
the one code path that both verification and ``edgekit bench`` use to run an artifact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from edgekit.precision import Precision
from edgekit.errors import EdgekitError

if TYPE_CHECKING:
    import numpy as np
    from torch import nn

    from edgekit.export.appinfo import AppInfo
    from edgekit.export.calibration import CalibrationSet

Log = Callable[[str], None]


class NotRunnableError(EdgekitError):
    """The artifact cannot be run on this platform (e.g. Core ML prediction off macOS)."""


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """An input or output tensor of an artifact, as a deployment runtime sees it."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str  # numpy name: "float32", "int8" ...
    layout: str | None = None  # "NCHW" / "NHWC" for image inputs
    scale: float | None = None  # int8 quantization: real = scale * (q - zero_point)
    zero_point: int | None = None

    def to_manifest(self) -> dict[str, Any]:
        q = None if self.scale is None else {"scale": self.scale, "zero_point": self.zero_point}
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype,
                "layout": self.layout, "quantization": q}


@dataclass(frozen=True, slots=True)
class OpRecord:
    """One op type of an artifact: its own name, its ONNX op type, how often, which dtypes."""

    op: str
    onnx_op: str | None
    count: int
    dtypes: tuple[str, ...]

    def to_manifest(self) -> dict[str, Any]:
        return {"op": self.op, "onnx_op": self.onnx_op, "count": self.count,
                "dtypes": list(self.dtypes)}


@dataclass(frozen=True, slots=True)
class Inventory:
    """The ops of an artifact, and (for integer artifacts) every op left computing in float."""

    ops: tuple[OpRecord, ...]
    float_ops: tuple[str, ...] = ()  # "OP_NAME#index" of compute ops with float activations

    def op_names(self) -> set[str]:
        """What each op computes, as profile lists name it: its ONNX op type, else its own name.

        The ONNX type is semantic (an ONNX ``MatMul`` with a constant weight is a linear layer,
        ``Gemm``), so an op's own name is not matched when it has an ONNX type.
        """
        return {r.onnx_op or r.op for r in self.ops}

    def to_manifest(self) -> list[dict[str, Any]]:
        return [r.to_manifest() for r in self.ops]


@dataclass(frozen=True, slots=True)
class ConvertOptions:
    """What an exporter needs to know besides the model."""

    model_name: str
    precision: Precision
    resolution: int
    dynamic_batch: bool = False
    calib: CalibrationSet | None = field(default=None, repr=False)
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)  # the model's normalisation (RGB in [0, 1])
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    app: AppInfo = field(default_factory=lambda: _default_app())
    # NCHW example input of a model that does not take an image (a micro-benchmark's single op);
    # None: ``(1, 3, resolution, resolution)``.
    input_shape: tuple[int, ...] | None = None

    @property
    def example_shape(self) -> tuple[int, ...]:
        """The NCHW shape the model is traced with: ``input_shape``, else one RGB image."""
        r = self.resolution
        return tuple(self.input_shape) if self.input_shape is not None else (1, 3, r, r)


def _default_app() -> AppInfo:
    from edgekit.export.appinfo import AppInfo

    return AppInfo()


@runtime_checkable
class Runner(Protocol):
    """An artifact loaded into its runtime, ready to run many times.

    Attributes:
        inputs: the artifact's inputs as the runtime sees them (native dtype and shape; a
            symbolic dimension is a string).
        precision: what the loaded graph computes in, as far as the runtime can tell
            (``int8`` for integer inputs or int8 weights, else ``fp32``/``fp16``).
    """

    inputs: tuple[TensorSpec, ...]
    precision: str

    def run(self, images: np.ndarray) -> np.ndarray:
        """Float32 outputs for a normalised NCHW float32 batch (layout and quantization handled)."""

    def invoker(self, feed: Mapping[str, np.ndarray]) -> Callable[[], object]:
        """A call that runs the graph once on ``feed`` (native inputs bound once), for timing."""


@runtime_checkable
class Exporter(Protocol):
    """The protocol every format plug-in follows (one class per format in ``exporters/``)."""

    name: ClassVar[str]  # lowercase format name, as written in device profiles
    suffix: ClassVar[str]  # ".onnx"
    precisions: ClassVar[tuple[Precision, ...]]  # supported, the first is the default
    extra: ClassVar[str]  # the pip extra that installs the toolchain
    toolchain: ClassVar[tuple[str, ...]]  # top-level modules of that toolchain (diagnostics, tests)
    input_layout: ClassVar[str]  # "NCHW" or "NHWC"
    runtime: ClassVar[str]  # the runtime its loader uses ("onnxruntime", "litert" ...)
    dynamic_batch: ClassVar[bool]  # whether it can export a symbolic batch dimension

    def check_toolchain(self, precision: Precision) -> None:
        """Raise ToolchainMissingError (naming the extra) when a needed package is absent."""

    def needs_calibration(self, precision: Precision) -> bool: ...

    def accepts(self, profile_precision: Precision, precision: Precision) -> bool:
        """Whether ``precision`` is a valid choice for a target that runs ``profile_precision``."""

    def tool_versions(self) -> dict[str, str]: ...

    def convert(self, model: nn.Module, options: ConvertOptions, dest: Path, log: Log
                ) -> dict[str, Any]:
        """Write the artifact to ``dest``; return notes for the manifest."""

    def io(self, artifact: Path) -> tuple[list[TensorSpec], list[TensorSpec]]: ...

    def inventory(self, artifact: Path) -> Inventory: ...

    def can_run_here(self) -> bool:
        """Whether :meth:`load` can run artifacts on this platform."""

    def load(self, artifact: Path, *, threads: int = 2, delegates: bool = True) -> Runner:
        """Load ``artifact`` into the format's runtime, pinned to ``threads``.

        ``delegates=False`` turns off a runtime's default delegate (LiteRT's XNNPACK) so the
        graph runs on the built-in kernels; runtimes without one ignore it.
        Raises NotRunnableError where the platform cannot run the artifact, ConfigError when the
        runtime rejects the file.
        """
