"""The report job: every zoo model on every device, figures, the published comparison, and the
roofline validated against runtimes measured on this host.

``edgekit report --out reports`` writes (the committed ``reports/`` folder is its output):

* ``roofline_zoo.csv`` / ``.json`` / ``.md`` -- one row per model x device (the roofline table).
* ``published_comparison.csv`` / ``.md`` -- predicted vs the MobileNetV4 paper's measured latency
  on its seven devices, with per-device Spearman r_s for the roofline and for MACs alone.
* ``figures/`` -- latency vs accuracy panels (ridge sweep 0/5/50/500 and the named devices),
  roofline charts and time-by-op charts of the mission models on the paper's devices.
* ``validation/`` -- measured runtimes here (onnxruntime fp32, 1 thread), predictions with the
  calibrated and the fitted host profile, r_s, error bands, per-layer r_s and a scatter plot.
* ``README.md`` -- what each file is, generated with the numbers of this run.
* ``*.meta.json`` -- versions, git commit, host and profile fingerprints.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
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
    return pd.DataFrame(rows)


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _atomic_fig(fig: Any, path: Path, dpi: int = 110) -> None:
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=dpi)
    os.replace(tmp, path)


def _meta(extra: dict[str, Any], devices: Sequence[Any]) -> dict[str, Any]:
    from edgekit._meta import git_commit
    from edgekit.bench.results import host_description, versions

    return {"edgekit_command": "edgekit report", **extra, "git_commit": git_commit(),
            "host": host_description(),
            "versions": versions("torch", "timm", "onnx", "onnxruntime", "pandas"),
            "devices": {d.name: d.fingerprint() for d in devices}}


def write_report(
    out: str | os.PathLike[str] = "reports",
    *,
    models: Sequence[str] | None = None,
    devices_dirs: Sequence[str] = (),
    validate: bool = True,
    validate_models: Sequence[str] | None = None,
    repeats: int = 3,
    workers: int | None = None,
    log: Callable[[str], None] = _log,
) -> dict[str, Any]:
    """Run the report job and write every table and figure into ``out``; returns its headline
    numbers (also written to ``summary.json``)."""
    from edgekit.data import PUBLISHED_MNV4
    from edgekit.device import list_devices
    from edgekit.report.figures import latency_accuracy_panels, op_time_chart, roofline_chart
    from edgekit.report.tables import compare_published, latency_pivot
    from edgekit.roofline import estimate_latency, layer_tables, summary_row, zoo_models

    t0 = time.time()
    out_dir = Path(out)
    fig_dir = out_dir / "figures"
    from edgekit.errors import ensure_dir

    ensure_dir(fig_dir, "--out")
    devices = list_devices(devices_dirs)
    names = list(models) if models else zoo_models()
    log(f"[report] layer tables for {len(names)} models")
    tables = layer_tables(names, None, workers=workers,
                          progress=lambda n: log(f"[report]   {n}"))
    by_name = {t.attrs.get("model"): t for t in tables}
    summary = pd.DataFrame([summary_row(t, estimate_latency(t, d)) for t in tables
                            for d in devices])
    meta = _meta({"models": len(tables)}, devices)

    # 1. The roofline table, model x device.
    summary.to_csv(out_dir / "roofline_zoo.csv", index=False)
    _atomic_text(out_dir / "roofline_zoo.json", summary.to_json(orient="records", indent=1))
    _atomic_text(out_dir / "roofline_zoo.csv.meta.json", json.dumps(meta, indent=1, default=str))
    real = [d.name for d in devices if not d.sweep]
    pivot = latency_pivot(summary[summary["device"].isin(real)])
    _atomic_text(out_dir / "roofline_zoo.md",
                 "# Roofline latency (ms) of the zoo on every device profile\n\n"
                 "Generated by `edgekit report`; latency = sum over layers of max(MACs/peak, "
                 "bytes/bandwidth) + the profile's overhead.\n\n" + markdown_table(pivot))

    # 2. Predicted vs published (MobileNetV4 paper, Table 6).
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

    # 3. Figures.
    log("[report] figures")
    sweep_devs = [d for d in SWEEP_DEVICES if d in set(summary["device"])]
    _atomic_fig(latency_accuracy_panels(summary, sweep_devs, titles=SWEEP_TITLES),
                fig_dir / "latency_vs_accuracy_sweep.png")
    _atomic_fig(latency_accuracy_panels(summary, real), fig_dir / "latency_vs_accuracy_devices.png")
    dev_by_name = {d.name: d for d in devices}
    for m in CHART_MODELS:
        if m not in by_name:
            continue
        for dname in CHART_DEVICES:
            if dname not in dev_by_name:
                continue
            est = estimate_latency(by_name[m], dev_by_name[dname])
            _atomic_fig(roofline_chart(est), fig_dir / f"roofline__{m}__{dname}.png")
            _atomic_fig(op_time_chart(est), fig_dir / f"optime__{m}__{dname}.png")

    headline: dict[str, Any] = {
        "models": len(tables), "devices": len(devices),
        "published": scores.to_dict(orient="records"),
    }
    # 4. Validation against runtimes measured here.
    if validate:
        from edgekit.validate import run_validation

        log("[report] validation on this host (onnxruntime fp32, 1 thread)")
        v = run_validation(validate_models, runtime="onnxruntime", threads=1, repeats=repeats,
                           out_dir=out_dir / "validation", devices_dirs=devices_dirs, log=log)
        headline["validation"] = v.summary.to_dict(orient="records")
        headline["validation_layers"] = v.meta.get("layer_summary")
        _atomic_text(out_dir / "validation" / "summary.md",
                     "# Roofline vs measured latency on this host (onnxruntime fp32, 1 thread)\n\n"
                     + markdown_table(v.summary))
    headline["elapsed_s"] = round(time.time() - t0, 1)
    _atomic_text(out_dir / "summary.json", json.dumps(headline, indent=1, default=str))
    _atomic_text(out_dir / "README.md", _readme(headline, scores, validate))
    log(f"[report] done in {headline['elapsed_s']} s")
    return headline


def _readme(headline: dict[str, Any], scores: pd.DataFrame, validated: bool) -> str:
    lines = [
        "# edgekit reference report",
        "",
        "Generated by `edgekit report --out reports` (never edited by hand). "
        f"{headline['models']} models x {headline['devices']} device profiles.",
        "",
        "| file | what |",
        "|---|---|",
        "| `roofline_zoo.csv` / `.json` / `.md` | roofline latency, MACs, bytes, memory-bound "
        "share: one row per model x device |",
        "| `published_comparison.csv` / `.md`, `published_scores.csv` | prediction vs the "
        "MobileNetV4 paper's measured latencies, r_s per device |",
        "| `figures/latency_vs_accuracy_sweep.png` | the paper's panels at ridge 0 / 5 / 50 / 500 |",
        "| `figures/latency_vs_accuracy_devices.png` | the same on every named CPU, DSP, GPU and "
        "accelerator profile |",
        "| `figures/roofline__*.png`, `figures/optime__*.png` | per-layer roofline charts and time "
        "by op type |",
    ]
    if validated:
        lines.append("| `validation/` | measured here vs predicted: `summary.csv`, "
                     "`predictions.csv`, `layers.csv`, `measurements.csv` (fit-device input), "
                     "`scatter.png` |")
    lines += ["", "## Published latencies (MobileNetV4 paper, Table 6)", "",
              markdown_table(scores)]
    if validated:
        val = pd.DataFrame(headline["validation"])
        keep = [c for c in ("predictor", "n", "r_s", "r_s_macs", "median_abs_err_pct",
                            "mape_pct", "within_10_pct", "within_25_pct") if c in val]
        lines += ["## Validation on this host", "", markdown_table(val[keep])]
    return "\n".join(lines) + "\n"
