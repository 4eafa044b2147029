"""``edgekit export``: write a deployable artifact and its manifest for a target device."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  edgekit export mobilenetv4_conv_small --target pixel8-edgetpu
  edgekit export efficientformer_l1 --target pixel8-edgetpu --calib ~/images/val --out exports
  edgekit export replknet_31b --all-targets --out exports
  edgekit export mobilenetv4_conv_small --format onnx --dynamic-batch
  edgekit export test_mobilenetv4 --checkpoint ft.pt --num-classes 10 --labels labels.txt
  edgekit export test_mobilenetv4 --target pixel8-edgetpu --calib images/ --int8-report

The target profile decides the format and precision (edgekit devices); --format and --precision
are for exports without a target, or must agree with it. Progress goes to stderr (the converters'
own output only with --verbose); the artifact path is the last line on stdout (with --json, only
the JSON), and manifest.json lies beside it. An existing artifact is replaced only by an identical
one, or with --force. Exit 1 when an artifact is below its precision's fidelity floor.
"""


def register(subparsers: Any, add_common: Any) -> None:
    from edgekit.commands import add_devices_dir, add_weights
    from edgekit.export.registry import list_formats

    p = subparsers.add_parser(
        "export", help="export a model for a device in one of the registered formats",
        description="Export a model's deploy form for a target device, verify it against\n"
                    "PyTorch, and write manifest.json beside the artifact.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="model name (edgekit models) or any timm model name")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--target", metavar="DEVICE", help="device profile (edgekit devices)")
    target.add_argument("--all-targets", action="store_true",
                        help="export for every device profile (sweep profiles left out)")
    p.add_argument("--format", metavar="F",
                   help="a registered export format (default: the target's); one of "
                        + ", ".join(list_formats()))
    p.add_argument("--precision", metavar="P", help="fp32, fp16 or int8 (default: the target's)")
    p.add_argument("--calib", metavar="DIR",
                   help="images for int8 calibration (default: a generated set, with a warning)")
    p.add_argument("--out", metavar="DIR", default=".", help="output directory (default: .)")
    add_weights(p)
    p.add_argument("--num-classes", type=int, metavar="N",
                   help="rebuild the classifier head with N classes (a fine-tune's count)")
    p.add_argument("--labels", metavar="FILE",
                   help="class labels, one per line, embedded in the artifact and the manifest")
    p.add_argument("--tensor-input", action="store_true",
                   help="Core ML: keep a tensor input (default: an image input that normalises)")
    p.add_argument("--license", metavar="TEXT", help="the model's license, for the metadata")
    p.add_argument("--model-version", metavar="TEXT", default="1.0",
                   help="the model's version, for the metadata (default: 1.0)")
    p.add_argument("--int8-report", action="store_true",
                   help="TFLite int8: compare float and int8 layer by layer on held-out images "
                        "(int8_report.csv and .png beside the artifact)")
    p.add_argument("--resolution", type=int, metavar="N", help="input resolution (default: the "
                   "model's)")
    p.add_argument("--dynamic-batch", action="store_true", help="ONNX: symbolic batch dimension")
    p.add_argument("--no-verify", action="store_true",
                   help="skip running the artifact against PyTorch")
    p.add_argument("--json", action="store_true",
                   help="print the manifest(s) as JSON on stdout (and nothing else)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing artifact that differs from this export")
    p.add_argument("--verbose", action="store_true",
                   help="show the converters' own output (absl, torchao, tqdm, warnings)")
    add_devices_dir(p)
    add_common(p)
    p.set_defaults(func=run)


def _summary(manifest: dict[str, Any]) -> str:
    fid = manifest.get("fidelity") or {}
    if fid.get("status") == "ok":
        f = (f"SQNR {fid['sqnr_db']:.1f} dB, cosine {fid['cosine']:.4f}, "
             f"top-1 agreement {fid['top1_agreement']:.1%} vs torch fp32 (n={fid['n']})")
    else:
        f = f"numeric check not run ({fid.get('reason', '-')})"
    io = ", ".join(f"{t['name']} {t['dtype']}{t['shape']}" for t in manifest["inputs"])
    return (f"{manifest['model']} -> {manifest['format']} {manifest['precision']}: "
            f"{manifest['size_bytes'] / 1e6:.2f} MB, {manifest['timing_s']['total']:.1f} s; "
            f"input {io}; {f}")


