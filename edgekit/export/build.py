"""The module an export converts: a registry model (seeded or from a checkpoint) or an nn.Module.

A registry model without a checkpoint has random weights; they are drawn from a fixed seed inside
:func:`torch.random.fork_rng`, so an export is reproducible (same bytes, same sha256) and the
caller's RNG state is left as it was. ``deploy=True`` (what ``edgekit export`` always ships) is the
re-parameterized inference form; ``deploy=False`` keeps the train-time branches (benchmarks of
what re-parameterization saves).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from edgekit.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn

RANDOM_INIT_SEED = 0  # weights of a registry model exported without a checkpoint


@dataclass(frozen=True, slots=True)
class BuiltModel:
    """The module to convert and what the manifest says about it."""

    module: nn.Module = field(repr=False)
    name: str
    resolution: int
    deploy: bool
    weights: str  # one line for the manifest: where the weights came from
    checkpoint: str | None
    build_s: float


def seeded_model(name: str, *, deploy: bool = True,
                 checkpoint: str | os.PathLike[str] | None = None, pretrained: bool = False,
                 num_classes: int | None = None) -> nn.Module:
    """``create_model(name)`` with its random initialisation drawn from ``RANDOM_INIT_SEED``.

    ``num_classes`` rebuilds the classifier head (timm's ``num_classes``; RepLKNet's too), so a
    fine-tune with another class count loads.
    Without a checkpoint, BatchNorm and layer-scale values are then set trained-like
    (:func:`edgekit.models.init.trained_like_init`) before re-parameterization. The global torch
    RNG is forked, so the caller's random state is unchanged afterwards.
    """
    import torch

    from edgekit.models import create_model

    overrides = {} if num_classes is None else {"num_classes": check_num_classes(num_classes)}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        if checkpoint is not None or pretrained:
            return create_model(name, checkpoint=checkpoint, deploy=deploy, pretrained=pretrained,
                                **overrides)
        model = create_model(name, **overrides)
    # timm's zero-init BN gammas and ~1e-6 layer scales would let converters fold branches away
    from edgekit.models.init import trained_like_init

    trained_like_init(model, RANDOM_INIT_SEED)
    if deploy:
        from edgekit.layers.reparam import reparameterize

        model = reparameterize(model).eval()
    return model


def check_num_classes(num_classes: object) -> int:
    """``--num-classes`` as a positive int, or a ConfigError quoting the value."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"--num-classes must be a positive number of classes, got "
                          f"{num_classes!r}")
    return num_classes


def weights_line(checkpoint: object, pretrained: bool) -> str:
    """Where a registry model's weights came from, one line for the manifest."""
    if checkpoint:
        return f"checkpoint {checkpoint}"
    if pretrained:
        return "pretrained (published weights through timm's hub)"
    return (f"random init, trained-like BN and layer scale (seed {RANDOM_INIT_SEED}): "
            "good for latency and structure only")


def build_model(model: str | nn.Module, *, checkpoint: str | os.PathLike[str] | None = None,
                resolution: int | None = None, name: str | None = None,
                deploy: bool = True, pretrained: bool = False,
                num_classes: int | None = None) -> BuiltModel:
    """Build (or take) the module to export, in deploy or train form, and time it."""
    t0 = time.perf_counter()
    ckpt = str(checkpoint) if checkpoint else None
    if not isinstance(model, str) and (pretrained or num_classes is not None):
        raise ConfigError("pretrained= and num_classes= apply to registry model names; an "
                          "nn.Module is exported as given (build it with its head and weights)")
    if isinstance(model, str):
        from edgekit.models import get_spec

        spec = get_spec(model)
        module = seeded_model(model, deploy=deploy, checkpoint=checkpoint, pretrained=pretrained,
                              num_classes=num_classes)
        weights = weights_line(checkpoint, pretrained)
        return BuiltModel(module, name or spec.name, resolution or spec.resolution, deploy,
                          weights, ckpt, time.perf_counter() - t0)
    if checkpoint is not None:
        from edgekit.models import load_checkpoint

        load_checkpoint(model, checkpoint)
    if resolution is None:
        raise ConfigError("exporting an nn.Module needs resolution=N (a registry name knows its own)")
    module = model.eval()
    if deploy:
        from edgekit.layers.reparam import reparameterize

        module = reparameterize(module).eval()
    weights = f"checkpoint {checkpoint}" if checkpoint else "the nn.Module as given"
    return BuiltModel(module, name or type(model).__name__.lower(), resolution, deploy, weights,
                      ckpt, time.perf_counter() - t0)
