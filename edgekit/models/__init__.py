"""The model zoo: importing this package registers every model family.

Each family module (MobileNetV4, EfficientFormer (V1, V2), RepLKNet, the baselines) calls
:func:`register` at import, as timm's families do; the registry itself imports none of them. A
family that fails to import is an :class:`~edgekit.errors.EdgekitError` naming its module, never a
registry with that family silently missing. Use :func:`create_model`, :func:`list_models` and
:func:`get_spec`.
"""

from __future__ import annotations

import importlib

from edgekit.errors import EdgekitError
from edgekit.models import registry
from edgekit.models.registry import (
    ModelSpec,
    create_model,
    get_spec,
    list_models,
    load_checkpoint,
    register,
)

# One module per family, imported in this order (none of them imports torch at import).
FAMILIES = (
    "edgekit.models.mobilenetv4",
    "edgekit.models.efficientformer",
    "edgekit.models.replknet",
    "edgekit.models.baselines",
)


def _register_families() -> None:
    registry.family_failed(None)
    for module in FAMILIES:
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - any failure of a family's module code
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            error = EdgekitError(
                f"model family module '{module}' failed to import ({type(exc).__name__}: "
                f"{first or 'no detail'}); its models cannot be listed or built; fix or reinstall "
                "edgekit (run with --debug for the traceback)"
            )
            registry.family_failed(error)
            raise error from exc


_register_families()

__all__ = ["FAMILIES", "ModelSpec", "create_model", "get_spec", "list_models", "load_checkpoint",
           "register"]
