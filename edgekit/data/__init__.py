"""Data shipped with edgekit.

``published_latency_mnv4.csv``: the MobileNetV4 paper's measured latencies of its five models on
seven devices (Qin et al. 2024, arXiv:2404.10518, Table 6), copied from the project's shared data.
Device profiles are fit to it (``scripts/fit_devices.py``) and ``edgekit report`` compares the
roofline's predictions with it.
"""

from __future__ import annotations

from pathlib import Path

PUBLISHED_MNV4 = Path(__file__).with_name("published_latency_mnv4.csv")
