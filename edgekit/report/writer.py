"""The report job: run every stage and write its tables and figures into one folder.

``edgekit report --out reports`` writes (the committed ``reports/`` folder is its output):

* ``roofline_zoo.csv`` / ``.json`` / ``.md`` -- one row per model x device (the roofline table,
  with ``runnable`` and ``unsupported_ops``); ``pareto_front.csv``, ``best_models.csv`` / ``.md``.
* ``published_comparison.csv`` / ``.md`` -- predicted vs the MobileNetV4 paper's measured latency
  on its seven devices, with per-device Spearman r_s for the roofline and for MACs alone.
* ``devices.csv`` -- each profile's kind, precision, ridge point and the confidence of its numbers.
* ``export_matrix.csv`` / ``.md`` and ``exports/`` -- mission model x target, from the manifests of
  the exports the run makes (cached between runs).
* ``figures/`` -- latency vs accuracy per device kind and for the ridge sweep, roofline charts
  and time-by-op charts of the mission models on the paper's CPU and accelerator.
* ``validation/`` -- measured runtimes here (onnxruntime fp32, 1 thread), predictions with the
  calibrated and the fitted host profile, r_s, error bands, per-layer r_s and a scatter plot.
* ``changes.csv`` -- latencies that moved by more than 5% since the previous run in this folder.
* ``README.md`` -- the report (:mod:`edgekit.report.readme`), every number from those tables.
* ``*.meta.json`` -- versions, git commit, host and profile fingerprints.

Three modes (:class:`ReportMode`): ``default`` validates on a representative population (every
family at least once) and exports a few mission models, ``full`` validates on the whole zoo and
exports every mission model, ``quick`` uses the tiny ``test_*`` variants (for tests).
"""

from __future__ import annotations

import enum
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SWEEP_DEVICES = ("rp0", "rp5", "rp50", "rp500")
SWEEP_TITLES = {"rp0": "RP 0 MACs/byte - MACs", "rp5": "RP 5 MACs/byte - slow CPU",
                "rp50": "RP 50 MACs/byte - fast CPU", "rp500": "RP 500 MACs/byte - accelerator"}
# Mission models drawn as roofline charts on the paper's CPU and accelerator.
CHART_MODELS = ("mobilenetv4_conv_small", "mobilenetv4_hybrid_medium", "efficientformer_l1",
                "replknet_31t")
CHART_DEVICES = ("pixel6-cpu", "pixel8-edgetpu")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def markdown_table(df: pd.DataFrame, floatfmt: str = ".3g") -> str:
    """A GitHub-flavoured Markdown table (pandas' ``to_markdown`` needs ``tabulate``)."""
    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        if isinstance(v, (float, np.floating)):
            return format(float(v), floatfmt)
        return str(v).replace("|", "\\|")

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body]) + "\n"


def published_scores(comparison: pd.DataFrame, macs: pd.Series) -> pd.DataFrame:
    """Per device: how well the roofline and MACs alone rank and predict the published latencies.

    Args:
        comparison: :func:`edgekit.report.tables.compare_published` output.
        macs: total MACs by model name.
    """
    from edgekit.fit.stats import error_stats, spearman

    rows = []
    for dev, g in comparison.dropna(subset=["published_ms"]).groupby("device", sort=False):
        pred = g["predicted_ms"].to_numpy(float)
        pub = g["published_ms"].to_numpy(float)
        m = g["model"].map(macs).to_numpy(float)
        err = error_stats(pred, pub)
        rows.append({"device": dev, "n": len(g), "r_s_roofline": spearman(pred, pub),
                     "r_s_macs": spearman(m, pub),
                     "median_abs_err_pct": err["median_abs_err_pct"],
                     "within_25_pct": err["within_25_pct"]})
    return pd.DataFrame(rows, columns=["device", "n", "r_s_roofline", "r_s_macs",
                                       "median_abs_err_pct", "within_25_pct"])


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


FIGURE_DPI = 80  # README figures: legible on screen, small in git


def _atomic_fig(fig: Any, path: Path, dpi: int = FIGURE_DPI) -> None:
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=dpi, bbox_inches="tight")  # the outside legend stays whole
    os.replace(tmp, path)


def _meta(extra: dict[str, Any], devices: Sequence[Any]) -> dict[str, Any]:
    from edgekit._meta import git_commit
    from edgekit.bench.results import host_description, versions

    return {"edgekit_command": "edgekit report", **extra, "git_commit": git_commit(),
            "host": host_description(),
            "versions": versions("torch", "timm", "onnx", "onnxruntime", "pandas"),
            "devices": {d.name: d.fingerprint() for d in devices}}