def run(args: argparse.Namespace) -> int:
    from edgekit.export.stdio import quiet_stderr

    with quiet_stderr(enabled=not args.verbose):  # converter noise only with --verbose
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from edgekit.commands._output import print_json, print_table
    from edgekit.errors import ConfigError
    from edgekit.export import export, export_all_targets, list_formats
    from edgekit.export.stdio import stdout_to_stderr, terminal

    from edgekit.commands._checks import check_export_args
    from edgekit.export.appinfo import AppInfo, read_labels

    check_export_args(args)
    app = AppInfo(labels=read_labels(args.labels) if args.labels else None,
                  image_input=not args.tensor_input, license=args.license,
                  version=args.model_version)
    weights = {"checkpoint": args.checkpoint, "pretrained": args.pretrained,
               "num_classes": args.num_classes, "app": app}
    if args.all_targets:
        if args.int8_report:
            raise ConfigError("--int8-report applies to one int8 TFLite export; give --target "
                              "DEVICE instead of --all-targets")
        if args.format or args.precision or args.dynamic_batch:
            raise ConfigError("--all-targets takes format and precision from each profile; "
                              "drop --format/--precision/--dynamic-batch")
        with stdout_to_stderr():  # stdout carries the results only
            outcomes = export_all_targets(
                args.model, calib=args.calib, out=args.out, resolution=args.resolution,
                devices_dirs=args.devices_dir, verify=not args.no_verify, force=args.force,
                **weights)
        rows = []
        for o in outcomes:
            m = o.result.manifest if o.result else {}
            fid = m.get("fidelity", {})
            rows.append({
                "target": o.target, "format": o.format, "precision": o.precision,
                "status": "ok" if o.ok else "FAILED",
                "size_mb": round(m["size_bytes"] / 1e6, 2) if m else None,
                "sqnr_db": fid.get("sqnr_db"), "top1_agree": fid.get("top1_agreement"),
                "unsupported_ops": ",".join(m.get("unsupported_ops", [])) or ("-" if m else None),
                "artifact_or_error": str(o.result.artifact) if o.result else o.error,
            })
        if args.json:
            print_json([o.result.manifest if o.result else {"target": o.target, "error": o.error}
                        for o in outcomes])
        else:
            print_table(rows)
        failed = [o for o in outcomes if not o.ok]
        if failed:
            print(f"edgekit: error: {len(failed)} of {len(outcomes)} targets failed: "
                  + ", ".join(o.target for o in failed), file=terminal())
        if not args.json:
            for o in outcomes:
                if o.result:
                    print(o.result.artifact)
        return 1 if failed else 0

    if args.target is None and args.format is None:
        raise ConfigError("give --target DEVICE (edgekit devices), --all-targets, or --format "
                          f"{{{','.join(list_formats())}}}")
    if args.int8_report:
        from edgekit.export.planning import plan

        p = plan(args.target, format=args.format, precision=args.precision,
                 devices_dirs=args.devices_dir)
        if (p.exporter.name, p.precision.value) != ("tflite", "int8"):
            raise ConfigError(f"--int8-report compares a TFLite int8 artifact with its float "
                              f"twin; this export is {p.exporter.name} {p.precision.value}; "
                              "choose an int8 TFLite --target or --format tflite --precision int8")
    with stdout_to_stderr():  # stdout carries the results only
        result = export(
            args.model, args.target, format=args.format, precision=args.precision,
            calib=args.calib, out=args.out, dynamic_batch=args.dynamic_batch,
            resolution=args.resolution, devices_dirs=args.devices_dir,
            verify=not args.no_verify, force=args.force, **weights)
    print(f"edgekit: {_summary(result.manifest)}", file=terminal())
    if args.int8_report:
        from edgekit.export.int8_report import report_for_export

        with stdout_to_stderr():
            report = report_for_export(result, args.model, calib=args.calib, **weights)
        print(report.render(), file=terminal())
    if args.json:
        print_json(result.manifest)
    else:
        print(result.artifact)
    return 0
