"""The model zoo: MobileNetV4, EfficientFormer (V1, V2), RepLKNet and baselines.

Use :func:`create_model`, :func:`list_models` and :func:`get_spec`.
"""

from __future__ import annotations

from edgekit.models.registry import (
    ModelSpec,
    create_model,
    get_spec,
    list_models,
    load_checkpoint,
    register,
)

__all__ = ["ModelSpec", "create_model", "get_spec", "list_models", "load_checkpoint", "register"]
