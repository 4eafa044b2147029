"""The report's README.md: Markdown rendered from the tables one report run wrote.

Nothing here computes a number of its own: every figure, count and latency comes from the
DataFrames the writer saved (``roofline_zoo.csv``, ``best_models.csv``, ``export_matrix.csv``,
``devices.csv``, ``validation*/summary.csv``...), and every embedded image is a file it wrote.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from edgekit.report.writer import ReportPlan

KIND_TITLES = {"cpu": "CPU", "dsp": "DSP", "gpu": "GPU", "npu": "accelerator (NPU)"}
# The devices a reader choosing a phone target asks about first, when their profiles exist.
FOCUS_DEVICES = ("pixel8-edgetpu", "pixel4-dsp", "pixel6-cpu")
FOCUS_BUDGETS_MS = (2.0, 10.0)


def kind_figure(kind: str) -> str:
    """File name of the latency-vs-accuracy figure of one device kind."""
    return f"latency_vs_accuracy_{kind}.png"


def _md(df: pd.DataFrame, floatfmt: str = ".3g") -> str:
    from edgekit.report.writer import markdown_table

    return markdown_table(df, floatfmt)


def _runnable(summary: pd.DataFrame) -> pd.Series:
    from edgekit.report.tables import _runnable as runnable

    return runnable(summary)


def _ms(v: float) -> str:
    return f"{v:.3g} ms"


def _fits(summary: pd.DataFrame, device: str, budget: float) -> str:
    ok = summary[(summary["device"] == device) & _runnable(summary)
                 & (summary["latency_ms"] <= budget)].sort_values("latency_ms")
    if not len(ok):
        return "none"
    return ", ".join(f"{r.model} ({r.latency_ms:.2g})" for r in ok.itertuples(index=False))


def _cannot(summary: pd.DataFrame, device: str) -> str:
    bad = summary[(summary["device"] == device) & ~_runnable(summary)]
    if not len(bad):
        return "none (every model's ops are supported)"
    return ", ".join(f"{r.model} ({r.unsupported_ops})" for r in bad.itertuples(index=False))


def _trust(devices: pd.DataFrame, device: str, validations: list[dict[str, Any]]) -> str:
    row = devices[devices["device"] == device]
    if not len(row):
        return ""
    r = row.iloc[0]
    err = r["published_median_abs_err_pct"]
    parts = [f"profile confidence: peak {r['peak_confidence']}, bandwidth "
             f"{r['bandwidth_confidence']}"]
    if err == err:
        parts.append(f"median error against the paper's measurements {err:.0f}% (in-sample: the "
                     "scale was fit to them)")
    else:
        parts.append("no published measurement to compare with")
    prior = _kernel_prior(device)
    if prior:
        parts.append(prior)
    fitted = [v for v in validations if v.get("fitted_err") is not None]
    if fitted:
        v = fitted[0]
        parts.append(f"on a measured runtime ({v['title']}) the fitted roofline's median error "
                     f"is {v['fitted_err']:.0f}% and the calibrated one's "
                     f"{v['calibrated_err']:.0f}%")
    return "; ".join(parts)


def _kernel_prior(device: str) -> str:
    """A line on the profile's kernel-table prior, if it has one (``[runtime_costs]``)."""
    from edgekit.device import load_device

    rc = load_device(device).runtime_costs
    if rc is None or not rc.kernel_table:
        return ""
    what = ("the ops its own fit never saw" if rc.kernel_covered else "every op")
    return (f"{what} take a kernel-efficiency prior measured on this project's x86 host "
            f"(`{rc.kernel_table}`, confidence {rc.confidence.value}); `edgekit roofline MODEL "
            f"--device {device}` lists the ops it slowed and by how much")


def _best_wide(best: pd.DataFrame) -> pd.DataFrame:
    """Device rows, one column per budget: ``model (latency ms, top-1 %)``."""
    rows = []
    for dev, g in best.groupby("device", sort=False):
        row: dict[str, Any] = {"device": dev}
        for r in g.itertuples(index=False):
            row[f"<= {r.budget_ms:g} ms"] = (f"{r.model} ({r.latency_ms:.2g} ms, {r.top1:.1f}%)"
                                             if r.model else "-")
        rows.append(row)
    return pd.DataFrame(rows)


def failed_exports(matrix: pd.DataFrame) -> list[str]:
    """The export matrix's failures, one row per conversion (model, format, precision) with the
    targets that share its artifact and the error of the target that made it; none: no lines."""
    errs = matrix[matrix["error"].fillna("") != ""]
    if not len(errs):
        return []
    groups = errs.groupby(["model", "format", "precision"], sort=False)
    failed = groups.agg(targets=("target", ", ".join), error=("error", "first")).reset_index()
    return ["Failed exports (one row per conversion; the targets listed share its artifact):",
            "", _md(failed), ""]


