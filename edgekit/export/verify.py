"""Fidelity: run an artifact through its exporter's loader and compare its outputs with torch's.

Every precision has a floor (``FIDELITY_FLOORS``): an artifact passes when its SQNR against torch
fp32 reaches the floor's ``min_sqnr_db`` *or* its top-1 agreement reaches ``min_top1_agreement``
(fp32 has no agreement alternative: it must compute what torch computes). A degenerate output
(its spread, or an int8 output scale, at most ``DEGENERATE_OUTPUT``) always fails: it agrees
with nothing. Below the floor the manifest's fidelity status is ``failed`` with the numbers and
the export raises :class:`FidelityError`.

=========  ===========  ==================  ================================================
precision  min SQNR dB  or min top-1 agree  why
=========  ===========  ==================  ================================================
fp32       40           (none)              converters are exact to >= 60 dB; 40 leaves room
fp16       30           99%                 fp16 weights measured at 35-70 dB on the zoo
int8       5            50%                 static int8 of a random (trained-like) model
                                            measures 8-35 dB and cosine >= 0.95 (chaotic
                                            random weights cap it); a broken graph sits
                                            at ~0 dB and chance agreement
=========  ===========  ==================  ================================================

Where the platform cannot run the artifact (Core ML off macOS) only its structure is checked and
the manifest says the numeric check was not run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.errors import VerificationError
from edgekit.export.protocol import Exporter, Log, NotRunnableError, TensorSpec
from edgekit.precision import Precision

if TYPE_CHECKING:
    import numpy as np
    from torch import nn

VERIFY_IMAGES = 16  # images run through the artifact and torch when no calibration set is used


@dataclass(frozen=True, slots=True)
class FidelityFloor:
    """The least an artifact of one precision must reach against torch fp32 (either figure)."""

    min_sqnr_db: float
    min_top1_agreement: float | None  # None: SQNR alone decides


# See the table in the module docstring.
FIDELITY_FLOORS: dict[Precision, FidelityFloor] = {
    Precision.FP32: FidelityFloor(40.0, None),
    Precision.FP16: FidelityFloor(30.0, 0.99),
    Precision.INT8: FidelityFloor(5.0, 0.50),
}
FP32_MIN_SQNR_DB = FIDELITY_FLOORS[Precision.FP32].min_sqnr_db
DEGENERATE_OUTPUT = 1e-8  # output std or int8 output scale at or below this: no signal left


class FidelityError(VerificationError):
    """An artifact is below its precision's fidelity floor; its manifest says ``failed``."""


def judge(figures: dict[str, Any], precision: Precision, output_std: float,
          output_scale: float | None = None) -> str | None:
    """Why ``figures`` fail ``precision``'s floor (one phrase with the numbers), or None."""
    floor = FIDELITY_FLOORS[precision]
    if output_std <= DEGENERATE_OUTPUT or (output_scale is not None
                                           and output_scale <= DEGENERATE_OUTPUT):
        scale = "" if output_scale is None else f", output scale {output_scale:.3g}"
        return f"degenerate output (std {output_std:.3g}{scale})"
    sqnr, agree = float(figures["sqnr_db"]), float(figures["top1_agreement"])
    if sqnr >= floor.min_sqnr_db:
        return None
    if floor.min_top1_agreement is not None and agree >= floor.min_top1_agreement:
        return None
    bar = f"SQNR >= {floor.min_sqnr_db:g} dB" + (
        "" if floor.min_top1_agreement is None
        else f" or top-1 agreement >= {floor.min_top1_agreement:.0%}")
    return (f"SQNR {sqnr:g} dB, top-1 agreement {agree:.1%} on {figures['n']} images, "
            f"below the {precision.value} floor ({bar})")


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


def check_structure(exporter: Exporter, inputs: list[TensorSpec], outputs: list[TensorSpec],
                    ref: np.ndarray, resolution: int) -> None:
    """What can be checked without running the artifact: one image input, matching outputs."""
    import math

    outputs = [o for o in outputs if o.dtype != "string"]  # a classifier's predicted label
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


def verify_artifact(exporter: Exporter, artifact: Path, model: nn.Module, images: np.ndarray,
                    precision: Precision, data_desc: str, log: Log) -> dict[str, Any]:
    """Run ``artifact`` and torch on ``images``; the manifest's ``fidelity`` entry.

    Its ``status`` is ``failed`` (with a ``reason`` quoting the numbers) below the precision's
    floor; raises VerificationError when the structure is wrong.
    """
    ref = torch_logits(model, images)
    inputs, outputs = exporter.io(artifact)
    check_structure(exporter, inputs, outputs, ref, int(images.shape[-1]))
    try:
        runner = exporter.load(artifact)
    except NotRunnableError as exc:
        log(f"numeric check skipped: {exc}")
        return {"status": "not run", "reason": str(exc),
                "checked": "one image input of the export resolution; output shape matches torch"}
    import numpy as np

    out = runner.run(images)
    figures: dict[str, Any] = {"status": "ok", "reference": "torch fp32", "data": data_desc,
                               **compare_outputs(ref, out)}
    scales = [t.scale for t in outputs if t.scale is not None]
    figures["output_std"] = float(np.std(out))
    reason = judge(figures, precision, min(figures["output_std"], float(np.std(ref))),
                   scales[0] if scales else None)
    if reason is not None:
        figures.update(status="failed", reason=reason)
    return figures
