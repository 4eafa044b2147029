"""A runtime table's prediction rules: per-op kernel efficiency, dispatch and fixed costs.

Per op ``i`` placed on unit ``u(i)`` (:mod:`edgekit.runtime.placement`):

    t_i = c_u(i) + max(MACs_i / (eta_i P), bytes_i / (eta_i B)) + w_i c_b

(``w_i`` its weight bytes, ``c_b`` the table's cost per weight byte read from beyond the
cache: 0 where the runtime streams its weights at no cost of its own) and per invoke
``T = O + sum_i t_i + n_partitions * c_p`` (``roofline_time_s``, the one formula), where an op
that starts another thread pool's turn takes ``max(t_i, c_w)``, ``c_w`` the pool switch latency
(:mod:`edgekit.runtime.threadpools`). ``P`` and ``B`` are the host's measured peak MAC rate and
bandwidth; ``eta_i`` comes from the table's efficiency points (:mod:`edgekit.fit.kernel_fit`
fits them from micro-benchmarks): those of op ``i``'s own op type, op class and unit (a grouped
CONV_2D is not a dense one; else its op class on that unit, else its type and class on any
unit), by inverse-distance weighting of ``log eta`` over the nearest points in the space of
shape features (:data:`FEATURES`, log2), among the points of the op's own kernel size and
stride when there are any (kernels are specialised by filter size: efficiency jumps between
sizes). An op with no point is predicted by the plain roofline (``eta = 1``; its
``eta_source`` is ``none``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from edgekit.roofline.formula import roofline_time_s

if TYPE_CHECKING:
    import pandas as pd

# Shape features and their weights in the distance: a kernel size or stride mismatch matters
# more than a channel count (XNNPACK's depthwise kernels are specialised by kernel size).
FEATURES: tuple[tuple[str, float], ...] = (("kernel", 3.0), ("stride", 2.0), ("cin", 1.0),
                                           ("cout", 1.0), ("spatial", 1.0))
NEIGHBOURS = 3


def feature_matrix(ops: pd.DataFrame) -> np.ndarray:
    """The weighted log2 shape features of each op (rows of ``ops``)."""
    cols = [np.log2(1.0 + ops[name].to_numpy(float)) * w for name, w in FEATURES]
    return np.stack(cols, axis=1) if cols else np.zeros((len(ops), 0))


def roofline_s(ops: pd.DataFrame, peak_mac_s: float, mem_bytes_s: float,
               eta: np.ndarray | float = 1.0) -> np.ndarray:
    """Per-op ``max(MACs / (eta P), bytes / (eta B))`` (:func:`roofline_time_s`)."""
    return roofline_time_s(ops["macs"].to_numpy(float), ops["bytes"].to_numpy(float),
                           peak_mac_s, mem_bytes_s, eta)


class KernelModel:
    """A fitted runtime table's prediction rules (see the module docstring)."""

    def __init__(self, fit: dict[str, Any], peak_mac_s: float, mem_bytes_s: float) -> None:
        import pandas as pd

        self.fit = fit
        self.peak_mac_s = float(peak_mac_s)
        self.mem_bytes_s = float(mem_bytes_s)
        fixed = fit.get("fixed", {})
        self.invoke_s = float(fixed.get("invoke_s", 0.0))
        self.per_op_s: dict[str, float] = {k: float(v) for k, v in
                                           fixed.get("per_op_s", {}).items()}
        self.per_partition_s = float(fixed.get("per_partition_s", 0.0))
        self.per_pool_switch_s = float(fixed.get("per_pool_switch_s", 0.0))
        self.weight_s_per_byte = float(fixed.get("weight_s_per_byte", 0.0))
        self.threads = int(fit.get("threads", 1))
        self.points = pd.DataFrame(fit.get("points", []))
        if len(self.points):
            self._pf = feature_matrix(self.points)
            self._plog = np.log(self.points["eta"].to_numpy(float))

    def eta(self, ops: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Per op: its efficiency, and where it came from (``op`` / ``class`` / ``op-any-unit`` /
        ``none`` when no point matched: the plain roofline)."""
        n = len(ops)
        eta = np.ones(n)
        source = np.full(n, "none", dtype=object)
        if not len(self.points) or not n:
            return eta, source
        feats = feature_matrix(ops)
        p_op = self.points["op"].to_numpy(str)
        p_unit = self.points["unit"].to_numpy(str)
        p_cls = self.points["op_class"].to_numpy(str)
        for i, (op, unit, cls) in enumerate(zip(ops["op"].astype(str), ops["unit"].astype(str),
                                                ops["op_class"].astype(str), strict=True)):
            for label, mask in (("op", (p_op == op) & (p_cls == cls) & (p_unit == unit)),
                                ("class", (p_cls == cls) & (p_unit == unit)),
                                ("op-any-unit", (p_op == op) & (p_cls == cls))):
                if mask.any():
                    idx = self._same_filter(np.flatnonzero(mask), ops, i)
                    d = np.sqrt(((self._pf[idx] - feats[i]) ** 2).sum(axis=1))
                    near = np.argsort(d, kind="stable")[:NEIGHBOURS]
                    w = 1.0 / (d[near] + 0.25)
                    eta[i] = math.exp(float(np.sum(w * self._plog[idx][near]) / w.sum()))
                    source[i] = label
                    break
        return eta, source

    def _same_filter(self, idx: np.ndarray, ops: pd.DataFrame, i: int) -> np.ndarray:
        """Of the candidate points, those of op ``i``'s own kernel size and stride if any (else
        its kernel size, else all): kernels are specialised by filter size, so efficiency jumps
        between sizes (XNNPACK int8 depthwise: 0.09 at 5x5, 0.007 from 7x7 up on this host)
        instead of varying smoothly."""
        k = self.points["kernel"].to_numpy(float)[idx]
        s = self.points["stride"].to_numpy(float)[idx]
        kk, ss = float(ops["kernel"].iloc[i]), float(ops["stride"].iloc[i])
        for keep in ((k == kk) & (s == ss), k == kk):
            if keep.any():
                return idx[keep]
        return idx

    def op_times(self, ops: pd.DataFrame) -> pd.DataFrame:
        """``ops`` (an op table with a ``unit`` column) plus ``eta, eta_source, dispatch_s,
        weight_s, kernel_s, time_s``; ops with no unit (no run-time work) cost nothing, ``fused``
        ops (run inside their producer's kernel) no dispatch. ``weight_s`` (part of
        ``kernel_s``) is what reading the op's weights from beyond the cache adds: its weight
        bytes times the table's cold-weight cost per byte. Every weight is taken as cold: on
        this host MobileNetV2's fp32 network (14 MB of weights) runs only x1.05 slower when 100
        MB are streamed through the caches before each invoke, so its weights do not survive an
        invoke in the L3 it shares with the VM's neighbours."""
        live = ops["unit"].astype(str).to_numpy() != ""
        eta, source = self.eta(ops)
        wbytes = (ops["weight_bytes"].fillna(0).to_numpy(float) if "weight_bytes" in ops
                  else np.zeros(len(ops)))
        weight = np.where(live, wbytes * self.weight_s_per_byte, 0.0)
        kernel = np.where(live, roofline_s(ops, self.peak_mac_s, self.mem_bytes_s, eta),
                          0.0) + weight
        fused = (ops["fused"].to_numpy(bool) if "fused" in ops else np.zeros(len(ops), bool))
        dispatch = np.array([self.per_op_s.get(u, 0.0) if u and not f else 0.0
                             for u, f in zip(ops["unit"].astype(str), fused, strict=True)])
        return ops.assign(eta=eta, eta_source=np.where(live, source, ""), dispatch_s=dispatch,
                          weight_s=weight, kernel_s=kernel, time_s=kernel + dispatch)

    def switch_s(self, op_times: pd.DataFrame, pools: Sequence[str]) -> float:
        """What the thread-pool switches add (:func:`edgekit.runtime.threadpools.switch_penalty_s`
        with the table's switch latency and its threads' oversubscription); ``pools`` per op,
        empty for one pool."""
        from edgekit.runtime.threadpools import oversubscription, switch_penalty_s

        return switch_penalty_s(op_times["time_s"].to_numpy(float), pools, self.per_pool_switch_s,
                                oversubscription(self.threads))

    def total_s(self, op_times: pd.DataFrame, partitions: int,
                pools: Sequence[str] = ()) -> float:
        """Invoke + the ops' times + the partitions' cost + what the thread-pool switches add."""
        return float(self.invoke_s + op_times["time_s"].sum() + partitions * self.per_partition_s
                     + self.switch_s(op_times, pools))



