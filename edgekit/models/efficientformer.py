"""EfficientFormer (V1) and EfficientFormerV2, built with timm.

V1: Li et al., "EfficientFormer: Vision Transformers at MobileNet Speed", NeurIPS 2022, Table 1.
V2: Li et al., "Rethinking Vision Transformers for MobileNet Size and Speed", ICCV 2023, Table 1.
Top-1 figures are the papers' ImageNet-1k results at 224 (trained with distillation, as published).
"""

from __future__ import annotations

from edgekit.models.registry import register, timm_spec

PAPER_V1 = "Li et al. 2022, EfficientFormer: Vision Transformers at MobileNet Speed (NeurIPS 2022)"
PAPER_V2 = "Li et al. 2023, Rethinking Vision Transformers for MobileNet Size and Speed (ICCV 2023)"

# name, params (M), MACs (G), top-1 (%)
_V1 = [
    ("efficientformer_l1", 12.3, 1.3, 79.2),
    ("efficientformer_l3", 31.3, 3.9, 82.4),
    ("efficientformer_l7", 82.1, 10.2, 83.3),
]
_V2 = [
    ("efficientformerv2_s0", 3.5, 0.40, 75.7),
    ("efficientformerv2_s1", 6.1, 0.65, 79.0),
    ("efficientformerv2_s2", 12.6, 1.25, 81.6),
    ("efficientformerv2_l", 26.1, 2.56, 83.3),
]

for _name, _params, _macs, _top1 in _V1:
    register(timm_spec(
        _name, "EfficientFormer", 224, PAPER_V1, params_m=_params, macs_g=_macs, top1=_top1,
        top1_source="Li et al. 2022 (EfficientFormer), Table 1", mission=True,
    ))
for _name, _params, _macs, _top1 in _V2:
    register(timm_spec(
        _name, "EfficientFormerV2", 224, PAPER_V2, params_m=_params, macs_g=_macs, top1=_top1,
        top1_source="Li et al. 2023 (EfficientFormerV2), Table 1", mission=True,
    ))

register(timm_spec(
    "test_efficientformer", "EfficientFormer", 224, PAPER_V1, timm_name="efficientformer_l1",
    fixed={"num_classes": 10, "depths": (1, 1, 1, 1), "embed_dims": (16, 24, 32, 48),
           "num_vit": 1},
    tags=("test",),
))
