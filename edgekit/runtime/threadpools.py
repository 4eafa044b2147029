"""Which thread pool each LiteRT built-in kernel runs its work on, and how often a graph switches.

LiteRT's built-in CPU kernels do not share one thread pool. As built for x86 (the
``ai-edge-litert`` wheel: ``TFLITE_WITH_RUY`` off), with ``T > 1`` threads:

* int8 / int16 ``CONV_2D``, ``FULLY_CONNECTED``, ``BATCH_MATMUL`` and ``TRANSPOSE_CONV`` go
  through ``cpu_backend_gemm`` to **ruy** (``cpu_backend_gemm_x86.h``), which splits a product
  over threads once ``ceil_log2(rows) + ceil_log2(cols) + ceil_log2(depth) > 15``
  (``ruy/trmul.cc: GetThreadCount``; rows: output channels, cols: output positions, depth:
  MACs per output, :func:`ruy_threaded`);
* their float forms go to **Eigen**'s thread pool;
* ``DEPTHWISE_CONV_2D`` (int8 and float) splits its output rows with
  ``cpu_backend_threadpool::Execute``, which is **gemmlowp**'s worker pool when ruy is not the
  default (``cpu_backend_threadpool.h``);
* every other op runs on the calling thread (int8 ``MEAN``, ``AVERAGE_POOL_2D``,
  ``RESIZE_BILINEAR`` and ``SOFTMAX`` checked: at 2 threads they start no worker).

Each pool keeps ``T - 1`` workers of its own that spin a while after their task before they
sleep. A graph alternating between a ruy op and a depthwise op (every MobileNet block) so runs
``2(T - 1)`` busy workers beside the main thread on ``T`` cores; the op that starts a pool's turn
waits for that pool's worker to be woken or scheduled, and cannot end sooner; and while the
previous pool's workers still spin, it shares the cores with them (:func:`oversubscription`,
:func:`switch_penalty_s`). Measured on a 2-vCPU host (``edgekit calibrate --runtime
litert-builtin --threads 2``): the wait is about 0.4-0.5 ms, more than a whole depthwise op of a
small MobileNet, so small MobileNets run slower with 2 threads than with 1. The sharing shows
with large ops: 8 1x1 + 8 depthwise convs at 96-128 channels and 56x56 take 1.47-1.68x as long
alternating as in two blocks (10.5 / 7.2 ms and 14.2 / 8.5 ms), where a fixed wait per switch
would add nothing to ops that outlast it; the fair-share factor is 1.5. A process running that
graph holds two worker threads besides its own (``/proc/self/task``), where a graph of
convolutions alone holds one.

On ARM builds ruy is the default and ``cpu_backend_threadpool`` uses ruy's pool too: one pool,
no switches. This module describes the x86 wheel this host runs, which is what the runtime tables
measure. XNNPACK runs every op it takes on its own pool (``xnnpack``); an op left to the built-in
kernels then takes one of the pools above.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

GEMM_OPS = frozenset({"CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL", "TRANSPOSE_CONV"})
ROW_SPLIT_OPS = frozenset({"DEPTHWISE_CONV_2D"})
RUY_LOG2_DIVISOR = 15  # ruy/trmul.cc: kDivisorLog2
FLOAT_DTYPES = frozenset({"float32", "float16"})


def _ceil_log2(x: float) -> int:
    return (max(int(math.ceil(x)), 1) - 1).bit_length()


def ruy_threaded(macs: float, cout: float, spatial: float) -> bool:
    """Whether ruy splits a GEMM of ``macs`` over more than one thread: ``ceil_log2(rows) +
    ceil_log2(cols) + ceil_log2(depth) > 15`` with rows = ``cout``, cols = ``spatial`` (output
    positions; a batched matmul's slices together) and depth = ``macs / (rows * cols)``."""
    if macs <= 0:
        return False
    rows, cols = max(float(cout), 1.0), max(float(spatial), 1.0)
    depth = macs / (rows * cols)
    return _ceil_log2(rows) + _ceil_log2(cols) + _ceil_log2(depth) > RUY_LOG2_DIVISOR


def op_pool(op: str, unit: str, dtype: str, macs: float, cout: float, spatial: float,
            threads: int) -> str:
    """The thread pool one op's work runs on (``""``: the calling thread, or no work).

    Args:
        op: the TFLite op type (``CONV_2D``).
        unit: where it is placed: ``xnnpack``, ``builtin`` or ``""`` (no run-time work).
        dtype: its activation dtype (``int8``, ``float32``).
        macs: its multiply-accumulates.
        cout: its output channels.
        spatial: its output elements per channel (a depthwise op splits output rows).
        threads: the interpreter's threads.
    """
    if threads <= 1 or not unit:
        return ""
    if unit != "builtin":
        return unit  # a delegate runs its partitions on its own pool
    if op in GEMM_OPS and ruy_threaded(macs, cout, spatial):
        return "eigen" if dtype in FLOAT_DTYPES else "ruy"
    if op in ROW_SPLIT_OPS and spatial > 1:
        return "gemmlowp"
    return ""


def op_pools(ops: pd.DataFrame, units: Sequence[str], threads: int) -> tuple[str, ...]:
    """Per op of a ``.tflite`` op table (:func:`edgekit.runtime.tflite_graph.op_table`) placed on
    ``units``, its thread pool (:func:`op_pool`); empty at 1 thread (no workers)."""
    if threads <= 1:
        return ()
    dtype = ops["dtype"].astype(str) if "dtype" in ops else [""] * len(ops)
    return tuple(op_pool(str(o), str(u), str(d), float(m), float(c), float(s), threads)
                 for o, u, d, m, c, s in zip(ops["op"], units, dtype, ops["macs"], ops["cout"],
                                             ops["spatial"], strict=True))


def after_switch(pools: Sequence[str]) -> list[int]:
    """Indices of the ops that start on another pool than the threaded op before them."""
    out, prev = [], ""
    for i, p in enumerate(pools):
        if not p:
            continue
        if prev and p != prev:
            out.append(i)
        prev = p
    return out


def pool_switches(pools: Iterable[str]) -> int:
    """How many times consecutive threaded ops change pool (ops on the calling thread skipped)."""
    return len(after_switch(list(pools)))


def oversubscription(threads: int) -> float:
    """How much slower a threaded op runs while the other pool's workers still spin: its ``T``
    threads and the other pool's ``T - 1`` spinning workers share ``T`` cores, so under a fair
    scheduler it gets ``T / (2T - 1)`` of them and takes ``(2T - 1) / T`` its time (1.5 at 2
    threads; 1 at 1 thread, where no pool has a worker)."""
    t = max(int(threads), 1)
    return (2 * t - 1) / t


def switch_penalty_s(times: Sequence[float], pools: Sequence[str], latency_s: float,
                     factor: float = 1.0) -> float:
    """The time thread-pool switches add to a graph. The op that starts a pool's turn runs
    beside the previous pool's still-spinning workers, and it cannot end before its own pool's
    worker is scheduled, ``latency_s`` after the switch: the moment the previous pool's worker
    stops spinning and frees its core. So only the op's first ``latency_s`` of work shares the
    cores and takes ``factor`` times as long (:func:`oversubscription`); the rest runs at its
    own speed, and its work overlaps the wait (the calling thread works meanwhile): an op of
    ``t_i`` takes ``max(factor * min(t_i, latency_s) + max(t_i - latency_s, 0), latency_s)``,
    so at most ``(factor - 1) * latency_s`` more than alone. Where no wait was measured
    (``latency_s`` 0: a table without pair cases) the whole op shares the cores, ``factor *
    t_i``. Returns the sum over those ops of what they take beyond ``t_i``.

    The window is the measured wait, not a parameter of its own. Before it (every op shared
    whole) host C's built-in int8 tables at 2 threads predicted the large-op models slow:
    MobileNetV4-Conv-L x0.75 and MobileOne-S3 x0.80 measured / predicted, whose 1-4 ms convs
    each took half their time again after a switch (87.6 of the 301 ms predicted for Conv-L);
    EfficientFormer L1 and L3, which never switch, sat at x1.09-1.12."""
    if not pools or (latency_s <= 0 and factor <= 1.0):
        return 0.0
    out = 0.0
    for i in after_switch(pools):
        t = float(times[i])
        shared = min(t, latency_s) if latency_s > 0 else t
        out += max(factor * shared + (t - shared), latency_s) - t
    return float(out)


__all__ = ["GEMM_OPS", "ROW_SPLIT_OPS", "RUY_LOG2_DIVISOR", "after_switch", "op_pool", "op_pools",
           "oversubscription", "pool_switches", "ruy_threaded", "switch_penalty_s"]
