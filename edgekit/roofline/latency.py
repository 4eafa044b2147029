"""The roofline latency model (MobileNetV4 paper, "Roofline analysis").

``ModelTime = sum_i max(MACs_i / PeakMACs, (WeightBytes_i + ActivationBytes_i) / PeakMemBW)``,
plus the profile's fixed per-inference overhead (zero unless the profile sets one). The per-layer
formula lives in :func:`edgekit.roofline.formula.roofline_time_s` only (re-exported here);
everything that predicts (the estimate below, the fits in :mod:`edgekit.fit`, the runtime tables)
calls it.

Bytes follow the profile's precision: int8 = 1 byte per weight or activation element, fp16 = 2,
fp32 = 4; biases of Conv/Gemm (and constant operands of a bias ``Add``) are int32 (4 bytes) at
int8. An op in the profile's ``fuses`` list whose layer-table row is ``fusable`` (one activation
input, produced by a node whose output only it consumes) is folded into its producer and costs
no bytes and no time of its own.

**Runtime terms.** A profile with ``[runtime_costs]`` (fit to measurements of its runtime, e.g. the
QNN delegate on a Hexagon NPU) adds what the software costs, in the same formula:

    T = sum_i max(MACs_i / (eta_c(i) P), bytes_i / (eta_c(i) B)) + n_ops_run * c_op
        + n_slices * c_slice + O

``eta_c`` is the kernel efficiency of layer ``i``'s op class (1.0 for dense convolution and for
every class the profile does not list; one number per class scales both rates), or, for a profile
with ``kernel_table``, of the op itself: a packaged runtime table's efficiency for that op type,
unit and shape relative to its dense convolutions, or, with ``kernel_covered``, relative to the
ops the profile's own fit covered, for the other ops only (a prior measured on another host,
:func:`edgekit.runtime.efficiency.relative_efficiency`), ``n_ops_run`` the
number of ops the runtime executes, from the runtime's op-count model (the graph that runs:
:func:`edgekit.runtime.ops_run`), ``c_op`` the per-op dispatch cost, ``n_slices`` the 2-D
products of the batched activation matmuls (:func:`edgekit.runtime.matmul_slices`; attention over
many windows or heads), ``c_slice`` the launch cost of each, and ``O`` the overhead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from edgekit.roofline.formula import roofline_time_s, runtime_time_s

if TYPE_CHECKING:
    from edgekit.device import DeviceProfile


@dataclass(frozen=True, slots=True)
class LatencyEstimate:
    """The roofline estimate of one layer table on one device.

    Attributes:
        model: model name (from the table's attrs).
        device: the profile used.
        layers: the layer table plus ``weight_bytes, activation_bytes, bytes, intensity,
            compute_s, memory_s, time_s, bound, fused``.
        latency_s: total model time plus the profile's overhead.
        compute_s: sum of per-layer MAC times.
        memory_s: sum of per-layer memory times.
        memory_bound_fraction: share of the summed layer time spent in memory-bound layers.
        macs: total MACs.
        weight_bytes: total weight bytes read (unfused layers).
        activation_bytes: total activation bytes read and written (unfused layers).
        macs_only_s: the MACs-only (ridge point 0) estimate on this device: ``MACs / PeakMACs``.
        overhead_s: the fixed per-inference overhead included in ``latency_s``.
        n_ops_run: ops the runtime executes (its op-count model; 0 without runtime costs).
        dispatch_s: ``n_ops_run * per_op`` included in ``latency_s`` (0 without runtime costs).
        matmul_slices: 2-D products of the batched activation matmuls (0 without runtime costs).
        slice_s: ``matmul_slices * per_matmul_slice`` included in ``latency_s``.
    """

    model: str
    device: DeviceProfile
    layers: pd.DataFrame
    latency_s: float
    compute_s: float
    memory_s: float
    memory_bound_fraction: float
    macs: int
    weight_bytes: int
    activation_bytes: int
    macs_only_s: float
    overhead_s: float
    n_ops_run: int = 0
    dispatch_s: float = 0.0
    matmul_slices: int = 0
    slice_s: float = 0.0

    @property
    def latency_ms(self) -> float:
        return self.latency_s * 1e3

    @property
    def bytes(self) -> int:
        return self.weight_bytes + self.activation_bytes

    def by_op_type(self) -> pd.DataFrame:
        """Time, MACs and bytes summed per ONNX op type, slowest first."""
        g = self.layers.groupby("op_type", sort=False)
        out = g.agg(count=("name", "size"), macs=("macs", "sum"), bytes=("bytes", "sum"),
                    compute_s=("compute_s", "sum"), memory_s=("memory_s", "sum"),
                    time_s=("time_s", "sum"))
        return out.sort_values("time_s", ascending=False).reset_index()


def estimate_latency(table: pd.DataFrame, device: DeviceProfile | str) -> LatencyEstimate:
    """Estimate the latency of a layer table (see :func:`edgekit.roofline.layer_table`) on a device.

    Args:
        table: the precision-independent layer table.
        device: a :class:`~edgekit.device.DeviceProfile` or a profile name.
    """
    from edgekit.device import load_device

    dev = load_device(device)
    prec = dev.precision
    t = table
    fused = t["fusable"].to_numpy(bool) & t["op_type"].isin(dev.fuses).to_numpy()
    macs = t["macs"].to_numpy(np.float64)
    wbytes = t["weight_elems"].to_numpy(np.int64) * prec.bytes + \
        t["bias_elems"].to_numpy(np.int64) * prec.bias_bytes
    abytes = (t["in_act_elems"].to_numpy(np.int64) + t["out_act_elems"].to_numpy(np.int64)) * prec.bytes
    wbytes = np.where(fused, 0, wbytes)
    abytes = np.where(fused, 0, abytes)
    nbytes = wbytes + abytes
    run_macs = np.where(fused, 0.0, macs)  # a fused layer's MACs ride with its producer
    rc = dev.runtime_costs
    if rc is not None and rc.kernel_table:
        from edgekit.runtime.efficiency import relative_efficiency

        eff = relative_efficiency(t, rc.kernel_table, rc.kernel_covered,
                                  (dev.peak_mac_s, dev.mem_bytes_s))
    else:
        eff = (np.array([rc.efficiency.get(str(c), 1.0) for c in t["op_class"]])
               if rc is not None and rc.efficiency else 1.0)
    compute_s = run_macs / dev.peak_mac_s / eff
    memory_s = nbytes / dev.mem_bytes_s / eff
    time_s = roofline_time_s(run_macs, nbytes, dev.peak_mac_s, dev.mem_bytes_s, eff)
    n_ops_run, per_op_s, n_slices, per_slice_s = 0, 0.0, 0, 0.0
    if rc is not None:
        from edgekit.runtime import matmul_slices, ops_run

        n_ops_run, per_op_s = int(ops_run(t, dev).sum()), rc.per_op_us * 1e-6
        n_slices, per_slice_s = int(matmul_slices(t).sum()), rc.per_matmul_slice_us * 1e-6
    with np.errstate(divide="ignore", invalid="ignore"):
        intensity = np.where(nbytes > 0, macs / np.maximum(nbytes, 1), np.where(macs > 0, np.inf, 0.0))
    bound = np.where(fused, "fused", np.where(time_s <= 0, "none",
                                              np.where(compute_s >= memory_s, "compute", "memory")))
    layers = t.assign(weight_bytes=wbytes, activation_bytes=abytes, bytes=nbytes,
                      intensity=intensity, compute_s=compute_s, memory_s=memory_s, time_s=time_s,
                      bound=bound, fused=fused,
                      efficiency=np.array(np.broadcast_to(eff, time_s.shape), dtype=float))
    if rc is not None and rc.kernel_table:
        layers.attrs["kernel_table"] = rc.kernel_table
    total = float(time_s.sum())
    mem_time = float(time_s[bound == "memory"].sum())
    total_macs = int(t["macs"].sum())
    return LatencyEstimate(
        model=str(t.attrs.get("model", "")), device=dev, layers=layers,
        latency_s=runtime_time_s(total, n_ops_run, per_op_s, dev.overhead_s, n_slices,
                                 per_slice_s),
        compute_s=float(compute_s.sum()),
        memory_s=float(memory_s.sum()),
        memory_bound_fraction=mem_time / total if total > 0 else 0.0,
        macs=total_macs, weight_bytes=int(wbytes.sum()), activation_bytes=int(abytes.sum()),
        macs_only_s=total_macs / dev.peak_mac_s, overhead_s=dev.overhead_s,
        n_ops_run=n_ops_run, dispatch_s=n_ops_run * per_op_s, matmul_slices=n_slices,
        slice_s=n_slices * per_slice_s,
    )


DEFAULT_SWEEP_PEAK_GMAC_S = 100.0  # as devices/rp*.toml: the scale is arbitrary
# As devices/rp*.toml: BN and activations ride with their producer; residual Add/Mul stay.
DEFAULT_SWEEP_FUSES = ("BatchNormalization", "Relu", "Clip", "HardSigmoid", "HardSwish", "Sigmoid",
                       "Gelu")


def ridge_name(ridge: float) -> str:
    """Profile name of a sweep point: ``rp0``, ``rp5``, ``rp50``, ``rp500``, ``rp2p5``."""
    txt = f"{ridge:g}".replace(".", "p").replace("+", "").replace("-", "m")
    return f"rp{txt}"


def ridge_profile(
    ridge: float, *, peak_gmac_s: float = DEFAULT_SWEEP_PEAK_GMAC_S, precision: str = "int8",
    fuses: tuple[str, ...] = DEFAULT_SWEEP_FUSES,
) -> DeviceProfile:
    """A hardware-independent profile whose ridge point is ``ridge`` MACs/byte.

    Only the ridge point matters for ranking; the peak MAC rate just sets the time unit.
    Ridge 0 means MACs-only: the bandwidth is made so large that no layer is memory-bound.
    """
    from edgekit.device import DeviceProfile
    from edgekit.errors import ConfigError

    if not (ridge >= 0 and math.isfinite(ridge)):
        raise ConfigError(f"ridge point must be a finite number >= 0 MACs/byte, got {ridge!r}")
    mem = peak_gmac_s / ridge if ridge > 0 else 1e30
    src = "edgekit ridge-point sweep (hardware independent)"
    return DeviceProfile.model_validate({
        "name": ridge_name(ridge), "description": f"ridge point {ridge:g} MACs/byte",
        "kind": "cpu", "precision": precision, "format": "tflite", "sweep": True,
        "peak_gmac_s": {"value": peak_gmac_s, "source": src, "confidence": "low"},
        "mem_gb_s": {"value": mem, "source": src, "confidence": "low"},
        "fuses": list(fuses),
    })
