"""Runtime-aware latency of an artifact: the graph that runs, placed, timed by a runtime table.

``predict_artifact`` reads the artifact's op table (``.tflite``: :mod:`edgekit.runtime.tflite_graph`;
``.onnx``: :mod:`edgekit.runtime.onnx_graph`), places it the way this host's runtime does
(:mod:`edgekit.runtime.placement`) and times every op with the
table's kernel efficiencies and fixed costs (:class:`edgekit.runtime.efficiency.KernelModel`).
The plain roofline over the same graph and the MACs-only time are kept beside it, so the gain of
the runtime terms is visible.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from edgekit.runtime.efficiency import KernelModel
    from edgekit.runtime.placement import Placement

DELEGATE_UNIT = {"litert-xnnpack": "xnnpack", "litert-builtin": "builtin", "onnxruntime-cpu": "cpu"}


@dataclass(frozen=True, slots=True)
class RuntimePrediction:
    """One artifact predicted with a runtime table.

    Attributes:
        model: the artifact's stem.
        runtime: the runtime id.
        latency_s: invoke + per-op dispatch + kernel time + partition and pool-switch costs.
        ops: the op table with ``unit, eta, eta_source, dispatch_s, kernel_s, time_s``.
        placement: where each op runs.
        invoke_s, dispatch_s, kernel_s, partition_s, pool_switch_s: the parts of ``latency_s``
            (``pool_switch_s``: what waiting for a thread pool's worker after each switch of
            pool adds, :mod:`edgekit.runtime.threadpools`).
        plain_roofline_s: ``sum max(MACs/P, bytes/B)`` over the same ops (no runtime terms).
        macs_only_s: ``MACs / P``.
        missing: op types the table has no point for (predicted by the plain roofline).
    """

    model: str
    runtime: str
    latency_s: float
    ops: pd.DataFrame
    placement: Placement
    invoke_s: float
    dispatch_s: float
    kernel_s: float
    partition_s: float
    plain_roofline_s: float
    macs_only_s: float
    missing: tuple[str, ...]
    pool_switch_s: float = 0.0

    @property
    def pool_switches(self) -> int:
        return self.placement.pool_switches

    @property
    def latency_ms(self) -> float:
        return self.latency_s * 1e3

    def by_class(self) -> pd.DataFrame:
        """Ops, predicted time and its share per (op class, unit), slowest first."""
        live = self.ops[self.ops["unit"].astype(str) != ""]
        g = live.groupby(["op_class", "unit"], sort=False).agg(
            ops=("op", "size"), macs=("macs", "sum"), bytes=("bytes", "sum"),
            time_s=("time_s", "sum"))
        g["share"] = g["time_s"] / max(self.latency_s, 1e-30)
        return g.sort_values("time_s", ascending=False).reset_index()

    def placement_summary(self) -> dict[str, Any]:
        return self.placement.summary(self.ops["op"], DELEGATE_UNIT.get(self.runtime, ""))


def placed_ops(path: str | os.PathLike[str], runtime: str, *,
               threads: int = 1) -> tuple[pd.DataFrame, Placement]:
    """The op table of an artifact (``.tflite`` or ``.onnx``) and its placement on ``runtime``."""
    from edgekit.runtime.placement import Placement, litert_placement

    if str(path).endswith(".onnx"):
        from edgekit.runtime.onnx_graph import op_table as onnx_ops

        ops = onnx_ops(path)
        return ops, Placement(runtime, tuple(ops["unit"]), 0, "runtime")
    from edgekit.runtime.tflite_graph import op_table

    ops = op_table(path)
    return ops, litert_placement(path, runtime, ops, threads=threads)


def predict_artifact(path: str | os.PathLike[str], model: KernelModel, *, runtime: str,
                     threads: int = 1) -> RuntimePrediction:
    """Predict an artifact's latency on a host runtime from a runtime table's model."""
    import numpy as np

    from edgekit.runtime.efficiency import roofline_s

    ops, pl = placed_ops(path, runtime, threads=threads)
    ops = model.op_times(ops.assign(unit=list(pl.units)))
    switch_s = model.switch_s(ops, pl.pools)
    live = ops["unit"].astype(str).to_numpy() != ""
    plain = float(np.sum(roofline_s(ops[live], model.peak_mac_s, model.mem_bytes_s)))
    missing = tuple(sorted(set(ops.loc[live & (ops["eta_source"] == "none"), "op"].astype(str))))
    return RuntimePrediction(
        model=str(ops.attrs.get("model", "")), runtime=runtime,
        latency_s=model.total_s(ops, pl.partitions, pl.pools), ops=ops, placement=pl,
        invoke_s=model.invoke_s, dispatch_s=float(ops["dispatch_s"].sum()),
        kernel_s=float(ops["kernel_s"].sum()), partition_s=pl.partitions * model.per_partition_s,
        plain_roofline_s=plain, macs_only_s=float(ops["macs"].sum()) / model.peak_mac_s,
        missing=missing, pool_switch_s=switch_s)


__all__ = ["DELEGATE_UNIT", "RuntimePrediction", "placed_ops", "predict_artifact"]
