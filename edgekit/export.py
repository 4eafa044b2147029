"""Export a model for a target device: the format registry, options, verification and manifests.

One public function, :func:`export`, turns a registry model (always its re-parameterized deploy
form, ``create_model(name, deploy=True)``) into an artifact for a target profile, verifies it
against PyTorch, and writes a ``manifest.json`` beside it. :func:`export_all_targets` does the
same for every device profile.

Formats are plug-ins: each is a class in ``exporters/`` registered under the entry-point group
``edgekit.exporters`` (see ``pyproject.toml``) and following the :class:`Exporter` protocol. The
core never imports a format module by name; another package can add a format by declaring an entry
point in the same group.

Layout of what is written (``out`` a directory)::

    out/<model>_<target>/<model>_<target><suffix>     the artifact
    out/<model>_<target>/manifest.json                its manifest

(``<model>_<format>_<precision>`` replaces ``<model>_<target>`` when no target is given.) When
``out`` itself ends with the format's suffix (``out="m.tflite"``) the artifact is written exactly
there and the manifest beside it as ``m.manifest.json``.

Op inventory and ``unsupported_ops``: each exporter maps its artifact's op names to ONNX op types
(``CONV_2D`` and ``DEPTHWISE_CONV_2D`` -> ``Conv``, ``BATCH_MATMUL`` -> ``MatMul``, Core ML
``layer_norm`` -> ``LayerNormalization`` ...; the tables live in each exporter module), because
device profiles list the ops a runtime cannot run as ONNX op types. ``unsupported_ops`` in the
manifest is the set of the artifact's ops (under their ONNX name, or under their own name when it
has no ONNX equivalent) that the target profile lists in ``unsupported_ops``. An op a converter
decomposed (TFLite has no LayerNorm op; it becomes MEAN, SUB, MUL, RSQRT) is reported under the
ops it became, since those are what the device will have to run.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from edgekit._meta import git_commit, versions
from edgekit.device import DeviceProfile, Precision, list_devices, load_device
from edgekit.errors import (
    ConfigError,
    EdgekitError,
    ExportError,
    UnknownNameError,
    VerificationError,
    ensure_dir,
    unknown_name,
)

if TYPE_CHECKING:
    import numpy as np
    from torch import nn

    from edgekit.calib import CalibrationSet

ENTRY_POINT_GROUP = "edgekit.exporters"
FP32_MIN_SQNR_DB = 40.0  # an fp32 artifact below this does not compute what torch computes
RANDOM_INIT_SEED = 0  # weights of a registry model exported without a checkpoint
VERIFY_IMAGES = 16  # images run through the artifact and torch when no calibration set is used

Log = Callable[[str], None]


class NotRunnableError(EdgekitError):
    """The artifact cannot be run on this platform (e.g. Core ML prediction off macOS)."""


# --- what exporters report ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TensorSpec:
    """An input or output tensor of an artifact, as a deployment runtime sees it."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str
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
        """Every name an op is known by here (own and ONNX), for matching profile lists."""
        return {r.op for r in self.ops} | {r.onnx_op for r in self.ops if r.onnx_op}

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


@runtime_checkable
class Exporter(Protocol):
    """The protocol every format plug-in follows (one class per format in ``exporters/``)."""

    name: ClassVar[str]  # "onnx", "tflite", "coreml"
    suffix: ClassVar[str]  # ".onnx"
    precisions: ClassVar[tuple[Precision, ...]]  # supported, the first is the default
    extra: ClassVar[str]  # the pip extra that installs the toolchain
    input_layout: ClassVar[str]  # "NCHW" or "NHWC"

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

    def runner(self, artifact: Path) -> Callable[[np.ndarray], np.ndarray]:
        """A function from a normalised NCHW float32 batch to float32 logits.

        Raises NotRunnableError where the platform cannot run the artifact.
        """


# --- the format registry ------------------------------------------------------------------------
def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def list_formats() -> list[str]:
    """Names of the registered export formats (entry points in ``edgekit.exporters``)."""
    return sorted(_entry_points())


