"""Agreement statistics (edgekit.fit.stats) against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.fit.stats import bootstrap_spearman, error_stats, spearman


def test_spearman_on_known_orderings() -> None:
    a = [1, 2, 3, 4, 5]
    assert spearman(a, [10, 20, 30, 40, 50]) == pytest.approx(1.0)
    assert spearman(a, [5, 4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman(a, [1, 2, 3, 5, 4]) == pytest.approx(0.9)  # 1 - 6*2/(5*24)
    assert np.isnan(spearman([1, 2], [2, 1]))
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))  # no ranking in a constant


def test_bootstrap_interval_brackets_the_estimate() -> None:
    lo, hi = bootstrap_spearman(np.arange(30), np.arange(30) + 0.5)
    assert lo == pytest.approx(1.0) and hi == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    a = rng.normal(size=40)
    b = a + rng.normal(scale=1.0, size=40)
    lo, hi = bootstrap_spearman(a, b, seed=1)
    assert lo < spearman(a, b) < hi
    assert (lo, hi) == bootstrap_spearman(a, b, seed=1)  # seeded: reproducible


def test_error_stats_known_values() -> None:
    st = error_stats([1.05, 0.8, 2.0, 1.0], [1.0, 1.0, 1.0, 1.0])
    assert st["n"] == 4
    assert st["median_abs_err_pct"] == pytest.approx(12.5)
    assert st["mape_pct"] == pytest.approx((5 + 20 + 100 + 0) / 4)
    assert st["within_10_pct"] == pytest.approx(50.0)
    assert st["within_25_pct"] == pytest.approx(75.0)


def test_error_stats_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="equal, non-empty"):
        error_stats([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="> 0"):
        error_stats([1.0], [0.0])
