"""Device profiles: one TOML file per target, validated by a strict schema.

A profile says what kind of compute unit a target is, which precision and export format it runs,
its peak MAC rate and memory bandwidth (each with a source and a confidence), which elementwise ops
its runtime fuses into the producing layer, and which ops it cannot run. The ridge point
(MACs per byte at which a layer stops being memory-bound) is derived as
``peak_gmac_s / mem_gb_s`` and never stated twice. Numbers must be finite (no ``inf``: the
profile must survive JSON), and ``fuses`` / ``unsupported_ops`` must be ONNX op types, so that a
typo is an error rather than an op that silently never matches. ``format`` must be a format
registered under the ``edgekit.exporters`` entry points (so a plug-in format can be a target).

Profiles are searched, in order, in ``--devices-dir`` directories, in the ``os.pathsep``-separated
directories of ``EDGEKIT_DEVICES``, and in the profiles shipped with edgekit (``devices/``).
A profile may also be loaded by path.

Example profile::

    name = "pixel8-edgetpu"
    description = "Google Pixel 8 (Tensor G3) EdgeTPU"
    kind = "npu"
    precision = "int8"
    format = "tflite"
    runtime = "litert-edgetpu"      # a registered runtime id (edgekit.runtime)
    fuses = ["BatchNormalization", "Relu", "Clip", "Add"]
    unsupported_ops = []

    [peak_gmac_s]
    value = 4000.0
    source = "..."
    confidence = "low"

    [mem_gb_s]
    value = 9.2
    source = "..."
    confidence = "low"
"""

from __future__ import annotations

import enum
import functools
import hashlib
import os
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edgekit.errors import KEBAB_NAME, ConfigError, did_you_mean, unknown_name
from edgekit.precision import Precision

if TYPE_CHECKING:
    from edgekit.runtime.spec import RuntimeSpec

ENV_VAR = "EDGEKIT_DEVICES"


class ComputeKind(enum.StrEnum):
    CPU = "cpu"
    GPU = "gpu"
    DSP = "dsp"
    NPU = "npu"


class Confidence(enum.StrEnum):
    HIGH = "high"  # vendor datasheet or measured on the device
    MEDIUM = "medium"  # derived from published numbers with a stated method
    LOW = "low"  # estimated or fit to few measurements


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# A finite number, never a bool or a string (``strict``); TOML's ``inf`` / ``nan`` are rejected
# because a profile's numbers must survive JSON (reports, ``edgekit devices --json``).
_Number = Field(strict=True, allow_inf_nan=False)


class Sourced(_Strict):
    """A number with where it came from and how far to trust it."""

    value: Annotated[float, _Number, Field(gt=0)]
    source: Annotated[str, Field(min_length=3)]
    confidence: Confidence


class SourcedOverhead(_Strict):
    """A fixed per-inference cost (invoke and dispatch), which may be zero."""

    value: Annotated[float, _Number, Field(ge=0)]
    source: Annotated[str, Field(min_length=3)]
    confidence: Confidence


class RuntimeCosts(_Strict):
    """The runtime terms of the latency model (``[runtime_costs]``), fit with a stated method.

    ``T = sum_ops max(MACs / (eta_c P), bytes / (eta_m B)) + n_ops_run * per_op
    + n_slices * per_slice + overhead``: ``per_op_us`` is the dispatch cost of each op the runtime
    executes (its op-count model, :func:`edgekit.runtime.ops_run`), ``per_matmul_slice_us`` the
    launch cost of each 2-D product of a batched activation matmul
    (:func:`edgekit.runtime.matmul_slices`; 0 when absent), ``efficiency`` the fraction of ``P``
    (and of ``B``) that each op class reaches, relative to dense convolution (1.0 when absent).
    """

    per_op_us: Annotated[float, _Number, Field(ge=0)]
    per_matmul_slice_us: Annotated[float, _Number, Field(ge=0)] = 0.0
    efficiency: dict[str, Annotated[float, _Number, Field(gt=0)]] = {}
    # A packaged runtime table (edgekit/data/runtime-tables/<name>.json) whose per-op kernel
    # efficiencies, relative to its dense convolutions, scale this profile's P and B op by op
    # (edgekit.runtime.efficiency.relative_efficiency); it replaces ``efficiency``.
    kernel_table: str = ""
    # With kernel_table: the op keys (edgekit.runtime.efficiency.prior_key, "OP/unit[/kK]") this
    # profile's own fit measured; the prior then scales only the other ops, relative to the
    # covered ones (edgekit.runtime.efficiency.relative_efficiency). Written by
    # scripts/fit_devices.py from the models it fits.
    kernel_covered: list[str] = []
    source: Annotated[str, Field(min_length=3)]
    confidence: Confidence

    @field_validator("kernel_table")
    @classmethod
    def _packaged_table(cls, name: str) -> str:
        from pathlib import Path

        folder = Path(__file__).resolve().parent / "data" / "runtime-tables"
        if name and not (folder / f"{name}.json").is_file():
            known = sorted(p.stem for p in folder.glob("*.json"))
            raise ValueError(f"names kernel table '{name}'{did_you_mean(name, known)}, which is "
                             f"not packaged (packaged: {', '.join(known) or 'none'})")
        return name

    @field_validator("efficiency")
    @classmethod
    def _known_classes(cls, eff: dict[str, float]) -> dict[str, float]:
        from edgekit.runtime.costs import EFFICIENCY_CLASSES

        for k in eff:
            if k not in EFFICIENCY_CLASSES:
                raise ValueError(f"names class '{k}'{did_you_mean(k, EFFICIENCY_CLASSES)} "
                                 f"(classes: {', '.join(EFFICIENCY_CLASSES)})")
        return eff

    @field_validator("kernel_covered")
    @classmethod
    def _covered_keys(cls, keys: list[str]) -> list[str]:
        import re

        from edgekit.runtime.efficiency import PRIOR_KEY_RE

        for k in keys:
            if not re.match(PRIOR_KEY_RE, k):
                raise ValueError(f"entry '{k}' is not an op key 'OP/class/unit' "
                                 "or 'OP/class/unit/kK' (scripts/fit_devices.py --write "
                                 "writes them)")
        return keys

    @model_validator(mode="after")
    def _covered_needs_table(self) -> RuntimeCosts:
        if self.kernel_covered and not self.kernel_table:
            raise ValueError("sets kernel_covered without kernel_table: name the packaged table "
                             "the covered ops refer to, or drop kernel_covered")
        return self


