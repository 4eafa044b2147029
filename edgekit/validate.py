"""Check the roofline against measurement: statistics, empirically fit rooflines, and the population.

The latency model is the MobileNetV4 paper's (Qin et al. 2024, "Roofline analysis"):

    T_m = sum_l max(macs_l / P, bytes_l / B) + O

with ``P`` the peak MAC rate, ``B`` the memory bandwidth (so ``P / B`` is the ridge point) and
``O`` a fixed per-inference overhead (invoke and dispatch). :func:`fit_roofline` fits ``P``, ``B``
and ``O`` to measured latencies by least squares on log latency, with the parameters in log space
so they stay positive; :func:`loo_predictions` refits without each model in turn and predicts it
(leave-one-out cross-validation). ``ridge=`` fixes ``P / B`` and fits only the scale (and the
overhead), which is how the paper's devices are refit from their few published latencies.
Optional per-op-class efficiency factors multiply each layer's roofline time by a factor of its
class (dense convolution is the reference, factor 1).

Measurement CSV (what ``edgekit validate`` writes and ``edgekit fit-device`` reads): one row per
measured model, columns

    model        registry model name (required)
    latency_ms   measured median latency in ms, > 0 (required)
    resolution   input resolution in pixels (default: the model's)
    deploy       true/false: re-parameterized deploy form (default true)
    status       if present, only rows with status "measured" are used
    (any other column is kept and ignored: device, runtime, precision, threads, p10_ms, ...)

Another table is read with a column mapping, e.g. ``{"latency_ms": "time_ms"}``.
"""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.errors import ConfigError, EdgekitError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from edgekit.device import DeviceProfile


class OpClass(enum.StrEnum):
    """Op classes that get their own efficiency factor in a per-class fit."""

    CONV = "conv"  # dense convolution and weight GEMMs: the reference class
    DEPTHWISE = "depthwise"  # depthwise (and grouped) convolution
    ATTENTION_NORM = "attention_norm"  # activation-activation matmuls, softmax, normalization
    DATA_MOVEMENT = "data_movement"  # reshapes, transposes, pooling, elementwise, concat


_ATTN_NORM_OPS = {"Softmax", "LayerNormalization", "GroupNormalization", "InstanceNormalization",
                  "BatchNormalization", "ReduceMean", "Gelu", "Erf", "Sqrt", "Pow", "Div"}


def op_class(op_type: str, *, kind: str = "", groups: int | None = None,
             channels: int | None = None, weight_elems: float = 0.0) -> OpClass:
    """The :class:`OpClass` of one layer-table row."""
    k = (kind or "").lower()
    if op_type in ("Conv", "ConvTranspose", "QLinearConv"):
        if "depthwise" in k or "dw" == k or (groups and groups > 1 and (channels is None
                                                                          or groups > 1)):
            return OpClass.DEPTHWISE
        return OpClass.CONV
    if op_type in ("MatMul", "Gemm", "FusedMatMul", "QLinearMatMul", "MatMulInteger"):
        if "attention" in k or (weight_elems == 0 and op_type != "Gemm"):
            return OpClass.ATTENTION_NORM
        return OpClass.CONV
    if op_type in _ATTN_NORM_OPS or "norm" in k or "attention" in k:
        return OpClass.ATTENTION_NORM
    return OpClass.DATA_MOVEMENT


# --- statistics -------------------------------------------------------------------------------------
def spearman(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Spearman rank correlation (``scipy.stats.spearmanr``); NaN for fewer than 3 points."""
    import numpy as np
    from scipy.stats import spearmanr

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"spearman needs equal lengths, got {a.shape} and {b.shape}")
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def bootstrap_spearman(a: Sequence[float], b: Sequence[float], *, n: int = 2000,
                       seed: int = 0, ci: float = 0.95) -> tuple[float, float]:
    """A percentile bootstrap confidence interval of Spearman's r_s over models."""
    import numpy as np
    from scipy.stats import rankdata

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(n, a.size))
    ra = np.apply_along_axis(rankdata, 1, a[idx])
    rb = np.apply_along_axis(rankdata, 1, b[idx])
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    den = np.sqrt((ra * ra).sum(1) * (rb * rb).sum(1))
    r = np.where(den > 0, (ra * rb).sum(1) / np.where(den > 0, den, 1), np.nan)
    lo, hi = np.nanpercentile(r, [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100])
    return float(lo), float(hi)


