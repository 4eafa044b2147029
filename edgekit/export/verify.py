"""Fidelity: run an artifact through its exporter's loader and compare its outputs with torch's.

An fp32 artifact must match torch (SQNR of at least ``FP32_MIN_SQNR_DB``); lower precisions are
measured and recorded, not judged (random-init models make int8 figures say little). Where the
platform cannot run the artifact (Core ML off macOS) only its structure is checked and the
manifest says the numeric check was not run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.errors import VerificationError
from edgekit.export.protocol import Exporter, Log, NotRunnableError, TensorSpec
from edgekit.precision import Precision

if TYPE_CHECKING:
    import numpy as np
    from torch import nn

FP32_MIN_SQNR_DB = 40.0  # an fp32 artifact below this does not compute what torch computes
VERIFY_IMAGES = 16  # images run through the artifact and torch when no calibration set is used


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

    Raises VerificationError when the structure is wrong or an fp32 artifact does not match.
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
    out = runner.run(images)
    figures: dict[str, Any] = {"status": "ok", "reference": "torch fp32", "data": data_desc,
                               **compare_outputs(ref, out)}
    if precision is Precision.FP32 and figures["sqnr_db"] < FP32_MIN_SQNR_DB:
        raise VerificationError(
            f"{exporter.name} fp32 artifact does not match torch: SQNR {figures['sqnr_db']} dB "
            f"< {FP32_MIN_SQNR_DB} dB, max abs error {figures['max_abs_err']:.3g}, top-1 "
            f"agreement {figures['top1_agreement']:.1%} on {figures['n']} images")
    return figures
