"""``fit-device --model runtime``: the runtime latency model fit to a device's measured rows.

Each row's model is built (its layer table at the row's resolution); a row whose model cannot be
built is reported in one line naming the row and the model, and the fit goes on with the others.
The ops each model runs come from the row's ``layers_total`` column where the CSV has one (the
graph that ran, as AI Hub reports it), else from the base profile's runtime op-count model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from edgekit.errors import ConfigError, EdgekitError
from edgekit.fit.runtime_fit import RunCosts, RuntimeFit, fit_runtime, loo_runtime, run_costs

if TYPE_CHECKING:
    import pandas as pd

    from edgekit.device import DeviceProfile

# Attention matmuls and unfused activations (GELU, SiLU, h-swish, sigmoid): what the NPU rows need
# (scripts/fit_npu.py's leave-one-out table).
DEFAULT_CLASSES = ("matmul", "activation")
MIN_ROWS_PER_CLASS = 8  # below this many rows, fit no class efficiency


@dataclass(frozen=True, slots=True)
class RuntimeDeviceFit:
    """A runtime fit of one device's rows, with its leave-one-out predictions."""

    fit: RuntimeFit
    models: tuple[str, ...]
    measured_s: tuple[float, ...]
    in_sample_s: tuple[float, ...]
    loo_s: tuple[float, ...]
    skipped: tuple[str, ...]  # one line per row that could not be built


def row_costs(df: pd.DataFrame, base: DeviceProfile,
              warn: Callable[[str], None]) -> tuple[list[RunCosts], list[int], list[str]]:
    """:class:`RunCosts` of each buildable row; the indices used and the skipped rows' lines."""
    from edgekit.roofline import layer_table

    costs, used, skipped = [], [], []
    has_count = "layers_total" in df.columns
    lines = list(df["_line"]) if "_line" in df.columns else list(range(2, len(df) + 2))
    for i, r in enumerate(df.itertuples()):
        line = lines[i]  # the file's line (itertuples renames the underscored column)
        try:
            table = layer_table(r.model, r.resolution, deploy=bool(r.deploy))
        except EdgekitError as exc:
            msg = f"line {line}: skipped model '{r.model}': {exc}"
            skipped.append(msg)
            warn(msg)
            continue
        c = run_costs(table, base, r.model)
        count = str(getattr(r, "layers_total", "")).strip() if has_count else ""
        if count:
            try:
                n = int(float(count))
            except ValueError:
                n = -1
            if n <= 0 or not math.isfinite(n):
                raise ConfigError(f"line {line} ({r.model}), column 'layers_total': must be a "
                                  f"positive integer, got {count!r}")
            c = replace(c, n_ops=n)
        costs.append(c)
        used.append(i)
    return costs, used, skipped


def fit_runtime_device(df: pd.DataFrame, base: DeviceProfile, *,
                       classes: Sequence[str] | None = None, overhead: bool = True,
                       warn: Callable[[str], None] = lambda _m: None) -> RuntimeDeviceFit:
    """Fit ``P, B``, per-op cost, overhead (and class efficiencies) to a measurement table."""
    costs, used, skipped = row_costs(df, base, warn)
    y = df["latency_ms"].to_numpy(float)[used] / 1e3
    if classes is None:
        classes = DEFAULT_CLASSES if len(used) >= MIN_ROWS_PER_CLASS else ()
    slices = any(c.n_slices for c in costs)  # a launch cost per matmul slice is fit only then
    need = 4 + len(classes) - (0 if overhead else 1) + (1 if slices else 0)
    if len(used) < need + 1:
        raise ConfigError(f"the runtime fit needs at least {need + 1} buildable rows (one more "
                          f"than its {need} parameters, for leave-one-out), got {len(used)}")
    kw: dict[str, Any] = {"classes": tuple(classes), "overhead": overhead}
    fit = fit_runtime(costs, y, **kw)
    loo = loo_runtime(costs, y, **kw)
    return RuntimeDeviceFit(
        fit=fit, models=tuple(c.model for c in costs), measured_s=tuple(float(v) for v in y),
        in_sample_s=tuple(fit.predict_s(c) for c in costs), loo_s=tuple(float(v) for v in loo),
        skipped=tuple(skipped))


def runtime_profile_text(fit: RuntimeFit, name: str, base: DeviceProfile, source: str) -> str:
    """A device-profile TOML of ``base`` with the fitted values and ``[runtime_costs]``."""
    from edgekit.fit.toml import toml_list, toml_string

    eff = ", ".join(f"{k} = {v:.6g}" for k, v in fit.efficiency.items())
    src = toml_string(source)
    lines = [
        f"name = {toml_string(name)}",
        f"description = {toml_string(base.description + ' (fit)')}",
        f'kind = "{base.kind.value}"', f'precision = "{base.precision.value}"',
        f"format = {toml_string(base.format)}",
        f"runtime = {toml_string(base.runtime)}",
        f"fuses = {toml_list(base.fuses)}", f"unsupported_ops = {toml_list(base.unsupported_ops)}",
        "", "[peak_gmac_s]", f"value = {fit.peak_mac_s / 1e9:.6g}", f"source = {src}",
        'confidence = "low"', "", "[mem_gb_s]", f"value = {fit.mem_bytes_s / 1e9:.6g}",
        f"source = {src}", 'confidence = "low"', "", "[overhead_ms]",
        f"value = {fit.overhead_s * 1e3:.6g}", f"source = {src}", 'confidence = "low"', "",
        "[runtime_costs]", f"per_op_us = {fit.per_op_s * 1e6:.6g}",
        f"per_matmul_slice_us = {fit.per_slice_s * 1e6:.6g}", f"efficiency = {{ {eff} }}",
        f"source = {src}", 'confidence = "low"', "",
    ]
    return "\n".join(lines)


__all__ = ["DEFAULT_CLASSES", "RuntimeDeviceFit", "fit_runtime_device", "row_costs",
           "runtime_profile_text"]