def get_exporter(name: str) -> Exporter:
    """An instance of the exporter registered as ``name``."""
    eps = _entry_points()
    if name not in eps:
        raise unknown_name("format", name, eps, "choose " + ", ".join(sorted(eps)))
    cls = eps[name].load()
    exporter = cls()
    if not isinstance(exporter, Exporter):
        raise ConfigError(f"entry point '{name}' in {ENTRY_POINT_GROUP} ({eps[name].value}) does "
                          "not follow the edgekit.export.Exporter protocol")
    return exporter


def parse_precision(value: str | Precision) -> Precision:
    if isinstance(value, Precision):
        return value
    try:
        return Precision(str(value).lower())
    except ValueError:
        choices = [p.value for p in Precision]
        raise unknown_name("precision", str(value), choices,
                           "choose " + ", ".join(choices)) from None


@dataclass(frozen=True, slots=True)
class Plan:
    """The resolved format and precision for one export."""

    exporter: Exporter
    precision: Precision
    profile: DeviceProfile | None


def plan(target: str | os.PathLike[str] | DeviceProfile | None = None, *,
         format: str | None = None, precision: str | Precision | None = None,
         devices_dirs: Sequence[str | os.PathLike[str]] = ()) -> Plan:
    """Resolve format and precision: the target profile decides, explicit options must agree."""
    profile = load_device(target, devices_dirs) if target is not None else None
    prec = parse_precision(precision) if precision is not None else None
    if profile is None and format is None:
        raise ConfigError("no --target and no --format given; pass --target DEVICE (edgekit "
                          f"devices) or --format {{{','.join(list_formats())}}}")
    if profile is not None and format is not None and format != profile.format:
        get_exporter(format)  # an unknown format name is reported as such first
        raise ConfigError(f"--format {format} conflicts with target {profile.name}, which runs "
                          f"{profile.format} only; drop --format or choose another --target")
    exporter = get_exporter(format or profile.format)  # type: ignore[arg-type]
    if profile is not None:
        if prec is not None and not exporter.accepts(profile.precision, prec):
            raise ConfigError(f"--precision {prec.value} conflicts with target {profile.name}, "
                              f"which runs {profile.precision.value} only")
        prec = prec or profile.precision
    prec = prec or exporter.precisions[0]
    if prec not in exporter.precisions:
        raise ConfigError(
            f"format {exporter.name} cannot be exported at precision {prec.value}; choose "
            + ", ".join(p.value for p in exporter.precisions))
    return Plan(exporter, prec, profile)


# --- fidelity -----------------------------------------------------------------------------------
def compare_outputs(reference: np.ndarray, test: np.ndarray,
                    labels: np.ndarray | None = None) -> dict[str, float | int]:
    """SQNR (dB), mean cosine similarity, top-1 agreement and max abs error of ``test`` vs ref.

    With ``labels``, also the top-1 accuracy of both. Shapes ``(N, classes)``.
    """
    import numpy as np

    ref = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    out = np.asarray(test, dtype=np.float64).reshape(len(test), -1)
    if ref.shape != out.shape:
        raise VerificationError(f"artifact output shape {out.shape} differs from torch's {ref.shape}")
    noise = float(np.sum((ref - out) ** 2))
    signal = float(np.sum(ref**2))
    sqnr = float("inf") if noise == 0 else 10 * np.log10(max(signal, 1e-30) / noise)
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(out, axis=1)
    cos = np.sum(ref * out, axis=1) / np.maximum(norms, 1e-30)
    res: dict[str, float | int] = {
        "n": int(len(ref)),
        "sqnr_db": round(float(sqnr), 2) if np.isfinite(sqnr) else 999.0,
        "cosine": round(float(np.mean(cos)), 6),
        "top1_agreement": round(float(np.mean(ref.argmax(1) == out.argmax(1))), 4),
        "max_abs_err": float(np.max(np.abs(ref - out))),
    }
    if labels is not None:
        res["reference_top1"] = round(float(np.mean(ref.argmax(1) == labels)), 4)
        res["artifact_top1"] = round(float(np.mean(out.argmax(1) == labels)), 4)
    return res


