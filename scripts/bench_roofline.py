"""Time the roofline analysis of the whole zoo on every device profile, cold and cached.

Usage::

    python scripts/bench_roofline.py [--workers N] [--models 'glob'] [--keep-cache DIR]

Cold: an empty layer-table cache, so every model is built (uninitialised weights), exported to
ONNX and counted. Warm: the same call again, reading every table from the cache. Each run is a
fresh interpreter (``edgekit roofline`` as a user would start it), so import time is included.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time


def _cpu_children() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _run(cache: str, workers: int | None, models: list[str], out_csv: str) -> tuple[float, float]:
    env = {**os.environ, "EDGEKIT_CACHE_DIR": cache}
    cmd = [sys.executable, "-m", "edgekit.cli", "roofline", *models, "--all-devices",
           "--csv", out_csv]
    if workers:
        cmd += ["--workers", str(workers)]
    c0, t0 = _cpu_children(), time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed, cpu = time.perf_counter() - t0, _cpu_children() - c0
    if proc.returncode != 0:
        sys.exit(f"bench failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return elapsed, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, help="processes for the cold run (default: edgekit's)")
    ap.add_argument("--models", default=None, help="glob over model names (default: the whole zoo)")
    ap.add_argument("--keep-cache", metavar="DIR", help="use (and keep) this cache directory")
    args = ap.parse_args()

    from edgekit.device import list_devices
    from edgekit.models import list_models

    models = list_models(args.models)
    devices = list_devices()
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.keep_cache or os.path.join(tmp, "cache")
        out_csv = os.path.join(tmp, "zoo.csv")
        cold = _run(cache, args.workers, models, out_csv)
        warm = _run(cache, args.workers, models, out_csv)
        import pandas as pd

        rows = len(pd.read_csv(out_csv))
    load = os.getloadavg()[0]
    print(f"models: {len(models)}  devices: {len(devices)}  rows: {rows}  cpus: {os.cpu_count()}  "
          f"load average now: {load:.1f}")
    print(f"cold (empty cache): {cold[0]:.1f} s wall, {cold[1]:.1f} s CPU (all processes)")
    print(f"warm (cached tables): {warm[0]:.1f} s wall, {warm[1]:.1f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
