"""Validation figures: predicted against measured latency, a pure function to a Figure (Agg).

The figure is built with matplotlib's object API on an Agg canvas; nothing here selects a backend
or touches pyplot's global state. Callers save with ``fig.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

# Prediction columns of ``Validation.predictions`` drawn in the scatter plot, with their legends.
SCATTER_COLUMNS: Mapping[str, str] = MappingProxyType({
    "table_ms": "runtime table (micro-benchmarks only)",
    "calibrated_ms": "roofline, calibrated profile",
    "roofline_loo_ms": "roofline, fitted (LOO)",
    "roofline+classes_loo_ms": "roofline + op classes, fitted (LOO)",
    "macs_only_ms": "MACs only (scaled)",
})


def scatter_figure(pred: pd.DataFrame, columns: Mapping[str, str] = SCATTER_COLUMNS) -> Figure:
    """Predicted against measured latency, log-log, one marker set per predictor column.

    Args:
        pred: one row per model with ``latency_ms`` (measured) and the prediction columns.
        columns: ``{column: legend label}``; columns absent from ``pred`` are skipped.
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 6))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    m = pred["latency_ms"].to_numpy()
    lo, hi = float(m.min()) / 2, float(m.max()) * 2
    for col, label in columns.items():
        if col in pred:
            ax.scatter(m, pred[col], s=18, label=label, alpha=0.8)
    xs = np.array([lo, hi])
    ax.plot(xs, xs, color="k", lw=1)
    ax.fill_between(xs, xs * 0.75, xs * 1.25, color="grey", alpha=0.15, label="±25%")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("measured latency (ms)")
    ax.set_ylabel("predicted latency (ms)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return fig


__all__ = ["SCATTER_COLUMNS", "scatter_figure"]
