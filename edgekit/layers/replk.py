"""RepLKNet blocks and network, after the official implementation (DingXiaoH/RepLKNet-pytorch).

Ding et al., "Scaling Up Your Kernels to 31x31: Revisiting Large Kernel Design in CNNs",
CVPR 2022. Structure (Sec. 4.1, Fig. 4):

* stem: conv3x3 s2 -> dw3x3 -> conv1x1 -> dw3x3 s2, each Conv+BN+ReLU (stride 4 overall);
* stages of alternating ``RepLKBlock`` (BN -> 1x1 -> ReLU -> large dw || small dw -> ReLU -> 1x1,
  identity shortcut) and ``ConvFFN`` (BN -> 1x1 expand -> GELU -> 1x1, identity shortcut);
* transitions: Conv1x1+BN+ReLU -> dw3x3 s2+BN+ReLU;
* head: BN -> global average pool -> linear.

Every train-time piece implements :mod:`edgekit.layers.reparam`'s protocol, so
``reparameterize(model)`` returns a network with one depthwise conv per block and no BatchNorm.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from edgekit.errors import ConfigError
from edgekit.layers.reparam import ConvBN, fuse_bn_conv, pad_kernel_to

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["ConvFFN", "LargeKernelConv", "RepLKBlock", "RepLKHead", "RepLKNet", "Residual"]


def _drop_path(rate: float) -> nn.Module:
    if rate <= 0:
        return nn.Identity()
    from edgekit._compat import import_timm

    return import_timm().layers.DropPath(rate)  # identity in eval mode


def _conv(weight: Tensor, bias: Tensor, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """A ``Conv2d`` holding the given fused ``weight`` (C_out, C_in/groups, k, k) and ``bias``."""
    out_ch, in_per_group, kh, kw = weight.shape
    conv = nn.Conv2d(in_per_group * groups, out_ch, (kh, kw), stride, (kh // 2, kw // 2),
                     groups=groups, bias=True, device=weight.device, dtype=weight.dtype)
    conv.weight.data.copy_(weight)
    assert conv.bias is not None
    conv.bias.data.copy_(bias)
    return conv


class Residual(nn.Module):
    """``x + fn(x)``: the deploy form of RepLKBlock and ConvFFN."""

    def __init__(self, fn: nn.Module) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        return x + self.fn(x)


class LargeKernelConv(nn.Module):
    """A large depthwise Conv+BN in parallel with an optional small depthwise Conv+BN.

    ``reparameterize()`` merges both into one large depthwise conv: each branch's BN is folded,
    the small kernel is zero-padded to the large size and added.
    """

    def __init__(self, channels: int, kernel_size: int, small_kernel: int | None,
                 stride: int = 1) -> None:
        super().__init__()
        if small_kernel is not None and (small_kernel > kernel_size
                                         or (kernel_size - small_kernel) % 2):
            raise ConfigError(f"small kernel {small_kernel} cannot be merged into {kernel_size}; "
                              "use a smaller kernel of the same parity, or small_kernel=None")
        self.lkb_origin = ConvBN(channels, channels, kernel_size, stride, groups=channels)
        self.small_conv = (ConvBN(channels, channels, small_kernel, stride, groups=channels)
                           if small_kernel is not None else None)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, C, H/s, W/s)
        out = self.lkb_origin(x)
        if self.small_conv is not None:
            out = out + self.small_conv(x)
        return out

    def fused_weight_bias(self) -> tuple[Tensor, Tensor]:
        weight, bias = self.lkb_origin.fused_weight_bias()
        if self.small_conv is not None:
            w_small, b_small = self.small_conv.fused_weight_bias()
            weight = weight + pad_kernel_to(w_small, weight.shape[-1])
            bias = bias + b_small
        return weight, bias

    def reparameterize(self) -> nn.Conv2d:
        c = self.lkb_origin.conv
        return _conv(*self.fused_weight_bias(), stride=c.stride[0], groups=c.groups)


class RepLKBlock(nn.Module):
    """BN -> 1x1 -> ReLU -> (large dw || small dw) -> ReLU -> 1x1, plus the identity."""

    def __init__(self, channels: int, dw_channels: int, kernel_size: int,
                 small_kernel: int | None, drop_path: float = 0.0) -> None:
        super().__init__()
        self.prelkb_bn = nn.BatchNorm2d(channels)
        self.pw1 = ConvBN(channels, dw_channels, 1)
        self.pw1_act = nn.ReLU()
        self.large_kernel = LargeKernelConv(dw_channels, kernel_size, small_kernel)
        self.lk_nonlinear = nn.ReLU()
        self.pw2 = ConvBN(dw_channels, channels, 1)
        self.drop_path = _drop_path(drop_path)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W)
        out = self.pw1_act(self.pw1(self.prelkb_bn(x)))  # (B, C_dw, H, W)
        out = self.lk_nonlinear(self.large_kernel(out))
        return x + self.drop_path(self.pw2(out))

    def reparameterize(self) -> Residual:
        pw1 = _conv(*fuse_bn_conv(self.prelkb_bn, *self.pw1.fused_weight_bias()))
        return Residual(nn.Sequential(OrderedDict(
            pw1=pw1, pw1_act=nn.ReLU(), large_kernel=self.large_kernel.reparameterize(),
            lk_nonlinear=nn.ReLU(), pw2=self.pw2.reparameterize(),
        )))


class ConvFFN(nn.Module):
    """BN -> 1x1 (expand) -> GELU -> 1x1, plus the identity."""

    def __init__(self, channels: int, hidden: int, drop_path: float = 0.0) -> None:
        super().__init__()
        self.preffn_bn = nn.BatchNorm2d(channels)
        self.pw1 = ConvBN(channels, hidden, 1)
        self.nonlinear = nn.GELU()
        self.pw2 = ConvBN(hidden, channels, 1)
        self.drop_path = _drop_path(drop_path)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W)
        out = self.nonlinear(self.pw1(self.preffn_bn(x)))  # (B, hidden, H, W)
        return x + self.drop_path(self.pw2(out))

    def reparameterize(self) -> Residual:
        pw1 = _conv(*fuse_bn_conv(self.preffn_bn, *self.pw1.fused_weight_bias()))
        return Residual(nn.Sequential(OrderedDict(
            pw1=pw1, nonlinear=nn.GELU(), pw2=self.pw2.reparameterize(),
        )))


class RepLKHead(nn.Module):
    """BN -> global average pool -> linear; the BN folds into the linear layer."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(channels, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, num_classes)
        return self.fc(self.flatten(self.pool(self.norm(x))))

    @torch.no_grad()
    def reparameterize(self) -> nn.Sequential:
        # Pooling is linear and per-channel, so fc(pool(bn(x))) == fc'(pool(x)).
        channels = self.norm.num_features
        if isinstance(self.fc, nn.Linear):
            weight, bias = fuse_bn_conv(self.norm, self.fc.weight[:, :, None, None], self.fc.bias)
            fc: nn.Module = nn.Linear(channels, self.fc.out_features, device=weight.device,
                                      dtype=weight.dtype)
            fc.weight.data.copy_(weight[:, :, 0, 0])
            fc.bias.data.copy_(bias)
        else:  # no classifier: the BN's per-channel affine becomes a diagonal linear layer
            w_bn = self.norm.running_var
            assert w_bn is not None
            eye = torch.eye(channels, device=w_bn.device, dtype=w_bn.dtype)[:, :, None, None]
            weight, bias = fuse_bn_conv(self.norm, eye, None)
            fc = nn.Linear(channels, channels, device=weight.device, dtype=weight.dtype)
            fc.weight.data.copy_(weight[:, :, 0, 0])
            fc.bias.data.copy_(bias)
        return nn.Sequential(OrderedDict(pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(1),
                                         fc=fc))


