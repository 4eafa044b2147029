"""Kernel micro-benchmarks: single-op models exported by edgekit's own exporters, timed here.

``edgekit calibrate --runtime ID`` builds each :class:`KernelCase` of :func:`suite` through the
exporter registry (so it gets the kernels a real export gets), times it in the runtime and hands
the timings to the kernel-efficiency fit (:mod:`edgekit.fit.kernel_fit`).

Layout: the TFLite exporter wraps every model with ``to_channel_last_io`` (NHWC input, converted
back to NCHW inside). A case whose op works on the channel axis last (linear, LayerNorm,
elementwise, softmax, matmul) starts with ``x.permute(0, 2, 3, 1)``, which cancels that transpose;
a case whose op is NCHW in torch (conv, pool, resize) ends with the same permute, which cancels the
transpose back to NCHW at the output. So each artifact holds the op itself (plus the QUANTIZE /
RESHAPE / SLICE steps a case's docstring names); the ``ops`` column of :func:`time_cases` lists
what each artifact really holds. The ``input_shape`` is what the exporter traces, NCHW; attention
cases pick it so that its NHWC form is the ``(1, heads, tokens, dim)`` tensor they need.

Cases of kind ``chain`` (1, 4, 16 tiny ADD/MUL ops on a ``(1, 8, 4, 4)`` tensor) and
``partition_chain`` (FULLY_CONNECTED alternating with int8 SOFTMAX, which this LiteRT's XNNPACK
delegate does not take, so each softmax splits the graph into another partition) separate the
per-invoke, per-op and per-partition costs from the per-op work.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import random
import re
import statistics
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.cache_root import cache_root
from edgekit.errors import ConfigError, EdgekitError, ExportError
from edgekit.runtime.table import CALIB_RUNTIMES, CalibRuntime, runtime_versions
from edgekit.precision import Precision
from edgekit.roofline.opclass import OpClass
from edgekit.validate.measure import log_stderr

if TYPE_CHECKING:
    import pandas as pd
    from torch import nn

    from edgekit.export.calibration import CalibrationSet
    from edgekit.export.protocol import Exporter

SCHEMA = 1  # bump when the artifact cache key's meaning changes
CALIB_SAMPLES = 8  # int8 calibration inputs per case (seeded standard normal)
WARMUP = 2  # untimed invocations before each round's timed ones
MIN_RUNS = 3  # timed invocations per round at least (more until min_time_s)
FIXED_COST_KINDS = ("chain", "partition_chain")


# --- runtimes calibrate measures -----------------------------------------------------------------
def calib_runtime(runtime_id: str, precision: str | Precision | None = None
                  ) -> tuple[CalibRuntime, Precision]:
    """The measurable runtime and precision (``None``: the runtime's default); bad values raise.

    An unknown id gets a did-you-mean (UnknownNameError); a registered runtime this host cannot
    measure, or a precision it does not run, a ConfigError naming the valid choices.
    """
    from edgekit.export.planning import parse_precision
    from edgekit.runtime import get_runtime

    get_runtime(runtime_id)
    if runtime_id not in CALIB_RUNTIMES:
        raise ConfigError(f"calibrate --runtime {runtime_id} cannot be measured on this host; "
                          f"choose {', '.join(CALIB_RUNTIMES)}")
    rt = CALIB_RUNTIMES[runtime_id]
    if precision is None:
        return rt, rt.precisions[0]
    prec = parse_precision(precision)
    if prec not in rt.precisions:
        raise ConfigError(f"--precision {prec.value} is not measured for --runtime {runtime_id}; "
                          f"choose {', '.join(p.value for p in rt.precisions)}")
    return rt, prec


def check_toolchain(runtime_id: str, precision: Precision) -> None:
    """Raise ToolchainMissingError (naming the extra) when exporting or running is impossible."""
    from edgekit.export.registry import get_exporter
    from edgekit.exporters import require

    rt = CALIB_RUNTIMES[runtime_id]
    exporter = get_exporter(rt.format)
    exporter.check_toolchain(precision)
    for module, package in rt.modules:
        require(module, package, exporter.extra, f"calibrate --runtime {runtime_id}")


# --- the cases -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KernelCase:
    """One micro-benchmark: a single op (or the smallest module lowering to it) on one input.

    Attributes:
        name: unique id in the suite, e.g. ``dwconv_k7_s1_c128_h28``.
        op_class: the :class:`~edgekit.roofline.opclass.OpClass` value of the op measured.
        input_shape: the NCHW input the exporter traces.
        params: ``(key, value)`` pairs describing the module; ``kind`` first.
        quick: member of the ``--quick`` subset.
    """

    name: str
    op_class: str
    input_shape: tuple[int, ...]
    params: tuple[tuple[str, Any], ...]
    quick: bool = False

    def __post_init__(self) -> None:
        assert len(self.input_shape) == 4, self.input_shape
        assert self.params and self.params[0][0] == "kind", self.params
        OpClass(self.op_class)

    @property
    def kind(self) -> str:
        return str(self.params[0][1])

    @property
    def fixed_cost(self) -> bool:
        """Whether the case measures fixed costs (invoke, per op, per partition), not op work."""
        return self.kind in FIXED_COST_KINDS

    def param(self, key: str, default: Any = None) -> Any:
        return dict(self.params).get(key, default)

    @property
    def seed(self) -> int:
        """The weights' seed, from the name (stable across runs and suite edits)."""
        return zlib.crc32(self.name.encode())

    def module(self) -> nn.Module:
        """A fresh module in eval mode with seeded weights (torch's default init scale)."""
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            m = _builders()[self.kind](self.input_shape, dict(self.params))
        return m.eval()

    def example(self) -> Any:
        """A seeded ``torch`` input of ``input_shape``."""
        import torch

        gen = torch.Generator().manual_seed(self.seed)
        return torch.randn(*self.input_shape, generator=gen)


@functools.cache
def _builders() -> dict[str, Callable[[tuple[int, ...], dict[str, Any]], nn.Module]]:
    """kind -> builder(input_shape, params); torch is imported here, not at module import."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Op(nn.Module):
        """``fn`` on the NHWC view of the input (``nhwc_in``), or NCHW ``fn`` with NHWC output."""

        def __init__(self, fn: Callable[..., Any], nhwc_in: bool, **parts: nn.Module) -> None:
            super().__init__()
            self.fn, self.nhwc_in = fn, nhwc_in
            self.parts = nn.ModuleDict(parts)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.nhwc_in:
                return self.fn(self, x.permute(0, 2, 3, 1))  # (B, H, W, C): cancels the input's
            return self.fn(self, x).permute(0, 2, 3, 1)  # NCHW op, NHWC out: cancels the output's

    class Chain(nn.Module):
        """``n`` alternating ADD / MUL ops with distinct per-channel constants (not foldable)."""

        def __init__(self, c: int, n: int) -> None:
            super().__init__()
            self.register_buffer("consts", torch.rand(n, c) + 0.5)  # (n, C), broadcast over NHWC
            self.n = n

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = x.permute(0, 2, 3, 1)
            for i in range(self.n):
                y = y + self.consts[i] if i % 2 == 0 else y * self.consts[i]
            return y

    class PartitionChain(nn.Module):
        """``n`` FULLY_CONNECTED + SOFTMAX pairs: int8 SOFTMAX falls back off XNNPACK."""

        def __init__(self, c: int, n: int) -> None:
            super().__init__()
            self.fcs = nn.ModuleList(nn.Linear(c, c) for _ in range(n))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = x.permute(0, 2, 3, 1)
            for fc in self.fcs:
                y = torch.softmax(fc(y), dim=-1)
            return y

    def conv(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        k = p["k"]
        layer = nn.Conv2d(p["cin"], p["cout"], k, p["stride"], k // 2, groups=p.get("groups", 1))
        return Op(lambda s, x: s.parts["conv"](x), False, conv=layer)

    def linear(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        # nn.Linear on the (B, H, W, C) grid: one FULLY_CONNECTED over H·W tokens; a single
        # token (a classifier head) as (B, C), which the converter needs for a 2-D FC.
        fc = nn.Linear(p["cin"], p["cout"])
        if p["tokens"] == 1:
            return Op(lambda s, x: s.parts["fc"](x.flatten(1)), True, fc=fc)
        return Op(lambda s, x: s.parts["fc"](x), True, fc=fc)

    def bmm_qk(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        # NHWC view (B, heads, N, d): Q Kᵀ with Q = K (two activation operands).
        return Op(lambda s, x: x @ x.transpose(-1, -2), True)

    def bmm_av(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        d = p["dim"]  # NHWC view (B, heads, N, N) is A; V = its first d columns (a SLICE)
        return Op(lambda s, x: x @ x[..., :d], True)

    def fc_act(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        # Mobile-MQA (MobileNetV4 hybrids): queries of all heads (1, n, d) against one shared
        # key set (m, d), both activations: litert-torch lowers it to a FULLY_CONNECTED whose
        # weight operand is an activation. NHWC view (1, 1, n, d); K = the first m queries.
        m = p["m"]

        def fwd(s: Any, x: torch.Tensor) -> torch.Tensor:
            q = x.reshape(1, x.shape[2], x.shape[3])
            return F.linear(q, q[0, :m, :])
        return Op(fwd, True)

    def softmax(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        return Op(lambda s, x: torch.softmax(x, dim=-1), True)  # over keys of (B, h, N, N)

    def layernorm(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        return Op(lambda s, x: s.parts["ln"](x), True, ln=nn.LayerNorm(p["c"]))

    acts = {"gelu_erf": lambda x: F.gelu(x), "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
            "hardswish": F.hardswish, "sigmoid": torch.sigmoid, "relu6": F.relu6, "silu": F.silu}

    def act(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        fn = acts[p["fn"]]
        return Op(lambda s, x: fn(x), True)

    binary = {
        "add": lambda x: x + x,  # two activation operands (the same tensor)
        "mul": lambda x: x * x,
        "se_mul": lambda x: x * x[:, :1, :1, :],  # (B, H, W, C) * (B, 1, 1, C), via a SLICE
        # a division by a per-token activation, kept away from 0 (an int8 DIV by a zero point
        # fails in LiteRT): normalisations and hand-written softmaxes (EfficientFormerV2)
        "div": lambda x: x / torch.clamp(x[..., :1], min=0.5),
        "maximum": lambda x: torch.maximum(x, x[..., :1]),
        "exp": torch.exp,
    }

    def elementwise(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        fn = binary[p["fn"]]
        return Op(lambda s, x: fn(x), True)

    reductions = {"mean_hw": lambda x: x.mean((1, 2), keepdim=True),  # global average pool
                  "amax_c": lambda x: x.amax(-1, keepdim=True),  # softmax's running max
                  "sum_c": lambda x: x.sum(-1, keepdim=True)}  # softmax's denominator

    def mean(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        fn = reductions[p.get("fn", "mean_hw")]
        return Op(lambda s, x: fn(x), True)

    def pool(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        k, stride = p["k"], p["stride"]
        layer = (nn.AvgPool2d(k, stride, k // 2, count_include_pad=False) if p["fn"] == "avg"
                 else nn.MaxPool2d(k, stride, k // 2))
        return Op(lambda s, x: s.parts["pool"](x), False, pool=layer)

    moves = {
        "transpose": lambda x: x.permute(0, 2, 1, 3),  # swap H and W of (B, H, W, C)
        "reshape": lambda x: x.reshape(x.shape[0], -1, x.shape[-1]),  # (B, H·W, C) tokens
        "concat": lambda x: torch.cat([x, x], dim=-1),  # along channels
    }

    def movement(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        fn = moves[p["fn"]]
        return Op(lambda s, x: fn(x), True)

    def resize(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        mode = p["mode"]
        kw = {"align_corners": False} if mode == "bilinear" else {}
        return Op(lambda s, x: F.interpolate(x, scale_factor=p["scale"], mode=mode, **kw), False)

    def chain(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        return Chain(shape[1], p["n"])

    def partition_chain(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        return PartitionChain(shape[1], p["n"])

    return {"conv": conv, "linear": linear, "bmm_qk": bmm_qk, "bmm_av": bmm_av, "fc_act": fc_act,
            "softmax": softmax, "layernorm": layernorm, "act": act, "elementwise": elementwise,
            "mean": mean, "pool": pool, "movement": movement, "resize": resize, "chain": chain,
            "partition_chain": partition_chain}


def _conv_cases() -> list[KernelCase]:
    out = []
    # (k, stride, cin, cout, h, quick): ImageNet mobile shapes (MobileNet, EfficientNet, ResNet)
    dense = [(1, 1, 16, 96, 112, False), (1, 1, 32, 192, 56, False), (1, 1, 64, 256, 56, True),
             (1, 1, 128, 128, 28, False), (1, 1, 256, 512, 14, False), (1, 1, 512, 512, 7, False),
             (1, 1, 160, 480, 7, False), (1, 2, 64, 128, 56, False),
             (3, 1, 32, 32, 112, False), (3, 1, 64, 64, 56, False), (3, 1, 128, 128, 28, True),
             (3, 1, 256, 256, 14, False), (3, 1, 512, 512, 7, False),
             (3, 2, 16, 32, 112, False), (3, 2, 64, 128, 56, False), (3, 2, 128, 256, 28, False),
             # stems on the RGB image (3 input channels), at 224 and at 384 (MobileNetV4-L)
             (3, 2, 3, 32, 224, False), (3, 2, 3, 24, 384, False),
             # large feature maps of 384-px models and wide late stages
             (1, 1, 48, 96, 96, False), (3, 1, 96, 96, 48, False), (1, 1, 960, 1280, 7, False)]
    for k, s, cin, cout, h, quick in dense:
        out.append(KernelCase(f"conv{k}x{k}_s{s}_c{cin}_{cout}_h{h}", OpClass.DENSE_CONV,
                              (1, cin, h, h), (("kind", "conv"), ("k", k), ("stride", s),
                                               ("cin", cin), ("cout", cout), ("groups", 1)),
                              quick))
    # (k, stride, c, h, quick): MobileNet 3x3/5x5, ConvNeXt 7x7, RepLKNet 13x13 and 31x31
    dw = [(3, 1, 32, 112, False), (3, 1, 144, 56, False), (3, 1, 192, 28, True),
          (3, 1, 384, 14, False), (3, 1, 512, 7, False), (3, 1, 96, 96, False),
          (5, 1, 72, 56, False), (5, 1, 192, 48, False), (5, 1, 120, 28, False), (5, 1, 240, 14, False),
          (5, 1, 480, 7, False),
          (7, 1, 96, 56, False), (7, 1, 192, 28, False), (7, 1, 384, 14, False),
          (7, 1, 512, 7, False),
          (9, 1, 128, 28, False), (9, 1, 256, 14, False),
          (13, 1, 256, 28, False), (13, 1, 512, 7, False),
          (31, 1, 128, 56, False), (31, 1, 256, 28, True), (31, 1, 512, 14, False),
          (3, 2, 32, 112, False), (3, 2, 144, 56, False), (3, 2, 240, 28, False),
          (5, 2, 72, 56, False), (5, 2, 240, 28, False), (7, 2, 96, 56, False)]
    for k, s, c, h, quick in dw:
        out.append(KernelCase(f"dwconv_k{k}_s{s}_c{c}_h{h}", OpClass.DEPTHWISE, (1, c, h, h),
                              (("kind", "conv"), ("k", k), ("stride", s), ("cin", c),
                               ("cout", c), ("groups", c)), quick))
    # depth multiplier 2 (groups = input channels, twice the outputs): FastViT's downsampling
    for k, s, c, h, quick in [(7, 2, 48, 64, False), (3, 2, 64, 56, False)]:
        out.append(KernelCase(f"dwconv_m2_k{k}_s{s}_c{c}_h{h}", OpClass.DEPTHWISE, (1, c, h, h),
                              (("kind", "conv"), ("k", k), ("stride", s), ("cin", c),
                               ("cout", 2 * c), ("groups", c)), quick))
    for k, g, c, h, quick in [(3, 8, 64, 56, True), (1, 4, 256, 14, False)]:
        out.append(KernelCase(f"gconv{k}x{k}_g{g}_c{c}_h{h}", OpClass.GROUPED_CONV,
                              (1, c, h, h), (("kind", "conv"), ("k", k), ("stride", 1),
                                             ("cin", c), ("cout", c), ("groups", g)), quick))
    return out


def _token_cases() -> list[KernelCase]:
    out = []
    # (cin, cout, h): token MLPs and projections of ViT-style mobile models; h=1 is a classifier
    for cin, cout, h, quick in [(64, 256, 56, False), (256, 64, 56, False),
                                (128, 512, 28, True), (512, 128, 28, False),
                                (256, 1024, 14, False), (512, 512, 14, False),
                                (448, 448, 7, False), (512, 1000, 1, False)]:
        out.append(KernelCase(f"linear_c{cin}_{cout}_t{h * h}", OpClass.LINEAR, (1, cin, h, h),
                              (("kind", "linear"), ("cin", cin), ("cout", cout),
                               ("tokens", h * h)), quick))
    # (heads, tokens, head dim): EfficientFormer/FastViT 7x7, 14x14 and 28x28 attention
    for heads, n, d, quick in [(8, 49, 32, False), (4, 196, 64, True), (2, 784, 64, False)]:
        out.append(KernelCase(f"bmm_qk_h{heads}_t{n}_d{d}", OpClass.MATMUL, (1, d, heads, n),
                              (("kind", "bmm_qk"), ("heads", heads), ("tokens", n), ("dim", d)),
                              quick))
        out.append(KernelCase(f"softmax_h{heads}_t{n}", OpClass.NORM, (1, n, heads, n),
                              (("kind", "softmax"), ("heads", heads), ("tokens", n)), quick))
        out.append(KernelCase(f"bmm_av_h{heads}_t{n}_d{d}", OpClass.MATMUL, (1, n, heads, n),
                              (("kind", "bmm_av"), ("heads", heads), ("tokens", n), ("dim", d)),
                              False))
    # (queries x heads, shared keys, head dim): MobileNetV4 hybrid Mobile-MQA at 256 and 384 px
    for n, m, d, quick in [(1024, 64, 64, True), (256, 16, 64, False), (2304, 144, 64, False),
                           (576, 36, 96, False)]:
        out.append(KernelCase(f"fc_act_n{n}_m{m}_d{d}", OpClass.MATMUL, (1, d, 1, n),
                              (("kind", "fc_act"), ("tokens", n), ("m", m), ("dim", d)), quick))
    for c, h, quick in [(64, 56, False), (192, 28, True), (384, 14, False), (512, 7, False)]:
        out.append(KernelCase(f"layernorm_c{c}_t{h * h}", OpClass.NORM, (1, c, h, h),
                              (("kind", "layernorm"), ("c", c), ("tokens", h * h)), quick))
    return out


def _pointwise_cases() -> list[KernelCase]:
    out = []
    for fn, sizes in [("gelu_erf", [(64, 56, True), (384, 14, False)]),
                      ("gelu_tanh", [(64, 56, False), (384, 14, False)]),
                      ("hardswish", [(16, 112, False), (96, 28, True), (576, 7, False)]),
                      ("sigmoid", [(64, 56, False), (512, 7, False)]),
                      ("relu6", [(32, 112, False), (192, 28, False)]),
                      ("silu", [(96, 56, False)])]:
        for c, h, quick in sizes:
            out.append(KernelCase(f"{fn}_c{c}_h{h}", OpClass.ACTIVATION, (1, c, h, h),
                                  (("kind", "act"), ("fn", fn), ("c", c)), quick))
    for fn, sizes in [("add", [(24, 112, False), (64, 56, True), (256, 14, False)]),
                      ("mul", [(64, 56, False), (256, 14, False)]),
                      ("se_mul", [(96, 56, False), (240, 28, False), (576, 7, False)]),
                      ("div", [(49, 64, False), (196, 32, False)]),
                      ("maximum", [(49, 64, False)]),
                      ("exp", [(49, 64, False), (196, 32, False)])]:
        for c, h, quick in sizes:
            out.append(KernelCase(f"{fn}_c{c}_h{h}", OpClass.ELEMENTWISE, (1, c, h, h),
                                  (("kind", "elementwise"), ("fn", fn), ("c", c)), quick))
    for c, h, quick in [(96, 56, False), (240, 28, False), (512, 7, True)]:
        out.append(KernelCase(f"mean_c{c}_h{h}", OpClass.POOL, (1, c, h, h),
                              (("kind", "mean"), ("c", c)), quick))
    for fn, c, h in [("amax_c", 49, 64), ("sum_c", 49, 64), ("amax_c", 196, 32)]:
        out.append(KernelCase(f"{fn.split('_')[0]}_c{c}_h{h}", OpClass.POOL, (1, c, h, h),
                              (("kind", "mean"), ("fn", fn), ("c", c)), False))
    for fn, k, s, c, h, quick in [("avg", 3, 1, 64, 56, False), ("avg", 3, 1, 256, 14, False),
                                  ("max", 3, 2, 64, 112, False)]:
        out.append(KernelCase(f"{fn}pool{k}x{k}_s{s}_c{c}_h{h}", OpClass.POOL, (1, c, h, h),
                              (("kind", "pool"), ("fn", fn), ("k", k), ("stride", s), ("c", c)),
                              quick))
    for fn, sizes in [("transpose", [(64, 56, True), (256, 14, False)]),
                      ("reshape", [(64, 56, False)]),
                      ("concat", [(64, 56, False), (256, 14, False)])]:
        for c, h, quick in sizes:
            out.append(KernelCase(f"{fn}_c{c}_h{h}", OpClass.DATA_MOVEMENT, (1, c, h, h),
                                  (("kind", "movement"), ("fn", fn), ("c", c)), quick))
    for mode, c, h, quick in [("bilinear", 64, 28, True), ("bilinear", 128, 14, False),
                              ("nearest", 64, 28, False), ("nearest", 128, 14, False)]:
        out.append(KernelCase(f"resize_{mode}_x2_c{c}_h{h}", OpClass.DATA_MOVEMENT, (1, c, h, h),
                              (("kind", "resize"), ("mode", mode), ("scale", 2), ("c", c)),
                              quick))
    return out


def _fixed_cost_cases() -> list[KernelCase]:
    out = [KernelCase(f"chain_add_mul_n{n}", OpClass.ELEMENTWISE, (1, 8, 4, 4),
                      (("kind", "chain"), ("n", n)), n in (1, 16)) for n in (1, 4, 16)]
    out += [KernelCase(f"partition_fc_softmax_n{n}", OpClass.OTHER, (1, 8, 4, 4),
                       (("kind", "partition_chain"), ("n", n)), n == 4) for n in (1, 4)]
    return out


@functools.cache
def _all_cases() -> tuple[KernelCase, ...]:
    cases = (*_conv_cases(), *_token_cases(), *_pointwise_cases(), *_fixed_cost_cases())
    names = [c.name for c in cases]
    assert len(set(names)) == len(names), "kernel case names must be unique"
    return cases


def suite(*, quick: bool = False) -> list[KernelCase]:
    """The micro-benchmark sweep (``quick``: the subset touching every op class)."""
    return [c for c in _all_cases() if c.quick or not quick]


def get_case(name: str) -> KernelCase:
    from edgekit.errors import unknown_name

    found = {c.name: c for c in _all_cases()}
    if name not in found:
        raise unknown_name("kernel case", name, found, "see edgekit.bench.kernels.suite()")
    return found[name]


# --- artifacts -----------------------------------------------------------------------------------
def kernels_dir() -> Path:
    """The micro-benchmark artifact cache (not created): ``kernels/`` under the cache root."""
    return cache_root() / "kernels"


def _code_hash(exporter: Exporter) -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    src = inspect.getsourcefile(type(exporter))
    if src:
        h.update(Path(src).read_bytes())
    return h.hexdigest()[:16]


def case_key(case: KernelCase, exporter: Exporter, precision: Precision) -> dict[str, Any]:
    """Everything a case's artifact depends on (its cache key)."""
    from edgekit._meta import versions

    return {"schema": SCHEMA, "case": case.name, "params": [list(p) for p in case.params],
            "input_shape": list(case.input_shape), "format": exporter.name,
            "precision": precision.value, "versions": {**versions("torch"),
                                                       **exporter.tool_versions()},
            "code": _code_hash(exporter)}


def calibration_set(case: KernelCase, samples: int = CALIB_SAMPLES) -> CalibrationSet:
    """Seeded standard-normal inputs of the case's shape, for int8 activation ranges."""
    import numpy as np

    from edgekit.export.calibration import CalibrationSet

    rng = np.random.default_rng(case.seed)
    images = rng.standard_normal((samples, *case.input_shape[1:])).astype(np.float32)
    return CalibrationSet(images, "generated",
                          f"{samples} seeded standard-normal inputs {list(case.input_shape)}",
                          (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


def case_artifact(case: KernelCase, fmt: str, precision: str | Precision, *,
                  cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The case's exported artifact in format ``fmt``, from the cache or exported (unverified).

    The file name holds a hash of the case, format, precision, converter versions and the code
    that builds it; the export is written under a temporary name and renamed into place, so the
    cache never holds half a file.
    """
    from edgekit.export.planning import parse_precision
    from edgekit.export.protocol import ConvertOptions
    from edgekit.export.registry import get_exporter
    from edgekit.export.stdio import quiet_stderr, stdout_to_stderr

    exporter = get_exporter(fmt)
    prec = parse_precision(precision)
    key = case_key(case, exporter, prec)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    folder = Path(cache_dir) if cache_dir is not None else kernels_dir()
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", case.name)
    path = folder / f"{safe}_{exporter.name}_{prec.value}-{digest}{exporter.suffix}"
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{path.stem}.partial-{os.getpid()}{exporter.suffix}"
    options = ConvertOptions(model_name=case.name, precision=prec, resolution=case.input_shape[-1],
                             input_shape=case.input_shape, mean=(0.0, 0.0, 0.0),
                             std=(1.0, 1.0, 1.0),
                             calib=calibration_set(case) if exporter.needs_calibration(prec)
                             else None)
    try:
        with quiet_stderr(), stdout_to_stderr():
            exporter.convert(case.module(), options, tmp, lambda msg: None)
        os.replace(tmp, path)
    except EdgekitError:
        raise
    except Exception as exc:  # noqa: BLE001 - any converter failure; the cause is kept
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ExportError(f"kernel case '{case.name}': {exporter.name} {prec.value} export "
                          f"failed: {first}") from exc
    finally:
        for left in folder.glob(f".{path.stem}.partial-{os.getpid()}*"):
            left.unlink(missing_ok=True)
    return path


def ops_summary(exporter: Exporter, artifact: Path) -> tuple[str, int]:
    """(``"CONV_2D:1+QUANTIZE:1"``, op count) of an artifact's graph, as its exporter reads it."""
    inv = exporter.inventory(artifact)
    return "+".join(f"{r.op}:{r.count}" for r in inv.ops), sum(r.count for r in inv.ops)


def delegate_partitions(artifact: Path, threads: int) -> int:
    """DELEGATE nodes LiteRT's default delegate (XNNPACK) makes of a ``.tflite``: its partitions."""
    from edgekit.runtime.tflite_graph import interpreter, ops_details

    details = ops_details(interpreter(artifact, delegates=True, threads=threads))
    return sum(op["op_name"] == "DELEGATE" for op in details)


# --- timing --------------------------------------------------------------------------------------
def _secs(s: float) -> str:
    return f"{s / 60:.1f} min" if s >= 120 else f"{s:.0f} s"


class _Progress:
    """``[label i/n] item: text (elapsed, ETA ...)`` lines; the ETA is the rate so far."""

    def __init__(self, label: str, total: int, log: Callable[[str], None]) -> None:
        self.label, self.total, self.log = label, total, log
        self.start, self.done = time.monotonic(), 0

    def step(self, item: str, text: str) -> None:
        self.done += 1
        took = time.monotonic() - self.start
        left = took / self.done * (self.total - self.done)
        eta = f", ETA {_secs(left)}" if self.done < self.total else ""
        self.log(f"[{self.label} {self.done}/{self.total}] {item}: {text} ({_secs(took)}{eta})")


def build_cases(cases: Sequence[KernelCase], runtime_id: str, precision: str | Precision, *,
                cache_dir: str | os.PathLike[str] | None = None,
                progress: Callable[[str], None] = log_stderr) -> list[Path]:
    """Each case's artifact for ``runtime_id`` (exported on a cache miss), one line per case."""
    from edgekit.export.interrupt import raise_if_interrupted

    rt, prec = calib_runtime(runtime_id, precision)
    bar = _Progress("build", len(cases), progress)
    paths = []
    for case in cases:
        t0 = time.monotonic()
        paths.append(case_artifact(case, rt.format, prec, cache_dir=cache_dir))
        raise_if_interrupted()
        took = time.monotonic() - t0
        bar.step(case.name, f"{took:.1f} s" if took > 0.05 else "cached")
    return paths


def time_cases(cases: Sequence[KernelCase], runtime_id: str, precision: str | Precision, *,
               threads: int = 1, min_time_s: float = 0.2, rounds: int = 3,
               progress: Callable[[str], None] = log_stderr,
               cache_dir: str | os.PathLike[str] | None = None, seed: int = 0) -> pd.DataFrame:
    """Time every case's artifact in ``runtime_id``, interleaved over ``rounds``.

    Round 1 times all cases, then round 2 (in a seeded shuffled order), and so on, so a burst of
    load on a busy host hits all cases alike; each case keeps the median of its round medians.

    Returns:
        One row per case: ``case, kind, op_class, fixed_cost, artifact, median_s, p10_s, p90_s, runs,
        in_c, in_h, in_w, ops, n_ops, partitions`` and the case's params as columns (``p10_s``
        and ``p90_s`` over all timed invocations; ``ops`` the artifact's op types with counts;
        ``partitions`` the delegate partitions for ``litert-xnnpack``, else 0).
    """
    import numpy as np
    import pandas as pd

    from edgekit.bench.runners import random_feed, time_invocations
    from edgekit.export.interrupt import raise_if_interrupted
    from edgekit.export.registry import get_exporter

    if rounds < 1:
        raise ConfigError(f"rounds must be >= 1, got {rounds}")
    rt, prec = calib_runtime(runtime_id, precision)
    exporter = get_exporter(rt.format)
    paths = build_cases(cases, runtime_id, prec, cache_dir=cache_dir, progress=progress)
    invokers, info = [], []
    for case, path in zip(cases, paths, strict=True):
        runner = exporter.load(path, threads=threads, delegates=rt.delegates)
        invokers.append(runner.invoker(random_feed(runner, seed)))
        ops, n_ops = ops_summary(exporter, path)
        parts = (delegate_partitions(path, threads) if rt.format == "tflite" and rt.delegates
                 else 0)
        info.append((ops, n_ops, parts))
    medians: list[list[float]] = [[] for _ in cases]
    raw: list[list[int]] = [[] for _ in cases]
    order = list(range(len(cases)))
    rng = random.Random(seed)
    bar = _Progress("time", len(cases) * rounds, progress)
    for r in range(rounds):
        if r:
            rng.shuffle(order)
        for i in order:
            times = time_invocations(invokers[i], runs=MIN_RUNS, warmup=WARMUP,
                                     min_time_s=min_time_s)
            raise_if_interrupted()
            medians[i].append(statistics.median(times) / 1e9)
            raw[i].extend(times)
            bar.step(cases[i].name, f"round {r + 1}/{rounds} {medians[i][-1] * 1e3:.3f} ms")
    rows = []
    for i, case in enumerate(cases):
        t = np.asarray(raw[i], dtype=float) / 1e9
        ops, n_ops, parts = info[i]
        rows.append({"case": case.name, "kind": case.kind, "op_class": case.op_class,
                     "fixed_cost": case.fixed_cost,
                     "artifact": str(paths[i]), "median_s": statistics.median(medians[i]),
                     "p10_s": float(np.percentile(t, 10)), "p90_s": float(np.percentile(t, 90)),
                     "runs": int(len(t)), "in_c": case.input_shape[1],
                     "in_h": case.input_shape[2], "in_w": case.input_shape[3], "ops": ops,
                     "n_ops": n_ops, "partitions": parts,
                     **{k: v for k, v in case.params if k != "kind"}})
    return pd.DataFrame(rows)


__all__ = ["CALIB_RUNTIMES", "CalibRuntime", "KernelCase", "build_cases", "calib_runtime",
           "case_artifact", "check_toolchain", "get_case", "runtime_versions", "suite",
           "time_cases"]
