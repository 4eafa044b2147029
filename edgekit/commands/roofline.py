"""``edgekit roofline``: roofline latency of models on device profiles."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EPILOG = """\
examples:
  edgekit roofline mobilenetv4_conv_small --device pixel8-edgetpu
  edgekit roofline --all-devices --csv zoo.csv --plots figs/
  edgekit roofline model.onnx --device pixel6-cpu --layers --csv -
  edgekit roofline mobilenetv3_small_100 --device pixel6-cpu --device pixel4-dsp --placement

With no MODEL, the mission zoo (MobileNetV4, EfficientFormer, RepLKNet) is analysed; with no
--device, the paper's four roofline targets (pixel6-cpu, s23-cpu, pixel4-dsp, pixel8-edgetpu).
--layers switches every output (table, --csv, --json) to one row per model x device x layer.
--placement adds where each op runs: ops per unit, delegate partitions and the op types that fall
back. For a profile whose runtime is LiteRT's XNNPACK or built-in kernels it is read from this
host's LiteRT on the model's .tflite export (the same placement code as on a phone; exported once,
then cached); for other targets it follows the profile's op lists.
"""

DISPLAY = ("model", "resolution", "macs_g", "params_m", "top1")


def register(subparsers: Any, add_common: Any) -> None:
    from edgekit.commands import add_devices_dir

    p = subparsers.add_parser(
        "roofline", help="predict latency with the roofline model (MobileNetV4 paper)",
        description="Roofline latency of models on device profiles: "
                    "sum over layers of max(MACs / peak, bytes / bandwidth).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help="registry or timm model name, or FILE.onnx (default: the mission zoo)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--device", action="append", default=[], metavar="D",
                   help="device profile name or .toml path (repeatable)")
    g.add_argument("--all-devices", action="store_true", help="every profile (edgekit devices)")
    p.add_argument("--ridge", action="append", type=float, default=[], metavar="R",
                   help="add a hardware-independent profile with ridge point R MACs/byte "
                        "(repeatable; 0 = MACs only)")
    p.add_argument("--resolution", type=int, metavar="N", help="input size (default: the model's)")
    p.add_argument("--layers", action="store_true", help="per-layer rows instead of per-model rows")
    p.add_argument("--csv", metavar="FILE", help="write CSV to FILE ('-' for stdout)")
    p.add_argument("--json", metavar="FILE", help="write JSON records to FILE ('-' for stdout)")
    p.add_argument("--plots", metavar="DIR", help="write roofline, op-time and latency-vs-accuracy PNGs")
    p.add_argument("--placement", action="store_true",
                   help="also show where each op runs (ops per unit, partitions, fallbacks)")
    p.add_argument("--checkpoint", metavar="PATH", help="local weights (with a single MODEL)")
    p.add_argument("--no-cache", action="store_true", help="rebuild layer tables, ignore the cache")
    p.add_argument("--workers", type=int, metavar="N", help="processes building layer tables")
    add_devices_dir(p)
    add_common(p)
    p.set_defaults(func=run)


def _devices(args: argparse.Namespace) -> list[Any]:
    from edgekit.device import list_devices, load_devices
    from edgekit.roofline import PAPER_DEVICES, ridge_profile

    if args.all_devices:
        devs = list_devices(args.devices_dir)
    elif args.device:
        devs = load_devices(args.device, args.devices_dir)
    elif args.ridge:
        devs = []
    else:
        known = {d.name: d for d in list_devices(args.devices_dir)}
        devs = [known[n] for n in PAPER_DEVICES if n in known] or list(known.values())
    devs += [ridge_profile(r) for r in args.ridge]
    return devs


def _check(args: argparse.Namespace) -> None:
    from edgekit.errors import ConfigError
    from edgekit.models.registry import check_resolution

    if args.resolution is not None:
        check_resolution(args.resolution, "--resolution")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    if args.checkpoint and len(args.models) != 1:
        raise ConfigError("--checkpoint needs exactly one MODEL, got "
                          f"{len(args.models) or 'none (the zoo)'}")
    if args.csv == "-" and args.json == "-":
        raise ConfigError("--csv - and --json - both write to stdout; send one of them to a file")
    for r in args.ridge:
        if not r >= 0:
            raise ConfigError(f"--ridge must be >= 0 MACs/byte, got {r}")
    from edgekit.commands._checks import check_output_dir, check_output_file

    if args.csv:
        check_output_file(args.csv, "--csv", "zoo.csv")
    if args.json:
        check_output_file(args.json, "--json", "zoo.json")
    if args.plots:
        check_output_dir(args.plots, "--plots")


def run(args: argparse.Namespace) -> int:
    from edgekit._meta import run_meta, write_meta_sidecar
    from edgekit.commands._output import write_text
    from edgekit.roofline import analyze, estimate_latency, zoo_models

    _check(args)
    devices = _devices(args)
    models = args.models or zoo_models(mission_only=True)
    tables = _tables(models, args)
    summary = analyze(tables, devices)
    estimates = ([[estimate_latency(t, d) for d in devices] for t in tables]
                 if args.layers or args.plots else [])
    out = _layer_rows(estimates) if args.layers else summary
    if args.csv:
        write_text(out.to_csv(index=False), args.csv)
        if args.csv != "-":
            models_meta = [{k: t.attrs.get(k) for k in ("model", "resolution", "params", "source")}
                           for t in tables]
            write_meta_sidecar(args.csv, run_meta("edgekit roofline", devices, models=models_meta))
    if args.json:
        write_text(json.dumps(json.loads(out.to_json(orient="records")), indent=1) + "\n", args.json)
    if args.plots:
        _plots(Path(args.plots), summary, estimates)
    if "-" not in (args.csv, args.json):
        _print(out, summary, args.layers)
        _print_prior(tables, devices)
        if args.placement:
            _print_placement(models, tables, devices, args)
    return 0


def placement_rows(models: list[str], tables: list[Any], devices: list[Any],
                   args: argparse.Namespace) -> list[dict[str, Any]]:
    """One row per model x device: ops per unit, partitions, fallback and folded op types."""
    from edgekit.roofline.extract import is_onnx_path
    from edgekit.runtime.placement import (
        READ_HERE, placement_summary, profile_placement, tflite_placement)

    rows = []
    for name, table in zip(models, tables, strict=True):
        for dev in devices:
            if dev.sweep:
                continue
            if dev.runtime in READ_HERE and dev.format == "tflite" and not is_onnx_path(name):
                from edgekit.bench.artifacts import artifact_for_model
                from edgekit.export.registry import get_exporter

                print(f"[placement] {name} on {dev.name}: reading LiteRT's placement of the "
                      f"{dev.precision.value} .tflite", file=sys.stderr, flush=True)
                path, _ = artifact_for_model(name, get_exporter("tflite"), precision=dev.precision,
                                             resolution=args.resolution,
                                             checkpoint=args.checkpoint)
                pl, ops = tflite_placement(path, dev)
            else:
                pl, ops = profile_placement(table, dev), table
            s = placement_summary(pl, ops, dev)
            rows.append({"model": table.attrs.get("model", name), "device": dev.name,
                         "runtime": s["runtime"], "source": s["source"],
                         "ops_per_unit": ", ".join(f"{u} {n}" for u, n in
                                                   s["ops_per_unit"].items()),
                         "partitions": s["partitions"],
                         "fallback_ops": ", ".join(f"{k} x{v}" for k, v in
                                                   s["fallback_ops"].items()) or "-",
                         "folded_ops": ", ".join(f"{k} x{v}" for k, v in
                                                 s.get("folded_ops", {}).items()) or "-"})
    return rows


def _print_placement(models: list[str], tables: list[Any], devices: list[Any],
                     args: argparse.Namespace) -> None:
    from edgekit.commands._output import print_table

    print("\nplacement: where each op runs (source runtime = read from this host's LiteRT, "
          "profile = the profile's op lists)")
    print_table(placement_rows(models, tables, devices, args))


def prior_rows(tables: list[Any], devices: list[Any]) -> list[dict[str, Any]]:
    """One row per model x device x op key that a profile's kernel prior slowed."""
    from edgekit.roofline import estimate_latency
    from edgekit.runtime.efficiency import prior_effect

    rows = []
    for dev in devices:
        if dev.runtime_costs is None or not dev.runtime_costs.kernel_table:
            continue
        for table in tables:
            est = estimate_latency(table, dev)
            for r in prior_effect(est.layers).itertuples():
                rows.append({"model": table.attrs.get("model", ""), "device": dev.name,
                             "op": r.key, "count": int(r.count), "slowdown": f"x{r.factor:.3g}",
                             "added_ms": round(r.added_s * 1e3, 3),
                             "of_latency_pct": round(r.added_s / est.latency_s * 100, 1)})
    return rows


