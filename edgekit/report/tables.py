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


def _runnable(summary: pd.DataFrame) -> pd.Series:
    """The ``runnable`` column as booleans (True where a table predates the column)."""
    if "runnable" not in summary:
        return pd.Series(True, index=summary.index)
    col = summary["runnable"]
    if col.dtype == object:  # read back from CSV/JSON as strings
        col = col.map(lambda v: str(v).strip().lower() not in ("false", "0", "no"))
    return col.fillna(True).astype(bool)


def marked_pivot(wide: pd.DataFrame, summary: pd.DataFrame, mark: str = "*") -> pd.DataFrame:
    """:func:`latency_pivot` rendered as text, a model the device cannot run marked with ``mark``.

    Every column but ``model``, ``resolution`` and ``top1`` is formatted with 3 significant
    digits (``-`` where empty); a latency cell gets ``mark`` where the summary's ``runnable`` is
    False for that model and device.
    """
    bad = set(zip(summary.loc[~_runnable(summary), "model"],
                  summary.loc[~_runnable(summary), "device"], strict=True))
    devices = set(summary["device"])
    out = wide.copy()
    for c in out.columns:
        if c in ("model", "resolution", "top1"):
            continue
        out[c] = [("-" if v != v else f"{v:.3g}") + (mark if (m, c) in bad and c in devices
                                                    else "")
                  for m, v in zip(out["model"], out[c], strict=True)]
    return out


def pareto_front(summary: pd.DataFrame) -> pd.DataFrame:
    """Per device, the latency/accuracy Pareto front of the models the device can run.

    Rows without ``top1`` and rows whose ``runnable`` is False never enter a front. Returns the
    front's rows (sorted by device, then latency) with every column of ``summary``.
    """
    ok = summary[_runnable(summary)].dropna(subset=["top1"])
    fronts = [g[pareto_mask(g["latency_ms"], g["top1"])]
              for _, g in ok.groupby("device", sort=False)]
    if not fronts:
        return summary.iloc[0:0]
    return pd.concat(fronts).sort_values(["device", "latency_ms"], kind="stable")


BUDGETS_MS = (1.0, 2.0, 5.0, 10.0, 30.0)


def best_models(summary: pd.DataFrame, budgets_ms: tuple[float, ...] = BUDGETS_MS
                ) -> pd.DataFrame:
    """Per device and latency budget, the most accurate runnable model that fits the budget.

    Returns one row per device x budget: ``device, budget_ms, model, latency_ms, top1,
    fitting_models`` (how many runnable models, with or without a published top-1, predict within
    the budget) and ``fitting`` (their names, fastest first). ``model`` is empty where no model
    with a published top-1 fits. Models the device cannot run are never counted.
    """
    ok = summary[_runnable(summary)]
    rows = []
    for dev, g in ok.groupby("device", sort=False):
        for b in budgets_ms:
            fit = g[g["latency_ms"] <= b].sort_values("latency_ms", kind="stable")
            acc = fit.dropna(subset=["top1"])
            best = (acc.sort_values(["top1", "latency_ms"], ascending=[False, True],
                                    kind="stable").iloc[0] if len(acc) else None)
            rows.append({"device": dev, "budget_ms": b,
                         "model": best["model"] if best is not None else "",
                         "latency_ms": best["latency_ms"] if best is not None else np.nan,
                         "top1": best["top1"] if best is not None else np.nan,
                         "fitting_models": len(fit), "fitting": " ".join(fit["model"])})
    return pd.DataFrame(rows, columns=["device", "budget_ms", "model", "latency_ms", "top1",
                                       "fitting_models", "fitting"])


def changes_since(previous: pd.DataFrame | None, summary: pd.DataFrame,
                  threshold: float = 0.05) -> dict[str, pd.DataFrame | list[str]]:
    """What changed from a previous roofline table to this one.

    Returns ``models_added``, ``models_removed``, ``devices_added``, ``devices_removed`` (sorted
    names) and ``moved``: the model x device rows in both whose latency moved by more than
    ``threshold`` (relative), with ``previous_ms``, ``latency_ms`` and ``change_pct``.
    """
    empty = pd.DataFrame(columns=["model", "device", "previous_ms", "latency_ms", "change_pct"])
    if previous is None or not {"model", "device", "latency_ms"} <= set(previous.columns):
        return {"models_added": [], "models_removed": [], "devices_added": [],
                "devices_removed": [], "moved": empty}
    pm, cm = set(previous["model"]), set(summary["model"])
    pd_, cd = set(previous["device"]), set(summary["device"])
    both = summary[["model", "device", "latency_ms"]].merge(
        previous[["model", "device", "latency_ms"]].rename(columns={"latency_ms": "previous_ms"}),
        on=["model", "device"])
    both["change_pct"] = 100 * (both["latency_ms"] / both["previous_ms"] - 1)
    moved = both[both["change_pct"].abs() > 100 * threshold]
    return {"models_added": sorted(cm - pm), "models_removed": sorted(pm - cm),
            "devices_added": sorted(cd - pd_), "devices_removed": sorted(pd_ - cd),
            "moved": moved[["model", "device", "previous_ms", "latency_ms", "change_pct"]]
            .sort_values("change_pct", key=abs, ascending=False).reset_index(drop=True)}
