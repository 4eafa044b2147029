"""MobileNetV4, built with timm.

Qin et al., "MobileNetV4: Universal Models for the Mobile Ecosystem", ECCV 2024 (arXiv:2404.10518).
Published top-1, parameters, MACs and resolutions transcribed from Table 6 (the same table as
``shared/data/published_latency_mnv4.csv``); the architectures are Tables 10-14.
"""

from __future__ import annotations

from edgekit.models.registry import register, timm_spec

PAPER = "Qin et al. 2024, MobileNetV4: Universal Models for the Mobile Ecosystem (arXiv:2404.10518)"
TABLE = "Qin et al. 2024 (MobileNetV4), Table 6"

# name, resolution, params (M), MACs (G), top-1 (%)
_VARIANTS = [
    ("mobilenetv4_conv_small", 224, 3.8, 0.2, 73.8),
    ("mobilenetv4_conv_medium", 256, 9.2, 1.0, 79.9),
    ("mobilenetv4_conv_large", 384, 31.0, 5.9, 82.9),
    ("mobilenetv4_hybrid_medium", 256, 10.5, 1.2, 80.7),
    ("mobilenetv4_hybrid_large", 384, 35.9, 7.2, 83.4),
]

for _name, _res, _params, _macs, _top1 in _VARIANTS:
    register(timm_spec(
        _name, "MobileNetV4", _res, PAPER, params_m=_params, macs_g=_macs, top1=_top1,
        top1_source=TABLE, mission=True,
    ))

# Tiny variant for tests: the Conv-S architecture at a 10-class head (use resolution 64).
register(timm_spec(
    "test_mobilenetv4", "MobileNetV4", 64, PAPER, timm_name="mobilenetv4_conv_small",
    fixed={"num_classes": 10}, tags=("test",),
))
register(timm_spec(
    "test_mobilenetv4_hybrid", "MobileNetV4", 64, PAPER, timm_name="mobilenetv4_hybrid_medium",
    fixed={"num_classes": 10}, tags=("test",),
))
