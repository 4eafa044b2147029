"""Host micro-benchmarks: this machine's peak MAC rate and memory bandwidth, as a device profile.

The peak is the best of a few compute-bound kernels run through onnxruntime on one thread (a
large fp32 MatMul and a 3x3 convolution with many channels; int8 via ``MatMulInteger``), the
bandwidth the best of streaming kernels over buffers far larger than the last-level cache (an
elementwise ``Add`` in onnxruntime and a numpy copy). Each kernel is repeated and its median kept.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import socket
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.bench.results import affinity, host_description, versions
from edgekit.fit.toml import toml_string as _q


@dataclass(frozen=True, slots=True)
class KernelResult:
    """One micro-kernel: work per call and the median time of a call."""

    name: str
    macs: float
    bytes: float
    median_s: float

    @property
    def gmac_s(self) -> float:
        return self.macs / self.median_s / 1e9

    @property
    def gb_s(self) -> float:
        return self.bytes / self.median_s / 1e9


@dataclass(frozen=True, slots=True)
class HostCalibration:
    """This host measured as a device."""

    host: str
    threads: int
    affinity: tuple[int, ...]
    kernels: tuple[KernelResult, ...]
    versions: dict[str, str] = field(default_factory=dict)
    date: str = ""

    def _best(self, prefix: str, attr: str) -> float:
        vals = [getattr(k, attr) for k in self.kernels if k.name.startswith(prefix)]
        return max(vals) if vals else float("nan")

    @property
    def peak_gmac_s_fp32(self) -> float:
        return self._best("fp32_", "gmac_s")

    @property
    def peak_gmac_s_int8(self) -> float:
        return self._best("int8_", "gmac_s")

    @property
    def mem_gb_s(self) -> float:
        return self._best("stream_", "gb_s")

    @property
    def ridge_mac_per_byte(self) -> float:
        return self.peak_gmac_s_fp32 / self.mem_gb_s

    def rows(self) -> list[dict[str, Any]]:
        return [{"kernel": k.name, "gmacs": k.macs / 1e9, "mbytes": k.bytes / 1e6,
                 "median_ms": k.median_s * 1e3, "gmac_s": k.gmac_s if k.macs else None,
                 "gb_s": k.gb_s if k.bytes and not k.macs else None} for k in self.kernels]


def _median_call_s(fn: Any, *, min_time_s: float, warmup: int = 2, min_calls: int = 5) -> float:
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < min_time_s:
        t0 = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1e9


def _invoker(graph: Any, threads: int, feed: dict[str, Any]) -> Any:
    """One call of ``graph`` on ``feed`` in onnxruntime, set up by the ONNX exporter's loader
    (the session options every ORT timing here uses)."""
    import tempfile

    import onnx

    from edgekit.bench.results import Runtime
    from edgekit.bench.runners import exporter_for_runtime

    exporter = exporter_for_runtime(Runtime.ONNXRUNTIME)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    model.ir_version = 8
    with tempfile.TemporaryDirectory() as td:  # the session keeps the graph in memory
        path = Path(td) / f"{graph.name}{exporter.suffix}"
        onnx.save(model, str(path))
        runner = exporter.load(path, threads=threads)
    return runner.invoker(feed)


def _matmul(m: int, k: int, n: int, threads: int, min_time_s: float) -> KernelResult:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((k, n)).astype(np.float32), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "mm",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])], [w])
    x = rng.standard_normal((m, k)).astype(np.float32)
    t = _median_call_s(_invoker(g, threads, {"x": x}), min_time_s=min_time_s)
    return KernelResult(f"fp32_matmul_{m}x{k}x{n}", m * k * n, 4 * (m * k + k * n + m * n), t)


def _conv(c: int, hw: int, threads: int, min_time_s: float) -> KernelResult:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array((rng.standard_normal((c, c, 3, 3)) * 0.01).astype(np.float32), "w")
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, hw, hw])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c, hw, hw])], [w])
    x = rng.standard_normal((1, c, hw, hw)).astype(np.float32)
    t = _median_call_s(_invoker(g, threads, {"x": x}), min_time_s=min_time_s)
    return KernelResult(f"fp32_conv3x3_{c}ch_{hw}px", c * c * 9 * hw * hw,
                        4 * (2 * c * hw * hw + 9 * c * c), t)


def _matmul_int8(m: int, k: int, n: int, threads: int, min_time_s: float) -> KernelResult:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.integers(-127, 128, (k, n)).astype(np.int8), "w")
    g = helper.make_graph([helper.make_node("MatMulInteger", ["x", "w"], ["y"])], "mmi",
                          [helper.make_tensor_value_info("x", TensorProto.UINT8, [m, k])],
                          [helper.make_tensor_value_info("y", TensorProto.INT32, [m, n])], [w])
    x = rng.integers(0, 256, (m, k)).astype(np.uint8)
    t = _median_call_s(_invoker(g, threads, {"x": x}), min_time_s=min_time_s)
    return KernelResult(f"int8_matmulinteger_{m}x{k}x{n}", m * k * n, m * k + k * n + 4 * m * n, t)


def _stream_add(n: int, threads: int, min_time_s: float) -> KernelResult:
    import numpy as np
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"])], "add",
                          [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n]),
                           helper.make_tensor_value_info("b", TensorProto.FLOAT, [n])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n])])
    a = np.ones(n, np.float32)
    b = np.ones(n, np.float32)
    t = _median_call_s(_invoker(g, threads, {"a": a, "b": b}), min_time_s=min_time_s)
    return KernelResult(f"stream_ort_add_{n * 4 // 2**20}MiB", 0, 3 * 4 * n, t)


def _stream_copy(n: int, min_time_s: float) -> KernelResult:
    import numpy as np

    src = np.ones(n, np.float32)
    dst = np.empty_like(src)
    t = _median_call_s(lambda: np.copyto(dst, src), min_time_s=min_time_s)
    return KernelResult(f"stream_numpy_copy_{n * 4 // 2**20}MiB", 0, 2 * 4 * n, t)


# The streams' size: well beyond the last-level cache (float32 elements of 64 MiB).
STREAM_ELEMS = 64 * 2**20 // 4


def stream_bandwidth(threads: int = 1, *, min_time_s: float = 0.3) -> float:
    """This host's streaming memory bandwidth now, bytes/s: the best of the add and copy
    that :func:`calibrate_host` measures (its ``mem_gb_s``)."""
    return max(_stream_add(STREAM_ELEMS, threads, min_time_s).gb_s,
               _stream_copy(STREAM_ELEMS, min_time_s).gb_s) * 1e9


def calibrate_host(*, threads: int = 1, quick: bool = False) -> HostCalibration:
    """Measure this host's peak MAC rates (fp32, int8) and streaming memory bandwidth.

    Args:
        threads: threads the kernels may use (match the runs you will predict).
        quick: smaller and shorter kernels (for tests); the numbers are then rough.
    """
    t = 0.05 if quick else 0.6
    big = 1 if quick else 4
    kernels = [
        _matmul(64 * big, 256 * big, 256 * big, threads, t),
        _conv(32 * big, 28 if quick else 56, threads, t),
        _matmul_int8(64 * big, 256 * big, 256 * big, threads, t),
        _stream_add(STREAM_ELEMS // 16 if quick else STREAM_ELEMS, threads, t),
        _stream_copy(STREAM_ELEMS // 16 if quick else STREAM_ELEMS, t),
    ]
    if not quick:
        kernels.insert(1, _matmul(1024, 1024, 1024, threads, t))
        kernels.insert(3, _conv(64, 112, threads, t))
    return HostCalibration(
        host=host_description(), threads=threads, affinity=affinity(), kernels=tuple(kernels),
        versions=versions("onnxruntime", "numpy"), date=_dt.date.today().isoformat(),
    )


def default_host_name() -> str:
    """``host-<hostname>`` reduced to a valid profile name."""
    raw = re.sub(r"[^a-z0-9]+", "-", socket.gethostname().lower()).strip("-") or "local"
    return f"host-{raw[:24].strip('-')}"


def profile_toml(cal: HostCalibration, name: str, *, precision: str = "fp32") -> str:
    """The device-profile TOML for ``cal`` (cpu; fp32: onnxruntime's format, int8: LiteRT's)."""
    from edgekit.bench.results import Runtime
    from edgekit.bench.runners import exporter_for_runtime

    host = platform.node() or "this host"
    source = f"edgekit calibrate on {host} {cal.date}"
    # The format each profile names is the one whose runtime the numbers describe.
    if precision == "fp32":
        peak, fmt = cal.peak_gmac_s_fp32, exporter_for_runtime(Runtime.ONNXRUNTIME).name
        runtime = f"onnxruntime {cal.versions.get('onnxruntime', '')}, {cal.threads} thread(s)"
        kernel = "best of fp32 MatMul / 3x3 Conv in onnxruntime"
    else:
        peak, fmt = cal.peak_gmac_s_int8, exporter_for_runtime(Runtime.LITERT).name
        runtime = f"LiteRT int8, {cal.threads} thread(s)"
        kernel = "onnxruntime MatMulInteger (u8 x s8) as the int8 rate"
    lines = [
        f"name = {_q(name)}",
        f"description = {_q(f'This host measured by edgekit calibrate: {cal.host}')}",
        'kind = "cpu"',
        f"precision = {_q(precision)}",
        f"format = {_q(fmt)}",
        f"runtime = {_q('onnxruntime-cpu' if precision == 'fp32' else 'litert-xnnpack')}",
        f"runtime_notes = {_q(runtime)}",
        "fuses = [\"BatchNormalization\", \"Relu\", \"Clip\", \"HardSwish\", \"HardSigmoid\"]",
        f"notes = {_q(f'affinity {list(cal.affinity)}; ridge {peak / cal.mem_gb_s:.2f} MAC/byte')}",
        "",
        "[peak_gmac_s]",
        f"value = {peak:.3f}",
        f"source = {_q(f'{source}: {kernel}')}",
        'confidence = "medium"',
        "",
        "[mem_gb_s]",
        f"value = {cal.mem_gb_s:.3f}",
        f"source = {_q(f'{source}: best streaming kernel (ORT Add, numpy copy) over 64 MiB buffers')}",
        'confidence = "medium"',
        "",
    ]
    return "\n".join(lines)


def write_profiles(cal: HostCalibration, name: str, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``<name>.toml`` (fp32) and ``<name>-int8.toml`` into ``out_dir``; returns the paths."""
    from edgekit.device import load_profile_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for prec, n in (("fp32", name), ("int8", f"{name}-int8")):
        p = out / f"{n}.toml"
        p.write_text(profile_toml(cal, n, precision=prec), encoding="utf-8")
        load_profile_file(p)  # what we write must load
        paths.append(p)
    return paths