class ReportMode(enum.StrEnum):
    """How much the report job measures and exports."""

    DEFAULT = "default"  # representative validation population, a few mission exports
    FULL = "full"  # every zoo model validated (both forms), every mission model exported
    QUICK = "quick"  # tiny test_* variants, one timing round: for tests


# Mission models exported by default: a conv model and a hybrid (attention) one, which shows what
# the Pixel 4 DSP cannot run. ``--full`` exports every mission model.
DEFAULT_EXPORT_MODELS = ("mobilenetv4_conv_small", "mobilenetv4_hybrid_medium")
QUICK_EXPORT_MODELS = ("test_mobilenetv4_hybrid",)


@dataclass(frozen=True, slots=True)
class ReportPlan:
    """What one report run covers, resolved from its mode and options."""

    mode: ReportMode
    models: tuple[str, ...]  # the roofline population
    validate_models: tuple[str, ...] | None  # None: population()'s default (every zoo model)
    include_test: bool
    repeats: int
    export_models: tuple[str, ...]
    chart_models: tuple[str, ...]


def plan_report(mode: ReportMode | str = ReportMode.DEFAULT, *,
                models: Sequence[str] | None = None,
                validate_models: Sequence[str] | None = None,
                export_models: Sequence[str] | None = None,
                repeats: int | None = None) -> ReportPlan:
    """Resolve a mode and explicit choices (which win) into a :class:`ReportPlan`."""
    from edgekit.models import list_models
    from edgekit.roofline import zoo_models
    from edgekit.validate.population import representative_models

    mode = ReportMode(mode)
    if mode is ReportMode.QUICK:
        tiny = tuple(list_models("test_*", include_test=True))
        return ReportPlan(mode, tuple(models or tiny), tuple(validate_models or tiny), True,
                          repeats or 1, tuple(export_models or QUICK_EXPORT_MODELS),
                          tuple(m for m in (models or tiny) if "mobilenetv4" in m)[:2])
    vm: tuple[str, ...] | None
    if validate_models:
        vm = tuple(validate_models)
    elif mode is ReportMode.FULL:
        vm = None
    else:
        vm = tuple(representative_models())
    if export_models is not None:
        em = tuple(export_models)
    elif mode is ReportMode.FULL:
        em = tuple(list_models(mission=True))
    else:
        em = DEFAULT_EXPORT_MODELS
    return ReportPlan(mode, tuple(models or zoo_models()), vm, False, repeats or 3, em,
                      CHART_MODELS)


def _read_previous(path: Path) -> pd.DataFrame | None:
    """The roofline table a previous run left in the folder (``None`` if absent or unreadable)."""
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError):
        return None


def device_table(devices: Sequence[Any], scores: pd.DataFrame) -> pd.DataFrame:
    """One row per real profile: kind, precision, format, ridge point, the confidence of each
    number, unsupported ops, and the in-sample error against the paper's measurements."""
    err = dict(zip(scores["device"], scores["median_abs_err_pct"], strict=True)) \
        if len(scores) else {}
    rows = []
    for d in devices:
        if d.sweep:
            continue
        rows.append({"device": d.name, "kind": d.kind.value, "precision": d.precision.value,
                     "format": d.format, "ridge_mac_per_byte": d.ridge_mac_per_byte,
                     "peak_confidence": d.peak_gmac_s.confidence.value,
                     "bandwidth_confidence": d.mem_gb_s.confidence.value,
                     "overhead_confidence": d.overhead_ms.confidence.value if d.overhead_ms
                     else "", "unsupported_ops": ",".join(d.unsupported_ops),
                     "published_median_abs_err_pct": err.get(d.name, np.nan),
                     "description": d.description})
    return pd.DataFrame(rows)


