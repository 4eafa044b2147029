"""Fit the runtime latency model (roofline, class efficiencies, per-op cost, overhead) to latencies.

The model is :mod:`edgekit.roofline.latency`'s, with the runtime terms:

    T_m = sum_l max(macs_l / (eta_c(l) P), bytes_l / (eta_c(l) B)) + n_ops_m * c + s_m * c_s + O

``P`` the peak MAC rate, ``B`` the bandwidth, ``eta_c`` the efficiency of a layer's op class
(dense convolution and every class not fitted: 1), ``n_ops_m`` the ops the runtime executes
(:func:`edgekit.runtime.ops_run`, the graph that runs), ``c`` the per-op dispatch cost, ``s_m``
the 2-D products of the model's batched activation matmuls (:func:`edgekit.runtime.matmul_slices`)
and ``c_s`` the launch cost of each, and ``O`` the per-invoke overhead. ``c_s`` is fit only where
some model has such matmuls, and ``eta_c`` only where some model has layers of class ``c`` (else 0
and 1, or the base fit's: nothing would pin them); efficiencies lie in ``[ETA_MIN, ETA_MAX]``.
:func:`fit_runtime` fits the free parameters by least squares on log latency, in log space (so
they stay positive), from several starts; any parameter can be held at
a base fit's value (``base=``, ``free=``), which is how a precision with few rows shares the
structure of one with many (fit only ``P``). :func:`loo_runtime` refits without each model in
turn and predicts it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from edgekit.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from edgekit.device import DeviceProfile

SCALARS = ("peak", "mem", "per_op", "per_slice", "overhead")
MIN_PER_OP_S = 1e-10  # lower bounds of the log-space fit: "none"
MIN_OVERHEAD_S = 1e-7
# A class efficiency is relative to the dense convolutions that set P and B: at most 1 (an
# unbounded fit sends the efficiency of a class whose time the slice cost explains to its bound).
ETA_MIN, ETA_MAX = 0.01, 1.0


@dataclass(frozen=True, slots=True)
class RunCosts:
    """Per-layer work of one model on one runtime: MACs, bytes, op class, and the ops it runs."""

    model: str
    macs: np.ndarray = field(repr=False)  # (L,) MACs per layer (0 where fused)
    bytes: np.ndarray = field(repr=False)  # (L,) bytes per layer at the precision (0 where fused)
    op_class: tuple[str, ...] = field(repr=False)  # (L,) OpClass values
    n_ops: int = 0  # ops the runtime executes
    n_slices: int = 0  # 2-D products of the batched activation matmuls

    def __post_init__(self) -> None:
        import numpy as np

        object.__setattr__(self, "macs", np.asarray(self.macs, dtype=float))
        object.__setattr__(self, "bytes", np.asarray(self.bytes, dtype=float))
        assert self.macs.shape == self.bytes.shape == (len(self.op_class),)


def run_costs(table: pd.DataFrame, device: DeviceProfile, model: str = "") -> RunCosts:
    """:class:`RunCosts` of a layer table on ``device`` (its precision, fusions and runtime)."""
    from edgekit.roofline.latency import estimate_latency
    from edgekit.runtime import matmul_slices, ops_run

    plain = device.model_copy(update={"runtime_costs": None})
    layers = estimate_latency(table, plain).layers
    macs = layers["macs"].to_numpy(float) * ~layers["fused"].to_numpy(bool)
    return RunCosts(model or str(table.attrs.get("model", "")), macs,
                    layers["bytes"].to_numpy(float), tuple(str(c) for c in layers["op_class"]),
                    int(ops_run(table, device).sum()), int(matmul_slices(table).sum()))


@dataclass(frozen=True, slots=True)
class RuntimeFit:
    """A fitted runtime model: ``P``, ``B``, per-op and per-slice costs, overhead, efficiencies."""

    peak_mac_s: float
    mem_bytes_s: float
    per_op_s: float
    overhead_s: float
    efficiency: Mapping[str, float] = field(default_factory=dict)
    n: int = 0
    rms_log_err: float = float("nan")
    free: tuple[str, ...] = ()
    per_slice_s: float = 0.0

    def predict_s(self, c: RunCosts) -> float:
        """Latency of one model in seconds (the formula of :mod:`edgekit.roofline.latency`)."""
        import numpy as np

        from edgekit.roofline.formula import roofline_time_s, runtime_time_s

        eff = np.array([self.efficiency.get(k, 1.0) for k in c.op_class]) if self.efficiency else 1.0
        layer = roofline_time_s(c.macs, c.bytes, self.peak_mac_s, self.mem_bytes_s, eff)
        return runtime_time_s(layer, c.n_ops, self.per_op_s, self.overhead_s, c.n_slices,
                              self.per_slice_s)

    def row(self) -> dict[str, Any]:
        return {"n": self.n, "peak_gmac_s": self.peak_mac_s / 1e9,
                "mem_gb_s": self.mem_bytes_s / 1e9, "per_op_us": self.per_op_s * 1e6,
                "per_matmul_slice_us": self.per_slice_s * 1e6,
                "overhead_ms": self.overhead_s * 1e3, "rms_log_err": self.rms_log_err,
                **{f"eta_{k}": v for k, v in self.efficiency.items()}}


def _unit_terms(costs: Sequence[RunCosts], classes: Sequence[str]) -> list[dict[str, Any]]:
    """Per model and class: MACs and bytes of the layers, so a prediction is a few dot products."""
    import numpy as np

    out = []
    for c in costs:
        cls = np.array(c.op_class)
        groups = {k: (c.macs[cls == k], c.bytes[cls == k]) for k in classes}
        rest = ~np.isin(cls, list(classes))
        groups[""] = (c.macs[rest], c.bytes[rest])
        out.append({"groups": groups, "n_ops": float(c.n_ops), "n_slices": float(c.n_slices)})
    return out


def fit_runtime(
    costs: Sequence[RunCosts],
    measured_s: Sequence[float] | np.ndarray,
    *,
    classes: Sequence[str] = (),
    per_op: bool = True,
    per_slice: bool = True,
    overhead: bool = True,
    base: RuntimeFit | None = None,
    free: Sequence[str] | None = None,
) -> RuntimeFit:
    """Fit the runtime model to measured latencies (seconds), least squares on log latency.

    Args:
        costs: one :class:`RunCosts` per measured model.
        measured_s: the measured latencies in seconds.
        classes: op classes that get their own efficiency (others: 1).
        per_op: fit a per-op dispatch cost (else 0).
        per_slice: fit a launch cost per batched-matmul slice (else 0; also 0 when no model has
            one).
        overhead: fit a per-invoke overhead (else 0).
        base: a fit whose values the parameters not in ``free`` keep.
        free: parameters to fit, among ``peak, mem, per_op, per_slice, overhead`` and
            ``eta_<class>`` (default: all of them that ``per_op``, ``per_slice``, ``overhead``
            and ``classes`` ask for).
    """
    import numpy as np
    from scipy.optimize import least_squares

    y = np.asarray(measured_s, dtype=float)
    if len(costs) != y.size:
        raise ConfigError(f"need one latency per model, got {len(costs)} models and {y.size}")
    if base is not None:
        classes = tuple(dict.fromkeys([*classes, *base.efficiency]))
    names = [*SCALARS, *(f"eta_{k}" for k in classes)]
    if free is None:
        free = [n for n in names if (n != "per_op" or per_op) and (n != "overhead" or overhead)
                and (n != "per_slice" or per_slice)]
    unknown = sorted(set(free) - set(names))
    if unknown:
        raise ConfigError(f"unknown fit parameters {unknown} (choose from {', '.join(names)})")
    # Nothing pins a slice cost without sliced matmuls, or a class's efficiency without its layers.
    present = {k for c in costs for k, m, b in zip(c.op_class, c.macs, c.bytes, strict=True)
               if m or b}
    unpinned = set() if any(c.n_slices for c in costs) else {"per_slice"}
    unpinned |= {f"eta_{k}" for k in classes if k not in present}
    free = [n for n in names if n in set(free) - unpinned]
    if y.size < len(free):
        raise ConfigError(f"the runtime fit needs at least {len(free)} measured models for "
                          f"{', '.join(free)}, got {y.size}")
    fixed = {"peak": 1.0, "mem": 1.0, "per_op": 0.0, "per_slice": 0.0, "overhead": 0.0}
    fixed.update({f"eta_{k}": 1.0 for k in classes})
    if base is not None:
        fixed.update(peak=base.peak_mac_s, mem=base.mem_bytes_s, per_op=base.per_op_s,
                     per_slice=base.per_slice_s, overhead=base.overhead_s)
        fixed.update({f"eta_{k}": v for k, v in base.efficiency.items()})
    terms = _unit_terms(costs, classes)
    log_y = np.log(y)

    def values(x: np.ndarray) -> dict[str, float]:
        v = dict(fixed)
        v.update({n: math.exp(xi) for n, xi in zip(free, x, strict=True)})
        return v

    def predict(v: Mapping[str, float]) -> np.ndarray:
        out = np.empty(len(terms))
        for i, t in enumerate(terms):
            s = v["per_op"] * t["n_ops"] + v["per_slice"] * t["n_slices"] + v["overhead"]
            for k, (m, b) in t["groups"].items():
                eta = v[f"eta_{k}"] if k else 1.0
                s += np.maximum(m / v["peak"], b / v["mem"]).sum() / eta
            out[i] = s
        return out

    def residuals(x: np.ndarray) -> np.ndarray:
        return np.log(np.maximum(predict(values(x)), 1e-30)) - log_y

    lo = {"peak": math.log(1e8), "mem": math.log(1e7), "per_op": math.log(MIN_PER_OP_S),
          "per_slice": math.log(MIN_PER_OP_S), "overhead": math.log(MIN_OVERHEAD_S)}
    hi = {"peak": math.log(1e16), "mem": math.log(1e14), "per_op": math.log(1e-3),
          "per_slice": math.log(1e-3), "overhead": math.log(1.0)}
    t_med = float(np.median(y))
    macs_med = float(np.median([c.macs.sum() for c in costs])) or 1.0
    starts = []
    for frac in (0.3, 1.0, 3.0):
        for ridge in (10.0, 100.0, 1000.0):
            p0 = macs_med / (frac * t_med)
            s0 = {"peak": p0, "mem": p0 / ridge, "per_op": 0.1 * t_med / max(
                np.median([c.n_ops for c in costs]), 1.0), "per_slice": 0.1 * t_med / max(
                max(c.n_slices for c in costs), 1.0), "overhead": 0.05 * t_med}
            if base is not None:
                s0 = {k: (fixed[k] if fixed[k] > 0 else s0[k]) for k in s0}
            starts.append([math.log(max(s0.get(n, 0.5), 1e-12)) for n in free])
    lb = [lo.get(n, math.log(ETA_MIN)) for n in free]
    ub = [hi.get(n, math.log(ETA_MAX)) for n in free]
    best = None
    for x0 in starts if free else ():
        x0 = np.clip(x0, np.array(lb) + 1e-9, np.array(ub) - 1e-9)
        sol = least_squares(residuals, x0, bounds=(lb, ub))
        if best is None or sol.cost < best.cost:
            best = sol
    v = values(best.x) if free else dict(fixed)
    res = residuals(best.x) if free else np.log(predict(v)) - log_y
    return RuntimeFit(
        peak_mac_s=v["peak"], mem_bytes_s=v["mem"], per_op_s=v["per_op"],
        per_slice_s=v["per_slice"], overhead_s=v["overhead"],
        efficiency={k: v[f"eta_{k}"] for k in classes}, n=int(y.size),
        rms_log_err=float(np.sqrt(np.mean(res ** 2))), free=tuple(free),
    )


def loo_runtime(costs: Sequence[RunCosts], measured_s: Sequence[float] | np.ndarray,
                **kwargs: Any) -> np.ndarray:
    """Leave-one-out predictions (seconds): refit without each model, predict it."""
    import numpy as np

    y = np.asarray(measured_s, dtype=float)
    out = np.empty(y.size)
    for i in range(y.size):
        keep = [j for j in range(y.size) if j != i]
        f = fit_runtime([costs[j] for j in keep], y[keep], **kwargs)
        out[i] = f.predict_s(costs[i])
    return out


def with_values(fit: RuntimeFit, **changes: Any) -> RuntimeFit:
    """A copy of ``fit`` with some values replaced (e.g. a fixed per-op cost for a test)."""
    return replace(fit, **changes)


__all__ = ["MIN_OVERHEAD_S", "MIN_PER_OP_S", "SCALARS", "RunCosts", "RuntimeFit", "fit_runtime",
           "loo_runtime", "run_costs", "with_values"]
