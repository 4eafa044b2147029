"""The validation scatter figure: object API on an Agg canvas, one marker set per predictor."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from edgekit.report.validation_figures import SCATTER_COLUMNS, scatter_figure


def test_scatter_figure(tmp_path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    pred = pd.DataFrame({"latency_ms": [1.0, 2.0, 8.0], "calibrated_ms": [1.2, 1.5, 9.0],
                         "macs_only_ms": [0.5, 3.0, 7.0]})
    fig = scatter_figure(pred)
    assert isinstance(fig.canvas, FigureCanvasAgg)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    # Columns absent from the table (the fitted ones here) are skipped.
    assert labels == [SCATTER_COLUMNS["calibrated_ms"], SCATTER_COLUMNS["macs_only_ms"], "±25%"]
    assert ax.get_xlim() == (0.5, 16.0) and ax.get_xscale() == "log"
    fig.savefig(tmp_path / "s.png", dpi=50)
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
