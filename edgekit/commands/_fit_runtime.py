"""The ``fit-device --model runtime`` branch: fit, print, and write the profile."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from edgekit.device import DeviceProfile


def run_runtime(args: argparse.Namespace, df: pd.DataFrame, base: DeviceProfile) -> int:
    import datetime as dt
    from pathlib import Path

    from edgekit.commands._output import print_json, print_table
    from edgekit.device import load_profile_file
    from edgekit.errors import ConfigError
    from edgekit.fit import error_stats
    from edgekit.fit.runtime_device import fit_runtime_device, runtime_profile_text

    if args.ridge is not None or args.fix_ridge:
        raise ConfigError("--ridge / --fix-ridge fit the plain roofline; drop them with "
                          "--model runtime (it fits P and B freely)")
    res = fit_runtime_device(df, base, overhead=not args.no_overhead,
                             warn=lambda m: print(f"edgekit: {m}", file=sys.stderr))
    st = error_stats(res.loo_s, res.measured_s)
    used = f"{len(res.models)} of {len(df)} rows"
    source = (f"edgekit fit-device --model runtime on {Path(args.csv).name} ({used}; LOO median "
              f"|err| {st['median_abs_err_pct']:.1f}%) {dt.date.today().isoformat()}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{args.name}.toml"
    path.write_text(runtime_profile_text(res.fit, args.name, base, source), encoding="utf-8")
    load_profile_file(path)
    per_model = [{"model": m, "measured_ms": round(t * 1e3, 3), "fit_ms": round(i * 1e3, 3),
                  "loo_ms": round(lo * 1e3, 3), "loo_err_pct": round((lo - t) / t * 100, 1)}
                 for m, t, i, lo in zip(res.models, res.measured_s, res.in_sample_s, res.loo_s,
                                        strict=True)]
    fit_row = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in res.fit.row().items()}
    loo = {f"loo_{k}": round(v, 3) if isinstance(v, float) else v for k, v in st.items()}
    if args.json:
        print_json({"profile": str(path), "rows_used": len(res.models), "rows": len(df),
                    "skipped": list(res.skipped), "fit": fit_row, "loo": loo,
                    "models": per_model})
        return 0
    print_table(per_model)
    print()
    print_table([{**fit_row, **loo}])
    print(f"\nused {used} ({len(res.skipped)} skipped); wrote {path} (the runtime fit)")
    return 0
