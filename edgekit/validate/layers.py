"""Compare measured (onnxruntime profiler) with predicted time per roofline layer-table row.

The profiler reports time per ONNX node of the artifact that ran; :func:`node_to_row` maps each
node to the layer-table row of the same name, or, for an op the roofline fused into its producer
(or one onnxruntime added), to the row of the nearest producer that has one. bench times
onnxslim-simplified graphs, whose fused nodes are renamed after their output tensor
(``/stages/0/fc2/Conv_output_0``); the ``_output_N`` suffix is stripped to find the row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from edgekit.fit.costs import ModelCosts, predict_layers_s
from edgekit.fit.stats import spearman
from edgekit.validate.measure import log_stderr

if TYPE_CHECKING:
    import onnx
    import pandas as pd

    from edgekit.fit.roofline_fit import RooflineFit
    from edgekit.validate.population import Entry

MAX_PRODUCER_HOPS = 6  # how far up the graph a node without a row looks for one
_OUTPUT_SUFFIX = re.compile(r"_output_\d+$")  # onnxslim names a fused node after its output


def node_to_row(graph: onnx.GraphProto, names: Sequence[str]) -> Callable[[str], int | None]:
    """A function from an ONNX node name of ``graph`` to the index of its row in ``names``."""
    index = {n: i for i, n in enumerate(names)}
    producer = {o: n for n in graph.node for o in n.output}
    by_name = {n.name: n for n in graph.node}

    def to_row(node: str, depth: int = 0) -> int | None:
        if node in index:
            return index[node]
        base = _OUTPUT_SUFFIX.sub("", node)
        if base != node and base in index:
            return index[base]
        n = by_name.get(node)
        if n is None or depth > MAX_PRODUCER_HOPS:
            return None
        for t in n.input:  # an op the roofline fused into its producer
            if t in producer:
                return to_row(producer[t].name, depth + 1)
        return None

    return to_row


def layer_comparison(entries: Sequence[Entry], meas: pd.DataFrame, estimates: Mapping[str, Any],
                     costs: Mapping[str, ModelCosts], fit: RooflineFit | None, *, threads: int,
                     log: Callable[[str], None] = log_stderr) -> pd.DataFrame:
    """Measured (ORT profiler) against predicted time per roofline layer row, every model.

    Args:
        entries: the measured entries.
        meas: their measurements (columns ``label`` and ``artifact``, the ONNX file timed).
        estimates: the calibrated profile's ``LatencyEstimate`` of each entry, by label.
        costs: each entry's :class:`~edgekit.fit.costs.ModelCosts`, by label.
        fit: the fitted roofline whose per-layer prediction is added as ``fitted_ms``.
        threads: onnxruntime intra-op threads for profiling.
        log: progress lines.
    """
    import onnx
    import pandas as pd

    from edgekit.bench.runners import profile_onnxruntime

    frames = []
    for e in entries:
        row = meas[meas["label"] == e.label].iloc[0]
        layers = estimates[e.label].layers.reset_index(drop=True)
        to_row = node_to_row(onnx.load(row["artifact"], load_external_data=False).graph,
                             list(layers["name"]))
        prof = profile_onnxruntime(row["artifact"], threads=threads, runs=5, warmup=2)
        measured = [0.0] * len(layers)
        unmapped = 0.0
        for node, t in zip(prof["onnx_node"], prof["time_ms"], strict=True):
            i = to_row(node)
            if i is None:
                unmapped += t
            else:
                measured[i] += t
        df = layers[[c for c in ("name", "op_type", "kind", "macs", "bytes", "intensity")
                     if c in layers]].copy()
        df.insert(0, "label", e.label)
        df["op_class"] = layers["op_class"].to_numpy()
        df["fit_group"] = list(costs[e.label].fit_group)
        df["measured_ms"] = measured
        df["calibrated_ms"] = layers["time_s"].to_numpy() * 1e3
        if fit is not None:
            df["fitted_ms"] = predict_layers_s(costs[e.label], fit.peak_mac_s, fit.mem_bytes_s,
                                               fit.factors) * 1e3
        df["unmapped_model_ms"] = unmapped
        frames.append(df)
        log(f"[layers] {e.label}: {len(prof)} ORT nodes, {unmapped:.2f} ms not mapped to a row")
    return pd.concat(frames, ignore_index=True)


def layer_summary(layers: pd.DataFrame) -> pd.DataFrame:
    """Per-layer rank agreement of each predictor with the measured layer times.

    One row per predictor (``calibrated``, ``fitted``): Spearman's r_s pooled over every measured
    layer, its median over models (those with at least 3 measured layers), and MACs' pooled r_s.
    """
    import numpy as np
    import pandas as pd

    rows = []
    for col in ("calibrated_ms", "fitted_ms"):
        ok = layers[layers["measured_ms"] > 0]
        per_model = [spearman(g[col], g["measured_ms"]) for _, g in ok.groupby("label")
                     if len(g) >= 3]
        rows.append({"predictor": col.removesuffix("_ms"),
                     "layer_r_s_pooled": spearman(ok[col], ok["measured_ms"]),
                     "layer_r_s_median_per_model": float(np.nanmedian(per_model)),
                     "layer_r_s_macs_pooled": spearman(ok["macs"], ok["measured_ms"]),
                     "layers": int(len(ok))})
    return pd.DataFrame(rows)


__all__ = ["MAX_PRODUCER_HOPS", "layer_comparison", "layer_summary", "node_to_row"]