__all__ = ["FEATURES", "NEIGHBOURS", "KernelModel", "feature_matrix", "roofline_s"]


# --- a runtime table as a prior for a device that cannot run here (phone CPUs) -----------------
# The TFLite op an ONNX layer-table row becomes (the ops a runtime table's points are keyed by).
TFLITE_OF_ONNX: dict[str, str] = {
    "Conv": "CONV_2D", "ConvTranspose": "TRANSPOSE_CONV", "Gemm": "FULLY_CONNECTED",
    "Add": "ADD", "Sub": "SUB", "Mul": "MUL", "Div": "DIV", "Pow": "MUL", "Sqrt": "RSQRT",
    "Exp": "EXP", "Erf": "GELU", "Gelu": "GELU", "Tanh": "TANH", "Sigmoid": "LOGISTIC",
    "HardSigmoid": "HARD_SWISH", "HardSwish": "HARD_SWISH", "Relu": "RELU", "Clip": "RELU6",
    "Softmax": "SOFTMAX", "ReduceMean": "MEAN", "GlobalAveragePool": "MEAN",
    "AveragePool": "AVERAGE_POOL_2D", "MaxPool": "MAX_POOL_2D", "LayerNormalization": "MEAN",
    "BatchNormalization": "MUL", "Transpose": "TRANSPOSE", "Reshape": "RESHAPE",
    "Concat": "CONCATENATION", "Slice": "STRIDED_SLICE", "Split": "SPLIT", "Pad": "PAD",
    "Resize": "RESIZE_BILINEAR", "Gather": "GATHER",
}