def _conv_bn_relu(in_ch: int, out_ch: int, kernel_size: int, stride: int = 1,
                  groups: int = 1) -> list[nn.Module]:
    return [ConvBN(in_ch, out_ch, kernel_size, stride, groups), nn.ReLU()]


class RepLKNet(nn.Module):
    """RepLKNet classifier.

    Args:
        large_kernel_sizes: large depthwise kernel per stage, e.g. ``(31, 29, 27, 13)``.
        layers: number of (RepLKBlock, ConvFFN) pairs per stage.
        channels: width per stage.
        small_kernel: the parallel small depthwise kernel (``None``: no small branch).
        dw_ratio: RepLKBlock inner width as a multiple of the stage width.
        ffn_ratio: ConvFFN expansion.
        drop_path_rate: stochastic depth, linearly increasing over blocks (training only).
        num_classes: classifier outputs (0: return pooled features).
        in_chans: input channels.
    """

    def __init__(self, large_kernel_sizes: Sequence[int], layers: Sequence[int],
                 channels: Sequence[int], small_kernel: int | None = 5, dw_ratio: float = 1.0,
                 ffn_ratio: float = 4.0, drop_path_rate: float = 0.0, num_classes: int = 1000,
                 in_chans: int = 3) -> None:
        super().__init__()
        if not len(large_kernel_sizes) == len(layers) == len(channels):
            raise ConfigError(
                "large_kernel_sizes, layers and channels need one entry per stage, got "
                f"{len(large_kernel_sizes)}, {len(layers)} and {len(channels)} entries")
        self.num_classes = num_classes
        self.num_features = channels[-1]
        width = channels[0]
        self.stem = nn.Sequential(
            *_conv_bn_relu(in_chans, width, 3, stride=2),
            *_conv_bn_relu(width, width, 3, groups=width),
            *_conv_bn_relu(width, width, 1),
            *_conv_bn_relu(width, width, 3, stride=2, groups=width),
        )
        rates = torch.linspace(0, drop_path_rate, sum(layers)).tolist()
        self.stages = nn.ModuleList()
        self.transitions = nn.ModuleList()
        done = 0
        for i, (kernel, depth, ch) in enumerate(zip(large_kernel_sizes, layers, channels,
                                                    strict=True)):
            blocks: list[nn.Module] = []
            for j in range(depth):
                rate = rates[done + j]
                blocks.append(RepLKBlock(ch, int(ch * dw_ratio), kernel, small_kernel, rate))
                blocks.append(ConvFFN(ch, int(ch * ffn_ratio), rate))
            done += depth
            self.stages.append(nn.Sequential(*blocks))
            if i < len(layers) - 1:
                nxt = channels[i + 1]
                self.transitions.append(nn.Sequential(
                    *_conv_bn_relu(ch, nxt, 1), *_conv_bn_relu(nxt, nxt, 3, stride=2, groups=nxt),
                ))
        self.head = RepLKHead(channels[-1], num_classes)

    def forward_features(self, x: Tensor) -> Tensor:  # (B, 3, H, W) -> (B, C, H/32, W/32)
        x = self.stem(x)
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < len(self.transitions):
                x = self.transitions[i](x)
        return x

    def forward(self, x: Tensor) -> Tensor:  # (B, 3, H, W) -> (B, num_classes)
        return self.head(self.forward_features(x))
