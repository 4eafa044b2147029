"""The one re-parameterization protocol of edgekit, and the fusion math it needs.

A *re-parameterizable* block carries train-time structure (BatchNorm, parallel branches) that
collapses, in eval mode, into fewer plain layers computing the same function. Protocol:

* a block's ``reparameterize()`` **returns** the fused inference module (it does not modify
  itself); :func:`reparameterize` swaps it in;
* timm's blocks (MobileOne, FastViT's RepMixer, ...) instead fuse **in place** and return
  ``None``; :func:`reparameterize` adapts them in the same walk, like
  ``timm.utils.reparameterize_model`` does;
* :func:`fuse_conv_bn`, :func:`fuse_bn_conv` and :func:`pad_kernel_to` are the only copies of
  the fusion math.

Fusion uses the BatchNorm *running* statistics, i.e. eval-mode semantics; :func:`reparameterize`
puts the copy in eval mode first.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch
from torch import nn
from torch.nn import functional as F

from edgekit.errors import ConfigError, VerificationError

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "ConvBN",
    "DeployError",
    "Reparameterizable",
    "deploy_error",
    "reparam_error",
    "fuse_bn_conv",
    "fuse_conv_bn",
    "pad_kernel_to",
    "randomize_batchnorm",
    "reparameterize",
]


@runtime_checkable
class Reparameterizable(Protocol):
    """A module that knows its fused inference form."""

    def reparameterize(self) -> nn.Module | None:
        """Return the fused module (edgekit blocks), or fuse in place and return None (timm)."""
        ...


def _bn_scale_shift(bn: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """Per-channel ``(scale, shift)`` with ``bn(x) == x * scale + shift`` in eval mode."""
    if bn.running_mean is None or bn.running_var is None:
        raise ConfigError(f"cannot fold {type(bn).__name__} without running statistics "
                          "(track_running_stats=False); train with running statistics to fuse it")
    std = torch.sqrt(bn.running_var + bn.eps)
    gamma = bn.weight if bn.weight is not None else torch.ones_like(std)
    beta = bn.bias if bn.bias is not None else torch.zeros_like(std)
    scale = gamma / std
    return scale, beta - bn.running_mean * scale


@torch.no_grad()
def fuse_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """Fold ``bn(conv(x))`` into one convolution.

    Returns:
        ``(weight, bias)`` of a convolution with ``conv``'s geometry computing ``bn(conv(x))``.
    """
    scale, shift = _bn_scale_shift(bn)
    weight = conv.weight * scale.reshape(-1, 1, 1, 1)  # (C_out, C_in/groups, kH, kW)
    bias = shift if conv.bias is None else conv.bias * scale + shift
    return weight.detach().clone(), bias.detach().clone()


@torch.no_grad()
def fuse_bn_conv(bn: nn.BatchNorm2d, weight: Tensor, bias: Tensor | None) -> tuple[Tensor, Tensor]:
    """Fold a BatchNorm that *precedes* a dense 1x1 convolution into that convolution.

    Exact only for an un-padded, ungrouped convolution (padding would see zeros, not BN'd
    zeros), which is why it takes a 1x1 weight only.

    Args:
        bn: the BatchNorm applied to the convolution's input.
        weight: the 1x1 convolution weight, ``(C_out, C_in, 1, 1)``.
        bias: its bias, ``(C_out,)``, or None.

    Returns:
        ``(weight, bias)`` computing ``conv(bn(x))``.
    """
    if weight.shape[2:] != (1, 1):
        raise ConfigError(f"fuse_bn_conv needs a 1x1 kernel, got {tuple(weight.shape[2:])}; a "
                          "BatchNorm before a padded kxk convolution has no exact fold")
    scale, shift = _bn_scale_shift(bn)
    w2d = weight[:, :, 0, 0]  # (C_out, C_in)
    new_bias = w2d @ shift
    if bias is not None:
        new_bias = new_bias + bias
    return (weight * scale.reshape(1, -1, 1, 1)).detach().clone(), new_bias.detach().clone()


def pad_kernel_to(kernel: Tensor, size: int | tuple[int, int]) -> Tensor:
    """Zero-pad a ``(..., kH, kW)`` kernel symmetrically to ``size`` (both odd, ``size >= k``).

    A small centred kernel padded this way computes the same output as the small kernel with
    its own ``k // 2`` padding, which is what merging parallel branches relies on.
    """
    th, tw = (size, size) if isinstance(size, int) else size
    kh, kw = kernel.shape[-2:]
    if (th - kh) % 2 or (tw - kw) % 2 or th < kh or tw < kw:
        raise ConfigError(f"cannot centre a {kh}x{kw} kernel in {th}x{tw}; the target size must be "
                          "at least the kernel's, with the same parity")
    ph, pw = (th - kh) // 2, (tw - kw) // 2
    return F.pad(kernel, [pw, pw, ph, ph])


class ConvBN(nn.Sequential):
    """``Conv2d`` (no bias) followed by ``BatchNorm2d``: the atom of every fused branch.

    ``reparameterize()`` returns a plain ``Conv2d`` with bias.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int = 1,
                 groups: int = 1, padding: int | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size, stride,
                              kernel_size // 2 if padding is None else padding,
                              groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)

    def fused_weight_bias(self) -> tuple[Tensor, Tensor]:
        return fuse_conv_bn(self.conv, self.bn)

    def reparameterize(self) -> nn.Conv2d:
        c = self.conv
        weight, bias = self.fused_weight_bias()
        fused = nn.Conv2d(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding,
                          c.dilation, c.groups, bias=True, device=weight.device,
                          dtype=weight.dtype)
        fused.weight.data.copy_(weight)
        assert fused.bias is not None
        fused.bias.data.copy_(bias)
        return fused