def _print_prior(tables: list[Any], devices: list[Any]) -> None:
    from edgekit.commands._output import print_table

    rows = prior_rows(tables, devices)
    if rows:
        print("\nkernel prior: ops the device's own fit never saw, slowed by the host-measured "
              "efficiency of their kernels (see the profile's [runtime_costs] source)")
        print_table(rows)


def _tables(models: list[str], args: argparse.Namespace) -> list[Any]:
    from edgekit.roofline import layer_tables

    if not sys.stderr.isatty():  # a log, not a bar: one line per model
        done = [0]

        def line(name: str) -> None:
            done[0] += 1
            print(f"[layer tables {done[0]}/{len(models)}] {name}", file=sys.stderr, flush=True)

        return layer_tables(models, args.resolution, checkpoint=args.checkpoint,
                            cache=not args.no_cache, workers=args.workers, progress=line)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("layer tables"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.description}"),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("", total=len(models))
        return layer_tables(models, args.resolution, checkpoint=args.checkpoint,
                            cache=not args.no_cache, workers=args.workers,
                            progress=lambda name: bar.update(task, advance=1, description=name))


def _layer_rows(estimates: list[list[Any]]) -> Any:
    """One row per model x device x layer; ``runnable`` / ``unsupported_ops`` judge each layer."""
    import pandas as pd

    from edgekit.roofline.support import layer_unsupported_ops

    frames = []
    for row in estimates:
        for e in row:
            bad = layer_unsupported_ops(e.layers, e.device)
            frames.append(e.layers.assign(model=e.model, device=e.device.name,
                                          precision=e.device.precision.value,
                                          runnable=bad == "", unsupported_ops=bad))
    df = pd.concat(frames, ignore_index=True)
    lead = ["model", "device", "precision"]
    return df[lead + [c for c in df.columns if c not in lead]]


