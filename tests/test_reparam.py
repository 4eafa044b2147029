"""The re-parameterization protocol: fusion math, RepLKNet blocks, and every registered
re-parameterizable model (RepLKNet, timm's MobileOne and FastViT) computing the same function
after ``reparameterize()``, with BatchNorm statistics randomized first.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from edgekit.errors import ConfigError, VerificationError
from edgekit.layers.reparam import (
    ConvBN,
    deploy_error,
    fuse_bn_conv,
    fuse_conv_bn,
    pad_kernel_to,
    randomize_batchnorm,
    reparam_error,
    reparameterize,
)
from edgekit.layers.replk import ConvFFN, LargeKernelConv, RepLKBlock, RepLKNet
from edgekit.models import create_model, get_spec, list_models

REPARAM = [n for n in list_models(include_test=True) if get_spec(n).reparameterizable]
REPARAM_TINY = [n for n in REPARAM if get_spec(n).is_test]
REPARAM_FULL = [n for n in REPARAM if not get_spec(n).is_test]


def _bn_count(model: nn.Module) -> int:
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def _random_bn(channels: int, seed: int = 0) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels)
    return randomize_batchnorm(nn.Sequential(bn), seed=seed)[0]


def _assert_same_function(model: nn.Module, deployed: nn.Module, x: torch.Tensor,
                          what: str) -> None:
    err = deploy_error(model, deployed, x)
    assert err.ok(rtol=1e-4, atol=1e-5), f"{what}: deploy model differs: {err}"


# --- the math -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("k", "stride", "groups"), [(3, 1, 1), (5, 2, 1), (7, 1, 8), (1, 1, 1)])
def test_fuse_conv_bn(k: int, stride: int, groups: int) -> None:
    conv = nn.Conv2d(8, 16, k, stride, k // 2, groups=groups, bias=k == 3)
    bn = _random_bn(16)
    x = torch.randn(2, 8, 13, 13)
    w, b = fuse_conv_bn(conv, bn)
    with torch.no_grad():
        torch.testing.assert_close(F.conv2d(x, w, b, stride, k // 2, groups=groups),
                                   bn(conv(x)), rtol=1e-5, atol=1e-5)


def test_fuse_bn_conv_precedes_a_1x1() -> None:
    conv = nn.Conv2d(8, 16, 1, bias=True)
    bn = _random_bn(8, seed=3)
    x = torch.randn(2, 8, 5, 5)
    w, b = fuse_bn_conv(bn, conv.weight, conv.bias)
    with torch.no_grad():
        torch.testing.assert_close(F.conv2d(x, w, b), conv(bn(x)), rtol=1e-5, atol=1e-5)
    with pytest.raises(ConfigError, match=r"fuse_bn_conv needs a 1x1 kernel, got \(3, 3\)"):
        fuse_bn_conv(bn, torch.zeros(16, 8, 3, 3), None)


@pytest.mark.parametrize(("small", "large"), [(1, 7), (3, 7), (5, 31), (13, 13)])
def test_pad_kernel_to_keeps_the_function(small: int, large: int) -> None:
    w = torch.randn(6, 1, small, small)
    x = torch.randn(1, 6, 20, 20)
    torch.testing.assert_close(F.conv2d(x, pad_kernel_to(w, large), padding=large // 2, groups=6),
                               F.conv2d(x, w, padding=small // 2, groups=6),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("small", "large"), [(4, 7), (9, 7)])
def test_pad_kernel_to_rejects_bad_sizes(small: int, large: int) -> None:
    with pytest.raises(ConfigError, match=rf"cannot centre a {small}x{small} kernel in "
                                         rf"{large}x{large}"):
        pad_kernel_to(torch.zeros(1, 1, small, small), large)


def test_fresh_batchnorm_would_make_the_check_vacuous() -> None:
    """randomize_batchnorm must change every statistic and affine parameter."""
    model = RepLKNet((7, 5, 5, 3), (1, 1, 1, 1), (8, 8, 8, 8), small_kernel=3, num_classes=4)
    randomize_batchnorm(model, seed=0, calibrate=torch.randn(2, 3, 32, 32))
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert not torch.allclose(m.running_var, torch.ones_like(m.running_var))
            assert not torch.allclose(m.running_mean, torch.zeros_like(m.running_mean))
            assert not torch.allclose(m.weight, torch.ones_like(m.weight))
            assert not torch.allclose(m.bias, torch.zeros_like(m.bias))
    assert not model.training


# --- blocks -------------------------------------------------------------------------------------
@pytest.mark.parametrize("small", [None, 1, 3, 5])
def test_large_kernel_conv_merges_into_one_conv(small: int | None) -> None:
    block = randomize_batchnorm(LargeKernelConv(8, 9, small), seed=1,
                                calibrate=torch.randn(4, 8, 16, 16))
    fused = block.reparameterize()
    assert isinstance(fused, nn.Conv2d) and fused.kernel_size == (9, 9) and fused.groups == 8
    _assert_same_function(block, fused, torch.randn(2, 8, 16, 16), f"small={small}")


@pytest.mark.parametrize("block_cls", [RepLKBlock, ConvFFN])
def test_blocks_fuse_to_bn_free_residuals(block_cls: type[nn.Module]) -> None:
    block = (RepLKBlock(16, 24, 11, 3) if block_cls is RepLKBlock else ConvFFN(16, 64))
    randomize_batchnorm(block, seed=2, calibrate=torch.randn(4, 16, 14, 14))
    fused = block.reparameterize()
    assert _bn_count(fused) == 0
    _assert_same_function(block, fused, torch.randn(2, 16, 14, 14), block_cls.__name__)


def test_small_kernel_cannot_exceed_large() -> None:
    with pytest.raises(ConfigError, match="small kernel 9 cannot be merged into 7; use a smaller"):
        LargeKernelConv(4, 7, 9)


def test_stage_lists_of_different_lengths_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"one entry per stage, got 4, 3 and 4 entries"):
        RepLKNet((7, 5, 5, 3), (1, 1, 1), (8, 8, 8, 8))


def test_batchnorm_without_statistics_cannot_be_randomized() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4, track_running_stats=False))
    with pytest.raises(ConfigError, match=r"BatchNorm '1' keeps no running statistics"):
        randomize_batchnorm(model)


def test_deploy_error_of_a_different_model_is_a_verification_error() -> None:
    with pytest.raises(VerificationError, match=r"deploy output shape \(1, 3\) differs from the "
                                                r"model's \(1, 4\)"):
        deploy_error(nn.Linear(5, 4), nn.Linear(5, 3), torch.randn(1, 5))


# --- the walk -----------------------------------------------------------------------------------
class _InPlace(nn.Module):
    """timm style: fuses itself and returns None."""

    def __init__(self) -> None:
        super().__init__()
        self.branch = ConvBN(4, 4, 3)
        self.fused = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.branch(x)

    def reparameterize(self) -> None:
        self.branch = self.branch.reparameterize()  # type: ignore[assignment]
        self.fused = True


def test_walk_handles_both_protocols_and_leaves_the_original_alone() -> None:
    model = nn.Sequential(ConvBN(3, 4, 3), nn.ReLU(), _InPlace(), nn.Sequential(ConvBN(4, 4, 1)))
    model.train()
    deployed = reparameterize(model)
    assert isinstance(deployed[0], nn.Conv2d) and isinstance(deployed[3][0], nn.Conv2d)
    assert deployed[2].fused and isinstance(deployed[2].branch, nn.Conv2d)
    assert _bn_count(deployed) == 0 and not deployed.training
    assert _bn_count(model) == 3 and model.training and not model[2].fused
    model.eval()
    _assert_same_function(model, deployed, torch.randn(2, 3, 8, 8), "mixed protocols")


def test_non_reparameterizable_model_comes_back_as_an_equal_copy() -> None:
    model = create_model("test_mobilenetv4")
    deployed = reparameterize(model)
    assert deployed is not model
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(deployed(x), model(x), rtol=0, atol=0)


def test_replknet_deploy_has_one_depthwise_conv_per_block_and_no_batchnorm() -> None:
    model = create_model("test_replknet")
    deployed = create_model("test_replknet", deploy=True)
    n_blocks = sum(isinstance(m, RepLKBlock) for m in model.modules())
    large = [m for m in deployed.modules() if isinstance(m, nn.Conv2d)
             and m.groups == m.in_channels > 1 and m.kernel_size[0] > 3]
    assert len(large) == n_blocks == 5
    assert [m.kernel_size[0] for m in large] == [13, 11, 9, 9, 7]
    assert _bn_count(deployed) == 0
    assert not any(isinstance(m, (RepLKBlock, ConvFFN, LargeKernelConv, ConvBN))
                   for m in deployed.modules())


# --- every registered re-parameterizable model --------------------------------------------------
# Known float32 failures, declared here with the evidence; the float64 check still runs for them.
FP32_KNOWN_FAILURES = {
    "mobileone_s4": "random-init MobileOne-S4 amplifies float32 rounding ~10x per SE block "
                    "(per-block fusion error <= 1e-6 relative; logits off by 1e-2..0.35 relative "
                    "in float32, 1e-9 in float64), so float32 logits cannot agree to 1e-4",
}


def _check_model(name: str, resolution: int, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    model = create_model(name)
    randomize_batchnorm(model, seed=seed,
                        calibrate=torch.randn(4, 3, resolution, resolution, generator=gen))
    x = torch.randn(2, 3, resolution, resolution, generator=gen)
    if get_spec(name).family == "RepLKNet":
        assert _bn_count(reparameterize(model)) == 0, f"{name}: BatchNorm left in deploy model"
    exact = reparam_error(model, x, torch.float64)
    assert exact.ok(rtol=1e-8, atol=1e-10), f"{name}: deploy model differs in float64: {exact}"
    err = reparam_error(model, x)
    if name in FP32_KNOWN_FAILURES and not err.ok():
        pytest.xfail(f"{name}: {FP32_KNOWN_FAILURES[name]}; measured {err}")
    assert err.ok(rtol=1e-4, atol=1e-5), f"{name}: deploy model differs: {err}"
    assert name not in FP32_KNOWN_FAILURES, f"{name} passes now: drop it from FP32_KNOWN_FAILURES"


def test_registry_has_reparameterizable_tiny_variants() -> None:
    families = {get_spec(n).family for n in REPARAM_TINY}
    assert {"RepLKNet", "MobileOne", "FastViT"} <= families, families


@pytest.mark.parametrize("name", REPARAM_TINY)
def test_tiny_deploy_computes_the_same_function(name: str) -> None:
    _check_model(name, get_spec(name).resolution)


def test_xl_style_block_without_small_kernel() -> None:
    model = RepLKNet((9, 9, 9, 5), (1, 1, 1, 1), (16, 16, 24, 32), small_kernel=None,
                     dw_ratio=1.5, num_classes=10)
    randomize_batchnorm(model, seed=4, calibrate=torch.randn(4, 3, 64, 64))
    _assert_same_function(model, reparameterize(model), torch.randn(2, 3, 64, 64), "XL-style")


def test_a_wrong_fusion_is_caught() -> None:
    """The check must fail when the small kernel is padded off-centre."""
    block = randomize_batchnorm(LargeKernelConv(8, 9, 3), seed=5,
                                calibrate=torch.randn(4, 8, 16, 16))
    fused = block.reparameterize()
    w_small, _ = block.small_conv.fused_weight_bias()
    with torch.no_grad():  # undo the centred merge, redo it shifted by one pixel
        fused.weight -= pad_kernel_to(w_small, 9)
        fused.weight -= -F.pad(w_small, [2, 4, 3, 3])
    err = deploy_error(block, fused, torch.randn(2, 8, 16, 16))
    assert not err.ok(), f"an off-centre merge went unnoticed: {err}"


@pytest.mark.slow
@pytest.mark.parametrize("name", REPARAM_FULL)
def test_full_size_deploy_computes_the_same_function(name: str) -> None:
    _check_model(name, min(get_spec(name).resolution, 224))


def test_replknet_deploy_onnx_graph_has_one_large_depthwise_conv_per_block() -> None:
    """What the roofline reads: the deploy ONNX graph, one large depthwise Conv per RepLKBlock."""
    pytest.importorskip("onnx")
    from edgekit._onnx import torch_to_onnx

    graph = torch_to_onnx(create_model("test_replknet", deploy=True), (1, 3, 64, 64),
                          export_params=False).graph
    ops = [n.op_type for n in graph.node]
    assert "BatchNormalization" not in ops
    kernels = []
    for node in graph.node:
        attrs = {a.name: a for a in node.attribute}
        if node.op_type == "Conv" and attrs["group"].i > 1 and attrs["kernel_shape"].ints[0] > 3:
            kernels.append(attrs["kernel_shape"].ints[0])
    assert kernels == [13, 11, 9, 9, 7], kernels