def tflite_op(op_type: str, op_class: str) -> str:
    """The TFLite op name of an ONNX row (products and convolutions by their op class)."""
    if op_class == "depthwise":
        return "DEPTHWISE_CONV_2D"
    if op_class == "linear":
        return "FULLY_CONNECTED"
    if op_class == "matmul":
        return "BATCH_MATMUL"
    return TFLITE_OF_ONNX.get(op_type, op_type)


@functools.cache
def packaged_table(name: str) -> KernelModel:
    """A runtime table shipped with edgekit (``edgekit/data/runtime-tables/<name>.json``)."""
    from pathlib import Path

    from edgekit.errors import ConfigError, did_you_mean
    from edgekit.runtime.table import read_table

    folder = Path(__file__).resolve().parents[1] / "data" / "runtime-tables"
    path = folder / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.json"))
        raise ConfigError(f"no packaged runtime table '{name}'{did_you_mean(name, known)} "
                          f"(packaged: {', '.join(known) or 'none'})")
    t = read_table(path)
    return KernelModel(t.fit, t.peak_mac_s, t.mem_bytes_s)


def _count(value: Any, default: int) -> int:
    """A layer-table count as an int; ``default`` where it is missing (a table built by hand)."""
    return default if value is None or math.isnan(float(value)) else int(value)


