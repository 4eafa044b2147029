"""Baseline families that widen the validation population, all built with timm.

Each entry cites the paper and table its published top-1 comes from; ``None`` where the paper
publishes no ImageNet figure for that exact variant.
"""

from __future__ import annotations

from edgekit.models.registry import register, timm_spec

_REPARAM = "timm's reparameterize(): every MobileOne/RepMixer block fuses its branches in place"

# name, family, resolution, paper, params (M), MACs (G), top-1, top-1 source, reparameterizable
_BASELINES = [
    ("mobilenetv1_100", "MobileNetV1", 224,
     "Howard et al. 2017, MobileNets (arXiv:1704.04861)", 4.2, 0.569, 70.6,
     "Howard et al. 2017 (MobileNets), Table 8", False),
    ("mobilenetv2_050", "MobileNetV2", 224,
     "Sandler et al. 2018, MobileNetV2 (CVPR 2018)", 2.0, 0.097, None, None, False),
    ("mobilenetv2_100", "MobileNetV2", 224,
     "Sandler et al. 2018, MobileNetV2 (CVPR 2018)", 3.4, 0.300, 72.0,
     "Sandler et al. 2018 (MobileNetV2), Table 4", False),
    ("mobilenetv2_140", "MobileNetV2", 224,
     "Sandler et al. 2018, MobileNetV2 (CVPR 2018)", 6.9, 0.585, 74.7,
     "Sandler et al. 2018 (MobileNetV2), Table 4", False),
    ("mobilenetv3_large_100", "MobileNetV3", 224,
     "Howard et al. 2019, Searching for MobileNetV3 (ICCV 2019)", 5.4, 0.219, 75.2,
     "Howard et al. 2019 (MobileNetV3), Table 3", False),
    ("mobilenetv3_small_100", "MobileNetV3", 224,
     "Howard et al. 2019, Searching for MobileNetV3 (ICCV 2019)", 2.5, 0.056, 67.4,
     "Howard et al. 2019 (MobileNetV3), Table 3", False),
    ("mobileone_s0", "MobileOne", 224, "Vasu et al. 2023, MobileOne (CVPR 2023)",
     2.1, 0.275, 71.4, "Vasu et al. 2023 (MobileOne), Table 9", True),
    ("mobileone_s1", "MobileOne", 224, "Vasu et al. 2023, MobileOne (CVPR 2023)",
     4.8, 0.825, 75.9, "Vasu et al. 2023 (MobileOne), Table 9", True),
    ("mobileone_s2", "MobileOne", 224, "Vasu et al. 2023, MobileOne (CVPR 2023)",
     7.8, 1.299, 77.4, "Vasu et al. 2023 (MobileOne), Table 9", True),
    ("mobileone_s3", "MobileOne", 224, "Vasu et al. 2023, MobileOne (CVPR 2023)",
     10.1, 1.896, 78.1, "Vasu et al. 2023 (MobileOne), Table 9", True),
    ("mobileone_s4", "MobileOne", 224, "Vasu et al. 2023, MobileOne (CVPR 2023)",
     14.8, 2.978, 79.4, "Vasu et al. 2023 (MobileOne), Table 9", True),
    ("fastvit_t8", "FastViT", 256, "Vasu et al. 2023, FastViT (ICCV 2023)",
     3.6, 0.7, 75.6, "Vasu et al. 2023 (FastViT), Table 3", True),
    ("fastvit_s12", "FastViT", 256, "Vasu et al. 2023, FastViT (ICCV 2023)",
     8.8, 1.8, 79.8, "Vasu et al. 2023 (FastViT), Table 3", True),
    ("fastvit_sa12", "FastViT", 256, "Vasu et al. 2023, FastViT (ICCV 2023)",
     10.9, 1.9, 80.6, "Vasu et al. 2023 (FastViT), Table 3", True),
    ("efficientvit_b1", "EfficientViT", 224, "Cai et al. 2023, EfficientViT (ICCV 2023)",
     9.1, 0.52, 79.4, "Cai et al. 2023 (EfficientViT), Table 2", False),
    ("efficientvit_b2", "EfficientViT", 224, "Cai et al. 2023, EfficientViT (ICCV 2023)",
     24.0, 1.6, 82.1, "Cai et al. 2023 (EfficientViT), Table 2", False),
    ("efficientvit_b3", "EfficientViT", 224, "Cai et al. 2023, EfficientViT (ICCV 2023)",
     49.0, 3.9, 83.5, "Cai et al. 2023 (EfficientViT), Table 2", False),
    ("convnext_tiny", "ConvNeXt", 224, "Liu et al. 2022, A ConvNet for the 2020s (CVPR 2022)",
     28.0, 4.5, 82.1, "Liu et al. 2022 (ConvNeXt), Table 1", False),
    ("convnext_small", "ConvNeXt", 224, "Liu et al. 2022, A ConvNet for the 2020s (CVPR 2022)",
     50.0, 8.7, 83.1, "Liu et al. 2022 (ConvNeXt), Table 1", False),
]

for (_name, _family, _res, _paper, _params, _macs, _top1, _src, _rep) in _BASELINES:
    register(timm_spec(
        _name, _family, _res, _paper, params_m=_params, macs_g=_macs, top1=_top1,
        top1_source=_src, reparameterizable=_rep, deploy=_REPARAM if _rep else
        "as built (no train-time branches)",
    ))

# Tiny re-parameterizable variants for tests (same blocks, small widths and depths).
register(timm_spec(
    "test_mobileone", "MobileOne", 64, "Vasu et al. 2023, MobileOne (CVPR 2023)",
    timm_name="mobileone_s0", fixed={"num_classes": 10}, reparameterizable=True,
    deploy=_REPARAM, tags=("test",),
))
register(timm_spec(
    "test_fastvit", "FastViT", 64, "Vasu et al. 2023, FastViT (ICCV 2023)",
    timm_name="fastvit_t8", fixed={"num_classes": 10, "layers": (1, 1, 1, 1),
                                   "embed_dims": (16, 32, 64, 128)},
    reparameterizable=True, deploy=_REPARAM, tags=("test",),
))