def _walk(module: nn.Module) -> None:
    for name, child in list(module.named_children()):
        fuse = getattr(child, "reparameterize", None)
        if callable(fuse):
            fused = fuse()
            if fused is not None:  # edgekit protocol: the returned module replaces the block
                setattr(module, name, fused)
                continue  # already an inference module
            # timm protocol: fused in place; its remaining children may still hold branches
        _walk(child)


def reparameterize(model: nn.Module) -> nn.Module:
    """A deploy copy of ``model`` with every train-time branch fused (``model`` is untouched).

    Deep-copies the model, switches the copy to eval mode and replaces every module that
    implements the protocol (see the module docstring) with its fused form. Models without
    re-parameterizable blocks come back as an eval-mode copy.
    """
    deployed = copy.deepcopy(model).eval()
    fuse = getattr(deployed, "reparameterize", None)
    if callable(fuse):  # the model itself may be a single block
        top = fuse()
        if top is not None:
            return top.eval()
    _walk(deployed)
    return deployed.eval()


# --- checking that a deploy model computes the same function ------------------------------------
@torch.no_grad()
def randomize_batchnorm(model: nn.Module, *, seed: int = 0,
                        calibrate: Tensor | None = None) -> nn.Module:
    """Give every BatchNorm non-trivial statistics and affine parameters, in place.

    Fresh BatchNorm layers (mean 0, variance 1, weight 1, bias 0) make a fusion check nearly
    vacuous. Weights are drawn from ``U(0.5, 1.5)`` and biases from ``N(0, 0.1^2)``. Without
    ``calibrate``, running means are drawn from ``N(0, 0.1^2)`` and variances from ``U(0.5, 2)``.
    With ``calibrate`` (a batch of inputs), the running statistics are set to the batch
    statistics each BatchNorm sees on that input (only the BatchNorm layers run in training
    mode), then perturbed mildly (means shifted by ``N(0, 0.1^2)`` standard deviations,
    variances scaled by a log-uniform factor in [0.8, 1.25]): a deep random network then keeps its activations at
    a trained network's scale instead of growing layer after layer, so float32 rounding does not
    swamp the comparison.

    Returns:
        ``model``, in eval mode.
    """
    named = [(n, m) for n, m in model.named_modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    norms = [m for _, m in named]
    for name, m in named:
        if m.running_mean is None or m.running_var is None:
            raise ConfigError(f"BatchNorm '{name}' keeps no running statistics "
                              "(track_running_stats=False), so it has none to randomize; build the "
                              "model with running statistics")
    gen = torch.Generator().manual_seed(seed)
    for m in norms:
        n = m.num_features
        if m.weight is not None:
            m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
        if m.bias is not None:
            m.bias.copy_(torch.randn(n, generator=gen) * 0.1)
    model.eval()
    if calibrate is None:
        for m in norms:
            assert m.running_mean is not None and m.running_var is not None
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) * 1.5 + 0.5)
        return model
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: one batch sets the batch statistics
        m.train()
    try:
        model(calibrate)
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
            m.eval()
    for m in norms:
        assert m.running_mean is not None and m.running_var is not None
        n = m.num_features
        m.running_mean.add_(torch.randn(n, generator=gen) * 0.1 * torch.sqrt(m.running_var))
        m.running_var.mul_(torch.exp(torch.empty(n).uniform_(-0.223, 0.223, generator=gen)))
    return model


@dataclass(frozen=True, slots=True)
class DeployError:
    """How far a deploy model's outputs are from the train-time model's, on one input.

    Attributes:
        max_abs: largest absolute difference.
        max_rel: ``max_abs`` divided by the largest absolute reference output.
        ref_max: the largest absolute reference output (so tiny outputs are visible).
    """

    max_abs: float
    max_rel: float
    ref_max: float

    def ok(self, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
        """Within ``rtol`` relative to the output scale, or within ``atol`` absolute."""
        return self.max_rel <= rtol or self.max_abs <= atol

    def __str__(self) -> str:
        return (f"max abs error {self.max_abs:.3g}, max relative error {self.max_rel:.3g} "
                f"(largest |logit| {self.ref_max:.3g})")


@torch.no_grad()
def deploy_error(model: nn.Module, deployed: nn.Module, x: Tensor) -> DeployError:
    """Compare ``deployed(x)`` with ``model(x)`` (both run in eval mode)."""
    ref = model.eval()(x).double()
    out = deployed.eval()(x).double()
    if ref.shape != out.shape:
        raise VerificationError(f"deploy output shape {tuple(out.shape)} differs from the model's "
                                f"{tuple(ref.shape)}; compare the deploy form of the same model")
    max_abs = (out - ref).abs().max().item()
    ref_max = ref.abs().max().item()
    return DeployError(max_abs, max_abs / ref_max if ref_max > 0 else float("inf"), ref_max)


def reparam_error(model: nn.Module, x: Tensor, dtype: torch.dtype = torch.float32) -> DeployError:
    """Re-parameterize a copy of ``model`` in ``dtype`` and compare it with the model, on ``x``.

    ``float64`` separates the function from rounding: a random-init network can amplify float32
    rounding by orders of magnitude (timm's MobileOne-S4 does, about 10x per SE block), while a
    wrong fusion stays wrong in float64.
    """
    ref = copy.deepcopy(model).to(dtype).eval()
    return deploy_error(ref, reparameterize(ref), x.to(dtype))
