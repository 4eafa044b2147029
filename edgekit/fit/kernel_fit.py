"""Kernel efficiencies and fixed costs of a runtime, fit from micro-benchmark timings.

Input: one timed single-op model per case (:mod:`edgekit.bench.kernels`), each with the op table
of the graph that ran (:mod:`edgekit.runtime.tflite_graph`) and its placement
(:mod:`edgekit.runtime.placement`). The model every prediction uses
(:mod:`edgekit.runtime.predict`) is, per op ``i`` placed on unit ``u(i)``:

    t_i = c_u(i) + max(MACs_i / (eta_i P), bytes_i / (eta_i B))

and per invoke ``T = O + sum_i (t_i + w_i c_b) + n_partitions * c_p``, where ``w_i c_b`` is what
reading its ``w_i`` weight bytes from beyond the cache adds (in a network every op's weights
are cold: it touches each of them once per invoke), and an op that starts another thread pool's
turn takes ``max(t_i + w_i c_b, c_w)``. ``P`` and ``B`` are this host's measured peak MAC
rate and bandwidth (``edgekit calibrate``); ``eta_i`` is the efficiency of op ``i``'s kernel,
which depends on its type, its unit and its shape.

The fit, in four steps:

1. **Fixed costs** ``O`` (per invoke), ``c_u`` (per op on each unit) and ``c_p`` (per partition):
   non-negative least squares over the cases whose plain-roofline work is negligible (chains of
   tiny ops, alternating placements), ``T = O + sum_u n_u c_u + n_p c_p``.
2. **Efficiency points**: in every other case the op of the case's op class with the largest
   roofline time is the one measured. Its time is the runtime profiler's kernel time for that
   node where the timings carry one (``node_s``: onnxruntime, which runs a case's layout
   transpose inside its NCHWc reorder, so no predicted Transpose may be subtracted), else what
   the case took beyond the fixed costs and the other ops' predicted time; ``eta = roofline
   time / that time``. Each point keeps the op's shape features.
   A case whose op time is lost in the noise of its other ops (below 2% of the case, or an
   efficiency outside 1e-4..10) gives no point and is listed as unresolved, unless some of
   those ops had no point of their own type (predicted from their class's points): then they
   and the measured op share one efficiency, the case's, and each gets a point at it
   (:func:`_shared_points`: an int8 ``exp`` case's DEQUANTIZE, float EXP and QUANTIZE).
3. **Thread-pool switch latency** ``c_w`` (:mod:`edgekit.runtime.threadpools`): each pair of
   ``pool_chain`` cases holds the same ops, alternating between two thread pools or in two
   blocks, so their difference ``T_alt - T_blk`` is what the extra switches add, with the ops'
   work cancelled. An op starting a pool's turn shares the cores for its first ``c_w`` of work,
   at ``f`` times its speed, ``f`` the fair-share oversubscription of the threads (1.5 at 2:
   :func:`edgekit.runtime.threadpools.oversubscription`), and cannot end before ``c_w``
   (:func:`edgekit.runtime.threadpools.switch_penalty_s`); ``c_w`` solves
   ``sum_alt penalty_i(c_w) - sum_blk penalty_i(c_w) = T_alt - T_blk`` over those ops (``t_i``
   from step 2's points), and is the median over the pairs (0 without pairs, or where the
   placement has no switches: onnxruntime, 1 thread).
4. **Cold weights** ``c_b`` (seconds per weight byte): each pair of ``weight_chain`` cases holds
   the same ``n`` convolutions, all with one set of weights (``shared``: in the cache after the
   first invoke) or each with its own (``distinct``: ``n`` times the bytes, beyond the cache), so
   ``c_b = (T_distinct - T_shared) / W_distinct`` over the distinct case's weight bytes, at least
   0; the median over the pairs (0 without pairs: tables measured before them). On a unit that
   packs its own copy of the weights for every op (XNNPACK, :data:`PACKS_WEIGHTS_PER_OP`) the
   shared chain is as cold as the distinct one, so the warm reference is the distinct chain
   predicted from the single-op points instead of ``T_shared``. The efficiency
   points stay those of single-op cases, whose weights are warm (9.4 MB at most), so ``c_b`` is
   not counted twice. At int8 the distinct chain's 9.4 MB fit within this host's 32 MiB L3, so
   there ``c_b`` prices weights from the L3 rather than DRAM; no noise floor is applied.

An op is then predicted from the points of its own TFLite op type and unit (else its op class
on that unit, else its type on any unit), by inverse-distance weighting of ``log eta`` over the
nearest points in the space of shape features (:data:`FEATURES`: kernel size, stride, channels
in and out, spatial size, all log2). An op with no point at all is predicted by the plain
roofline (``eta = 1``) and the prediction says which op types that was.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from edgekit.runtime.efficiency import FEATURES, KernelModel, roofline_s
from edgekit.runtime.threadpools import oversubscription, pool_switches, switch_penalty_s
from edgekit.runtime.table import measured_column

if TYPE_CHECKING:
    import pandas as pd

METHOD = ("micro-benchmarks: NNLS fixed costs (invoke, per op per unit, per partition) on "
          "negligible-work cases; thread-pool switch latency from alternating vs blocked "
          "chains of the same ops; cold-weight cost per byte from chains of convolutions with "
          "shared vs distinct weights; per-op efficiency points eta = roofline time / measured "
          "op time; "
          "prediction by inverse-distance weighting of log eta over the 3 nearest points of the "
          "same op type and unit in log2 shape-feature space")
# Without a ``fixed_cost`` column, a case whose roofline work is below this share of its time is
# a fixed-cost case.
TINY_WORK_SHARE = 0.01
# In a case's node_s (onnxruntime's profile): the wall time of the profiled runs themselves.
RUN_KEY = "<run>"
# An op whose time comes out below this share of its case's time, or whose efficiency would fall
# outside ETA_RANGE, is lost in the noise of the case's other ops: it gives no point.
MIN_OP_SHARE = 0.02
ETA_RANGE = (1e-4, 10.0)


def _fixed_costs(cases: Sequence[dict[str, Any]], units: list[str]) -> dict[str, Any]:
    """NNLS of ``T = O + sum_u n_u c_u + n_p c_p`` over the negligible-work cases."""
    from scipy.optimize import nnls

    tiny = [c for c in cases if c["fixed_cost"]]
    if len(tiny) < 2:
        t_min = min((c["measured_s"] for c in cases), default=0.0)
        return {"invoke_s": 0.5 * t_min, "per_op_s": {u: 0.0 for u in units},
                "per_partition_s": 0.0, "cases": [c["case"] for c in tiny],
                "note": "fewer than 2 negligible-work cases: half the fastest case as invoke cost"}
    cols = ["invoke", *units, "partitions"]
    a = np.array([[1.0, *[c["n_unit"].get(u, 0) for u in units], c["partitions"]] for c in tiny])
    keep = [j for j in range(a.shape[1]) if a[:, j].any()]
    y = np.array([c["measured_s"] - c["work_s"] for c in tiny])
    x, _ = nnls(a[:, keep], y)
    coef = dict.fromkeys(cols, 0.0)
    for j, v in zip(keep, x, strict=True):
        coef[cols[j]] = float(v)
    resid = a[:, keep] @ x - y
    return {"invoke_s": coef["invoke"], "per_op_s": {u: coef[u] for u in units},
            "per_partition_s": coef["partitions"], "cases": [c["case"] for c in tiny],
            "rms_residual_s": float(np.sqrt(np.mean(resid ** 2)))}


def _profile_scale(case: dict[str, Any], fixed_s: float) -> float:
    """What puts a case's profiled kernel times on the scale of its timing: the timed latency
    less its fixed costs (``fixed_s``: invoke and per-op dispatch) over the sum of the profiled
    kernel times (every node of ``node_s`` but ``"<run>"``).

    The profile is taken after the timing rounds, in one window of 30 runs; at 2 threads on this
    VM such a window can fall in a contended spell and run 1.5-2x slower than the fastest round
    the latency keeps (measured: profiled 3x3 convs at 2.0 ms in cases timed at 1.07 ms).
    Scaling keeps the profile's split of the case between its ops and takes the level from the
    timing. The profiled runs' own wall time (``"<run>"``) is not the scale: it also holds the
    profiler's own work between kernels, which an unprofiled run does not do (onnxruntime
    1.31, a 1x1 conv case on host A: kernels 0.392 ms of a 0.422 ms profiled run, timed at
    0.320 ms); dividing by it took the op x0.93 its share of the timing, more in cases of
    short kernels. A profile without its run time (an older table) is taken as it is.
    """
    nodes = case["node_s"]
    kernels_s = float(sum(v for k, v in nodes.items() if k != RUN_KEY))
    if float(nodes.get(RUN_KEY, 0.0)) <= 0 or kernels_s <= 0:
        return 1.0
    return max(case["measured_s"] - fixed_s, 0.0) / kernels_s


def case_ops(artifact: str, runtime: str, *, threads: int = 1) -> tuple[pd.DataFrame, int]:
    """The op table of a case's artifact with its ``unit`` and ``pool`` (thread pool) columns,
    and its partition count."""
    from edgekit.runtime.predict import placed_ops

    ops, placement = placed_ops(artifact, runtime, threads=threads)
    return ops.assign(unit=list(placement.units),
                      pool=list(placement.pools) or [""] * len(ops)), placement.partitions


def _pools(ops: pd.DataFrame) -> list[str]:
    """Per op, its thread pool (the ``pool`` column :func:`case_ops` adds; none: one pool)."""
    return list(ops["pool"]) if "pool" in ops else []


def _pairs(cases: Sequence[dict[str, Any]], kind: str, side: str,
           sides: tuple[str, str]) -> list[tuple[str, dict[str, dict[str, Any]]]]:
    """The complete pairs of ``kind`` cases (``pool_chain``, ``weight_chain``), by ``group``:
    ``(group, {side value: case})`` in group order, each holding both ``sides``."""
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for c in cases:
        if c[kind]:
            groups.setdefault(c["group"], {})[c[side]] = c
    return [(g, pair) for g, pair in sorted(groups.items()) if all(v in pair for v in sides)]


def _pool_switch_cost(cases: Sequence[dict[str, Any]], model: KernelModel) -> dict[str, Any]:
    """``c_w`` from the pairs of ``pool_chain`` cases (module docstring, step 3)."""
    from scipy.optimize import brentq

    factor = oversubscription(model.threads)

    per_group = {}
    for g, pair in _pairs(cases, "pool_chain", "order", ("alt", "blk")):
        (ta, pa), (tb, pb) = ((model.op_times(pair[o]["ops"])["time_s"].to_numpy(float),
                               _pools(pair[o]["ops"])) for o in ("alt", "blk"))
        gap = pair["alt"]["measured_s"] - pair["blk"]["measured_s"]

        def excess(latency: float, ta: np.ndarray = ta, pa: list[str] = pa, tb: np.ndarray = tb,
                   pb: list[str] = pb, gap: float = gap) -> float:
            return (switch_penalty_s(ta, pa, latency, factor)
                    - switch_penalty_s(tb, pb, latency, factor) - gap)

        hi = 1.0
        if (pool_switches(pa) <= pool_switches(pb) or excess(0.0) >= -0.01 * abs(gap)
                or excess(hi) < 0):
            # no more switches in alt; or the ops outlast any wait, so the sharing alone
            # explains the gap and says nothing of c_w; or out of range
            continue
        per_group[g] = float(brentq(excess, 0.0, hi))
    cost = float(np.median(list(per_group.values()))) if per_group else 0.0
    return {"per_pool_switch_s": cost, "pool_switch_s_by_pair": per_group}


# Units whose kernels pack their own copy of a constant operand for every op that reads it, when
# the runtime prepares the graph. XNNPACK does (ai-edge-litert 2.3.0): the shared chain of 16 1x1
# convs (768 channels, 2.4 MB of fp32 weights in the file) adds 39.6 MB to the process once
# prepared with the delegate and 6.2 MB on the built-in kernels (the distinct chain: 73.2 and
# 40.0 MB; host C, 2026-12-08). Its shared chain's ops each read their own copy, as cold as the
# distinct chain's, so the pair's difference is 0 whatever cold weights cost.
PACKS_WEIGHTS_PER_OP = frozenset({"xnnpack"})


def _weight_cost(cases: Sequence[dict[str, Any]], model: KernelModel) -> dict[str, Any]:
    """``c_b`` from the pairs of ``weight_chain`` cases (module docstring, step 4). The warm
    reference of a pair is its shared chain, or, where the weighted ops run on a unit that packs
    weights per op (:data:`PACKS_WEIGHTS_PER_OP`), the distinct chain as ``model`` predicts it
    from the single-op points (``model`` without a cold-weight cost): their weights are warm."""
    per_group, reference = {}, {}
    for g, pair in _pairs(cases, "weight_chain", "weights", ("shared", "distinct")):
        d = pair["distinct"]
        ops = d["ops"]
        wb = (ops["weight_bytes"].fillna(0).to_numpy(float) if "weight_bytes" in ops
              else np.zeros(len(ops)))
        w = float(wb.sum())
        if w <= 0:
            continue
        units = set(ops["unit"].astype(str)[wb > 0])
        if units <= PACKS_WEIGHTS_PER_OP:
            warm, reference[g] = model.total_s(model.op_times(ops), d["partitions"]), "predicted"
        else:
            warm, reference[g] = pair["shared"]["measured_s"], "shared"
        per_group[g] = max(d["measured_s"] - warm, 0.0) / w
    cost = float(np.median(list(per_group.values()))) if per_group else 0.0
    return {"weight_s_per_byte": cost, "weight_s_per_byte_by_pair": per_group,
            "weight_reference_by_pair": reference}


def _measured_op(ops: pd.DataFrame, roof: np.ndarray, op_class: str) -> int:
    """The op a case measures: the one of the case's op class with the largest roofline time
    (a stride-2 convolution's PAD can move more bytes than the convolution), else the largest.
    The layout transpose every case carries is of the data-movement class too: it is the
    measured op only in a case with no other op of the class (a transpose case), not in a
    resize case whose permuted output outweighs the resize."""
    mine = (ops["op_class"].astype(str) == op_class).to_numpy()
    layout = ops["op"].astype(str).str.upper().eq("TRANSPOSE").to_numpy()
    if (mine & ~layout).any():
        mine = mine & ~layout
    return int(np.argmax(np.where(mine, roof, -1.0))) if mine.any() else int(np.argmax(roof))


def _point(case: str, op: Any, own_s: float, eta: float) -> dict[str, Any]:
    """An efficiency point: op ``op`` (an op-table row) of ``case`` took ``own_s`` at ``eta``."""
    return {"case": case, "op": str(op["op"]), "op_class": str(op["op_class"]),
            "unit": str(op["unit"]), "dtype": str(op.get("dtype", "")),
            **{k: float(op[k]) for k, _ in FEATURES},
            "macs": float(op["macs"]), "bytes": float(op["bytes"]), "op_s": own_s, "eta": eta}


def _left_s(c: dict[str, Any], times: pd.DataFrame, group: Sequence[int],
            model: KernelModel) -> float:
    """What the ops ``group`` of case ``c`` took: its measured time less invoke, partitions,
    the other ops' predicted ``times`` and the group's per-op dispatch."""
    units = c["ops"]["unit"].astype(str)
    rest = float(times["time_s"].sum() - sum(times["time_s"].iloc[i] for i in group))
    return (c["measured_s"] - model.invoke_s - c["partitions"] * model.per_partition_s - rest
            - sum(model.per_op_s.get(units.iloc[i], 0.0) for i in group))


def _shared_points(c: dict[str, Any], times: pd.DataFrame, main: int,
                   model: KernelModel) -> list[dict[str, Any]]:
    """Points for a case whose measured op was lost behind ops predicted without a point of
    their own type (step 2, ``eta_source`` not ``op``): the measured op and those ops run at one
    efficiency, ``eta = sum roofline / (the case less its fixed costs and its other ops)``.

    An int8 ``exp`` case runs DEQUANTIZE, a float EXP and QUANTIZE. With no point of their own,
    DEQUANTIZE and QUANTIZE took their class's (host B, built-in int8: 0.009, near the int8 DIV's
    0.002), came out slower than the whole case, and left EXP unresolved; in a network the same
    three ops (EfficientFormerV2's hand-written softmax) were predicted at that rate, 5.6 ms of
    its 23 ms. ``[]`` when no such op is there or the group's time is lost too."""
    src = times["eta_source"].astype(str).to_numpy()
    group = [i for i in range(len(times)) if i == main or src[i] != "op"]
    if len(group) < 2:
        return []
    own = _left_s(c, times, group, model)
    roof = float(sum(c["roof"][i] for i in group))
    if own <= MIN_OP_SHARE * c["measured_s"] or not ETA_RANGE[0] <= roof / own <= ETA_RANGE[1]:
        return []
    eta = roof / own
    return [_point(c["case"], c["ops"].iloc[i], float(c["roof"][i]) / eta, eta) for i in group]


def fit_kernel_table(timings: pd.DataFrame, *, runtime: str, precision: str, peak_mac_s: float,
                     mem_bytes_s: float, threads: int = 1,
                     graph: Callable[[str], tuple[pd.DataFrame, int]] | None = None,
                     ) -> dict[str, Any]:
    """Fit a runtime table's fixed costs and efficiency points (module docstring).

    Args:
        timings: one row per case: ``case``, ``artifact``, its measured time (``latency_s``,
            else ``median_s``: :func:`~edgekit.runtime.table.measured_column`), ``fixed_cost``
            (the case measures fixed costs: chains of tiny ops; without the column, cases whose
            roofline work is under 1% of their time); ``pool_chain`` with ``group`` and
            ``order`` (``alt`` / ``blk``) for the thread-pool switch pairs; ``weight_chain``
            with ``group`` and ``weights`` (``shared`` / ``distinct``) for the cold-weight
            pairs.
        runtime: the runtime id the cases were timed on.
        precision: ``int8`` or ``fp32``.
        peak_mac_s, mem_bytes_s: this host's peak MAC rate and bandwidth.
        threads: the thread count of the timings.
        graph: ``artifact -> (op table with unit, partitions)``; default :func:`case_ops`.

    Returns:
        A JSON-able dict: ``method``, ``fixed``, ``points`` (one per measured op), ``summary``
        (one row per case: what was measured, the fitted op, its eta).
    """
    graph = graph or (lambda a: case_ops(a, runtime, threads=threads))
    measured = measured_column(timings)
    cases = []
    for row in timings.to_dict(orient="records"):
        ops, partitions = graph(str(row["artifact"]))
        live = ops[ops["unit"].astype(str) != ""].reset_index(drop=True)
        roof = roofline_s(live, peak_mac_s, mem_bytes_s)
        fixed_cost = (bool(row["fixed_cost"]) if "fixed_cost" in row
                      else float(roof.sum()) < TINY_WORK_SHARE * float(row[measured]))
        prof = row.get("node_s")
        node_s = json.loads(prof) if isinstance(prof, str) and prof else {}
        cases.append({"case": str(row["case"]), "measured_s": float(row[measured]),
                      "node_s": node_s, "pool_chain": row.get("pool_chain") in (True, 1),
                      "weight_chain": row.get("weight_chain") in (True, 1),
                      "weights": str(row.get("weights", "")),
                      "group": str(row.get("group", "")), "order": str(row.get("order", "")),
                      "fixed_cost": fixed_cost, "op_class": str(row.get("op_class", "")),
                      "ops": live, "roof": roof, "work_s": float(roof.sum()),
                      "partitions": int(partitions),
                      "n_unit": live["unit"].value_counts().to_dict()})
    units = sorted({u for c in cases for u in c["n_unit"]})
    fixed = _fixed_costs(cases, units)
    fit: dict[str, Any] = {"method": METHOD, "runtime": runtime, "precision": precision,
                           "threads": threads, "fixed": fixed, "points": []}
    tiny = set(fixed.get("cases", []))
    points: list[dict[str, Any]] = []
    for step in (1, 2):  # step 2 predicts the other ops of a case with step 1's points
        model = KernelModel({**fit, "points": points}, peak_mac_s, mem_bytes_s)
        new, summary = [], []
        for c in cases:
            if c["case"] in tiny or c["pool_chain"] or c["weight_chain"] or not len(c["ops"]):
                continue
            ops = c["ops"]
            main = _measured_op(ops, c["roof"], c["op_class"])
            times = model.op_times(ops) if step == 2 else ops.assign(
                time_s=c["roof"] + [model.per_op_s.get(u, 0.0) for u in ops["unit"]])
            op = ops.iloc[main]
            profiled = c["node_s"].get(str(op.get("name", "")))  # the profiler's time of it
            fixed_s = model.invoke_s + sum(model.per_op_s.get(str(u), 0.0) for u in ops["unit"])
            own = (profiled * _profile_scale(c, fixed_s) if profiled is not None
                   else _left_s(c, times, [main], model))
            resolved = own > MIN_OP_SHARE * c["measured_s"] and (
                ETA_RANGE[0] <= c["roof"][main] / own <= ETA_RANGE[1])
            own = max(own, MIN_OP_SHARE * c["measured_s"])
            eta = float(np.clip(c["roof"][main] / own, *ETA_RANGE))
            shared = (None if resolved or profiled is not None or step == 1
                      else _shared_points(c, times, main, model))
            if shared:  # its other ops had no point of their own type: one efficiency for all
                new.extend(shared)
                summary.append({"case": c["case"], "measured_ms": c["measured_s"] * 1e3,
                                "ops": len(ops), "partitions": c["partitions"],
                                "op": "+".join(p["op"] for p in shared) + " (shared)",
                                "unit": str(op["unit"]),
                                "op_ms": sum(p["op_s"] for p in shared) * 1e3,
                                "eta": shared[0]["eta"]})
                continue
            if not resolved:  # the op's time is lost in the noise of the rest of the case
                summary.append({"case": c["case"], "measured_ms": c["measured_s"] * 1e3,
                                "ops": len(ops), "partitions": c["partitions"],
                                "op": f"{op['op']} (unresolved)", "unit": str(op["unit"]),
                                "op_ms": None, "eta": None})
                continue
            new.append(_point(c["case"], op, own, eta))
            summary.append({"case": c["case"], "measured_ms": c["measured_s"] * 1e3,
                            "ops": len(ops), "partitions": c["partitions"], "op": str(op["op"]),
                            "unit": str(op["unit"]), "op_ms": own * 1e3, "eta": eta})
        points = new
    model = KernelModel({**fit, "points": points}, peak_mac_s, mem_bytes_s)  # no c_w, no c_b
    fixed.update(_pool_switch_cost(cases, model))
    fixed.update(_weight_cost(cases, model))
    for c in cases:
        if c["case"] in tiny:
            summary.append({"case": c["case"], "measured_ms": c["measured_s"] * 1e3,
                            "ops": len(c["ops"]), "partitions": c["partitions"], "op": "(fixed)",
                            "unit": ",".join(sorted(c["n_unit"])), "op_ms": None, "eta": None})
        elif c["pool_chain"] or c["weight_chain"]:
            label = (f"(pool switches: {pool_switches(_pools(c['ops']))})" if c["pool_chain"]
                     else f"(weights: {c['weights']})")
            summary.append({"case": c["case"], "measured_ms": c["measured_s"] * 1e3,
                            "ops": len(c["ops"]), "partitions": c["partitions"], "op": label,
                            "unit": ",".join(sorted(c["n_unit"])), "op_ms": None, "eta": None})
    fit["points"] = points
    fit["summary"] = summary
    return fit


__all__ = ["METHOD", "case_ops", "fit_kernel_table"]
