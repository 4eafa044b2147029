"""A validation population predicted from a runtime table alone (no whole-model fitting).

Each measured artifact (the very file that was timed) is read as the graph that runs, placed by
this host's runtime and timed with the table (:func:`edgekit.runtime.predict.predict_artifact`).
Beside the table's prediction the same graph's plain roofline (host P and B, no runtime terms)
is kept, and each model's error is attributed to an op class over the population
(:mod:`edgekit.validate.attribution`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from edgekit.runtime.efficiency import KernelModel

# The host runtimes a table can predict, as (bench runtime, XNNPACK on).
HOST_RUNTIMES: dict[str, tuple[str, bool]] = {
    "litert-xnnpack": ("litert", True), "litert-builtin": ("litert", False),
    "onnxruntime-cpu": ("onnxruntime", True),
}


@dataclass(frozen=True, slots=True)
class TablePredictions:
    """Per model: the table's prediction, the plain roofline of the same graph, the placement.

    Attributes:
        frame: one row per measured model: ``label, table_ms, graph_roofline_ms, partitions,
            ops_<unit>, fallback_ops, folded_ops, missing_ops, top_class, top_class_share,
            invoke_ms, dispatch_ms, partition_ms, pool_switches, pool_switch_ms, cold_weights_ms
            (what reading the weights from beyond the cache adds), error_class,
            error_class_share, error_class_delta_pct``.
        by_class: per label, predicted time per (op class, unit).
        missing: op types some model needed that the table has no point for.
    """

    frame: pd.DataFrame
    by_class: dict[str, pd.DataFrame]
    missing: tuple[str, ...]


def _counts(by_type: dict[str, int]) -> str:
    """Op types with counts as one CSV cell: ``HARD_SWISH:19;SOFTMAX:2``."""
    return ";".join(f"{k}:{v}" for k, v in by_type.items())


def predict_population(meas: pd.DataFrame, model: KernelModel, *, runtime: str,
                       threads: int) -> TablePredictions:
    """Predict every measured row (``label``, ``artifact``, ``latency_ms``) with the table."""
    import numpy as np
    import pandas as pd

    from edgekit.runtime.predict import predict_artifact
    from edgekit.validate.attribution import attribute_errors

    rows: list[dict[str, Any]] = []
    by_class: dict[str, pd.DataFrame] = {}
    missing: set[str] = set()
    for label, artifact in zip(meas["label"], meas["artifact"], strict=True):
        p = predict_artifact(str(artifact), model, runtime=runtime, threads=threads)
        pl = p.placement_summary()
        cls = p.by_class()
        by_class[str(label)] = cls
        missing.update(p.missing)
        top = cls.groupby("op_class")["time_s"].sum().sort_values(ascending=False)
        rows.append({"label": str(label), "table_ms": p.latency_ms,
                     "graph_roofline_ms": p.plain_roofline_s * 1e3,
                     "partitions": pl["partitions"],
                     **{f"ops_{u}": n for u, n in pl["ops_per_unit"].items()},
                     "fallback_ops": _counts(pl["fallback_ops"]),
                     "folded_ops": _counts(pl.get("folded_ops", {})),
                     "missing_ops": ",".join(p.missing),
                     "top_class": str(top.index[0]) if len(top) else "",
                     "top_class_share": float(top.iloc[0] / max(top.sum(), 1e-30)) if len(top)
                     else 0.0,
                     "invoke_ms": p.invoke_s * 1e3, "dispatch_ms": p.dispatch_s * 1e3,
                     "partition_ms": p.partition_s * 1e3,
                     "pool_switches": p.pool_switches, "pool_switch_ms": p.pool_switch_s * 1e3,
                     "cold_weights_ms": float(p.ops["weight_s"].sum()) * 1e3})
    frame = pd.DataFrame(rows)
    att = attribute_errors(list(frame["label"]), by_class, frame["table_ms"].to_numpy() / 1e3,
                           meas["latency_ms"].to_numpy(float) / 1e3)
    frame = frame.merge(att, on="label", how="left")
    for c in frame.columns:
        if c.startswith("ops_"):
            frame[c] = frame[c].fillna(0).astype(np.int64)
    return TablePredictions(frame, by_class, tuple(sorted(missing)))


def placement_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The placement summary of each model (for meta.json and the report)."""
    cols = [c for c in frame.columns if c.startswith("ops_")] + ["partitions", "pool_switches",
                                                                 "fallback_ops", "folded_ops"]
    return frame[["label", *cols]].to_dict(orient="records")


__all__ = ["HOST_RUNTIMES", "TablePredictions", "placement_rows", "predict_population"]
