"""Agreement statistics of predicted against measured latencies: rank correlation and errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from edgekit.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np


def spearman(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Spearman rank correlation (``scipy.stats.spearmanr``); NaN for fewer than 3 points."""
    import numpy as np
    from scipy.stats import spearmanr

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ConfigError(f"spearman needs equal lengths, got {a.shape} and {b.shape}")
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
        raise ConfigError(f"need equal, non-empty lengths, got {p.shape} and {m.shape}")
    if (m <= 0).any():
        raise ConfigError("measured values must be > 0")
    rel = np.abs(p - m) / m
    return {
        "n": int(p.size),
        "r_s": spearman(p, m),
        "median_abs_err_pct": float(np.median(rel) * 100),
        "mape_pct": float(np.mean(rel) * 100),
        "within_10_pct": float(np.mean(rel <= 0.10) * 100),
        "within_25_pct": float(np.mean(rel <= 0.25) * 100),
    }


__all__ = ["bootstrap_spearman", "error_stats", "spearman"]
