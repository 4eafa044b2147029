"""RepLKNet, written for edgekit (timm has none); blocks in :mod:`edgekit.layers.replk`.

Ding et al., "Scaling Up Your Kernels to 31x31: Revisiting Large Kernel Design in CNNs",
CVPR 2022 (arXiv:2203.06717). Architectures from Sec. 4-5 and the official code
(DingXiaoH/RepLKNet-pytorch, ``create_RepLKNet31B/31L/XL``); parameters, FLOPs (which the paper
counts as multiply-accumulates) and top-1 from the ImageNet results table, Table 6:

==============  =====  ==========================  ======  =======  =====
model           res    pretraining                 params  GMACs    top-1
==============  =====  ==========================  ======  =======  =====
RepLKNet-31B    224    ImageNet-1K only            79M     15.3     83.5
RepLKNet-31L    384    ImageNet-22K (‡)            172M    96.0     86.6
RepLKNet-XL     320    MegData-73M (◊)             335M    128.7    87.8
==============  =====  ==========================  ======  =======  =====

31L and XL were never published with ImageNet-1K-only training; their top-1 is recorded with the
pretraining and resolution spelled out in ``top1_source``. XL uses ``dw_ratio=1.5`` (the official
code; with 1.0 it would have 300M parameters, not the published 335M) and no small kernel.

``replknet_31t`` is edgekit's own phone-size variant (not in the paper, no published accuracy):
the 31B design with the same kernels 31/29/27/13 and small kernel 5, widths 48/96/192/384 and
depths 2/2/8/2, i.e. 8.3M parameters and 1.77 GMACs at 224 (measured with torch's
FlopCounterMode), to put a large-kernel model in the 1-2 GMAC range of MobileNetV4-Conv-M.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from edgekit.models.registry import ModelSpec, register

if TYPE_CHECKING:
    from torch import nn

PAPER = ("Ding et al. 2022, Scaling Up Your Kernels to 31x31: Revisiting Large Kernel Design "
         "in CNNs (CVPR 2022, arXiv:2203.06717)")
TABLE = "Ding et al. 2022 (RepLKNet), Table 6"
DEPLOY = ("edgekit.layers.reparam.reparameterize(): every BatchNorm folded, the small depthwise "
          "kernel zero-padded into the large one; one depthwise conv per block, no BatchNorm")

# name -> RepLKNet kwargs (defaults: dw_ratio 1, ffn_ratio 4, 1000 classes)
CONFIGS: dict[str, dict[str, Any]] = {
    "replknet_31b": dict(large_kernel_sizes=(31, 29, 27, 13), layers=(2, 2, 18, 2),
                         channels=(128, 256, 512, 1024), small_kernel=5),
    "replknet_31l": dict(large_kernel_sizes=(31, 29, 27, 13), layers=(2, 2, 18, 2),
                         channels=(192, 384, 768, 1536), small_kernel=5),
    "replknet_xl": dict(large_kernel_sizes=(27, 27, 27, 13), layers=(2, 2, 18, 2),
                        channels=(256, 512, 1024, 2048), small_kernel=None, dw_ratio=1.5),
    "replknet_31t": dict(large_kernel_sizes=(31, 29, 27, 13), layers=(2, 2, 8, 2),
                         channels=(48, 96, 192, 384), small_kernel=5),
    "test_replknet": dict(large_kernel_sizes=(13, 11, 9, 7), layers=(1, 1, 2, 1),
                          channels=(16, 24, 32, 48), small_kernel=3, num_classes=10),
}


def _builder(name: str) -> Callable[..., nn.Module]:
    def build(**overrides: Any) -> nn.Module:
        from edgekit.layers.replk import RepLKNet

        return RepLKNet(**{**CONFIGS[name], **overrides})

    build.__name__ = f"build_{name}"
    return build


def _spec(name: str, resolution: int, **kw: Any) -> ModelSpec:
    return ModelSpec(name=name, family="RepLKNet", resolution=resolution, paper=PAPER,
                     builder=_builder(name), reparameterizable=True, deploy=DEPLOY, **kw)


register(_spec("replknet_31b", 224, params_m=79.0, macs_g=15.3, top1=83.5,
               top1_source=f"{TABLE}: ImageNet-1K only, 224x224", mission=True))
register(_spec("replknet_31l", 384, params_m=172.0, macs_g=96.0, top1=86.6,
               top1_source=f"{TABLE}: ImageNet-22K pretraining, fine-tuned on ImageNet-1K at "
                           "384x384 (no ImageNet-1K-only figure published)", mission=True))
register(_spec("replknet_xl", 320, params_m=335.0, macs_g=128.7, top1=87.8,
               top1_source=f"{TABLE}: MegData-73M pretraining, fine-tuned on ImageNet-1K at "
                           "320x320 (no ImageNet-1K-only figure published)", mission=True))
register(_spec("replknet_31t", 224, params_m=8.25, macs_g=1.77, mission=True,
               tags=("edgekit-variant",)))
register(_spec("test_replknet", 64, tags=("test",)))