def shape_features(t: pd.DataFrame) -> dict[str, list[int]]:
    """Per layer-table row: ``kernel, stride, cin, cout, spatial, out_elems`` (the runtime
    model's shape features), from the row's counts, ``out_shape`` and ``groups``."""
    from edgekit.roofline.counting import out_dims
    from edgekit.roofline.opclass import OpClass

    dims = [out_dims(s) for s in t["out_shape"]]
    cout = [d[1] if len(d) == 4 else (d[-1] if d else 0) for d in dims]
    out_elems = [int(np.prod(d)) if d else 0 for d in dims]
    spatial = [e // c if c else e for e, c in zip(out_elems, cout, strict=True)]
    kernel = [_count(k, 0) for k in t["kernel"]]
    cin = []
    for i, (cls, macs, groups) in enumerate(zip(t["op_class"], t["macs"], t["groups"],
                                                strict=True)):
        if cls in (OpClass.LINEAR.value, OpClass.MATMUL.value) and macs:
            cin.append(int(macs // max(out_elems[i], 1)))
        elif cls in (OpClass.DENSE_CONV.value, OpClass.GROUPED_CONV.value) and kernel[i]:
            cin.append(int(macs // max(out_elems[i] * kernel[i] ** 2, 1)) * max(_count(groups, 1), 1))
        else:
            cin.append(cout[i])
    return {"kernel": kernel, "stride": [_count(s, 1) for s in t["stride"]], "cin": cin, "cout": cout,
            "spatial": spatial, "out_elems": out_elems}


# Ops whose kernels are specialised by filter size: a device fit that saw 3x3 and 5x5 depthwise
# convolutions says nothing of a 7x7 one (host XNNPACK int8, restated at pixel6-cpu's P and B:
# 7x7 and larger run at 1/12-1/20 of the 3x3 and 5x5 rate).
KERNEL_KEYED = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D"})
# Op classes that run from the MAC rate; every other class streams memory.
COMPUTE_CLASSES = frozenset({"dense_conv", "grouped_conv", "linear", "matmul"})


def prior_key(op: str, op_class: str, unit: str, kernel: float) -> str:
    """How a device fit's coverage is written (``[runtime_costs] kernel_covered``):
    ``OP/class/unit``, with ``/kK`` for the ops of :data:`KERNEL_KEYED` (a grouped CONV_2D is
    not a dense one), e.g. ``DEPTHWISE_CONV_2D/depthwise/xnnpack/k5``."""
    base = f"{op}/{op_class}/{unit}"
    return f"{base}/k{int(kernel)}" if op in KERNEL_KEYED else base


PRIOR_KEY_RE = r"^[A-Z0-9_]+/[a-z_]+/[a-z0-9_]+(/k[0-9]+)?$"


@functools.cache
def rebased_table(name: str, peak_mac_s: float, mem_bytes_s: float) -> KernelModel:
    """A packaged table with every point's efficiency restated against another device's rates:
    ``eta = max(MACs / P, bytes / B) / measured op time``. Between two ops, the ratio of these
    is the ratio of how fast the host ran each against how fast that device's roofline says it
    should, whichever rate bounds each op there (a 3x3 depthwise conv can be bound by memory on
    the host and by compute on a phone)."""
    base = packaged_table(name)
    pts = base.points
    fit = dict(base.fit)
    if len(pts):
        if "op_s" not in pts:
            raise ValueError(f"packaged runtime table '{name}' has no measured op times "
                             "(op_s) to restate its efficiencies from")
        roof = roofline_s(pts, peak_mac_s, mem_bytes_s)
        op_s = pts["op_s"].to_numpy(float)
        ok = (op_s > 0) & (roof > 0)  # a point with no time or no work says nothing of a rate
        fit["points"] = pts[ok].assign(eta=roof[ok] / op_s[ok]).to_dict("records")
    return KernelModel(fit, peak_mac_s, mem_bytes_s)


def prior_ops(layers: pd.DataFrame, table: str,
              rates: tuple[float, float] | None = None) -> pd.DataFrame:
    """Per layer-table row, the op a packaged table prices it as: ``op`` (the TFLite op it
    becomes, :func:`tflite_op`), ``unit`` (where that op ran when the table was measured: the
    runtime's placement; XNNPACK's is the same code on ARM as on x86), ``op_class``, the shape
    features, ``key`` (:func:`prior_key`), and the table's ``eta`` with its ``eta_source``
    (restated at ``rates = (P, B)`` when given, :func:`rebased_table`)."""
    import pandas as pd

    model = packaged_table(table) if rates is None else rebased_table(table, *rates)
    pts = model.points
    unit_of = (pts.groupby("op")["unit"].agg(lambda u: u.value_counts().index[0]).to_dict()
               if len(pts) else {})
    ops = pd.DataFrame({"op": [tflite_op(str(o), str(c)) for o, c in
                               zip(layers["op_type"], layers["op_class"], strict=True)],
                        "op_class": layers["op_class"].astype(str).to_numpy(),
                        **shape_features(layers)})
    ops["unit"] = [unit_of.get(o, "xnnpack") for o in ops["op"]]
    ops["key"] = [prior_key(o, c, u, k) for o, c, u, k in
                  zip(ops["op"], ops["op_class"], ops["unit"], ops["kernel"], strict=True)]
    eta, source = model.eta(ops) if len(pts) else (np.ones(len(ops)), np.full(len(ops), "none"))
    return ops.assign(eta=eta, eta_source=source)


def covered_keys(layers: Sequence[pd.DataFrame], table: str) -> list[str]:
    """The op keys (:func:`prior_key`) of the rows that cost time in ``layers`` (roofline
    ``estimate_latency(...).layers`` tables): what a device fit to those models has seen."""
    keys: set[str] = set()
    for t in layers:
        live = t["time_s"].to_numpy(float) > 0
        keys.update(prior_ops(t[live], table)["key"])
    return sorted(keys)


def _anchor(pts: pd.DataFrame, covered: frozenset[str], op: str, op_class: str, unit: str
            ) -> float:
    """The geometric-mean ``eta`` of the table's points a device fit already covers that are
    most like an uncovered op: its own op type (other kernel sizes), else its op class on its
    unit, else dense convolution (compute classes) or elementwise ops (the streaming ones)."""
    pkey = pts["key"].to_numpy(str)
    cov = np.array([k in covered for k in pkey])
    p_op, p_cls, p_unit = (pts[c].to_numpy(str) for c in ("op", "op_class", "unit"))
    fallback = (p_cls == "dense_conv") if op_class in COMPUTE_CLASSES else (
        (p_cls == "elementwise") & (p_unit == unit))
    for mask in (p_op == op, (p_cls == op_class) & (p_unit == unit), fallback):
        m = cov & mask
        if m.any():
            return float(np.exp(np.mean(np.log(pts["eta"].to_numpy(float)[m]))))
    return math.nan


def relative_efficiency(layers: pd.DataFrame, table: str, covered: Sequence[str] = (),
                        rates: tuple[float, float] | None = None) -> np.ndarray:
    """Per layer-table row, the efficiency a packaged runtime table gives it relative to the
    profile's own ``P`` and ``B`` (``[runtime_costs] kernel_table``): the prior of a device that
    cannot run here.

    Without ``covered``, each row's table efficiency relative to the table's dense convolutions
    (for a table measured on the device itself). With ``covered`` (``kernel_covered``: the op
    keys the profile's own fit saw, :func:`covered_keys`), the prior touches only what that fit
    could not: a row whose key is covered keeps ``eta = 1`` (the fit's ``P`` and ``B`` already
    hold it); an uncovered row placed on the accelerated unit whose own op type the table
    measured (``eta_source == "op"``) takes ``min(1, eta / eta_anchor)``, ``eta_anchor`` that
    of the most similar covered points (:func:`_anchor`), both restated at the profile's
    ``rates = (P, B)`` (:func:`rebased_table`; required with ``covered``). The prior only slows
    an op: the fit's rates are the fastest the device was seen to reach. Every other row keeps
    1: one the table prices only by its class, one with no covered anchor, and one on the
    built-in kernels, whose host builds are x86 code (int8 HARD_SWISH at 1/36 of XNNPACK's
    sigmoid rate here, scalar), not the phone's NEON kernels.
    """
    if covered and rates is None:
        raise ValueError("a covered prior needs the profile's rates (P, B)")
    ops = prior_ops(layers, table, rates if covered else None)
    if not len(ops):
        return np.ones(0)
    eta, source = ops["eta"].to_numpy(float), ops["eta_source"].to_numpy(str)
    if not covered:
        pts = packaged_table(table).points
        conv = pts[(pts["op"] == "CONV_2D") & (pts["op_class"] == "dense_conv")]
        ref = float(np.exp(np.median(np.log(conv["eta"])))) if len(conv) else 1.0
        return np.where(source == "none", 1.0, eta / ref)
    pts = rebased_table(table, *rates).points  # type: ignore[misc]
    pts = pts.assign(key=[prior_key(o, c, u, k) for o, c, u, k in
                          zip(pts["op"], pts["op_class"], pts["unit"], pts["kernel"],
                              strict=True)])
    cov = frozenset(covered)
    out = np.ones(len(ops))
    anchors: dict[tuple[str, str, str], float] = {}
    for i, (key, op, cls, unit) in enumerate(zip(ops["key"], ops["op"], ops["op_class"],
                                                 ops["unit"], strict=True)):
        if key in cov or source[i] != "op" or unit != "xnnpack":
            continue
        if (op, cls, unit) not in anchors:
            anchors[op, cls, unit] = _anchor(pts, cov, op, cls, unit)
        a = anchors[op, cls, unit]
        if math.isfinite(a):
            out[i] = min(1.0, eta[i] / a)
    return out


def prior_effect(layers: pd.DataFrame) -> pd.DataFrame:
    """What a kernel-table prior did to one estimate (``estimate_latency(...).layers`` of a
    profile with ``kernel_table``): per op key it slowed, ``count``, the median slowdown
    ``factor`` (``1 / eta``) and ``added_s``, the time it added; slowest first. Empty when the
    profile has no prior or it slowed nothing."""
    import pandas as pd

    cols = ["key", "count", "factor", "added_s"]
    table = layers.attrs.get("kernel_table")
    if not table or "efficiency" not in layers or not len(layers):
        return pd.DataFrame(columns=cols)
    eff = layers["efficiency"].to_numpy(float)
    slowed = (eff < 1.0) & (layers["time_s"].to_numpy(float) > 0)
    if not slowed.any():
        return pd.DataFrame(columns=cols)
    rows = layers[slowed]
    df = pd.DataFrame({"key": prior_ops(rows, table)["key"].to_numpy(),
                       "factor": 1.0 / eff[slowed],
                       "added_s": rows["time_s"].to_numpy(float) * (1.0 - eff[slowed])})
    out = df.groupby("key").agg(count=("factor", "size"), factor=("factor", "median"),
                                added_s=("added_s", "sum")).reset_index()
    return out.sort_values("added_s", ascending=False, kind="stable")[cols].reset_index(drop=True)


__all__ += ["COMPUTE_CLASSES", "KERNEL_KEYED", "TFLITE_OF_ONNX", "covered_keys", "packaged_table",
            "prior_effect", "prior_key", "prior_ops", "rebased_table", "relative_efficiency", "shape_features", "tflite_op"]