def torch_logits(model: nn.Module, images: np.ndarray, batch: int = 32) -> np.ndarray:
    """The model's float32 outputs for a normalised NCHW batch."""
    import numpy as np
    import torch

    outs = []
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            y = model(torch.from_numpy(np.ascontiguousarray(images[i:i + batch])))
            outs.append((y[0] if isinstance(y, (tuple, list)) else y).float().numpy())
    return np.concatenate(outs)


# --- results ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ExportResult:
    """An exported artifact, its manifest, and a way to run it.

    Attributes:
        artifact: path of the artifact (a file, or a directory for ``.mlpackage``).
        manifest_path: path of the ``manifest.json`` written beside it.
        manifest: the manifest's content.
        format: the format name.
    """

    artifact: Path
    manifest_path: Path
    manifest: dict[str, Any] = field(repr=False)
    format: str

    @property
    def path(self) -> Path:
        return self.artifact

    def run(self, images: np.ndarray) -> np.ndarray:
        """Run the artifact on a normalised NCHW float32 batch and return float32 logits."""
        return get_exporter(self.format).runner(self.artifact)(images)


@dataclass(frozen=True, slots=True)
class TargetOutcome:
    """One target of :func:`export_all_targets`: a result, or the error that stopped it."""

    target: str
    format: str
    precision: str
    result: ExportResult | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None


