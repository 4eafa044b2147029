"""Make ``import timm`` work next to the CPU build of torch.

The registry's torchvision 0.28.0 is a CUDA build: its ``_C.so`` cannot load next to the CPU torch,
and its import then fails with ``RuntimeError: operator torchvision::nms does not exist``. timm
imports torchvision, so ``import timm`` fails too. timm's classification models never call the
detection ops, so where the native library cannot be loaded we declare the two op schemas that
torchvision's import registers fake kernels for. When torchvision loads normally this does nothing.

``import edgekit`` calls :func:`install_import_hook`: a meta-path finder that waits for the first
``import torchvision`` (by timm or the user), applies :func:`ensure_torchvision` just before it,
removes itself and lets the normal import go on. So ``import edgekit; import timm`` works, and
paths that never import torchvision (``edgekit --help``) do not import torch.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import sys
from typing import Any

_done = False
_lib = None  # keep the torch.library.Library alive for the life of the process


def ensure_torchvision() -> None:
    """Prepare torch so that ``import torchvision`` (and so ``import timm``) succeeds. Idempotent."""
    global _done, _lib
    if _done:
        return
    _done = True
    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return
    pkg_dir = list(spec.submodule_search_locations)[0]
    so_files = [f for f in os.listdir(pkg_dir) if f.startswith("_C") and f.endswith(".so")]
    if so_files:
        try:
            torch.ops.load_library(os.path.join(pkg_dir, so_files[0]))
            return
        except (OSError, RuntimeError):
            pass
    if hasattr(torch.ops.torchvision, "nms"):
        return
    _lib = torch.library.Library("torchvision", "DEF")
    _lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _lib.define(
        "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"
    )


def import_timm():  # noqa: ANN201 - returns the timm module
    """Import and return timm with the torchvision workaround applied."""
    ensure_torchvision()
    import timm

    return timm


class _TorchvisionHook(importlib.abc.MetaPathFinder):
    """Runs :func:`ensure_torchvision` before the first ``import torchvision``, then steps aside."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname != "torchvision":
            return None
        with contextlib.suppress(ValueError):  # another thread removed it first
            sys.meta_path.remove(self)
        ensure_torchvision()
        return None  # the regular finders import torchvision


def install_import_hook() -> None:
    """Have :func:`ensure_torchvision` run before torchvision's first import. Idempotent."""
    if _done or "torchvision" in sys.modules:
        return
    if not any(isinstance(f, _TorchvisionHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _TorchvisionHook())