def _plots(folder: Path, summary: Any, estimates: list[list[Any]]) -> None:
    from edgekit.commands._output import save_figure
    from edgekit.errors import ensure_dir
    from edgekit.report.figures import estimate_figures, latency_accuracy_panels

    ensure_dir(folder, "--plots")
    written = 0
    flat = [e for row in estimates for e in row]
    for i, e in enumerate(flat, start=1):
        print(f"[figures {i}/{len(flat)}] {e.model} on {e.device.name}", file=sys.stderr,
              flush=True)
        for name, fig in estimate_figures(e).items():
            save_figure(fig, folder / name)
            written += 1
    save_figure(latency_accuracy_panels(summary), folder / "latency_vs_accuracy.png")
    print(f"wrote {written + 1} figures to {folder}", file=sys.stderr)


def _print(out: Any, summary: Any, layers: bool) -> None:
    from edgekit.commands._output import print_table

    if layers:
        cols = ["model", "device", "name", "op_type", "kind", "macs", "bytes", "intensity",
                "time_s", "bound", "runnable"]
        view = out[cols].assign(time_us=(out["time_s"] * 1e6).round(2),
                                intensity=out["intensity"].round(1)).drop(columns="time_s")
        print_table(view.to_dict("records"))
        _print_unrunnable(summary)
        return
    from edgekit.report.tables import latency_pivot, marked_pivot

    wide = marked_pivot(latency_pivot(summary), summary)
    print("roofline latency (ms) per device; macs in G, params in M; "
          "* = the device cannot run the model")
    print_table(wide.to_dict("records"))
    _print_unrunnable(summary)


def _print_unrunnable(summary: Any) -> None:
    for r in summary[~summary["runnable"].astype(bool)].itertuples(index=False):
        print(f"* {r.model} cannot run on {r.device}: unsupported ops {r.unsupported_ops}")
