#!/usr/bin/env python
"""How exactly does each deploy model compute its train-time function?

For every registered re-parameterizable model (RepLKNet, MobileOne, FastViT; full size, random
weights): set the BatchNorm statistics from a calibration batch and then randomize them
(``randomize_batchnorm``), build the deploy form with ``reparameterize()`` and print the largest
absolute and relative logit error on a fresh batch, with the parameters and MACs of both forms
(MACs from ``torch.utils.flop_counter.FlopCounterMode``: FLOPs / 2 for conv and matmul).

Usage:
    python scripts/reparam_error.py                      # every model at 224 (XL takes minutes)
    python scripts/reparam_error.py --models 'replknet_*' --json
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from edgekit.layers.reparam import (
    deploy_error,
    randomize_batchnorm,
    reparam_error,
    reparameterize,
)
from edgekit.models import create_model, get_spec, list_models


def macs(model: torch.nn.Module, resolution: int) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 3, resolution, resolution))
    return counter.get_total_flops() // 2


def measure(name: str, resolution: int, seed: int, batch: int, fp64: bool) -> dict[str, object]:
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    model = create_model(name)
    randomize_batchnorm(model, seed=seed,
                        calibrate=torch.randn(4, 3, resolution, resolution, generator=gen))
    deployed = reparameterize(model)
    x = torch.randn(batch, 3, resolution, resolution, generator=gen)
    err = deploy_error(model, deployed, x)
    exact = reparam_error(model, x, torch.float64) if fp64 else None
    row = {
        "model": name, "family": get_spec(name).family, "resolution": resolution,
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "deploy_params_m": sum(p.numel() for p in deployed.parameters()) / 1e6,
        "macs_g": macs(model, resolution) / 1e9,
        "deploy_macs_g": macs(deployed, resolution) / 1e9,
        "max_abs_err": err.max_abs, "max_rel_err": err.max_rel, "max_abs_logit": err.ref_max,
        "ok": err.ok(),
        "fp64_max_rel_err": exact.max_rel if exact else None,
        "seconds": time.perf_counter() - start,
    }
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("Usage:")[1])
    parser.add_argument("--models", default="*", help="glob over model names (default: all)")
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--no-fp64", dest="fp64", action="store_false",
                        help="skip the float64 comparison (slow on CPU for the big models)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    names = [n for n in list_models() if get_spec(n).reparameterizable
             and fnmatch.fnmatch(n, args.models)]
    rows = []
    for name in names:
        print(f"{name} ...", file=sys.stderr, flush=True)
        rows.append(measure(name, args.resolution, args.seed, args.batch, args.fp64))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0 if all(r["ok"] for r in rows) else 1
    print("| model | res | params (M) | MACs (G) | deploy params (M) | deploy MACs (G) "
          "| max abs err | max rel err | max abs logit | within 1e-4 rel / 1e-5 abs "
          "| fp64 max rel err | s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['resolution']} | {r['params_m']:.2f} | {r['macs_g']:.3f} "
              f"| {r['deploy_params_m']:.2f} | {r['deploy_macs_g']:.3f} "
              f"| {r['max_abs_err']:.2e} | {r['max_rel_err']:.2e} | {r['max_abs_logit']:.3g} "
              f"| {'yes' if r['ok'] else 'NO'} "
              f"| {'-' if r['fp64_max_rel_err'] is None else format(r['fp64_max_rel_err'], '.1e')} "
              f"| {r['seconds']:.0f} |")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
