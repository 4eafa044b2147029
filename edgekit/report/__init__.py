"""Report helpers: tables (DataFrame -> DataFrame) and figures (-> matplotlib Figure, Agg)."""

from __future__ import annotations

from edgekit.report.tables import compare_published, latency_pivot, pareto_mask

__all__ = [
    "compare_published", "latency_accuracy_panels", "latency_pivot", "op_time_chart",
    "pareto_mask", "roofline_chart",
]


def __getattr__(name: str):  # noqa: ANN202 - figures load matplotlib lazily
    if name in ("roofline_chart", "op_time_chart", "latency_accuracy_panels"):
        from edgekit.report import figures

        return getattr(figures, name)
    raise AttributeError(f"module 'edgekit.report' has no attribute '{name}'")