def error_stats(predicted: Sequence[float] | np.ndarray,
                measured: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Relative-error summary of predictions against measurements (same units).

    Returns ``median_abs_err_pct``, ``mape_pct``, ``within_10_pct`` and ``within_25_pct`` (share
    of models, in percent), ``r_s`` and ``n``.
    """
    import numpy as np

    p = np.asarray(predicted, dtype=float)
    m = np.asarray(measured, dtype=float)
    if p.shape != m.shape or p.size == 0:
        raise ValueError(f"need equal, non-empty lengths, got {p.shape} and {m.shape}")
    if (m <= 0).any():
        raise ValueError("measured values must be > 0")
    rel = np.abs(p - m) / m
    return {
        "n": int(p.size),
        "r_s": spearman(p, m),
        "median_abs_err_pct": float(np.median(rel) * 100),
        "mape_pct": float(np.mean(rel) * 100),
        "within_10_pct": float(np.mean(rel <= 0.10) * 100),
        "within_25_pct": float(np.mean(rel <= 0.25) * 100),
    }


# --- per-layer costs and the latency model ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ModelCosts:
    """Per-layer work of one model at one precision: what the fit needs to predict its latency."""

    model: str
    macs: np.ndarray = field(repr=False)  # (L,) MACs per layer
    bytes: np.ndarray = field(repr=False)  # (L,) weight + activation bytes per layer
    op_class: tuple[str, ...] = field(default=(), repr=False)  # (L,) OpClass values

    def __post_init__(self) -> None:
        import numpy as np

        object.__setattr__(self, "macs", np.asarray(self.macs, dtype=float))
        object.__setattr__(self, "bytes", np.asarray(self.bytes, dtype=float))
        if not self.op_class:
            object.__setattr__(self, "op_class", (OpClass.CONV.value,) * self.macs.size)
        assert self.macs.shape == self.bytes.shape == (len(self.op_class),)

    @property
    def total_macs(self) -> float:
        return float(self.macs.sum())

    @property
    def total_bytes(self) -> float:
        return float(self.bytes.sum())


def costs_from_layers(model: str, layers: pd.DataFrame) -> ModelCosts:
    """:class:`ModelCosts` from a roofline ``estimate_latency(...).layers`` table."""
    import numpy as np

    kind = layers["kind"] if "kind" in layers else [""] * len(layers)
    notes = layers["note"] if "note" in layers else [""] * len(layers)
    groups = layers["groups"] if "groups" in layers else [None] * len(layers)
    wel = layers["weight_elems"] if "weight_elems" in layers else np.zeros(len(layers))
    classes = []
    for o, k, note, g, w in zip(layers["op_type"], kind, notes, groups, wel, strict=True):
        # The layer table tells a depthwise conv (groups == channels, one input channel per
        # filter) from a grouped one in its note; only depthwise gets its own efficiency class.
        grp = int(g) if g is not None and g == g else None
        if str(note).startswith("depthwise"):
            k = "depthwise"
        elif grp is not None and grp > 1:
            grp = 1  # grouped but not depthwise: a dense conv per group
        classes.append(op_class(str(o), kind=str(k), groups=grp, weight_elems=float(w)).value)
    return ModelCosts(model, layers["macs"].to_numpy(float), layers["bytes"].to_numpy(float),
                      tuple(classes))


def predict_s(costs: ModelCosts, peak_mac_s: float, mem_bytes_s: float, overhead_s: float = 0.0,
              factors: Mapping[str, float] | None = None) -> float:
    """Roofline latency of one model in seconds."""
    import numpy as np

    t = np.maximum(costs.macs / peak_mac_s, costs.bytes / mem_bytes_s)
    if factors:
        f = np.array([factors.get(c, 1.0) for c in costs.op_class])
        t = t * f
    return float(t.sum() + overhead_s)


def predict_layers_s(costs: ModelCosts, peak_mac_s: float, mem_bytes_s: float,
                     factors: Mapping[str, float] | None = None) -> np.ndarray:
    import numpy as np

    t = np.maximum(costs.macs / peak_mac_s, costs.bytes / mem_bytes_s)
    if factors:
        t = t * np.array([factors.get(c, 1.0) for c in costs.op_class])
    return t


# --- fitting ---------------------------------------------------------------------------------------
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


def fittable_classes(costs: Sequence[ModelCosts], *, min_share: float = 0.05,
                     min_models: int = 3) -> list[str]:
    """Op classes (other than dense conv) that carry ``min_share`` of the work in enough models.

    The share is of each model's MAC+byte-weighted roofline time at a neutral ridge, so a class
    gets a factor only where the data can tell it apart from the others.
    """
    import numpy as np

    counts: dict[str, int] = {}
    for c in costs:
        cls = np.array(c.op_class)
        t = np.maximum(c.macs / 1.0, c.bytes * 10.0)  # neutral ridge of 10 MAC/byte
        total = t.sum() or 1.0
        for k in set(c.op_class):
            if k != OpClass.CONV.value and t[cls == k].sum() / total >= min_share:
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
        classes: op classes given their own efficiency factor (see :func:`fittable_classes`).
    """
    import numpy as np
    from scipy.optimize import least_squares

    y = np.log(np.asarray(measured_s, dtype=float))
    if len(costs) != y.size:
        raise ValueError(f"{len(costs)} models but {y.size} measurements")
    n_par = (1 if ridge else 2) + (1 if overhead else 0) + len(classes)
    if y.size < n_par:
        raise ConfigError(
            f"fitting {n_par} parameters needs at least {n_par} measured models, got {y.size}; "
            "fix the ridge (--ridge), drop the overhead (--no-overhead) or measure more models"
        )
    masks = [[np.array([c == k for c in m.op_class]) for k in classes] for m in costs]
    o_lo, o_hi = math.log(MIN_OVERHEAD_S), math.log(float(np.exp(y).max()))

    def unpack(x: np.ndarray) -> tuple[float, float, float, dict[str, float]]:
        i = 0
        if ridge:
            b = math.exp(x[0])
            p = b * ridge
            i = 1
        else:
            p, b = math.exp(x[0]), math.exp(x[1])
            i = 2
        o = 0.0
        if overhead:
            o = math.exp(x[i])
            i += 1
        f = {k: math.exp(x[i + j]) for j, k in enumerate(classes)}
        return p, b, o, f

    def resid(x: np.ndarray) -> np.ndarray:
        p, b, o, f = unpack(x)
        out = np.empty(y.size)
        for j, m in enumerate(costs):
            t = np.maximum(m.macs / p, m.bytes / b)
            for k, mask in zip(classes, masks[j], strict=True):
                t = np.where(mask, t * f[k], t)
            out[j] = math.log(t.sum() + o)
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
        unit = np.array([np.maximum(m.macs / r, m.bytes).sum() for m in costs])
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
    best = None
    for x0 in scored[:3]:
        sol = least_squares(resid, np.clip(x0, np.array(lo) + 1e-9, np.array(hi) - 1e-9),
                            bounds=(lo, hi), method="trf", x_scale=1.0, max_nfev=400 * (n_par + 1))
        if best is None or sol.cost < best.cost:
            best = sol
    assert best is not None
    p, b, o, f = unpack(best.x)
    if overhead and o <= MIN_OVERHEAD_S * 1.01:
        o = 0.0
    mode = ("ridge" if ridge else "free") + ("" if overhead else "-no-overhead") \
        + ("+classes" if classes else "")
    return RooflineFit(p, b, o, f, mode, int(y.size),
                       float(np.sqrt(np.mean(best.fun ** 2))))


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


# --- measurement CSV ------------------------------------------------------------------------------
REQUIRED_COLUMNS = ("model", "latency_ms")


def read_measurements(path: str | os.PathLike[str], *, columns: Mapping[str, str] | None = None,
                      where: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read and check a measurement CSV (format in this module's docstring).

    Args:
        path: the CSV file.
        columns: ``{edgekit column: column in the file}`` for tables with other names.
        where: keep only rows whose column equals the value, e.g. ``{"device": "pixel6-cpu"}``.

    Raises:
        ConfigError: a missing column, or a latency that is missing, not a number or <= 0; the
            message names the file, the line and the column.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"measurement file '{path}' does not exist")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable CSV file ({exc})") from exc
    df.columns = [c.strip() for c in df.columns]
    df["_line"] = range(2, len(df) + 2)  # header is line 1
    mapping = dict(columns or {})
    for ours, theirs in mapping.items():
        if theirs not in df.columns:
            raise ConfigError(f"{path}: column mapping {ours}={theirs}: no column '{theirs}' "
                              f"(columns: {', '.join(c for c in df.columns if c != '_line')})")
        df[ours] = df[theirs]
    for col in REQUIRED_COLUMNS:
        if col not in df.columns:
            from edgekit.errors import did_you_mean

            raise ConfigError(
                f"{path}: missing required column '{col}'{did_you_mean(col, df.columns)} "
                f"(columns: {', '.join(c for c in df.columns if c != '_line')}; map another "
                f"with --column {col}=NAME)"
            )
    for col, val in (where or {}).items():
        if col not in df.columns:
            raise ConfigError(f"{path}: --where {col}={val}: no column '{col}'")
        df = df[df[col].str.strip() == val]
    if "status" in df.columns:
        df = df[df["status"].str.strip().str.lower() == "measured"]
    if df.empty:
        raise ConfigError(f"{path}: no measured rows{' match ' + str(dict(where)) if where else ''}")
    lat = []
    for line, model, v in zip(df["_line"], df["model"], df["latency_ms"], strict=True):
        if not str(model).strip():
            raise ConfigError(f"{path}: line {line}, column 'model': empty model name")
        try:
            x = float(v)
        except ValueError:
            raise ConfigError(f"{path}: line {line} ({model}), column 'latency_ms': "
                              f"not a number, got {v!r}") from None
        if not math.isfinite(x) or x <= 0:
            raise ConfigError(f"{path}: line {line} ({model}), column 'latency_ms': "
                              f"must be > 0, got {v!r}")
        lat.append(x)
    df = df.copy()
    df["latency_ms"] = lat
    df["model"] = df["model"].str.strip()
    if "resolution" in df.columns:
        res = []
        for line, model, v in zip(df["_line"], df["model"], df["resolution"], strict=True):
            if str(v).strip() == "":
                res.append(None)
                continue
            try:
                r = int(float(v))
            except ValueError:
                r = 0
            if r <= 0:
                raise ConfigError(f"{path}: line {line} ({model}), column 'resolution': "
                                  f"must be a positive integer, got {v!r}")
            res.append(r)
        df["resolution"] = pd.Series(res, index=df.index, dtype=object)
    else:
        df["resolution"] = None
    if "deploy" in df.columns:
        df["deploy"] = [str(v).strip().lower() not in ("false", "0", "no") for v in df["deploy"]]
    else:
        df["deploy"] = True
    return df.reset_index(drop=True)


# --- costs of registry models ---------------------------------------------------------------------
def model_costs(model: str, device: DeviceProfile, *, resolution: int | None = None,
                deploy: bool = True) -> tuple[ModelCosts, Any]:
    """Per-layer costs of a registry model on ``device`` (its precision and fusions).

    Returns the costs and the roofline's ``LatencyEstimate`` (for per-layer predictions).
    """
    from edgekit.roofline import estimate_latency, layer_table

    table = layer_table(model, resolution, deploy=deploy)
    est = estimate_latency(table, device)
    return costs_from_layers(model, est.layers), est


def profile_from_fit(fit: RooflineFit, name: str, base: DeviceProfile, *, source: str,
                     confidence: str = "low") -> str:
    """A device-profile TOML: ``base``'s description with the fitted numbers and their source."""
    from edgekit.bench.micro import _q

    def lst(xs: Sequence[str]) -> str:
        return "[" + ", ".join(_q(x) for x in xs) + "]"

    lines = [
        f"name = {_q(name)}",
        f"description = {_q(base.description + ' (empirically fit roofline)')}",
        f"kind = {_q(base.kind.value)}",
        f"precision = {_q(base.precision.value)}",
        f"format = {_q(base.format)}",
        f"runtime = {_q(base.runtime)}",
        f"fuses = {lst(base.fuses)}",
        f"unsupported_ops = {lst(base.unsupported_ops)}",
        f"notes = {_q(f'fit mode {fit.mode}, n={fit.n}, rms log error {fit.rms_log_err:.3f}')}",
        "",
        "[peak_gmac_s]",
        f"value = {fit.peak_gmac_s:.6g}",
        f"source = {_q(source)}",
        f"confidence = {_q(confidence)}",
        "",
        "[mem_gb_s]",
        f"value = {fit.mem_gb_s:.6g}",
        f"source = {_q(source)}",
        f"confidence = {_q(confidence)}",
        "",
        "[overhead_ms]",
        f"value = {fit.overhead_ms:.6g}",
        f"source = {_q(source)}",
        f"confidence = {_q(confidence)}",
        "",
    ]
    return "\n".join(lines)


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
    "FitReport", "ModelCosts", "OpClass", "RooflineFit", "bootstrap_spearman",
    "costs_from_layers", "error_stats", "fit_modes", "fit_report", "fit_roofline",
    "fittable_classes", "loo_predictions", "model_costs", "op_class", "predict_layers_s",
    "predict_s", "profile_from_fit", "read_measurements", "spearman",
]


# --- the population run ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Entry:
    """One member of the validation population."""

    model: str
    deploy: bool = True
    resolution: int | None = None

    @property
    def label(self) -> str:
        return self.model if self.deploy else f"{self.model}[train]"


def population(models: Sequence[str] | None = None, *, include_train_form: bool = True,
               include_test: bool = False) -> list[Entry]:
    """Every zoo model (or those matching the ``models`` globs), deploy form; re-parameterizable
    models also in their train-time form (unfused branches)."""
    from edgekit.errors import unknown_name
    from edgekit.models import get_spec, list_models
    from edgekit.models.registry import registered

    names: list[str] = []
    for pat in models or [None]:  # type: ignore[list-item]
        found = list_models(pat, include_test=include_test)
        if pat and not found:
            if any(ch in pat for ch in "*?["):
                raise unknown_name("model pattern", pat, registered(), "edgekit models")
            get_spec(pat)  # raises for an unknown name; accepts any timm name
            found = [pat]
        names += [n for n in found if n not in names]
    out = []
    for n in names:
        out.append(Entry(n, True))
        if include_train_form and get_spec(n).reparameterizable:
            out.append(Entry(n, False))
    return out


@dataclass(frozen=True, slots=True)
class Validation:
    """Everything one ``validate`` run produced."""

    measurements: pd.DataFrame  # one row per entry: latency_ms (median of repeats), spread, status
    predictions: pd.DataFrame  # one row per entry: measured and each predictor's prediction
    summary: pd.DataFrame  # one row per predictor: r_s, errors, and fit parameters
    layers: pd.DataFrame | None  # one row per layer: measured and predicted layer times
    fits: dict[str, FitReport]
    meta: dict[str, Any]


def _log(msg: str) -> None:
    import sys

    print(msg, file=sys.stderr, flush=True)


def measure_population(entries: Sequence[Entry], *, runtime: str = "onnxruntime",
                       threads: int = 1, repeats: int = 3, runs: int = 10, warmup: int = 3,
                       min_time_s: float = 0.3, precision: str = "fp32", xnnpack: bool = True,
                       cache_dir: str | os.PathLike[str] | None = None, seed: int = 0,
                       log: Any = _log) -> pd.DataFrame:
    """Time every entry ``repeats`` times, in a shuffled order each round (interleaved, so slow
    drifts of a noisy host spread over all models), and keep the median of the round medians."""
    import random

    import numpy as np
    import pandas as pd

    from edgekit.bench.runners import prepare, run_prepared

    rounds: dict[str, list[Any]] = {e.label: [] for e in entries}
    order = list(entries)
    rng = random.Random(seed)
    failed: dict[str, str] = {}
    for r in range(repeats):
        if r:
            rng.shuffle(order)
        for i, e in enumerate(order):
            if e.label in failed:
                continue
            try:
                p = prepare(e.model, runtime=runtime, threads=threads, xnnpack=xnnpack,
                            resolution=e.resolution, precision=precision, deploy=e.deploy,
                            cache_dir=cache_dir, seed=seed)
                res = run_prepared(p, runs=runs, warmup=warmup, min_time_s=min_time_s)
            except (EdgekitError, RuntimeError, ValueError) as exc:
                # A model the runtime cannot convert or run (e.g. an int8 DIV by zero in LiteRT)
                # is a finding to report, not a reason to lose the rest of the population.
                text = str(exc).strip()
                failed[e.label] = text.splitlines()[0][:300] if text else type(exc).__name__
                log(f"[round {r + 1}/{repeats} {i + 1}/{len(order)}] {e.label}: FAILED "
                    f"({failed[e.label]})")
                continue
            rounds[e.label].append(res)
            del p
            log(f"[round {r + 1}/{repeats} {i + 1}/{len(order)}] {e.label}: "
                f"{res.median_ms:.2f} ms (p10 {res.p10_ms:.2f}, p90 {res.p90_ms:.2f})")
    rows = []
    for e in entries:
        if e.label in failed:
            rows.append({"model": e.model, "deploy": e.deploy, "label": e.label,
                         "resolution": e.resolution, "runtime": runtime, "precision": precision,
                         "threads": threads, "latency_ms": float("nan"), "status": "failed",
                         "error": failed[e.label]})
            continue
        res_list = rounds[e.label]
        med = np.array([x.median_ms for x in res_list])
        all_ns = tuple(t for x in res_list for t in x.times_ns)
        last = res_list[-1]
        rows.append({
            "model": e.model, "deploy": e.deploy, "label": e.label,
            "resolution": last.resolution, "runtime": last.runtime.value,
            "precision": last.precision, "threads": threads, "xnnpack": last.xnnpack,
            "latency_ms": float(np.median(med)), "repeat_min_ms": float(med.min()),
            "repeat_max_ms": float(med.max()),
            "p10_ms": float(np.percentile(all_ns, 10) / 1e6),
            "p90_ms": float(np.percentile(all_ns, 90) / 1e6),
            "mean_ms": float(np.mean(all_ns) / 1e6), "runs": len(all_ns), "repeats": repeats,
            "artifact": last.artifact, "status": "measured", "error": "",
        })
    return pd.DataFrame(rows)


def _summary_row(name: str, pred_s: Any, meas_s: Any, macs: Any, extra: dict[str, Any],
                 ci: bool = True) -> dict[str, Any]:
    st = error_stats(pred_s, meas_s)
    row: dict[str, Any] = {"predictor": name, **st}
    row["r_s_macs"] = spearman(macs, meas_s)
    if ci:
        row["r_s_ci_lo"], row["r_s_ci_hi"] = bootstrap_spearman(pred_s, meas_s)
    return {**row, **extra}


def layer_comparison(entries: Sequence[Entry], meas: pd.DataFrame, estimates: dict[str, Any],
                     costs: dict[str, ModelCosts], fit: RooflineFit | None, *, threads: int,
                     log: Any = _log) -> pd.DataFrame:
    """Measured (ORT profiler) against predicted time per roofline layer row, every model."""
    import onnx
    import pandas as pd

    from edgekit.bench.runners import profile_onnxruntime

    frames = []
    for e in entries:
        row = meas[meas["label"] == e.label].iloc[0]
        est = estimates[e.label]
        layers = est.layers.reset_index(drop=True)
        names = list(layers["name"])
        index = {n: i for i, n in enumerate(names)}
        g = onnx.load(row["artifact"], load_external_data=False).graph
        producer = {o: n for n in g.node for o in n.output}
        by_name = {n.name: n for n in g.node}

        def to_row(node: str, depth: int = 0) -> int | None:
            if node in index:
                return index[node]
            n = by_name.get(node)
            if n is None or depth > 6:
                return None
            for t in n.input:  # an op the roofline fused into its producer
                if t in producer:
                    return to_row(producer[t].name, depth + 1)
            return None

        prof = profile_onnxruntime(row["artifact"], threads=threads, runs=5, warmup=2)
        measured = [0.0] * len(names)
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
        df["op_class"] = list(costs[e.label].op_class)
        df["measured_ms"] = measured
        df["calibrated_ms"] = layers["time_s"].to_numpy() * 1e3
        if fit is not None:
            df["fitted_ms"] = predict_layers_s(costs[e.label], fit.peak_mac_s, fit.mem_bytes_s,
                                               fit.factors) * 1e3
        df["unmapped_model_ms"] = unmapped
        frames.append(df)
        log(f"[layers] {e.label}: {len(prof)} ORT nodes, {unmapped:.2f} ms not mapped to a row")
    return pd.concat(frames, ignore_index=True)


def run_validation(
    models: Sequence[str] | None = None,
    *,
    runtime: str = "onnxruntime",
    device: str | os.PathLike[str] | DeviceProfile | None = None,
    devices_dirs: Sequence[str] = (),
    threads: int = 1,
    repeats: int = 3,
    runs: int = 10,
    warmup: int = 3,
    min_time_s: float = 0.3,
    precision: str | None = None,
    xnnpack: bool = True,
    include_train_form: bool = True,
    include_test: bool = False,
    layers: bool = True,
    out_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    log: Any = _log,
) -> Validation:
    """Measure a population here, predict it with the calibrated and the fitted host profile.

    ``device`` is the calibrated profile (``edgekit calibrate``); when ``None`` this host is
    calibrated first. Writes ``measurements.csv`` (readable by ``fit-device``), ``predictions.csv``,
    ``summary.csv``, ``layers.csv``, ``scatter.png`` and ``meta.json`` into ``out_dir``.
    """
    import datetime as dt
    import time

    import numpy as np

    from edgekit.bench.runners import parse_runtime
    from edgekit.device import load_device

    t_start = time.time()
    rt = parse_runtime(runtime)
    if rt.value == "torch":
        layers = False
    if device is None:
        from edgekit.bench.micro import calibrate_host, profile_toml

        log("calibrating this host (edgekit calibrate) ...")
        cal = calibrate_host(threads=threads)
        prec = precision or ("int8" if rt.value == "litert" else "fp32")
        import tempfile

        tmp = Path(tempfile.mkdtemp()) / "host-calibrated.toml"
        tmp.write_text(profile_toml(cal, "host-calibrated", precision=prec), encoding="utf-8")
        device = tmp
    dev = load_device(device, devices_dirs)
    prec = precision or dev.precision.value
    if prec != dev.precision.value:
        raise ConfigError(f"--precision {prec} conflicts with device {dev.name}, which is "
                          f"{dev.precision.value}; calibrate a {prec} profile or drop --precision")
    entries = population(models, include_train_form=include_train_form,
                         include_test=include_test)
    if len(entries) < 3:
        raise ConfigError(f"validation needs at least 3 models, got {len(entries)}; "
                          "widen --models")
    log(f"population: {len(entries)} entries; runtime {rt.value} {prec}, {threads} thread(s)")
    estimates: dict[str, Any] = {}
    costs: dict[str, ModelCosts] = {}
    for e in entries:
        c, est = model_costs(e.model, dev, resolution=e.resolution, deploy=e.deploy)
        costs[e.label] = replace_model(c, e.label)
        estimates[e.label] = est
    all_meas = measure_population(entries, runtime=rt.value, threads=threads, repeats=repeats,
                                  runs=runs, warmup=warmup, min_time_s=min_time_s,
                                  precision=prec, xnnpack=xnnpack, cache_dir=cache_dir, log=log)
    all_meas["macs"] = [costs[e.label].total_macs for e in entries]
    all_meas["device"] = dev.name
    ok = (all_meas["status"] == "measured").to_numpy()
    failures = all_meas.loc[~ok, ["label", "error"]].to_dict(orient="records")
    entries = [e for e, good in zip(entries, ok, strict=True) if good]
    meas = all_meas[ok].reset_index(drop=True)
    if len(entries) < 3:
        raise ConfigError(f"only {len(entries)} models ran on {rt.value}; failures: {failures}")
    measured_s = meas["latency_ms"].to_numpy() / 1e3
    macs = meas["macs"].to_numpy()
    cal_pred = np.array([estimates[e.label].latency_s for e in entries])
    c_list = [costs[e.label] for e in entries]
    fits = fit_modes(c_list, measured_s)
    pred = meas[["label", "model", "deploy", "resolution", "macs", "latency_ms"]].copy()
    pred["calibrated_ms"] = cal_pred * 1e3
    # MACs alone, scaled by the one factor that best fits (geometric mean), for its error figures.
    k = float(np.exp(np.median(np.log(measured_s / macs))))
    pred["macs_only_ms"] = macs * k * 1e3
    summary = [
        _summary_row("macs_only (scaled)", macs * k, measured_s, macs, {}),
        _summary_row(f"calibrated ({dev.name})", cal_pred, measured_s, macs,
                     {"peak_gmac_s": dev.peak_gmac_s.value, "mem_gb_s": dev.mem_gb_s.value,
                      "ridge_mac_per_byte": dev.ridge_mac_per_byte,
                      "overhead_ms": dev.overhead_s * 1e3}),
    ]
    for name, rep in fits.items():
        pred[f"{name}_loo_ms"] = np.array(rep.loo_pred_s) * 1e3
        summary.append(_summary_row(f"fitted {name} (LOO)", np.array(rep.loo_pred_s),
                                    measured_s, macs, rep.fit.row()))
    import pandas as pd

    summary_df = pd.DataFrame(summary)
    layer_df = None
    if layers and rt.value == "onnxruntime":
        layer_df = layer_comparison(entries, meas, estimates, costs, fits["roofline"].fit,
                                    threads=threads, log=log)
        lrows = []
        for col in ("calibrated_ms", "fitted_ms"):
            ok = layer_df[layer_df["measured_ms"] > 0]
            per_model = [spearman(g[col], g["measured_ms"]) for _, g in ok.groupby("label")
                         if len(g) >= 3]
            lrows.append({"predictor": col.removesuffix("_ms"),
                          "layer_r_s_pooled": spearman(ok[col], ok["measured_ms"]),
                          "layer_r_s_median_per_model": float(np.nanmedian(per_model)),
                          "layer_r_s_macs_pooled": spearman(ok["macs"], ok["measured_ms"]),
                          "layers": int(len(ok))})
        layer_summary = pd.DataFrame(lrows)
    else:
        layer_summary = pd.DataFrame()
    meta = {
        "date": dt.datetime.now().isoformat(timespec="seconds"), "runtime": rt.value,
        "precision": prec, "threads": threads, "xnnpack": xnnpack if rt.value == "litert" else None,
        "repeats": repeats, "device": dev.name, "device_fingerprint": dev.fingerprint(),
        "entries": len(entries), "failed": failures,
        "elapsed_s": round(time.time() - t_start, 1),
        "layer_summary": layer_summary.to_dict(orient="records"),
        **_run_context(),
    }
    result = Validation(all_meas, pred, summary_df, layer_df, fits, meta)
    if out_dir is not None:
        write_validation(result, out_dir)
    return result


def replace_model(c: ModelCosts, label: str) -> ModelCosts:
    return ModelCosts(label, c.macs, c.bytes, c.op_class)


def _run_context() -> dict[str, Any]:
    from edgekit._meta import git_commit
    from edgekit.bench.results import affinity, host_description, versions

    return {"host": host_description(), "affinity": list(affinity()), "git_commit": git_commit(),
            "versions": versions("edgekit", "onnxruntime", "ai-edge-litert", "torch", "timm",
                                 "numpy", "scipy")}


def scatter_figure(pred: pd.DataFrame, columns: Mapping[str, str]) -> Any:
    """Predicted against measured latency, log-log, one marker set per predictor column."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 6))
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


def write_validation(v: Validation, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write a run's tables, figure and metadata; returns the paths written."""
    import json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "measurements.csv", out / "predictions.csv", out / "summary.csv"]
    v.measurements.to_csv(paths[0], index=False)
    v.predictions.to_csv(paths[1], index=False)
    v.summary.to_csv(paths[2], index=False)
    if v.layers is not None:
        paths.append(out / "layers.csv")
        v.layers.to_csv(paths[-1], index=False)
    cols = {"calibrated_ms": "roofline, calibrated profile",
            "roofline_loo_ms": "roofline, fitted (LOO)",
            "roofline+classes_loo_ms": "roofline + op classes, fitted (LOO)",
            "macs_only_ms": "MACs only (scaled)"}
    fig = scatter_figure(v.predictions, cols)
    paths.append(out / "scatter.png")
    fig.savefig(paths[-1], dpi=120, bbox_inches="tight")
    paths.append(out / "meta.json")
    paths[-1].write_text(json.dumps(v.meta, indent=2, default=str), encoding="utf-8")
    return paths
