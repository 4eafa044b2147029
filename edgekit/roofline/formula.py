"""The one latency formula: per layer ``max(MACs / (eta P), bytes / (eta B))``, plus fixed costs.

Everything that predicts calls it: the roofline estimate (:mod:`edgekit.roofline.latency`), the
fits (:mod:`edgekit.fit`) and the runtime tables (:mod:`edgekit.runtime.efficiency`). It imports
nothing of edgekit, so every one of them can.
"""

from __future__ import annotations

import numpy as np


def roofline_time_s(macs: np.ndarray | float, bytes_: np.ndarray | float, peak_mac_s: float,
                    mem_bytes_s: float, efficiency: np.ndarray | float = 1.0) -> np.ndarray:
    """Per-layer roofline time in seconds: ``max(macs / (eta P), bytes_ / (eta B))``.

    Args:
        macs: MACs of each layer.
        bytes_: bytes each layer reads and writes.
        peak_mac_s: peak MAC rate ``P`` (MACs per second).
        mem_bytes_s: memory bandwidth ``B`` (bytes per second).
        efficiency: kernel efficiency ``eta`` of each layer's op class (default 1: the plain
            roofline).
    """
    return np.maximum(np.divide(macs, peak_mac_s), np.divide(bytes_, mem_bytes_s)) / efficiency


def runtime_time_s(layer_s: np.ndarray | float, n_ops_run: float, per_op_s: float,
                   overhead_s: float, n_slices: float = 0.0, per_slice_s: float = 0.0) -> float:
    """Model time with the runtime's fixed costs.

    ``sum(layer_s) + n_ops_run * per_op_s + n_slices * per_slice_s + O``: a dispatch cost per op
    the runtime runs, a launch cost per 2-D slice of its batched activation matmuls
    (:func:`edgekit.runtime.matmul_slices`) and the per-invoke overhead ``O``.
    """
    return float(np.sum(layer_s) + n_ops_run * per_op_s + n_slices * per_slice_s + overhead_s)


__all__ = ["roofline_time_s", "runtime_time_s"]