class DeviceProfile(_Strict):
    """One target: the schema of a ``devices/*.toml`` file."""

    name: Annotated[str, Field(pattern=f"^{KEBAB_NAME}$")]
    description: str
    kind: ComputeKind
    precision: Precision
    format: str  # a registered export format (edgekit.export.list_formats())
    runtime: str = ""  # a registered runtime id (edgekit.runtime.list_runtimes()); "" for none
    runtime_notes: str = ""  # free text: versions, threads, compute units
    peak_gmac_s: Sourced
    mem_gb_s: Sourced
    overhead_ms: SourcedOverhead | None = None
    runtime_costs: RuntimeCosts | None = None
    fuses: tuple[str, ...] = ()
    unsupported_ops: tuple[str, ...] = ()
    notes: str = ""
    sweep: bool = False  # a hardware-independent ridge-point profile, not a real device

    @field_validator("format")
    @classmethod
    def _registered_format(cls, value: str) -> str:
        from edgekit.export.registry import list_formats  # the plug-ins own the format names

        formats = list_formats()
        if value in formats:
            return value
        hint = (f"; format names are lowercase: did you mean '{value.lower()}'?"
                if value.lower() in formats else did_you_mean(value, formats))
        raise ValueError(f"names '{value}', which is not a registered export format{hint} "
                         f"(valid formats: {', '.join(formats)})")

    @field_validator("runtime")
    @classmethod
    def _registered_runtime(cls, value: str) -> str:
        from edgekit.runtime import list_runtimes

        ids = list_runtimes()
        if value == "" or value in ids:
            return value
        raise ValueError(f"names '{value}', which is not a registered runtime id"
                         f"{did_you_mean(value, ids)} (valid ids: {', '.join(ids)}; free text "
                         "goes in runtime_notes)")

    @field_validator("fuses", "unsupported_ops")
    @classmethod
    def _onnx_op_types(cls, ops: tuple[str, ...]) -> tuple[str, ...]:
        dup = sorted({o for o in ops if ops.count(o) > 1})
        if dup:
            raise ValueError(f"lists {dup} more than once")
        known = onnx_op_types()
        for op in ops:
            if op not in known:  # a typo would silently never match a layer
                raise ValueError(
                    f"names '{op}', which is not an ONNX op type{did_you_mean(op, known)} "
                    "(op types are ONNX names such as 'Relu', 'Clip', 'MatMul')"
                )
        return ops

    # Derived numbers, in SI units inside.
    @property
    def peak_mac_s(self) -> float:
        return self.peak_gmac_s.value * 1e9

    @property
    def mem_bytes_s(self) -> float:
        return self.mem_gb_s.value * 1e9

    @property
    def ridge_mac_per_byte(self) -> float:
        return self.peak_gmac_s.value / self.mem_gb_s.value

    @property
    def overhead_s(self) -> float:
        return (self.overhead_ms.value if self.overhead_ms else 0.0) / 1e3

    @property
    def runtime_spec(self) -> RuntimeSpec | None:
        """The registered :class:`~edgekit.runtime.RuntimeSpec` of ``runtime`` (None if unset)."""
        from edgekit.runtime import get_runtime

        return get_runtime(self.runtime) if self.runtime else None

    def fingerprint(self) -> str:
        """A short hash of the profile's content, for report metadata and caches."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:12]


@functools.cache
def onnx_op_types() -> frozenset[str]:
    """Every op type of the default ONNX domain (``Relu``, ``MatMul`` ...)."""
    import onnx.defs  # about 0.3 s, paid once, only when a profile is loaded

    return frozenset(s.name for s in onnx.defs.get_all_schemas() if s.domain == "")


_SECTIONS = {"peak_gmac_s": Sourced, "mem_gb_s": Sourced, "overhead_ms": SourcedOverhead,
             "runtime_costs": RuntimeCosts}


def builtin_devices_dir() -> Path:
    """The directory of the profiles shipped with edgekit."""
    from edgekit import devices  # the ``devices/`` folder, mapped into the package

    return Path(devices.__file__).parent


def search_path(devices_dirs: Sequence[str | os.PathLike[str]] = ()) -> list[Path]:
    """Directories searched for profiles: explicit ones, then ``$EDGEKIT_DEVICES``, then built-in."""
    dirs = [Path(d) for d in devices_dirs]
    env = os.environ.get(ENV_VAR, "")
    dirs += [Path(d) for d in env.split(os.pathsep) if d]
    dirs.append(builtin_devices_dir())
    for d in dirs[:-1]:
        if d.is_file():
            raise ConfigError(f"devices directory '{d}' is a file, not a directory; give "
                              f"--devices-dir the folder that holds it, or pass the .toml "
                              f"wherever a device name goes")
        if not d.is_dir():
            raise ConfigError(f"devices directory '{d}' does not exist (check --devices-dir / ${ENV_VAR})")
    return dirs


def _format_error(path: Path, exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    section = f"[{loc[0]}] " if len(loc) > 1 else ""
    key = loc[-1] if loc else ""
    value = err.get("input")
    if err["type"] == "extra_forbidden":
        section_model = _SECTIONS.get(loc[0], Sourced) if len(loc) > 1 else DeviceProfile
        valid = section_model.model_fields
        return f"{path}: {section}unknown key '{key}'{did_you_mean(key, valid)}"
    if err["type"] == "missing":
        return f"{path}: {section}missing required key '{key}'"
    if err["type"] == "model_type":  # `peak_gmac_s = 4.0` instead of a table
        return (f"{path}: {key} must be a table with value, source and confidence "
                f"([{key}] on its own line, then one key per line), got {value!r}")
    if err["type"] == "string_pattern_mismatch" and key == "name":
        return (f"{path}: name must be kebab-case '<product>-<unit>' (lowercase letters, digits, "
                f"'-'), e.g. 'pixel8-edgetpu', got {value!r}")
    if err["type"] == "value_error":
        return f"{path}: {section}{key} {err['msg'].removeprefix('Value error, ')}"
    msg = err["msg"].replace("Input should be", "must be")
    return f"{path}: {section}{key} {msg}, got {value!r}"


def load_profile_file(path: str | os.PathLike[str]) -> DeviceProfile:
    """Load and validate one profile file; the file's stem must equal its ``name``."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"device profile '{path}' does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    try:
        profile = DeviceProfile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(path, exc)) from exc
    if profile.name != path.stem:
        raise ConfigError(
            f"{path}: name '{profile.name}' does not match the file name; rename the file to "
            f"'{profile.name}.toml' or set name = \"{path.stem}\""
        )
    return profile