def write_report(
    out: str | os.PathLike[str] = "reports",
    *,
    mode: ReportMode | str = ReportMode.DEFAULT,
    models: Sequence[str] | None = None,
    devices_dirs: Sequence[str] = (),
    validate: bool = True,
    validate_models: Sequence[str] | None = None,
    exports: bool = True,
    export_models: Sequence[str] | None = None,
    repeats: int | None = None,
    workers: int | None = None,
    log: Callable[[str], None] = _log,
) -> dict[str, Any]:
    """Run the report job and write every table and figure into ``out``; returns its headline
    numbers (also written to ``summary.json``).

    Args:
        out: the report folder; a ``roofline_zoo.csv`` already there is read first, for the
            "what changed" section.
        mode: :class:`ReportMode` (``default``, ``full``, ``quick``).
        models: the roofline population (default: the whole zoo; ``quick``: the test variants).
        devices_dirs: extra directories of device profiles.
        validate: measure runtimes on this host and compare.
        validate_models: the validation population (default: from the mode).
        exports: make the export matrix.
        export_models: the models exported (default: from the mode).
        repeats: interleaved timing rounds (default 3; ``quick``: 1).
        workers: processes building layer tables.
        log: progress lines (stderr by default).
    """
    from edgekit.data import PUBLISHED_MNV4
    from edgekit.device import list_devices
    from edgekit.errors import ensure_dir
    from edgekit.report.figures import latency_accuracy_panels, op_time_chart, roofline_chart
    from edgekit.report.progress import Stage
    from edgekit.report.readme import KIND_TITLES, kind_figure, render_readme
    from edgekit.report.tables import (
        best_models,
        changes_since,
        compare_published,
        latency_pivot,
        marked_pivot,
        pareto_front,
    )
    from edgekit.roofline import SUMMARY_COLUMNS, estimate_latency, layer_tables, summary_row

    t0 = time.time()
    plan = plan_report(mode, models=models, validate_models=validate_models,
                       export_models=export_models, repeats=repeats)
    out_dir = Path(out)
    fig_dir = out_dir / "figures"
    ensure_dir(fig_dir, "--out")
    if validate and plan.validate_models:  # a bad name fails now, not after the other stages
        from edgekit.validate.population import population

        population(list(plan.validate_models), include_test=plan.include_test)
    if exports:
        from edgekit.models import get_spec

        for m in plan.export_models:
            get_spec(m)
    previous = _read_previous(out_dir / "roofline_zoo.csv")
    devices = list_devices(devices_dirs)
    n_stages = 3 + int(exports) + int(validate)
    stage_times: dict[str, float] = {}

    # 1. Layer tables and the roofline table, model x device.
    st = Stage(1, n_stages, "layer tables", len(plan.models), log)
    tables = layer_tables(list(plan.models), None, workers=workers, progress=st.step)
    stage_times["layer tables"] = st.finish()
    by_name = {t.attrs.get("model"): t for t in tables}
    summary = pd.DataFrame([summary_row(t, estimate_latency(t, d)) for t in tables
                            for d in devices], columns=list(SUMMARY_COLUMNS))
    meta = _meta({"models": len(tables), "mode": plan.mode.value}, devices)
    summary.to_csv(out_dir / "roofline_zoo.csv", index=False)
    _atomic_text(out_dir / "roofline_zoo.json", summary.to_json(orient="records", indent=1))
    _atomic_text(out_dir / "roofline_zoo.csv.meta.json", json.dumps(meta, indent=1, default=str))
    real = [d.name for d in devices if not d.sweep]
    on_real = summary[summary["device"].isin(real)]
    _atomic_text(out_dir / "roofline_zoo.md",
                 "# Roofline latency (ms) of the zoo on every device profile\n\n"
                 "Generated by `edgekit report`; latency = sum over layers of max(MACs/peak, "
                 "bytes/bandwidth) + the profile's overhead. `*`: the device cannot run the "
                 "model (unsupported ops in `roofline_zoo.csv`).\n\n"
                 + markdown_table(marked_pivot(latency_pivot(on_real), on_real)))
    front = pareto_front(summary)
    front.to_csv(out_dir / "pareto_front.csv", index=False)
    best = best_models(on_real)
    best.to_csv(out_dir / "best_models.csv", index=False)
    changes = changes_since(previous, summary)
    changes["moved"].to_csv(out_dir / "changes.csv", index=False)

    # 2. Predicted vs published (MobileNetV4 paper, Table 6), and the profiles' trust.
    comparison = compare_published(summary, PUBLISHED_MNV4)
    macs = summary.groupby("model")["macs"].first()
    scores = published_scores(comparison, macs)
    comparison.to_csv(out_dir / "published_comparison.csv", index=False)
    scores.to_csv(out_dir / "published_scores.csv", index=False)
    _atomic_text(out_dir / "published_comparison.md",
                 "# Roofline prediction vs the MobileNetV4 paper's measured latency\n\n"
                 "The profiles' absolute scale and overhead were fit to these same measurements "
                 "(ridge fixed to the paper's for the four roofline devices), so the errors below "
                 "are in-sample; `scripts/fit_devices.py` prints the leave-one-out errors.\n\n"
                 + markdown_table(scores) + "\n" +
                 markdown_table(comparison.drop(columns=["source"], errors="ignore")))
    dev_table = device_table(devices, scores)
    dev_table.to_csv(out_dir / "devices.csv", index=False)

    # 3. Figures: one latency-vs-accuracy figure per device kind, the sweep, roofline charts.
    kinds = list(dict.fromkeys(d.kind.value for d in devices if not d.sweep))
    charts = [(m, d) for m in plan.chart_models if m in by_name for d in CHART_DEVICES
              if d in {x.name for x in devices}]
    st = Stage(2, n_stages, "figures", len(kinds) + 1 + 2 * len(charts), log)
    figures: dict[str, str] = {}
    sweep_devs = [d for d in SWEEP_DEVICES if d in set(summary["device"])]
    if sweep_devs:
        _atomic_fig(latency_accuracy_panels(summary, sweep_devs, titles=SWEEP_TITLES),
                    fig_dir / "latency_vs_accuracy_sweep.png")
        figures["sweep"] = "figures/latency_vs_accuracy_sweep.png"
    st.step("sweep")
    for kind in kinds:
        devs = [d.name for d in devices if not d.sweep and d.kind.value == kind]
        name = kind_figure(kind)
        _atomic_fig(latency_accuracy_panels(summary, devs, ncols=3), fig_dir / name)
        figures[f"kind:{kind}"] = f"figures/{name}"
        st.step(KIND_TITLES.get(kind, kind))
    dev_by_name = {d.name: d for d in devices}
    for m, dname in charts:
        est = estimate_latency(by_name[m], dev_by_name[dname])
        _atomic_fig(roofline_chart(est), fig_dir / f"roofline__{m}__{dname}.png")
        _atomic_fig(op_time_chart(est), fig_dir / f"optime__{m}__{dname}.png")
        figures[f"roofline:{m}:{dname}"] = f"figures/roofline__{m}__{dname}.png"
        figures[f"optime:{m}:{dname}"] = f"figures/optime__{m}__{dname}.png"
        st.step(f"{m} on {dname}", done=st.done + 2)
    stage_times["figures"] = st.finish()

    headline: dict[str, Any] = {
        "mode": plan.mode.value, "models": len(tables), "devices": len(devices),
        "published": scores.to_dict(orient="records"),
    }
    # 4. The export matrix.
    matrix = None
    index = 3
    if exports:
        from edgekit.report.exports import export_matrix

        targets = [d for d in devices if not d.sweep]
        st = Stage(index, n_stages, "exports", len(plan.export_models), log)
        matrix = export_matrix(plan.export_models, targets, out_dir / "exports",
                               devices_dirs=devices_dirs, summary=summary, step=st.step, log=log)
        stage_times["exports"] = st.finish()
        matrix.to_csv(out_dir / "export_matrix.csv", index=False)
        _atomic_text(out_dir / "export_matrix.md",
                     "# Export matrix: model x target (from the exports' manifests)\n\n"
                     + markdown_table(matrix))
        index += 1
    # 5. Validation against runtimes measured here.
    if validate:
        from edgekit.validate import run_validation

        st = Stage(index, n_stages, "validation (onnxruntime fp32, 1 thread)", 0, log)
        v = run_validation(list(plan.validate_models) if plan.validate_models else None,
                           runtime="onnxruntime", threads=1, repeats=plan.repeats,
                           include_test=plan.include_test, out_dir=out_dir / "validation",
                           devices_dirs=devices_dirs, log=st.round_log())
        stage_times["validation"] = st.finish()
        headline["validation"] = v.summary.to_dict(orient="records")
        headline["validation_layers"] = v.meta.get("layer_summary")
        headline["validation_entries"] = v.meta.get("entries")
        _atomic_text(out_dir / "validation" / "summary.md",
                     "# Roofline vs measured latency on this host (onnxruntime fp32, 1 thread)\n\n"
                     + markdown_table(v.summary))
        index += 1
    # 6. The report itself, from the tables written above.
    st = Stage(index, n_stages, "README", 1, log)
    headline["stage_s"] = {k: round(v_, 1) for k, v_ in stage_times.items()}
    headline["elapsed_s"] = round(time.time() - t0, 1)
    _atomic_text(out_dir / "README.md", render_readme(
        out_dir, plan=plan, summary=summary, best=best, front=front, devices=dev_table,
        scores=scores, matrix=matrix, changes=changes, figures=figures, headline=headline,
        had_previous=previous is not None))
    _atomic_text(out_dir / "summary.json", json.dumps(headline, indent=1, default=str))
    st.step("README.md")
    st.finish()
    log(f"[report] done in {headline['elapsed_s']} s")
    return headline