def validation_folders(out_dir: Path) -> list[dict[str, Any]]:
    """Every ``validation*/`` folder of the report with a ``summary.csv``: its tables and meta."""
    found = []
    for folder in sorted(p for p in out_dir.glob("validation*") if p.is_dir()):
        summ = folder / "summary.csv"
        if not summ.is_file():
            continue
        try:
            summary = pd.read_csv(summ)
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8")) \
                if (folder / "meta.json").is_file() else {}
            pred = pd.read_csv(folder / "predictions.csv") \
                if (folder / "predictions.csv").is_file() else None
        except (OSError, ValueError):
            continue
        rt = meta.get("runtime", "?")
        title = f"{rt} {meta.get('precision', '')}, {meta.get('threads', '?')} thread(s)"
        if meta.get("runtime_table"):
            title = (f"{meta['runtime_table'].get('runtime', rt)} {meta.get('precision', '')}, "
                     f"{meta.get('threads', '?')} thread(s), runtime table")
        elif rt == "litert":
            title += ", XNNPACK" if meta.get("xnnpack") else ", built-in kernels"
        eff = (pd.read_csv(folder / "efficiency.csv") if (folder / "efficiency.csv").is_file()
               else None)
        entry: dict[str, Any] = {"folder": folder.name, "title": title, "summary": summary,
                                 "meta": meta, "pred": pred, "efficiency": eff,
                                 "scatter": (folder / "scatter.png").is_file()}
        med = dict(zip(summary["predictor"], summary.get("median_abs_err_pct", []), strict=False))
        fit = [v for k, v in med.items() if k.startswith("fitted roofline ")
               or k == "fitted roofline (LOO)"]
        cal = [v for k, v in med.items() if k.startswith("calibrated")]
        entry["fitted_err"] = fit[0] if fit else None
        entry["calibrated_err"] = cal[0] if cal else np.nan
        found.append(entry)
    return found


def _validation_section(v: dict[str, Any], made_now: bool) -> list[str]:
    meta, summary = v["meta"], v["summary"]
    origin = ("measured by this run" if made_now else
              f"measured by an earlier `edgekit validate` run ({meta.get('date', 'date unknown')}),"
              " read from its folder")
    lines = [f"### {v['title']} (`{v['folder']}/`)", "",
             f"{meta.get('entries', '?')} entries, {meta.get('repeats', '?')} interleaved "
             f"round(s), {origin}.", ""]
    keep = [c for c in ("predictor", "n", "r_s", "r_s_ci_lo", "r_s_ci_hi", "r_s_macs",
                        "median_abs_err_pct", "within_10_pct", "within_25_pct") if c in summary]
    lines += [_md(summary[keep]), ""]
    if v["scatter"]:
        lines += [f"![predicted vs measured, {v['title']}]({v['folder']}/scatter.png)", "",
                  "Predicted against measured latency for every entry, log-log, with the ±25% "
                  "band shaded: points inside the band are predicted within 25%.", ""]
    pred = v["pred"]
    table = meta.get("runtime_table")
    if table:
        lines += [f"The runtime table: {table.get('cases', '?')} micro-benchmark cases measured "
                  f"{table.get('date', '?')} on {table.get('host', '?')} (fingerprint "
                  f"`{table.get('host_fingerprint', '?')}`); the models are predicted from it "
                  "alone, with no whole-model fitting. The fitted rows beside it are the "
                  "whole-model fits (leave-one-out), reported separately."
                  + (f" Op types with no table entry (plain roofline): "
                     f"{', '.join(table['missing_ops'])}." if table.get("missing_ops") else ""),
                  ""]
    col = next((c for c in ("table_ms", "roofline_loo_ms", "calibrated_ms")
                if pred is not None and c in pred), None)
    if col is not None and len(pred):
        err = (100 * (pred[col] / pred["latency_ms"] - 1)).rename("error_pct")
        worst = pred.assign(error_pct=err).reindex(err.abs().sort_values(ascending=False).index)
        extra = [c for c in ("error_class", "error_class_share", "fallback_ops") if c in pred]
        lines += [f"Where it fails: the largest errors of `{col.removesuffix('_ms')}` "
                  "(positive = predicted slower than measured)"
                  + ("; `error_class` is the op class the error is attributed to over the "
                     "population (regression of log error on class time shares)" if extra else "")
                  + ":", "",
                  _md(worst[["label", "latency_ms", col, "error_pct", *extra]].head(6)), ""]
    eff = v.get("efficiency")
    if eff is not None and len(eff):
        g = (eff.assign(kernel=eff["kernel"].astype(int), stride=eff["stride"].astype(int))
             .groupby(["op", "unit", "kernel", "stride"])["eta"]
             .agg(points="size", eta_min="min", eta_max="max").reset_index())
        g = g.sort_values("eta_min").head(12)
        lines += ["Kernel efficiency (`efficiency.csv`, from the micro-benchmarks alone): the "
                  "fraction of the host's peak MAC rate or bandwidth each kernel reaches, per op "
                  "type, unit and filter size; the least efficient kernels:", "",
                  _md(g.round(4)), ""]
    placement = meta.get("placement") or []
    if placement:
        cut = [r for r in placement if r.get("fallback_ops")]
        lines += [f"Placement: {len(placement) - len(cut)} of {len(placement)} models run "
                  "entirely on the runtime's main unit; the others, with the op types that fall "
                  "back (read from the runtime itself):", ""]
        if cut:
            lines += [_md(pd.DataFrame(cut)), ""]
    failed = meta.get("failed") or []
    if failed:
        lines += ["Entries the runtime could not run (left out of the statistics):", "",
                  _md(pd.DataFrame(failed)), ""]
    return lines


