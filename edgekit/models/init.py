"""Trained-like random weights: BatchNorm and layer-scale values in the ranges trained models have.

A freshly built timm model is not a fair stand-in for a trained one when it is converted: timm
zero-initialises the last BatchNorm gamma of each residual block (``zero_init_last``) and
layer-scale parameters start at 1e-5 / 1e-6. Converters then fold those branches away (a
``resnet18`` TFLite kept 4 of its 20 convs) and int8 output scales collapse to ~1e-12. Every
artifact edgekit builds from random weights (export, bench, validate) therefore goes through
:func:`trained_like_init` first. Draws come from a local :class:`torch.Generator`, so the global
RNG is untouched and the same seed gives the same weights.

Ranges (what ImageNet-trained timm models show, roughly):

==========================  ==========================
BatchNorm weight (gamma)    U(0.5, 1.5)
BatchNorm bias (beta)       U(-0.1, 0.1)
BatchNorm running_mean      U(-0.1, 0.1)
BatchNorm running_var       U(0.5, 2.0) (positive)
layer-scale (1-D ``gamma``) U(0.1, 1.0)
==========================  ==========================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

BN_WEIGHT = (0.5, 1.5)
BN_BIAS = (-0.1, 0.1)
BN_MEAN = (-0.1, 0.1)
BN_VAR = (0.5, 2.0)
LAYER_SCALE = (0.1, 1.0)
# Parameter names (last component) that timm and edgekit use for layer scale.
LAYER_SCALE_NAMES = frozenset({"gamma", "layer_scale", "layer_scale_1", "layer_scale_2",
                               "gamma_1", "gamma_2"})


def is_layer_scale(name: str, shape: tuple[int, ...]) -> bool:
    """Whether parameter ``name`` of ``shape`` is a per-channel layer scale (not a norm weight)."""
    leaf = name.rsplit(".", 1)[-1]
    squeezed = [d for d in shape if d != 1]
    return leaf in LAYER_SCALE_NAMES and len(squeezed) == 1


def trained_like_init(model: nn.Module, seed: int = 0) -> nn.Module:
    """Set BatchNorm affine/statistics and layer-scale parameters to trained-like values, in place.

    Args:
        model: any module; BatchNorm layers (1-D/2-D/3-D) and 1-D layer-scale parameters
            (see :data:`LAYER_SCALE_NAMES`) are changed, nothing else.
        seed: seed of the local generator.

    Returns:
        ``model``.
    """
    import torch
    from torch import nn

    gen = torch.Generator().manual_seed(seed)

    def fill(t: torch.Tensor, bounds: tuple[float, float]) -> None:
        lo, hi = bounds
        t.copy_(torch.rand(t.shape, generator=gen, dtype=torch.float32) * (hi - lo) + lo)

    norm_params: set[int] = set()
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.modules.batchnorm._BatchNorm):  # noqa: SLF001 - all BN kinds
                if mod.weight is not None:
                    fill(mod.weight, BN_WEIGHT)
                    norm_params.add(id(mod.weight))
                if mod.bias is not None:
                    fill(mod.bias, BN_BIAS)
                    norm_params.add(id(mod.bias))
                if mod.running_mean is not None:
                    fill(mod.running_mean, BN_MEAN)
                if mod.running_var is not None:
                    fill(mod.running_var, BN_VAR)
        for name, p in model.named_parameters():
            if id(p) not in norm_params and is_layer_scale(name, tuple(p.shape)):
                fill(p.data, LAYER_SCALE)
    return model
