"""Data shipped with edgekit.

``published_latency_mnv4.csv``: the MobileNetV4 paper's measured latencies of its five models on
seven devices (Qin et al. 2024, arXiv:2404.10518, Table 6), copied from the project's shared data.
Device profiles are fit to it (``scripts/fit_devices.py``) and ``edgekit report`` compares the
roofline's predictions with it.

``published_latency_aihub.csv``: Qualcomm AI Hub's on-device profile results (``perf.yaml`` of each
model in the public quic/ai-hub-models repository, commit in the ``source`` column) of 15
classification backbones with TFLite and the QNN delegate on the Hexagon NPU of a Galaxy S23
(Snapdragon 8 Gen 2) and a Galaxy S25 (Snapdragon 8 Elite), fp16 and int8, with the number of ops
the delegate ran (``layers_total``). The ``s23-npu`` / ``s25-npu`` profiles are fit to it
(``scripts/fit_npu.py``).
"""

from __future__ import annotations

from pathlib import Path

PUBLISHED_MNV4 = Path(__file__).with_name("published_latency_mnv4.csv")
PUBLISHED_AIHUB = Path(__file__).with_name("published_latency_aihub.csv")
