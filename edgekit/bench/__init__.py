"""Measured runtimes on this host: runners for onnxruntime, LiteRT and torch, host micro-benchmarks.

``bench(target, runtime=...)`` times a model name or artifact and returns a :class:`BenchResult`;
``profile_onnxruntime(path)`` gives per-node kernel times; ``calibrate_host()`` measures this
machine's peak MAC rate and memory bandwidth and makes a device profile of it.
"""

from __future__ import annotations

from edgekit.bench.results import BenchResult, Runtime, results_frame
from edgekit.bench.runners import bench, parse_runtime, prepare, profile_onnxruntime, run_prepared

__all__ = [
    "BenchResult", "Runtime", "bench", "parse_runtime", "prepare", "profile_onnxruntime",
    "results_frame", "run_prepared",
]