def _index(devices_dirs: Sequence[str | os.PathLike[str]]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in search_path(devices_dirs):
        for f in sorted(d.glob("*.toml")):
            found.setdefault(f.stem, f)  # earlier directories win
    return found


def list_devices(devices_dirs: Sequence[str | os.PathLike[str]] = ()) -> list[DeviceProfile]:
    """Every profile on the search path, sorted by name."""
    return [load_profile_file(p) for _, p in sorted(_index(devices_dirs).items())]


def load_device(
    name: str | os.PathLike[str] | DeviceProfile, devices_dirs: Sequence[str | os.PathLike[str]] = ()
) -> DeviceProfile:
    """Load a profile by name (``pixel8-edgetpu``) or by path to a ``.toml`` file."""
    if isinstance(name, DeviceProfile):
        return name
    s = str(name)
    if s.endswith(".toml") or os.sep in s:
        return load_profile_file(s)
    index = _index(devices_dirs)
    if s not in index:
        raise unknown_name("device", s, index, "edgekit devices")
    return load_profile_file(index[s])


def load_devices(
    names: Iterable[str], devices_dirs: Sequence[str | os.PathLike[str]] = ()
) -> list[DeviceProfile]:
    """Load several profiles, keeping the order given."""
    return [load_device(n, devices_dirs) for n in names]
