"""One validation run: measure a population here, predict it, fit the roofline, write the results.

:func:`run_validation` times every entry of the population on one runtime
(:mod:`edgekit.validate.measure`), predicts it with the calibrated host profile and with rooflines
fit to the measurements (leave-one-out, :mod:`edgekit.fit`), compares per-layer times
(:mod:`edgekit.validate.layers`) and, with ``out_dir``, writes every table, the scatter figure and
the metadata (:func:`write_validation`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.errors import ConfigError
from edgekit.fit.costs import ModelCosts, model_costs
from edgekit.fit.roofline_fit import FitReport, fit_modes
from edgekit.fit.stats import bootstrap_spearman, error_stats, spearman
from edgekit.validate.layers import layer_comparison, layer_summary
from edgekit.validate.measure import log_stderr, measure_population
from edgekit.validate.population import population

if TYPE_CHECKING:
    import pandas as pd

    from edgekit.device import DeviceProfile
    from edgekit.runtime.efficiency import KernelModel


@dataclass(frozen=True, slots=True)
class Validation:
    """Everything one ``validate`` run produced."""

    measurements: pd.DataFrame  # one row per entry: latency_ms (median of repeats), spread, status
    predictions: pd.DataFrame  # one row per entry: measured and each predictor's prediction
    summary: pd.DataFrame  # one row per predictor: r_s, errors, and fit parameters
    layers: pd.DataFrame | None  # one row per layer: measured and predicted layer times
    fits: dict[str, FitReport]
    meta: dict[str, Any]
    efficiency: pd.DataFrame | None = None  # the runtime table's efficiency points, if used


def calibrated_host(*, threads: int, precision: str,
                    log: Callable[[str], None] = log_stderr) -> DeviceProfile:
    """Calibrate this host (``edgekit calibrate``) and load the result as a profile."""
    import tempfile

    from edgekit.bench.micro import calibrate_host, profile_toml
    from edgekit.device import load_profile_file

    log("calibrating this host (edgekit calibrate) ...")
    cal = calibrate_host(threads=threads)
    with tempfile.TemporaryDirectory(prefix="edgekit-calibrate-") as tmp:
        path = Path(tmp) / "host-calibrated.toml"
        path.write_text(profile_toml(cal, "host-calibrated", precision=precision),
                        encoding="utf-8")
        return load_profile_file(path)


def summary_row(name: str, pred_s: Any, meas_s: Any, macs: Any, extra: dict[str, Any],
                ci: bool = True) -> dict[str, Any]:
    """One predictor's summary row: error statistics, r_s with a bootstrap CI, and MACs' r_s."""
    st = error_stats(pred_s, meas_s)
    row: dict[str, Any] = {"predictor": name, **st}
    row["r_s_macs"] = spearman(macs, meas_s)
    if ci:
        row["r_s_ci_lo"], row["r_s_ci_hi"] = bootstrap_spearman(pred_s, meas_s)
    return {**row, **extra}


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
    log: Callable[[str], None] = log_stderr,
    resume: bool = False,
    kernel_model: KernelModel | None = None,
    table_runtime: str | None = None,
    table_meta: dict[str, Any] | None = None,
    drift_probe: Callable[[], dict[str, Any]] | None = None,
) -> Validation:
    """Measure a population here, predict it with the calibrated and the fitted host profile.

    ``device`` is the calibrated profile (``edgekit calibrate``); when ``None`` this host is
    calibrated first. Writes ``measurements.csv`` (readable by ``fit-device``), ``predictions.csv``,
    ``summary.csv``, ``layers.csv``, ``scatter.png``, ``meta.json`` and, with a runtime table,
    ``efficiency.csv`` (its kernel-efficiency points) into ``out_dir``.

    With ``kernel_model`` (a runtime table's model, :mod:`edgekit.runtime.efficiency`) each
    measured artifact is also predicted from the table alone, on ``table_runtime``
    (:mod:`edgekit.validate.table_predict`): no whole-model fitting. ``drift_probe`` (the table's
    cases re-timed: :func:`edgekit.bench.kernels.table_drift`) is called right before and right
    after the measurement; its ratios go into ``meta.json`` and, as a diagnostic beside the
    table's own row, the table's prediction at their geometric mean (how fast the host ran the
    table's kernels while it measured the population).

    Every argument, the output folder, the runtime and the population size are checked before the
    first measurement. With ``out_dir`` each round is journalled as it is measured
    (:mod:`edgekit.validate.journal`); ``resume=True`` continues an interrupted run from it.
    """
    import datetime as dt
    import time

    import numpy as np
    import pandas as pd

    from edgekit.bench.runners import parse_runtime
    from edgekit.device import load_device

    t_start = time.time()
    rt = parse_runtime(runtime)
    if rt.value == "torch":
        layers = False
    entries = population(models, include_train_form=include_train_form,
                         include_test=include_test)
    check_population(entries)
    _check_runtime(rt, precision)
    if out_dir is not None:
        _check_out_dir(out_dir)
    if device is None:
        device = calibrated_host(threads=threads, log=log, precision=precision or (
            "int8" if rt.value == "litert" else "fp32"))
    dev = load_device(device, devices_dirs)
    prec = precision or dev.precision.value
    if prec != dev.precision.value:
        raise ConfigError(f"--precision {prec} conflicts with device {dev.name}, which is "
                          f"{dev.precision.value}; calibrate a {prec} profile or drop --precision")
    journal = None
    if out_dir is not None:
        from edgekit.validate.journal import Journal

        journal = Journal(out_dir, {"runtime": rt.value, "precision": prec, "threads": threads},
                          resume=resume)
    log(f"population: {len(entries)} entries; runtime {rt.value} {prec}, {threads} thread(s)")
    estimates: dict[str, Any] = {}
    costs: dict[str, ModelCosts] = {}
    for e in entries:
        c, est = model_costs(e.model, dev, resolution=e.resolution, deploy=e.deploy)
        costs[e.label] = c.relabel(e.label)
        estimates[e.label] = est
    drift: dict[str, Any] = {}
    probe = drift_probe if kernel_model is not None else None
    if probe is not None:
        from edgekit.bench.kernels import drift_line

        drift["before"] = probe()
        log(drift_line(drift["before"], "before measuring"))
    try:
        all_meas = measure_population(entries, runtime=rt.value, threads=threads,
                                      repeats=repeats, runs=runs, warmup=warmup,
                                      min_time_s=min_time_s, precision=prec, xnnpack=xnnpack,
                                      cache_dir=cache_dir, log=log, journal=journal)
    except KeyboardInterrupt:
        if journal is not None:
            log(f"interrupted: {len(journal.rounds)} measurements kept in {journal.path}; "
                "continue with --resume")
        raise
    if probe is not None:
        drift["after"] = probe()
        log(drift_line(drift["after"], "after measuring"))
    all_meas["macs"] = [costs[e.label].total_macs for e in entries]
    all_meas["device"] = dev.name
    ok = (all_meas["status"] == "measured").to_numpy()
    failures = all_meas.loc[~ok, ["label", "error"]].to_dict(orient="records")
    entries = [e for e, good in zip(entries, ok, strict=True) if good]
    meas = all_meas[ok].reset_index(drop=True)
    if len(entries) < MIN_MODELS:
        kept = f"; the measurements are in {journal.path}" if journal is not None else ""
        raise ConfigError(f"only {len(entries)} models ran on {rt.value}, the fit needs "
                          f"{MIN_MODELS}; failures: {failures}{kept}")
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
        summary_row("macs_only (scaled)", macs * k, measured_s, macs, {}),
        summary_row(f"calibrated ({dev.name})", cal_pred, measured_s, macs,
                    {"peak_gmac_s": dev.peak_gmac_s.value, "mem_gb_s": dev.mem_gb_s.value,
                     "ridge_mac_per_byte": dev.ridge_mac_per_byte,
                     "overhead_ms": dev.overhead_s * 1e3}),
    ]
    for name, rep in fits.items():
        pred[f"{name}_loo_ms"] = np.array(rep.loo_pred_s) * 1e3
        summary.append(summary_row(f"fitted {name} (LOO)", np.array(rep.loo_pred_s),
                                   measured_s, macs, rep.fit.row()))
    table_info: dict[str, Any] = {}
    if kernel_model is not None:
        from edgekit.validate.table_predict import placement_rows, predict_population

        log(f"predicting {len(meas)} models from the runtime table ({table_runtime})")
        tp = predict_population(meas, kernel_model, runtime=str(table_runtime), threads=threads)
        pred = pred.merge(tp.frame, on="label", how="left")
        summary.insert(1, summary_row(
            f"runtime table ({table_runtime})", pred["table_ms"].to_numpy() / 1e3, measured_s,
            macs, {"mode": "micro-benchmarks only", "missing_ops": ",".join(tp.missing)}))
        ratios = [d["median_ratio"] for d in drift.values() if d.get("cases")]
        if ratios:
            k_host = float(np.exp(np.mean(np.log(ratios))))
            pred["table_at_drift_ms"] = pred["table_ms"] * k_host
            summary.insert(2, summary_row(
                "runtime table x host drift (diagnostic)", pred["table_ms"].to_numpy() / 1e3
                * k_host, measured_s, macs,
                {"mode": f"micro-benchmarks only, x{k_host:.2f}: the host's drift from the "
                 "table, re-timed before and after measuring"}))
        summary.insert(3 if ratios else 2, summary_row(
            "plain roofline, same graph", pred["graph_roofline_ms"].to_numpy() / 1e3,
            measured_s, macs, {"peak_gmac_s": kernel_model.peak_mac_s / 1e9,
                               "mem_gb_s": kernel_model.mem_bytes_s / 1e9}))
        table_info = {"runtime_table": {**(table_meta or {}), "missing_ops": list(tp.missing),
                                        **({"drift": drift} if drift else {})},
                      "placement": placement_rows(tp.frame)}
    summary_df = pd.DataFrame(summary)
    layer_df = None
    if layers and rt.value == "onnxruntime":
        layer_df = layer_comparison(entries, meas, estimates, costs, fits["roofline"].fit,
                                    threads=threads, log=log)
        layers_summary = layer_summary(layer_df)
    else:
        layers_summary = pd.DataFrame()
    meta = {
        "date": dt.datetime.now().isoformat(timespec="seconds"), "runtime": rt.value,
        "precision": prec, "threads": threads, "xnnpack": xnnpack if rt.value == "litert" else None,
        "repeats": repeats, "device": dev.name, "device_fingerprint": dev.fingerprint(),
        "entries": len(entries), "failed": failures,
        "elapsed_s": round(time.time() - t_start, 1),
        "layer_summary": layers_summary.to_dict(orient="records"),
        **table_info,
        **_run_context(),
    }
    eff_df = None
    if kernel_model is not None and len(kernel_model.points):
        eff_df = kernel_model.points.sort_values(["op_class", "op", "unit", "kernel", "stride"])
    result = Validation(all_meas, pred, summary_df, layer_df, fits, meta, eff_df)
    if out_dir is not None:
        write_validation(result, out_dir)
        if journal is not None:
            journal.finish()
    return result


# The fit has 3 parameters (peak, bandwidth, overhead) and predicts each model from the others.
MIN_MODELS = 4


def check_population(entries: Sequence[Any]) -> None:
    """Enough entries for the leave-one-out fit, or a ConfigError saying how many are missing."""
    if len(entries) < MIN_MODELS:
        names = ", ".join(e.label for e in entries) or "none"
        raise ConfigError(
            f"validation fits 3 parameters (peak, bandwidth, overhead) and predicts each model "
            f"from the others, so it needs at least {MIN_MODELS} models, got {len(entries)} "
            f"({names}); add models or globs to --models")


def _check_runtime(rt: Any, precision: str | None) -> None:
    """The runtime can convert and run here (its toolchain is installed)."""
    from edgekit.bench.runners import exporter_for_runtime
    from edgekit.errors import missing_toolchain
    from edgekit.precision import Precision

    if rt.value == "torch":
        return
    exporter = exporter_for_runtime(rt)
    exporter.check_toolchain(Precision(precision or exporter.precisions[0].value))
    if not exporter.can_run_here():
        pkg = {"litert": "ai-edge-litert"}.get(rt.value, rt.value)
        raise missing_toolchain(pkg, exporter.extra, f"--runtime {rt.value}")


def _check_out_dir(out_dir: str | os.PathLike[str]) -> None:
    """The output folder exists or can be made, and is writable."""
    import tempfile

    from edgekit.errors import ensure_dir

    p = Path(out_dir)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"--out '{p}' is a file, but a directory is expected; choose another "
                          "--out")
    ensure_dir(p, "--out")
    try:
        with tempfile.NamedTemporaryFile(dir=p, prefix=".edgekit-write-test-"):
            pass
    except OSError as exc:
        raise ConfigError(f"--out directory '{p}' is not writable: {exc.strerror or exc}; "
                          "choose another --out") from exc


def _run_context() -> dict[str, Any]:
    from edgekit._meta import git_commit, host_description
    from edgekit.bench.results import affinity, versions

    return {"host": host_description(), "affinity": list(affinity()), "git_commit": git_commit(),
            "versions": versions("edgekit", "onnxruntime", "ai-edge-litert", "torch", "timm",
                                 "numpy", "scipy")}


def write_validation(v: Validation, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write a run's tables, figure and metadata; returns the paths written."""
    import json

    from edgekit.report.validation_figures import scatter_figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "measurements.csv", out / "predictions.csv", out / "summary.csv"]
    v.measurements.to_csv(paths[0], index=False)
    v.predictions.to_csv(paths[1], index=False)
    v.summary.to_csv(paths[2], index=False)
    if v.layers is not None:
        paths.append(out / "layers.csv")
        v.layers.to_csv(paths[-1], index=False)
    if v.efficiency is not None:
        paths.append(out / "efficiency.csv")
        v.efficiency.to_csv(paths[-1], index=False)
    fig = scatter_figure(v.predictions)
    paths.append(out / "scatter.png")
    fig.savefig(paths[-1], dpi=120, bbox_inches="tight")
    paths.append(out / "meta.json")
    paths[-1].write_text(json.dumps(v.meta, indent=2, default=str), encoding="utf-8")
    return paths


__all__ = ["MIN_MODELS", "Validation", "check_population", "calibrated_host", "run_validation", "summary_row", "write_validation"]
