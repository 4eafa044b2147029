"""Which op class a model's prediction error comes from, estimated over the whole population.

A whole-model measurement cannot say which op was slow. The population can: if the runtime
table under-predicts one op class, the models that spend more of their predicted time in that
class miss by more. So the log error of each model is regressed on its per-class time shares,

    log(measured_m / predicted_m) ~ sum_c share_{m,c} * delta_c,

by ridge-regularised least squares (``delta_c``: the class's systematic log error), and each
model's error is attributed to the class with the largest ``|share_{m,c} * delta_c|``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

RIDGE = 0.05


def class_deltas(shares: pd.DataFrame, log_err: np.ndarray, *, ridge: float = RIDGE) -> pd.Series:
    """Per op class, the systematic log error ``delta_c`` (``shares``: models x classes)."""
    a = shares.fillna(0.0).to_numpy(float)
    if not a.size:
        return pd.Series(dtype=float)
    lhs = a.T @ a + ridge * np.eye(a.shape[1])
    delta = np.linalg.solve(lhs, a.T @ np.asarray(log_err, float))
    return pd.Series(delta, index=shares.columns)


def attribute_errors(labels: Sequence[str], by_class: Mapping[str, pd.DataFrame],
                     predicted_s: np.ndarray, measured_s: np.ndarray) -> pd.DataFrame:
    """Per model: the op class that contributes most error, its share and its class's delta.

    Args:
        labels: the models, in the order of ``predicted_s`` and ``measured_s``.
        by_class: per label, a frame with ``op_class`` and ``time_s`` (predicted time per class).
        predicted_s, measured_s: whole-model times.
    """
    shares = pd.DataFrame([
        (by_class[lbl].groupby("op_class")["time_s"].sum()
         / max(float(by_class[lbl]["time_s"].sum()), 1e-30)) for lbl in labels],
        index=list(labels)).fillna(0.0)
    log_err = np.log(np.asarray(measured_s, float) / np.asarray(predicted_s, float))
    delta = class_deltas(shares, log_err)
    contrib = shares * delta
    worst = contrib.abs().idxmax(axis=1) if len(contrib.columns) else pd.Series("", index=shares.index)
    return pd.DataFrame({
        "label": list(labels), "error_class": worst.to_numpy(),
        "error_class_share": [float(shares.loc[lbl, c]) for lbl, c in zip(labels, worst, strict=True)],
        "error_class_delta_pct": [float(np.expm1(delta[c]) * 100) for c in worst]})


__all__ = ["attribute_errors", "class_deltas"]