# --- helpers ------------------------------------------------------------------------------------
def _stderr_log(msg: str) -> None:
    print(f"edgekit: {msg}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout (Python and C level) to stderr while converters run.

    Converters print progress on stdout; the CLI keeps stdout for results.
    """
    sys.stdout.flush()
    try:
        fd_out = sys.__stdout__.fileno() if sys.__stdout__ else 1
        saved = os.dup(fd_out)
    except (OSError, ValueError, AttributeError):  # no real stdout (embedded interpreter)
        saved = None
    try:
        if saved is not None:
            os.dup2(sys.__stderr__.fileno() if sys.__stderr__ else 2, fd_out)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        with contextlib.suppress(ValueError, OSError):
            sys.stdout.flush()
        if saved is not None:
            os.dup2(saved, fd_out)
            os.close(saved)


def sha256_of(path: Path) -> str:
    """sha256 of a file, or of a directory (its files' relative paths and bytes, sorted)."""
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _atomic_place(src: Path, dest: Path) -> None:
    """Move ``src`` (same filesystem) to ``dest``, replacing it; a directory is swapped in."""
    if src.is_dir() and dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
        os.replace(src, dest)
        _remove(old)
    else:
        os.replace(src, dest)


def _destinations(out: str | os.PathLike[str], stem: str, suffix: str) -> tuple[Path, Path]:
    out = Path(out)
    if out.suffix == suffix and suffix:
        return out, out.with_name(out.name[: -len(suffix)] + ".manifest.json")
    folder = out / stem
    return folder / f"{stem}{suffix}", folder / "manifest.json"


# --- the model ----------------------------------------------------------------------------------
def _build_model(model: str | nn.Module, checkpoint: str | os.PathLike[str] | None,
                 resolution: int | None, name: str | None) -> tuple[nn.Module, str, int]:
    if isinstance(model, str):
        from edgekit.models import create_model, get_spec

        import torch

        spec = get_spec(model)
        # Without a checkpoint the weights are random: seed them so an export is reproducible
        # (same bytes, same sha256) without disturbing the caller's RNG.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_INIT_SEED)
            module = create_model(model, checkpoint=checkpoint, deploy=True)
        return module, name or spec.name, resolution or spec.resolution
    if checkpoint is not None:
        from edgekit.models import load_checkpoint

        load_checkpoint(model, checkpoint)
    if resolution is None:
        raise ConfigError("exporting an nn.Module needs resolution=N (a registry name knows its own)")
    from edgekit.layers.reparam import reparameterize

    return reparameterize(model.eval()).eval(), name or type(model).__name__.lower(), resolution


@dataclass(slots=True)
class _Converted:
    """A converted and verified artifact in a work directory, reusable across targets."""

    path: Path
    notes: dict[str, Any]
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    inventory: Inventory
    fidelity: dict[str, Any]
    convert_s: float
    verify_s: float


def _check_structure(exporter: Exporter, inputs: list[TensorSpec], outputs: list[TensorSpec],
                     ref: np.ndarray, resolution: int) -> None:
    """What can be checked without running the artifact: one image input, matching outputs."""
    import math

    if len(inputs) != 1 or len(outputs) != 1:
        raise VerificationError(f"{exporter.name} artifact has {len(inputs)} inputs and "
                                f"{len(outputs)} outputs, expected 1 and 1")
    dims = [d for d in inputs[0].shape[1:] if isinstance(d, int)]
    if sorted(dims) != sorted([3, resolution, resolution]):
        raise VerificationError(f"{exporter.name} artifact input shape {list(inputs[0].shape)} "
                                f"is not a 3x{resolution}x{resolution} image")
    out = [d for d in outputs[0].shape[1:] if isinstance(d, int)]
    if math.prod(out) != math.prod(ref.shape[1:]):
        raise VerificationError(f"{exporter.name} artifact output shape {list(outputs[0].shape)} "
                                f"does not match torch's {list(ref.shape)}")


def _verify(exporter: Exporter, artifact: Path, model: nn.Module, images: np.ndarray,
            precision: Precision, data_desc: str, log: Log) -> dict[str, Any]:
    ref = torch_logits(model, images)
    inputs, outputs = exporter.io(artifact)
    _check_structure(exporter, inputs, outputs, ref, int(images.shape[-1]))
    try:
        run = exporter.runner(artifact)
    except NotRunnableError as exc:
        log(f"numeric check skipped: {exc}")
        return {"status": "not run", "reason": str(exc),
                "checked": "one image input of the export resolution; output shape matches torch"}
    out = run(images)
    figures: dict[str, Any] = {"status": "ok", "reference": "torch fp32", "data": data_desc,
                               **compare_outputs(ref, out)}
    if precision is Precision.FP32 and figures["sqnr_db"] < FP32_MIN_SQNR_DB:
        raise VerificationError(
            f"{exporter.name} fp32 artifact does not match torch: SQNR {figures['sqnr_db']} dB "
            f"< {FP32_MIN_SQNR_DB} dB, max abs error {figures['max_abs_err']:.3g}, top-1 "
            f"agreement {figures['top1_agreement']:.1%} on {figures['n']} images")
    return figures


def _convert_and_verify(exporter: Exporter, module: nn.Module, options: ConvertOptions,
                        verify_images: np.ndarray, data_desc: str, work: Path, verify: bool,
                        log: Log) -> _Converted:
    dest = work / f"artifact{exporter.suffix}"
    t0 = time.perf_counter()
    log(f"converting {options.model_name} to {exporter.name} {options.precision.value} "
        f"at {options.resolution}px")
    try:
        with stdout_to_stderr():
            notes = exporter.convert(module, options, dest, log)
    except EdgekitError:
        raise
    except Exception as exc:  # noqa: BLE001 - converters raise anything; keep it as the cause
        first = next((ln for ln in str(exc).strip().splitlines() if ln.strip()), type(exc).__name__)
        raise ExportError(f"{exporter.name} conversion of '{options.model_name}' failed: "
                          f"{type(exc).__name__}: {first[:300]}") from exc
    if not dest.exists():
        raise ExportError(f"{exporter.name} exporter wrote no artifact for '{options.model_name}'")
    convert_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    inputs, outputs = exporter.io(dest)
    inventory = exporter.inventory(dest)
    if verify:
        log(f"verifying against torch on {len(verify_images)} images")
        with stdout_to_stderr():
            fidelity = _verify(exporter, dest, module, verify_images, options.precision,
                               data_desc, log)
    else:
        fidelity = {"status": "not run", "reason": "verification disabled"}
    return _Converted(dest, notes, inputs, outputs, inventory, fidelity, convert_s,
                      time.perf_counter() - t1)


def _manifest(*, name: str, profile: DeviceProfile | None, exporter: Exporter,
              precision: Precision, options: ConvertOptions, conv: _Converted,
              artifact: Path, calib: CalibrationSet | None, mean: Sequence[float],
              std: Sequence[float], checkpoint: str | os.PathLike[str] | None, weights: str,
              build_s: float, started: float) -> dict[str, Any]:
    from edgekit import __version__

    unsupported = sorted(conv.inventory.op_names() & set(profile.unsupported_ops)) if profile else []
    return {
        "schema_version": 1,
        "model": name,
        "target": profile.name if profile else None,
        "target_fingerprint": profile.fingerprint() if profile else None,
        "format": exporter.name,
        "precision": precision.value,
        "artifact": artifact.name,
        "size_bytes": size_of(conv.path),
        "sha256": sha256_of(conv.path),
        "resolution": options.resolution,
        "batch": "dynamic" if options.dynamic_batch else 1,
        "checkpoint": str(checkpoint) if checkpoint else None,
        "weights": weights,
        "preprocessing": {
            "color": "RGB", "value_range": "[0, 1] before normalisation",
            "normalise": "(x - mean) / std", "mean": list(mean), "std": list(std),
            "layout": exporter.input_layout,
        },
        "inputs": [t.to_manifest() for t in conv.inputs],
        "outputs": [t.to_manifest() for t in conv.outputs],
        "calibration": calib.to_manifest() if calib is not None else None,
        "fidelity": conv.fidelity,
        "op_inventory": conv.inventory.to_manifest(),
        "float_ops": list(conv.inventory.float_ops),
        "unsupported_ops": unsupported,
        "notes": conv.notes,
        "tool_versions": {"edgekit": __version__, **versions("torch", "timm"),
                          **exporter.tool_versions()},
        "timing_s": {"build": round(build_s, 3), "convert": round(conv.convert_s, 3),
                     "verify": round(conv.verify_s, 3),
                     "total": round(time.perf_counter() - started, 3)},
        "git_commit": git_commit(),
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def _write(conv: _Converted, artifact: Path, manifest_path: Path, manifest: dict[str, Any],
           keep_source: bool) -> None:
    """Place the artifact and its manifest under temporary names, then rename both."""
    artifact.parent.mkdir(parents=True, exist_ok=True)
    tmp_art = artifact.with_name(f".{artifact.name}.partial-{os.getpid()}")
    tmp_man = manifest_path.with_name(f".{manifest_path.name}.partial-{os.getpid()}")
    try:
        if keep_source:
            if conv.path.is_dir():
                shutil.copytree(conv.path, tmp_art)
            else:
                shutil.copyfile(conv.path, tmp_art)
        else:
            shutil.move(str(conv.path), str(tmp_art))
        tmp_man.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
        _atomic_place(tmp_art, artifact)
        os.replace(tmp_man, manifest_path)
    finally:
        _remove(tmp_art)
        _remove(tmp_man)


# --- public API ---------------------------------------------------------------------------------
def export(
    model: str | nn.Module,
    target: str | os.PathLike[str] | DeviceProfile | None = None,
    *,
    format: str | None = None,
    precision: str | Precision | None = None,
    calib: str | os.PathLike[str] | CalibrationSet | None = None,
    out: str | os.PathLike[str] = ".",
    checkpoint: str | os.PathLike[str] | None = None,
    dynamic_batch: bool = False,
    resolution: int | None = None,
    devices_dirs: Sequence[str | os.PathLike[str]] = (),
    name: str | None = None,
    verify: bool = True,
    log: Log | None = _stderr_log,
) -> ExportResult:
    """Export ``model`` for ``target`` and write the artifact and its ``manifest.json``.

    Args:
        model: a registry name (built with ``create_model(name, deploy=True)``) or an
            ``nn.Module`` (re-parameterized here; needs ``resolution``).
        target: a device profile name, path or object; it decides format and precision.
        format: ``onnx``, ``tflite``, ``coreml`` (``edgekit.export.list_formats()``); must agree
            with the target's.
        precision: ``fp32``, ``fp16`` or ``int8``; must agree with the target's.
        calib: directory of images for int8 calibration (jpg/png/...); ``None`` uses the
            generated set and warns.
        out: output directory (or an artifact path ending with the format's suffix).
        checkpoint: a local state_dict / ``.safetensors`` file to load first.
        dynamic_batch: ONNX only: a symbolic batch dimension.
        resolution: input resolution (default: the model's).
        devices_dirs: extra directories of device profiles.
        name: the name recorded for an ``nn.Module``.
        verify: run the artifact and compare with torch (where the platform can run it).
        log: progress callback (default: lines on stderr); ``None`` for silence.

    Returns:
        An :class:`ExportResult`. Nothing is written when conversion or verification fails.
    """
    log = log or (lambda _msg: None)
    p = plan(target, format=format, precision=precision, devices_dirs=devices_dirs)
    return _export_planned(model, p, calib=calib, out=out, checkpoint=checkpoint,
                           dynamic_batch=dynamic_batch, resolution=resolution, name=name,
                           verify=verify, log=log)


def _export_planned(model: str | nn.Module, p: Plan, *, calib: Any, out: Any, checkpoint: Any,
                    dynamic_batch: bool, resolution: int | None, name: str | None, verify: bool,
                    log: Log, built: tuple[nn.Module, str, int, float] | None = None,
                    cache: dict[tuple[str, str], _Converted] | None = None,
                    cache_dir: Path | None = None) -> ExportResult:
    from edgekit.calib import calibration_set, generated_set, model_mean_std

    started = time.perf_counter()
    exporter, prec, profile = p.exporter, p.precision, p.profile
    if dynamic_batch and exporter.name != "onnx":
        raise ConfigError(f"--dynamic-batch applies to --format onnx only, got {exporter.name}")
    if resolution is not None and resolution < 16:
        raise ConfigError(f"--resolution must be >= 16, got {resolution}")
    exporter.check_toolchain(prec)
    if built is None:
        t0 = time.perf_counter()
        module, mname, res = _build_model(model, checkpoint, resolution, name)
        build_s = time.perf_counter() - t0
    else:
        module, mname, res, build_s = built
    mean, std = model_mean_std(module)
    calib_set = (calibration_set(calib, res, module) if exporter.needs_calibration(prec)
                 else None)
    if calib_set is not None:
        verify_images, data_desc = calib_set.images[:64], f"calibration set ({calib_set.source})"
    else:
        gen = generated_set(res, count=VERIFY_IMAGES, seed=1, mean=mean, std=std)
        verify_images, data_desc = gen.images, f"generated set ({gen.description})"
    options = ConvertOptions(mname, prec, res, dynamic_batch, calib_set)
    stem = f"{mname}_{profile.name}" if profile else f"{mname}_{exporter.name}_{prec.value}"
    artifact, manifest_path = _destinations(out, stem, exporter.suffix)
    key = (exporter.name, prec.value)
    weights = (f"checkpoint {checkpoint}" if checkpoint else
               f"random init (seed {RANDOM_INIT_SEED}): good for latency and structure only"
               if isinstance(model, str) else "the nn.Module as given")

    created = [d for d in (artifact.parent, *artifact.parent.parents) if not d.exists()]
    ensure_dir(artifact.parent, "--out")
    work = Path(tempfile.mkdtemp(prefix=".edgekit-export-", dir=cache_dir or artifact.parent))
    ok = False
    try:
        if cache is not None and key in cache:
            conv = cache[key]
            log(f"reusing the {exporter.name} {prec.value} conversion for {profile.name if profile else mname}")
        else:
            conv = _convert_and_verify(exporter, module, options, verify_images, data_desc,
                                       work, verify, log)
            if cache is not None:
                cache[key] = conv
        manifest = _manifest(name=mname, profile=profile, exporter=exporter, precision=prec,
                             options=options, conv=conv, artifact=artifact, calib=calib_set,
                             mean=mean, std=std, checkpoint=checkpoint, weights=weights,
                             build_s=build_s,
                             started=started)
        _write(conv, artifact, manifest_path, manifest, keep_source=cache is not None)
        ok = True
    finally:
        if cache is None or cache_dir is None:
            _remove(work)
        if not ok:  # leave no empty folders behind either
            for d in created:
                with contextlib.suppress(OSError):
                    d.rmdir()
    if manifest["unsupported_ops"]:
        log(f"warning: target {profile.name} cannot run ops in this artifact: "  # type: ignore[union-attr]
            + ", ".join(manifest["unsupported_ops"]))
    log(f"wrote {artifact} ({manifest['size_bytes'] / 1e6:.2f} MB) and {manifest_path.name}")
    return ExportResult(artifact, manifest_path, manifest, exporter.name)


def export_all_targets(
    model: str | nn.Module,
    *,
    calib: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] = ".",
    checkpoint: str | os.PathLike[str] | None = None,
    resolution: int | None = None,
    devices_dirs: Sequence[str | os.PathLike[str]] = (),
    targets: Sequence[str] | None = None,
    include_sweep: bool = False,
    name: str | None = None,
    verify: bool = True,
    log: Log | None = _stderr_log,
) -> list[TargetOutcome]:
    """Export ``model`` for every device profile (sweep profiles only with ``include_sweep``).

    The model is built once, and each (format, precision) is converted once and shared by the
    targets that run it; every target gets its own artifact copy and manifest (its
    ``unsupported_ops`` differ). A failing target is recorded and the others go on.
    """
    log = log or (lambda _msg: None)
    profiles = (load_device_list(targets, devices_dirs) if targets is not None
                else [d for d in list_devices(devices_dirs) if include_sweep or not d.sweep])
    if not profiles:
        raise ConfigError("no device profiles found (edgekit devices; add --devices-dir DIR)")
    t0 = time.perf_counter()
    module, mname, res = _build_model(model, checkpoint, resolution, name)
    built = (module, mname, res, time.perf_counter() - t0)
    if any(p.precision is Precision.INT8 for p in profiles):
        from edgekit.calib import calibration_set

        calib = calibration_set(calib, res, module)  # once: a bad --calib stops here
    cache: dict[tuple[str, str], _Converted] = {}
    failed: dict[tuple[str, str], str] = {}
    outcomes = []
    Path(out).mkdir(parents=True, exist_ok=True)
    cache_dir = Path(tempfile.mkdtemp(prefix=".edgekit-cache-", dir=out))
    try:
        for prof in profiles:
            key = (prof.format, prof.precision.value)
            if key in failed:
                outcomes.append(TargetOutcome(prof.name, *key, error=failed[key]))
                log(f"{prof.name}: skipped, the {key[0]} {key[1]} conversion failed above")
                continue
            try:
                p = plan(prof, devices_dirs=devices_dirs)
                r = _export_planned(mname if isinstance(model, str) else model, p, calib=calib,
                                    out=out, checkpoint=checkpoint, dynamic_batch=False,
                                    resolution=res, name=mname, verify=verify, log=log,
                                    built=built, cache=cache, cache_dir=cache_dir)
                outcomes.append(TargetOutcome(prof.name, *key, result=r))
            except (EdgekitError, UnknownNameError) as exc:
                failed[key] = str(exc)
                outcomes.append(TargetOutcome(prof.name, *key, error=str(exc)))
                log(f"{prof.name}: failed: {exc}")
    finally:
        _remove(cache_dir)
    return outcomes


def load_device_list(names: Sequence[str], devices_dirs: Sequence[str | os.PathLike[str]]
                     ) -> list[DeviceProfile]:
    return [load_device(n, devices_dirs) for n in names]


__all__ = [
    "ConvertOptions", "ExportResult", "Exporter", "Inventory", "NotRunnableError", "OpRecord",
    "Plan", "TargetOutcome", "TensorSpec", "compare_outputs", "export", "export_all_targets",
    "get_exporter", "list_formats", "parse_precision", "plan", "torch_logits",
]
