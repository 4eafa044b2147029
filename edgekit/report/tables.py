"""Table helpers: pure functions DataFrame -> DataFrame."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd


def pareto_mask(latency: pd.Series | np.ndarray, accuracy: pd.Series | np.ndarray) -> np.ndarray:
    """True where no other point is at least as fast and at least as accurate, and better in one."""
    lat = np.asarray(latency, dtype=float)
    acc = np.asarray(accuracy, dtype=float)
    keep = np.ones(len(lat), dtype=bool)
    for i in range(len(lat)):
        dominated = (lat <= lat[i]) & (acc >= acc[i]) & ((lat < lat[i]) | (acc > acc[i]))
        keep[i] = not dominated.any()
    return keep


def latency_pivot(summary: pd.DataFrame, value: str = "latency_ms") -> pd.DataFrame:
    """Models as rows (with resolution, MACs, params, top-1), one column per device."""
    info = (summary.groupby("model", sort=False)
            .agg(resolution=("resolution", "first"), macs_g=("macs", "first"),
                 params_m=("params", "first"), top1=("top1", "first")))
    info["macs_g"] = info["macs_g"] / 1e9
    info["params_m"] = info["params_m"] / 1e6
    wide = summary.pivot_table(index="model", columns="device", values=value, sort=False)
    wide = wide[list(dict.fromkeys(summary["device"]))]
    return info.join(wide).reset_index()


def compare_published(summary: pd.DataFrame, published: str | os.PathLike[str] | pd.DataFrame
                      ) -> pd.DataFrame:
    """Predicted latency beside published measurements (``shared/data/published_latency_*.csv``).

    Returns one row per model x device present in both, with ``predicted_ms``, ``published_ms``
    (empty where the publication reports none), ``status`` and ``ratio`` (predicted / published).
    """
    pub = published if isinstance(published, pd.DataFrame) else pd.read_csv(published)
    pub = pub.rename(columns={"latency_ms": "published_ms"})
    keep = [c for c in ("model", "device", "published_ms", "status", "source") if c in pub]
    pred = summary[["model", "device", "resolution", "latency_ms"]].rename(
        columns={"latency_ms": "predicted_ms"})
    out = pred.merge(pub[keep], on=["model", "device"], how="inner")
    out["ratio"] = out["predicted_ms"] / out["published_ms"]
    return out
