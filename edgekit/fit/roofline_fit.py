"""Fit the roofline's peak MAC rate, bandwidth and overhead to measured latencies.

The latency model is the MobileNetV4 paper's (Qin et al. 2024, "Roofline analysis"):

    T_m = sum_l max(macs_l / P, bytes_l / B) + O

with ``P`` the peak MAC rate, ``B`` the memory bandwidth (so ``P / B`` is the ridge point) and
``O`` a fixed per-inference overhead (invoke and dispatch); the per-layer term is
:func:`edgekit.roofline.latency.roofline_time_s`. :func:`fit_roofline` fits ``P``, ``B`` and ``O``
to measured latencies by least squares on log latency, with the parameters in log space so they
stay positive; :func:`loo_predictions` refits without each model in turn and predicts it
(leave-one-out cross-validation). ``ridge=`` fixes ``P / B`` and fits only the scale (and the
overhead), which is how the paper's devices are refit from their few published latencies.
Optional per-group efficiency factors multiply each layer's roofline time by a factor of its
:class:`~edgekit.fit.costs.FitGroup` (dense convolution is the reference, factor 1).

Real measurements have outliers (a model 3x off, a thermal throttle, a mistyped row). When the
least-squares fit leaves a model more than :data:`OUTLIER_LOG_RESIDUAL` off (a factor of 2) and
there are more models than parameters to spare, the fit is redone with a robust loss
(``soft_l1`` on log latency, scale :data:`ROBUST_F_SCALE`), and the models still that far off are
reported in :attr:`RooflineFit.outliers`. On clean data the robust pass never runs, so its fits are
exactly the least-squares ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edgekit.errors import ConfigError
from edgekit.fit.costs import FitGroup, ModelCosts, predict_s
from edgekit.fit.stats import error_stats

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True, slots=True)
class RooflineFit:
    """An empirically fit roofline: peak MAC rate, bandwidth, overhead, optional class factors."""

    peak_mac_s: float
    mem_bytes_s: float
    overhead_s: float
    factors: dict[str, float] = field(default_factory=dict)
    mode: str = "free"  # "free" (P, B, O), "ridge" (fixed P/B), "+classes" suffix with factors
    n: int = 0
    rms_log_err: float = float("nan")
    loss: str = "linear"  # scipy least_squares loss: "linear", or "soft_l1" after outliers
    outliers: tuple[int, ...] = ()  # indices of the models more than a factor 2 off the fit

    @property
    def ridge_mac_per_byte(self) -> float:
        return self.peak_mac_s / self.mem_bytes_s

    @property
    def peak_gmac_s(self) -> float:
        return self.peak_mac_s / 1e9

    @property
    def mem_gb_s(self) -> float:
        return self.mem_bytes_s / 1e9

    @property
    def overhead_ms(self) -> float:
        return self.overhead_s * 1e3

    def predict_s(self, costs: ModelCosts) -> float:
        return predict_s(costs, self.peak_mac_s, self.mem_bytes_s, self.overhead_s, self.factors)

    def row(self) -> dict[str, Any]:
        return {"mode": self.mode, "n": self.n, "peak_gmac_s": self.peak_gmac_s,
                "mem_gb_s": self.mem_gb_s, "ridge_mac_per_byte": self.ridge_mac_per_byte,
                "overhead_ms": self.overhead_ms, "rms_log_err": self.rms_log_err,
                **{f"factor_{k}": v for k, v in self.factors.items()}}


MIN_OVERHEAD_S = 1e-7  # the overhead's lower bound in the log-space fit (0.1 us: "none")
OUTLIER_LOG_RESIDUAL = math.log(2.0)  # a model a factor 2 off the fit is an outlier
ROBUST_F_SCALE = 0.15  # soft_l1 scale on log latency: residuals beyond ~15% weigh linearly
_MAX_LOG = 700.0  # exp() of more overflows a float


def _exp(x: float) -> float:
    return math.exp(min(x, _MAX_LOG))


def fittable_classes(costs: Sequence[ModelCosts], *, min_share: float = 0.05,
                     min_models: int = 3) -> list[str]:
    """Fit groups (other than conv) that carry ``min_share`` of the work in enough models.

    The share is of each model's MAC+byte-weighted roofline time at a neutral ridge, so a class
    gets a factor only where the data can tell it apart from the others.
    """
    import numpy as np

    from edgekit.roofline.formula import roofline_time_s

    counts: dict[str, int] = {}
    for c in costs:
        cls = np.array(c.fit_group)
        # A neutral ridge of 10 MAC/byte, in units where the peak is 1 MAC/s (bytes weigh 10).
        t = roofline_time_s(c.macs, c.bytes * 10.0, 1.0, 1.0)
        total = t.sum() or 1.0
        for k in set(c.fit_group):
            if k != FitGroup.CONV.value and t[cls == k].sum() / total >= min_share:
                counts[k] = counts.get(k, 0) + 1
    return sorted(k for k, n in counts.items() if n >= min_models)


def fit_roofline(
    costs: Sequence[ModelCosts],
    measured_s: Sequence[float] | np.ndarray,
    *,
    ridge: float | None = None,
    overhead: bool = True,
    classes: Sequence[str] = (),
    init: RooflineFit | None = None,
) -> RooflineFit:
    """Fit ``P``, ``B`` (or only the scale, with ``ridge`` fixed) and ``O`` to measured latencies.

    Minimizes the squared error of log latency with ``scipy.optimize.least_squares`` over
    log-parameters, started from a grid of ridge points so the non-smooth ``max`` does not trap it.

    Args:
        costs: per-layer costs of each model.
        measured_s: measured latency of each model in seconds (> 0).
        ridge: fix ``P / B`` to this many MACs per byte; ``None`` fits it.
        overhead: fit a fixed per-inference overhead (else it is 0).
        classes: fit groups given their own efficiency factor (see :func:`fittable_classes`).
    """
    import numpy as np
    from scipy.optimize import least_squares

    from edgekit.roofline.formula import roofline_time_s

    y = np.log(np.asarray(measured_s, dtype=float))
    if len(costs) != y.size:
        raise ConfigError(f"{len(costs)} models but {y.size} measurements; give one per model")
    n_par = (1 if ridge else 2) + (1 if overhead else 0) + len(classes)
    if y.size < n_par:
        raise ConfigError(
            f"fitting {n_par} parameters needs at least {n_par} measured models, got {y.size}; "
            "fix the ridge, fit no overhead or measure more models"
        )
    masks = [[np.array([c == k for c in m.fit_group]) for k in classes] for m in costs]
    o_lo, o_hi = math.log(MIN_OVERHEAD_S), math.log(float(np.exp(y).max()))

    def unpack(x: np.ndarray) -> tuple[float, float, float, dict[str, float]]:
        i = 0
        if ridge:
            b = _exp(x[0])
            p = b * ridge
            i = 1
        else:
            p, b = _exp(x[0]), _exp(x[1])
            i = 2
        o = 0.0
        if overhead:
            o = _exp(x[i])
            i += 1
        f = {k: _exp(x[i + j]) for j, k in enumerate(classes)}
        return p, b, o, f

    def resid(x: np.ndarray) -> np.ndarray:
        p, b, o, f = unpack(x)
        out = np.empty(y.size)
        for j, m in enumerate(costs):
            t = roofline_time_s(m.macs, m.bytes, p, b)
            for k, mask in zip(classes, masks[j], strict=True):
                t = np.where(mask, t * f[k], t)
            out[j] = math.log(max(float(t.sum()) + o, 1e-300))
        return out - y

    lo = [-np.inf] * (1 if ridge else 2)
    hi = [np.inf] * (1 if ridge else 2)
    if overhead:
        lo.append(o_lo)
        hi.append(o_hi)
    lo += [math.log(0.05)] * len(classes)
    hi += [math.log(50.0)] * len(classes)

    starts = []
    ridges = [ridge] if ridge else [float(r) for r in np.logspace(-1, 3.5, 10)]
    t_meas = np.exp(y)
    for r in ridges:
        # With P = r * B, a model's time is (1/B) * sum max(macs / r, bytes); pick B to match.
        unit = np.array([roofline_time_s(m.macs, m.bytes, r, 1.0).sum() for m in costs])
        for o_share in ((0.0, 0.3) if overhead else (0.0,)):
            o0 = max(o_share * float(t_meas.min()), MIN_OVERHEAD_S * 10)
            rest = np.maximum(t_meas - (o0 if overhead else 0.0), t_meas * 0.05)
            b0 = float(np.exp(np.median(np.log(unit / rest))))
            x0 = [math.log(b0)] if ridge else [math.log(b0 * r), math.log(b0)]
            if overhead:
                x0.append(math.log(o0))
            x0 += [0.0] * len(classes)
            starts.append(np.array(x0))
    if init is not None:
        x0 = [math.log(init.mem_bytes_s)] if ridge else [math.log(init.peak_mac_s),
                                                          math.log(init.mem_bytes_s)]
        if overhead:
            x0.append(math.log(min(max(init.overhead_s, MIN_OVERHEAD_S * 10), math.exp(o_hi) * 0.9)))
        x0 += [math.log(min(max(init.factors.get(k, 1.0), 0.06), 40)) for k in classes]
        starts.append(np.array(x0))
    # Cheap screening of the starts, then a full solve from the best few.
    scored = sorted(starts, key=lambda x: float(np.sum(resid(np.clip(x, lo, hi)) ** 2)))

    def solve(x0s: Sequence[np.ndarray], loss: str) -> Any:
        best = None
        for x0 in x0s:
            sol = least_squares(resid, np.clip(x0, np.array(lo) + 1e-9, np.array(hi) - 1e-9),
                                bounds=(lo, hi), method="trf", x_scale=1.0,
                                max_nfev=400 * (n_par + 1), loss=loss, f_scale=ROBUST_F_SCALE)
            if best is None or sol.cost < best.cost:
                best = sol
        assert best is not None
        return best

    best = solve(scored[:3], "linear")
    loss = "linear"
    if y.size > n_par + 1 and np.abs(best.fun).max() > OUTLIER_LOG_RESIDUAL:
        best = solve([best.x, *scored[:3]], "soft_l1")
        loss = "soft_l1"
    outliers = tuple(int(i) for i in np.flatnonzero(np.abs(best.fun) > OUTLIER_LOG_RESIDUAL))
    p, b, o, f = unpack(best.x)
    if overhead and o <= MIN_OVERHEAD_S * 1.01:
        o = 0.0
    mode = ("ridge" if ridge else "free") + ("" if overhead else "-no-overhead") \
        + ("+classes" if classes else "")
    return RooflineFit(p, b, o, f, mode, int(y.size),
                       float(np.sqrt(np.mean(best.fun ** 2))), loss, outliers)


def loo_predictions(costs: Sequence[ModelCosts], measured_s: Sequence[float] | np.ndarray,
                    **fit_kwargs: Any) -> np.ndarray:
    """Leave-one-out: for each model, fit on the others and predict it (seconds)."""
    import numpy as np

    meas = np.asarray(measured_s, dtype=float)
    full = fit_roofline(costs, meas, **fit_kwargs)
    out = np.empty(meas.size)
    for i in range(meas.size):
        keep = [j for j in range(meas.size) if j != i]
        fit = fit_roofline([costs[j] for j in keep], meas[keep], init=full, **fit_kwargs)
        out[i] = fit.predict_s(costs[i])
    return out



@dataclass(frozen=True, slots=True)
class FitReport:
    """A fit, its leave-one-out predictions and their statistics, for one fit mode."""

    fit: RooflineFit
    loo_pred_s: tuple[float, ...]
    in_sample_pred_s: tuple[float, ...]
    stats_loo: dict[str, float]
    stats_in_sample: dict[str, float]

    def row(self) -> dict[str, Any]:
        return {**self.fit.row(),
                **{f"loo_{k}": v for k, v in self.stats_loo.items() if k != "n"},
                **{f"fit_{k}": v for k, v in self.stats_in_sample.items() if k != "n"}}


def fit_report(costs: Sequence[ModelCosts], measured_s: Sequence[float], **kw: Any) -> FitReport:
    """Fit on everything, predict each model leave-one-out, and summarize both."""
    import numpy as np

    meas = np.asarray(measured_s, dtype=float)
    fit = fit_roofline(costs, meas, **kw)
    ins = np.array([fit.predict_s(c) for c in costs])
    loo = loo_predictions(costs, meas, **kw) if meas.size > 2 else ins
    return FitReport(fit, tuple(loo), tuple(ins), error_stats(loo, meas), error_stats(ins, meas))


def fit_modes(costs: Sequence[ModelCosts], measured_s: Sequence[float], *,
              ridge: float | None = None, overhead: bool = True,
              with_classes: bool = True) -> dict[str, FitReport]:
    """The plain fit and, where the data supports them, the per-op-class fit: both reported."""
    out = {"roofline": fit_report(costs, measured_s, ridge=ridge, overhead=overhead)}
    if with_classes:
        classes = fittable_classes(costs)
        n_par = (1 if ridge else 2) + int(overhead) + len(classes)
        if classes and len(costs) >= n_par + 3:
            out["roofline+classes"] = fit_report(costs, measured_s, ridge=ridge,
                                                 overhead=overhead, classes=classes)
    return out



__all__ = [
    "MIN_OVERHEAD_S", "OUTLIER_LOG_RESIDUAL", "ROBUST_F_SCALE", "FitReport", "RooflineFit", "fit_modes", "fit_report", "fit_roofline",
    "fittable_classes", "loo_predictions",
]
