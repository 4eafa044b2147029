"""Fit the absolute scale of device profiles to published latencies, keeping each ridge fixed.

The MobileNetV4 paper (Qin et al. 2024) publishes only ridge points (MACs per byte) for its
devices, and Table 6 latencies; vendors rarely publish attainable peaks. A profile therefore keeps
its ridge ``R = peak_gmac_s / mem_gb_s`` fixed and only its absolute scale is fit here:

    T_model = overhead + (1 / P) * sum_layers max(MACs_l, R * bytes_l)

This is the **provisional** fit, made before the roofline engine existed. It uses the published
MACs of each model and ignores bytes:

* a profile without ``overhead_ms``: ``P = median over models of (MACs / latency)``;
* a profile with ``overhead_ms`` (the GPU delegates and Core ML, whose small models pay a large
  fixed cost): least squares ``latency = overhead + MACs / P``.

The bandwidth follows as ``P / R``. Once ``edgekit.roofline`` lands, replace ``predict_units``
with the per-layer sum above and refit. The script only prints; edit the TOML files by hand (they
carry comments and provenance that a writer would lose).

Usage:
    python scripts/fit_devices.py                       # every device in the CSV
    python scripts/fit_devices.py pixel7-gpu s23-gpu    # some
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

from edgekit.device import load_device

CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "published_latency_mnv4.csv"


def read_measurements(path: Path) -> dict[str, list[tuple[str, float, float]]]:
    """``{device: [(model, macs_g, latency_ms), ...]}`` for rows with status ``measured``."""
    out: dict[str, list[tuple[str, float, float]]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["status"] != "measured":
                continue
            out.setdefault(row["device"], []).append(
                (row["model"], float(row["macs_g"]), float(row["latency_ms"]))
            )
    return out


def fit(rows: list[tuple[str, float, float]], with_overhead: bool) -> tuple[float, float]:
    """Return ``(peak_gmac_s, overhead_ms)`` for one device."""
    macs = [m for _, m, _ in rows]
    lat = [t for _, _, t in rows]
    if not with_overhead:
        return statistics.median(m / t * 1e3 for m, t in zip(macs, lat, strict=True)), 0.0
    slope, intercept = statistics.linear_regression(macs, lat)  # ms per GMAC, ms
    return 1e3 / slope, intercept


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("devices", nargs="*", help="device names (default: every device in the CSV)")
    ap.add_argument("--csv", type=Path, default=CSV, help="published latency CSV")
    args = ap.parse_args()
    data = read_measurements(args.csv)
    for name in args.devices or sorted(data):
        d = load_device(name)
        rows = data[name]
        ridge = d.ridge_mac_per_byte
        peak, overhead = fit(rows, with_overhead=d.overhead_ms is not None)
        peak, overhead = round(peak, 1), round(overhead, 2)  # as written in the profiles
        pred = [overhead + m / peak * 1e3 for _, m, _ in rows]
        ape = statistics.median(abs(p / t - 1) for p, (_, _, t) in zip(pred, rows, strict=True))
        print(f"{name}: n={len(rows)} ridge={ridge:.2f} -> peak_gmac_s={peak:.1f} "
              f"mem_gb_s={peak / ridge:.6g} overhead_ms={overhead:.2f} "
              f"(median abs error {ape:.1%})")


if __name__ == "__main__":
    main()