def render_readme(out_dir: Path, *, plan: ReportPlan, summary: pd.DataFrame, best: pd.DataFrame,
                  front: pd.DataFrame, devices: pd.DataFrame, scores: pd.DataFrame,
                  matrix: pd.DataFrame | None, changes: dict[str, Any], figures: dict[str, str],
                  headline: dict[str, Any], had_previous: bool) -> str:
    """The whole README.md of one report run."""
    flag = {"default": "", "full": " --full", "quick": " --quick"}[plan.mode.value]
    real = summary[summary["device"].isin(devices["device"])] if len(devices) else summary
    validations = validation_folders(out_dir)
    n_val = headline.get("validation_entries")
    pop = ("the whole zoo, re-parameterizable models also in train form" if plan.validate_models
           is None else f"{len(plan.validate_models)} models ({', '.join(plan.validate_models)})")
    lines = [
        "# edgekit reference report", "",
        f"Generated by `edgekit report{flag} --out {out_dir.name}` (never edited by hand) in "
        f"{headline['elapsed_s']:.0f} s: {headline['models']} models on {headline['devices']} "
        "device profiles. Latencies are roofline predictions (sum over layers of "
        "max(MACs / peak, bytes / bandwidth) + overhead), not measurements, unless a section "
        "says measured.", "",
        f"Mode `{plan.mode.value}`: "
        + (f"validation on {pop}" + (f", {n_val} entries measured" if n_val else "")
           if "validation" in headline else "no validation this run (`--no-validate`)")
        + (f"; exports of {', '.join(plan.export_models) or 'no model'}." if matrix is not None
           else "; no exports this run (`--no-export`).")
        + (" `edgekit report --full` validates the whole zoo and exports every mission model."
           if plan.mode.value == "default" else ""), "",
    ]
    # The reader's question first.
    focus = [d for d in FOCUS_DEVICES if d in set(real["device"])]
    if focus:
        lines += ["## Choosing a model for a Pixel 8 EdgeTPU, a Pixel 4 DSP or a phone CPU", ""]
        for dev in focus:
            lines += [f"**{dev}**", ""]
            for b in FOCUS_BUDGETS_MS:
                lines.append(f"* fits in {b:g} ms (predicted ms): {_fits(real, dev, b)}")
            lines.append(f"* cannot run at all: {_cannot(real, dev)}")
            lines += [f"* how far to trust it: {_trust(devices, dev, validations)}", ""]
    lines += ["## Latency vs accuracy", ""]
    for kind in dict.fromkeys(devices["kind"]) if len(devices) else []:
        key = f"kind:{kind}"
        if key not in figures:
            continue
        names = ", ".join(devices.loc[devices["kind"] == kind, "device"])
        lines += [f"### {KIND_TITLES.get(kind, kind)} profiles", "",
                  f"![latency vs accuracy, {kind} profiles]({figures[key]})", "",
                  f"Predicted latency against ImageNet top-1 on {names}, one colour per family; "
                  "the dashed line is the Pareto front of the models the device can run, and a "
                  "hollow marker is a model it cannot run.", ""]
    if "sweep" in figures:
        lines += ["### Ridge-point sweep", "", f"![ridge-point sweep]({figures['sweep']})", "",
                  "The same at ridge points 0 / 5 / 50 / 500 MACs/byte (MACs only, slow CPU, fast "
                  "CPU, accelerator): as the ridge grows, memory-bound models lose ground.", ""]
    charts = [k for k in figures if k.startswith("roofline:")]
    if charts:
        _, m, d = charts[0].split(":")
        lines += ["### Why a model is slow", "",
                  f"![roofline of {m} on {d}]({figures[charts[0]]})", "",
                  f"Each layer of {m} on {d} as a point (operational intensity vs attained MAC/s, "
                  "size ~ its time) under the roof; layers left of the ridge are memory-bound.",
                  "", f"![time by op type, {m} on {d}]({figures[f'optime:{m}:{d}']})", "",
                  "Where its time goes, by ONNX op type, split into compute- and memory-bound.",
                  "", "Every chart: `figures/roofline__*.png`, `figures/optime__*.png`.", ""]
    lines += ["## Best model per device under a latency budget", "",
              "The most accurate model (published top-1) whose predicted latency fits the budget, "
              "among the models the device can run (`best_models.csv` also lists every model "
              "that fits):", "", _md(_best_wide(best)), ""]
    bad = real[~_runnable(real)]
    lines += ["## What cannot run where", ""]
    if len(bad):
        lines += ["Judged by what each op does (a product of two activations is a batch matmul "
                  "whatever its ONNX name); these models are hollow in the figures and absent "
                  "from every front and best-model table:", "",
                  _md(bad[["device", "model", "unsupported_ops", "latency_ms"]]
                      .rename(columns={"latency_ms": "latency_ms (if it ran)"})), ""]
    else:
        lines += ["Every profile can run every model.", ""]
    if matrix is not None:
        lines += ["## Export matrix", "",
                  f"Mission model x target, from the manifests of the exports this run made "
                  f"({', '.join(plan.export_models)}; `exports/`): `status` is the manifest's, "
                  "`sqnr_db` / `top1_agreement` the int8 or fp16 artifact against torch fp32 on "
                  "generated images (random weights), `runnable` the roofline's judgement.", "",
                  _md(matrix.drop(columns=["error"]).assign(
                      size_mb=matrix["size_mb"].round(2)), ".3g"), ""]
        lines += failed_exports(matrix)
    lines += ["## Validation per runtime", ""]
    if validations:
        for v in validations:
            lines += _validation_section(v, v["folder"] == "validation" and "validation"
                                         in headline)
    else:
        lines += ["Not run (`--no-validate`).", ""]
    lines += ["## Profiles and the published comparison", "",
              "Each profile's numbers carry a confidence; the error against the MobileNetV4 "
              "paper's measurements (Table 6) is in-sample, since the scale was fit to them "
              "(`published_comparison.md`).", "",
              _md(devices.drop(columns=["description"])), "",
              _md(scores) if len(scores) else "No model of this run is in the paper's table.",
              ""]
    lines += ["## What changed since the previous run", ""]
    if not had_previous:
        lines += ["No previous `roofline_zoo.csv` in this folder: this is the first run.", ""]
    else:
        for key, label in (("models_added", "models added"), ("models_removed", "models removed"),
                           ("devices_added", "profiles added"),
                           ("devices_removed", "profiles removed")):
            lines.append(f"* {label}: {', '.join(changes[key]) or 'none'}")
        moved = changes["moved"]
        lines += [f"* latencies that moved by more than 5%: {len(moved)} (`changes.csv`)", ""]
        if len(moved):
            lines += [_md(moved.head(20)), ""]
    lines += ["## Files", "", "| file | what |", "|---|---|",
              "| `roofline_zoo.csv` / `.json` / `.md` | roofline latency, MACs, bytes, "
              "memory-bound share, `runnable`, `unsupported_ops`: one row per model x device |",
              "| `pareto_front.csv`, `best_models.csv` | the fronts and the best model per "
              "budget |",
              "| `devices.csv`, `published_comparison.*`, `published_scores.csv` | profiles and "
              "the comparison with the paper |",
              "| `export_matrix.csv` / `.md`, `exports/*.manifest.json` | the export matrix |",
              "| `validation*/` | measured vs predicted per runtime |",
              "| `changes.csv` | latencies that moved since the previous run |",
              "| `summary.json` | headline numbers and the time of each stage |", ""]
    return "\n".join(lines)


__all__ = ["FOCUS_DEVICES", "KIND_TITLES", "kind_figure", "render_readme", "validation_folders"]
