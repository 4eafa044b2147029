"""The micro-benchmark cases: single-op torch modules over the shapes that matter, one per case.

Layout: the TFLite exporter wraps every model with ``to_channel_last_io`` (NHWC input, converted
back to NCHW inside). A case whose op works on the channel axis last (linear, LayerNorm,
elementwise, softmax, matmul) starts with ``x.permute(0, 2, 3, 1)``, which cancels that transpose;
a case whose op is NCHW in torch (conv, pool, resize) ends with the same permute, which cancels the
transpose back to NCHW at the output. So each artifact holds the op itself (plus the QUANTIZE /
RESHAPE / SLICE steps a case names); the ``ops`` column of the timings
(:func:`edgekit.bench.kernels.time_cases`) lists what each artifact really holds. The
``input_shape`` is what the exporter traces, NCHW; attention cases pick it so that its NHWC
form is the ``(1, heads, tokens, dim)`` tensor they need.

Cases of kind ``chain`` (1, 4, 16 tiny ADD/MUL ops on a ``(1, 8, 4, 4)`` tensor) and
``partition_chain`` (FULLY_CONNECTED alternating with int8 SOFTMAX, which this LiteRT's XNNPACK
delegate does not take, so each softmax splits the graph into another partition) separate the
per-invoke, per-op and per-partition costs from the per-op work. Cases of kind ``pool_chain``
hold the same ``n`` int8 1x1 convolutions (ruy's pool in LiteRT's built-in kernels) and ``n``
depthwise 3x3 convolutions (gemmlowp's pool), alternating (``alt``: ``2n - 1`` switches of thread
pool) or in two blocks (``blk``: one switch); their difference is the cost of a switch
(:mod:`edgekit.runtime.threadpools`), with the ops' own work cancelled. Cases of kind
``weight_chain`` hold ``n`` 1x1 convolutions on a 7x7 map, once all with the same weights
(``shared``) and once each with its own (``distinct``, ``n`` times the weight bytes): their
difference is what reading an op's weights costs when they are not in the cache, the state of
every op's weights in a network, which touches all its weights once per invoke (a single-op case
reads the same weights every time). onnxruntime and LiteRT's built-in kernels pay it (measured
on the hosts: 7-67 us per MB of weights on top of the conv). XNNPACK packs a copy of the weights
per op, so its shared chain is cold too: there the distinct chain is held against its single-op
prediction instead (fp32: 23-40 us per MB on host C; :mod:`edgekit.fit.kernel_fit`, step 4).
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgekit.roofline.opclass import OpClass

if TYPE_CHECKING:
    from torch import nn

FIXED_COST_KINDS = ("chain", "partition_chain")
POOL_KINDS = ("pool_chain",)
WEIGHT_KINDS = ("weight_chain",)


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
    def pool_chain(self) -> bool:
        """Whether the case measures the cost of a switch of thread pool (a pair ``alt``/``blk``
        of the same ops, ``group`` naming the pair)."""
        return self.kind in POOL_KINDS

    @property
    def weight_chain(self) -> bool:
        """Whether the case measures the cost of weights read from beyond the cache (a pair
        ``shared``/``distinct`` of the same convolutions, ``group`` naming the pair)."""
        return self.kind in WEIGHT_KINDS

    @property
    def paired(self) -> bool:
        """Whether the case is one of a pair whose difference is measured (no op efficiency)."""
        return self.pool_chain or self.weight_chain

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
        if p["fn"] == "global":  # a classifier's global average pool (timm's, NCHW)
            return Op(lambda s, x: s.parts["pool"](x), False, pool=nn.AdaptiveAvgPool2d(1))
        k, stride = p["k"], p["stride"]
        layer = (nn.AvgPool2d(k, stride, k // 2, count_include_pad=False) if p["fn"] == "avg"
                 else nn.MaxPool2d(k, stride, k // 2))
        return Op(lambda s, x: s.parts["pool"](x), False, pool=layer)

    moves = {
        "transpose": lambda x: x.permute(0, 2, 1, 3),  # swap H and W of (B, H, W, C)
        "reshape": lambda x: x.reshape(x.shape[0], -1, x.shape[-1]),  # (B, H·W, C) tokens
        "concat": lambda x: torch.cat([x, x], dim=-1),  # along channels
        # the first third of the channels: attention's q of a fused qkv (EfficientViT's LiteMLA)
        "slice": lambda x: x[..., : x.shape[-1] // 3],
    }

    def movement(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        fn = moves[p["fn"]]
        return Op(lambda s, x: fn(x), True)

    def resize(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        mode = p["mode"]
        kw = {"align_corners": False} if mode == "bilinear" else {}
        return Op(lambda s, x: F.interpolate(x, scale_factor=p["scale"], mode=mode, **kw), False)

    class PoolChain(nn.Module):
        """``n`` 1x1 convolutions and ``n`` depthwise 3x3 ones on ``(1, c, h, h)``, alternating
        (``order="alt"``) or all 1x1 first (``"blk"``); NHWC out (cancels the output's)."""

        def __init__(self, c: int, n: int, order: str) -> None:
            super().__init__()
            pw = [nn.Conv2d(c, c, 1) for _ in range(n)]
            dw = [nn.Conv2d(c, c, 3, padding=1, groups=c) for _ in range(n)]
            seq = [m for pair in zip(pw, dw, strict=True) for m in pair] if order == "alt" \
                else pw + dw
            self.body = nn.Sequential(*seq)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(x).permute(0, 2, 3, 1)

    class WeightChain(nn.Module):
        """``n`` 1x1 convolutions on ``(1, c, h, h)``, one module used ``n`` times
        (``shared``) or ``n`` modules; NHWC out (cancels the output's)."""

        def __init__(self, c: int, n: int, shared: bool) -> None:
            super().__init__()
            self.n, self.shared = n, shared
            self.convs = nn.ModuleList([nn.Conv2d(c, c, 1) for _ in range(1 if shared else n)])

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for i in range(self.n):
                x = self.convs[0 if self.shared else i](x)
            return x.permute(0, 2, 3, 1)

    def chain(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        return Chain(shape[1], p["n"])

    def weight_chain(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        return WeightChain(shape[1], p["n"], p["weights"] == "shared")

    def pool_chain(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        return PoolChain(shape[1], p["n"], p["order"])

    def partition_chain(shape: tuple[int, ...], p: dict[str, Any]) -> nn.Module:
        return PartitionChain(shape[1], p["n"])

    return {"conv": conv, "linear": linear, "bmm_qk": bmm_qk, "bmm_av": bmm_av, "fc_act": fc_act,
            "softmax": softmax, "layernorm": layernorm, "act": act, "elementwise": elementwise,
            "mean": mean, "pool": pool, "movement": movement, "resize": resize, "chain": chain,
            "partition_chain": partition_chain, "pool_chain": pool_chain,
            "weight_chain": weight_chain}


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
             (1, 1, 48, 96, 96, False), (3, 1, 96, 96, 48, False), (1, 1, 960, 1280, 7, False),
             # inverted residuals' 1x1 projections (wide in, narrow out: a GEMM with a long
             # reduction and few output channels, slower per MAC than the expansions above on
             # MLAS and XNNPACK, by up to x1.7 at cout 24) and expansions from narrow inputs, at
             # each stage's resolution (MobileNetV2/V3, EfficientNet; ResNet's 256 -> 64)
             (1, 1, 32, 16, 112, False), (1, 1, 96, 24, 56, False), (1, 1, 144, 24, 56, False),
             (1, 1, 256, 64, 56, False), (1, 1, 144, 32, 28, False), (1, 1, 240, 40, 28, False),
             (1, 1, 384, 64, 14, False), (1, 1, 480, 80, 14, False), (1, 1, 672, 112, 14, False),
             (1, 1, 960, 160, 7, False), (1, 1, 24, 144, 56, False), (1, 1, 40, 240, 28, False),
             (1, 1, 80, 480, 14, False)]
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
    # the head's global average pool as timm writes it (adaptive_avg_pool2d: GlobalAveragePool
    # in ONNX, which onnxruntime runs by its own kernel; MEAN in TFLite, like the mean cases)
    for c, h in [(448, 7), (960, 7), (1280, 7)]:
        out.append(KernelCase(f"gap_c{c}_h{h}", OpClass.POOL, (1, c, h, h),
                              (("kind", "pool"), ("fn", "global"), ("c", c)), False))
    for fn, k, s, c, h, quick in [("avg", 3, 1, 64, 56, False), ("avg", 3, 1, 256, 14, False),
                                  ("max", 3, 2, 64, 112, False)]:
        out.append(KernelCase(f"{fn}pool{k}x{k}_s{s}_c{c}_h{h}", OpClass.POOL, (1, c, h, h),
                              (("kind", "pool"), ("fn", fn), ("k", k), ("stride", s), ("c", c)),
                              quick))
    for fn, sizes in [("transpose", [(64, 56, True), (256, 14, False)]),
                      ("reshape", [(64, 56, False)]),
                      ("concat", [(64, 56, False), (256, 14, False)]),
                      ("slice", [(192, 28, False), (768, 14, False)])]:
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
    n = 8
    for c, h in ((32, 56), (64, 28), (128, 14)):
        out += [KernelCase(f"pool_{order}_pw_dw_n{n}_c{c}_h{h}", OpClass.OTHER, (1, c, h, h),
                           (("kind", "pool_chain"), ("order", order), ("n", n), ("c", c),
                            ("group", f"c{c}_h{h}")), (c, h) == (64, 28))
                for order in ("alt", "blk")]
    # 16 x 768 x 768 weights: 38 MB distinct at fp32 (beyond this host's 32 MiB L3), 9 MB at int8
    n, c, h = 16, 768, 7
    out += [KernelCase(f"weights_{w}_pw_n{n}_c{c}_h{h}", OpClass.OTHER, (1, c, h, h),
                       (("kind", "weight_chain"), ("weights", w), ("n", n), ("c", c),
                        ("group", f"c{c}_h{h}")), True)
            for w in ("shared", "distinct")]
    return out


@functools.cache
def _all_cases() -> tuple[KernelCase, ...]:
    cases = (*_conv_cases(), *_token_cases(), *_pointwise_cases(), *_fixed_cost_cases())
    names = [c.name for c in cases]
    assert len(set(names)) == len(names), "kernel case names must be unique"
    return cases


def suite(*, quick: bool = False, pool_chains: bool = True,
          weight_chains: bool = True) -> list[KernelCase]:
    """The micro-benchmark sweep (``quick``: the subset touching every op class;
    ``pool_chains``: with the thread-pool switch cases, which only a runtime running several
    thread pools needs: LiteRT's built-in kernels at more than 1 thread; ``weight_chains``: with
    the pair measuring weights read from beyond the cache)."""
    return [c for c in _all_cases()
            if (c.quick or not quick) and (pool_chains or not c.pool_chain)
            and (weight_chains or not c.weight_chain)]


def get_case(name: str) -> KernelCase:
    from edgekit.errors import unknown_name

    found = {c.name: c for c in _all_cases()}
    if name not in found:
        raise unknown_name("kernel case", name, found, "see edgekit.bench.kernel_cases.suite()")
    return found[name]


__all__ = ["FIXED_COST_KINDS", "POOL_KINDS", "WEIGHT_KINDS", "KernelCase", "get_case", "suite"]
