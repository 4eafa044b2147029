"""edgekit: put vision models on edge devices and know, before you ship, how fast they will run.

The public API is small and imported lazily, so ``import edgekit`` (and ``edgekit --help``) stays
fast; torch, onnx and the converters load only when a function that needs them runs.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "create_model": "edgekit.models",
    "list_models": "edgekit.models",
    "get_spec": "edgekit.models",
    "load_device": "edgekit.device",
    "list_devices": "edgekit.device",
    "reparameterize": "edgekit.layers.reparam",
    "layer_table": "edgekit.roofline",
    "analyze": "edgekit.roofline",
    "estimate_latency": "edgekit.roofline",
    "export": "edgekit.export",
}

__all__ = ["__version__", *_LAZY]

# Make a later ``import timm`` work next to the CPU torch, without importing torch now.
from edgekit._compat import install_import_hook  # noqa: E402

install_import_hook()


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'edgekit' has no attribute '{name}'")
