"""Roofline figures: pure functions from tables to matplotlib Figures (Agg, object API).

Nothing here shows a window or touches pyplot's global state; callers save with
``fig.savefig(path)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from edgekit.report.tables import pareto_mask

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from edgekit.roofline.latency import LatencyEstimate

_KIND_COLOURS = {"compute": "tab:blue", "elementwise": "tab:orange", "movement": "tab:green",
                 "other": "tab:gray"}


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def roofline_chart(est: LatencyEstimate, *, title: str | None = None) -> Figure:
    """Layers of one model on one device: operational intensity vs attainable MAC/s.

    Each unfused layer is a point (size ~ its time, colour = its kind); the roof
    ``min(peak, intensity * bandwidth)`` is drawn and the ridge point marked.
    """
    dev = est.device
    lay = est.layers[(~est.layers["fused"]) & (est.layers["time_s"] > 0)]
    fig = _figure(7.0, 4.8)
    ax = fig.add_subplot()
    inten = lay["intensity"].to_numpy(float)
    finite = inten[np.isfinite(inten) & (inten > 0)]
    lo = max(min(finite.min() if finite.size else 0.1, dev.ridge_mac_per_byte or 1.0) / 4, 1e-3)
    hi = max(finite.max() if finite.size else 10.0, dev.ridge_mac_per_byte or 1.0) * 4
    x = np.logspace(math.log10(lo), math.log10(hi), 200)
    ax.plot(x, np.minimum(dev.peak_mac_s, x * dev.mem_bytes_s) / 1e9, color="black", lw=1.5,
            label="roof")
    if dev.ridge_mac_per_byte > 0:
        ax.axvline(dev.ridge_mac_per_byte, color="black", ls=":", lw=1)
        ax.annotate(f"ridge {dev.ridge_mac_per_byte:.1f} MAC/B", (dev.ridge_mac_per_byte,
                    dev.peak_mac_s / 1e9), textcoords="offset points", xytext=(4, -12), fontsize=8)
    attained = np.where(lay["time_s"] > 0, lay["macs"] / lay["time_s"], 0.0) / 1e9
    plot_x = np.clip(np.where(np.isfinite(inten), inten, hi), lo, hi)
    size = 10 + 300 * (lay["time_s"] / max(float(lay["time_s"].max()), 1e-30))
    for kind, colour in _KIND_COLOURS.items():
        m = (lay["kind"] == kind).to_numpy() & (attained > 0)
        if m.any():
            ax.scatter(plot_x[m], attained[m], s=size[m], c=colour, alpha=0.6, label=kind,
                       edgecolors="none")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("operational intensity (MACs/byte)")
    ax.set_ylabel("attained GMAC/s")
    ax.set_title(title or f"{est.model} on {dev.name}: {est.latency_s * 1e3:.2f} ms "
                 f"({est.memory_bound_fraction:.0%} memory-bound)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, which="both", alpha=0.2)
    return fig


def op_time_chart(est: LatencyEstimate, *, top: int = 12) -> Figure:
    """Time by ONNX op type, split into compute-bound and memory-bound time (horizontal bars)."""
    lay = est.layers
    agg = (lay.assign(mem=np.where(lay["bound"] == "memory", lay["time_s"], 0.0),
                      comp=np.where(lay["bound"] == "compute", lay["time_s"], 0.0))
              .groupby("op_type")[["mem", "comp", "time_s"]].sum()
              .sort_values("time_s", ascending=False).head(top).iloc[::-1])
    fig = _figure(7.0, 0.35 * len(agg) + 1.5)
    ax = fig.add_subplot()
    y = np.arange(len(agg))
    ax.barh(y, agg["comp"] * 1e3, color="tab:blue", label="compute-bound")
    ax.barh(y, agg["mem"] * 1e3, left=agg["comp"] * 1e3, color="tab:orange", label="memory-bound")
    ax.set_yticks(y, agg.index)
    ax.set_xlabel("time (ms)")
    ax.set_title(f"{est.model} on {est.device.name}: time by op type", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def latency_accuracy_panels(
    summary: pd.DataFrame, devices: Sequence[str] | None = None, *, ncols: int = 4,
    titles: dict[str, str] | None = None,
) -> Figure:
    """The paper's "Roofline Latency vs Accuracy": one panel per device, one colour per family.

    A model the device cannot run (``runnable`` False) is a hollow marker of its family's colour,
    outside the family's line and never on the Pareto front (:func:`~edgekit.report.tables.
    pareto_front`); the legend says so.

    Args:
        summary: the tidy table of :func:`edgekit.roofline.analyze` (needs ``model, family,
            device, latency_ms, top1``; ``runnable`` where known); rows without ``top1`` are
            left out.
        devices: panel order (default: the order of first appearance).
        titles: optional panel titles by device name.
    """
    from edgekit.report.tables import _runnable, pareto_front

    df = summary.dropna(subset=["top1"])
    runs = _runnable(df)
    fronts = pareto_front(df)
    devs = list(devices) if devices is not None else list(dict.fromkeys(summary["device"]))
    n = max(len(devs), 1)
    cols = min(ncols, n)
    rows = math.ceil(n / cols)
    fig = _figure(max(4.0 * cols, 7.0), 3.4 * rows + 0.9)
    families = sorted(df["family"].dropna().unique())
    cmap = _colours(len(families))
    colour = {f: cmap[i] for i, f in enumerate(families)}
    fig.suptitle("Roofline latency vs accuracy")
    for k, dev in enumerate(devs):
        ax = fig.add_subplot(rows, cols, k + 1)
        on_dev = (df["device"] == dev).to_numpy()
        sub = df[on_dev & runs.to_numpy()]
        for fam, g in sub.groupby("family"):
            g = g.sort_values("latency_ms")
            ax.plot(g["latency_ms"], g["top1"], "o-", ms=4, lw=1, color=colour[fam], label=fam)
        bad = df[on_dev & ~runs.to_numpy()]
        for fam, g in bad.groupby("family"):
            ax.scatter(g["latency_ms"], g["top1"], s=22, facecolors="none",
                       edgecolors=[colour[fam]], lw=1.0, label="cannot run (hollow)")
        if len(bad):  # the legend's entry: a grey hollow marker, whatever the family
            ax.scatter([], [], s=22, facecolors="none", edgecolors="grey", lw=1.0,
                       label="cannot run on this device (hollow)")
        front = fronts[fronts["device"] == dev]
        if len(front):
            ax.step(front["latency_ms"], front["top1"], where="post", color="black", lw=0.8,
                    ls="--", label="Pareto front")
            ax.scatter(front["latency_ms"], front["top1"], s=40, facecolors="none",
                       edgecolors="black", lw=0.8)
        ridge = summary.loc[summary["device"] == dev, "ridge_mac_per_byte"] \
            if "ridge_mac_per_byte" in summary else pd.Series(dtype=float)
        label = (titles or {}).get(dev) or (
            f"{dev} (RP {ridge.iloc[0]:.1f})" if len(ridge) else dev)
        ax.set_title(label, fontsize=9)
        ax.set_xscale("log")
        _plain_log_ticks(ax)
        ax.set_xlabel("roofline latency (ms)", fontsize=8)
        ax.set_ylabel("ImageNet top-1 (%)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.2)
    if families:
        handles, labels = [], []
        for ax in fig.axes:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                if lab not in labels and lab != "cannot run (hollow)":
                    handles.append(h)
                    labels.append(lab)
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 6),
                   fontsize=8)
    return fig


def _plain_log_ticks(ax: Any) -> None:
    """Log x ticks at 1-2-5 steps written as plain numbers (matplotlib's default minor labels
    overlap on a narrow panel)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=12))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _colours(n: int) -> list[tuple[float, float, float, float]]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def estimate_figures(est: LatencyEstimate) -> dict[str, Figure]:
    """The per-layer figures of one model on one device, by file name:
    ``roofline__<model>__<device>.png`` (:func:`roofline_chart`) and ``optime__<model>__<device>.png``
    (:func:`op_time_chart`), names made file-safe."""
    from edgekit.roofline.counting import safe_name

    stem = f"{safe_name(est.model)}__{safe_name(est.device.name)}"
    return {f"roofline__{stem}.png": roofline_chart(est), f"optime__{stem}.png": op_time_chart(est)}
