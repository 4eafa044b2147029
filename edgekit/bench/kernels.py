"""Kernel micro-benchmarks: single-op models exported by edgekit's own exporters, timed here.

``edgekit calibrate --runtime ID`` builds each :class:`KernelCase` of :func:`suite` through the
exporter registry (so it gets the kernels a real export gets), times it in the runtime and hands
the timings to the kernel-efficiency fit (:mod:`edgekit.fit.kernel_fit`).

The cases themselves, what each module lowers to and why, are in :mod:`edgekit.bench.kernel_cases`;
their exported artifacts and cache in :mod:`edgekit.bench.kernel_artifacts`.
"""

from __future__ import annotations

import json
import math
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.bench.kernel_artifacts import case_artifact
from edgekit.bench.kernel_cases import KernelCase, get_case, suite
from edgekit.errors import ConfigError
from edgekit.precision import Precision
from edgekit.runtime.table import (
    CALIB_RUNTIMES,
    CalibRuntime,
    RuntimeTable,
    measured_column,
    runtime_versions,
)
from edgekit.validate.measure import log_stderr

if TYPE_CHECKING:
    import pandas as pd

    from edgekit.export.protocol import Exporter

WARMUP = 2  # untimed invocations before each round's timed ones
MIN_RUNS = 3  # timed invocations per round at least (more until min_time_s)
PROFILE_RUNS = 30  # profiled invocations per case (onnxruntime), after WARMUP
# What a case keeps of its profile: each node's fastest profiled run (the profiled runs took
# x1.73 the timed latency at the median of host B's 139 profiled cases at 2 threads, x1.14 at
# 1; up to x21). The timing sets a case's level (the kernel-sum scale of
# edgekit.fit.kernel_fit); the profile only splits it between the case's nodes.
PROFILE_STAT, PROFILE_RUN_STAT = "min_ms", "run_min_ms"
# Profile windows per case, in separate passes over the suite (a minute or more apart): a case
# keeps the window whose fastest profiled run was the fastest. One window can fall in a
# contended spell that slows a case's nodes unevenly: a 2-thread 1x1 conv case on host B,
# profiled 6 times in a row, read ReorderInput 27-30 us and Conv 70-74 us in four windows, 87-89
# us and 95-105 us in the next two (its layout share x2.2), and such a window had set its
# table's split, taking the fitted conv x0.76 its time.
PROFILE_WINDOWS = 3


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
               cache_dir: str | os.PathLike[str] | None = None, seed: int = 0,
               profile: bool = True) -> pd.DataFrame:
    """Time every case's artifact in ``runtime_id``, interleaved over ``rounds``.

    Round 1 times all cases, then round 2 (in a seeded shuffled order), and so on, so a burst of
    load on a busy host hits all cases alike; each case keeps its fastest round's median
    (:func:`edgekit.bench.results.round_latency`).

    Returns:
        One row per case: ``case, kind, op_class, fixed_cost, pool_chain, weight_chain, artifact,
        latency_s, median_s, p10_s, p90_s, runs, in_c, in_h, in_w, ops, n_ops, partitions`` and
        the case's params as columns (``latency_s`` the fastest round's median, which the fit
        takes; ``median_s`` the median of the round medians; ``p10_s`` and ``p90_s`` over all
        timed invocations; ``ops`` the artifact's op types with counts; ``partitions`` the
        delegate partitions for ``litert-xnnpack``, else 0; ``node_s``, for a runtime with a
        profiler (onnxruntime), each ONNX node's kernel time as JSON, which
        :func:`edgekit.fit.kernel_fit.fit_kernel_table` takes as the measured op's time: ORT
        runs a case's layout transpose inside its NCHWc reorder, so subtracting a predicted
        Transpose would misattribute it; ``profile=False``: not profiled, ``node_s`` empty).
    """
    import numpy as np
    import pandas as pd

    from edgekit.bench.results import round_latency
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
    node_s = (_profiled_nodes(cases, paths, rt.id, threads, progress) if profile
              else ["" for _ in cases])
    rows = []
    for i, case in enumerate(cases):
        t = np.asarray(raw[i], dtype=float) / 1e9
        ops, n_ops, parts = info[i]
        rows.append({"case": case.name, "kind": case.kind, "op_class": case.op_class,
                     "fixed_cost": case.fixed_cost, "pool_chain": case.pool_chain,
                     "weight_chain": case.weight_chain,
                     "artifact": str(paths[i]), "latency_s": round_latency(medians[i]),
                     "median_s": statistics.median(medians[i]),
                     "p10_s": float(np.percentile(t, 10)), "p90_s": float(np.percentile(t, 90)),
                     "runs": int(len(t)), "in_c": case.input_shape[1],
                     "in_h": case.input_shape[2], "in_w": case.input_shape[3], "ops": ops,
                     "n_ops": n_ops, "partitions": parts, "node_s": node_s[i],
                     **{k: v for k, v in case.params if k != "kind"}})
    return pd.DataFrame(rows)


# A table whose cases run this much slower or faster now is stale for this host's state.
DRIFT_WARN = 0.10


def table_drift(table: RuntimeTable, *, rounds: int = 3,
                progress: Callable[[str], None] = log_stderr,
                cache_dir: str | os.PathLike[str] | None = None,
                bandwidth: Callable[[int], float] | None = None) -> dict[str, Any]:
    """How fast this host runs the table's kernels now against when the table was measured.

    The ``--quick`` subset's single-op cases that the table holds are timed again (``rounds``
    interleaved rounds, kept as the table keeps them: the fastest round's median; the table's
    runtime, precision and threads); per case ``now / then`` of the measured times. A VM's
    speed moves between runs of the same day, and every prediction from the table moves with it,
    so ``edgekit validate --runtime`` reports this beside its figures.

    The streaming bandwidth is measured again too (``bandwidth(threads)``, bytes/s; default
    :func:`edgekit.bench.micro.stream_bandwidth`): the cases run from the core's caches, whole
    models also stream from the last-level cache and DRAM, which a VM shares with its
    neighbours, so a model can slow down while its kernels do not.

    Returns ``cases``, ``median_ratio``, ``p10_ratio``, ``p90_ratio``, ``by_case`` and
    ``mem_ratio`` (the table's bandwidth over today's: how much longer a stream takes now) with
    ``mem_gb_s`` (today's).
    """
    import numpy as np

    held = set(table.timings["case"].astype(str)) if "case" in table.timings else set()
    cases = [c for c in suite(quick=True, pool_chains=False, weight_chains=False)
             if not c.fixed_cost and c.name in held]
    if not cases:
        return {"cases": 0}
    then = table.timings.set_index("case")[measured_column(table.timings)]
    now = time_cases(cases, table.runtime, table.precision, threads=table.threads, rounds=rounds,
                     progress=progress, cache_dir=cache_dir, profile=False)  # timings only
    ratio = {str(c): float(m / then[c]) for c, m in zip(now["case"], now["latency_s"],
                                                          strict=True)}
    r = np.array(list(ratio.values()))
    if bandwidth is None:
        from edgekit.bench.micro import stream_bandwidth as bandwidth
    bw = float(bandwidth(table.threads))
    return {"cases": len(r), "median_ratio": float(np.median(r)),
            "p10_ratio": float(np.percentile(r, 10)), "p90_ratio": float(np.percentile(r, 90)),
            "by_case": ratio, "mem_gb_s": bw / 1e9, "mem_ratio": float(table.mem_bytes_s / bw)}


def drift_line(drift: dict[str, Any], when: str = "now") -> str:
    """One line saying how the host runs ``when`` against its table (:func:`table_drift`)."""
    if not drift.get("cases"):
        return "host vs runtime table: no case of the table's --quick subset to re-time"
    line = (f"host vs runtime table: its kernels take x{drift['median_ratio']:.2f} their "
            f"measured time {when} (median of {drift['cases']} cases re-timed; p10 "
            f"x{drift['p10_ratio']:.2f}, p90 x{drift['p90_ratio']:.2f})")
    if drift.get("mem_ratio"):
        line += (f"; a memory stream takes x{drift['mem_ratio']:.2f} its table time "
                 f"({drift['mem_gb_s']:.1f} GB/s now)")
    if abs(drift["median_ratio"] - 1.0) > DRIFT_WARN:
        line += ("; predictions from this table are off by about that: re-run edgekit "
                 "calibrate --runtime to measure the host as it runs now")
    return line


def _profiled_nodes(cases: Sequence[KernelCase], paths: Sequence[Path], runtime_id: str,
                    threads: int, progress: Callable[[str], None],
                    windows: int = PROFILE_WINDOWS) -> list[str]:
    """Per case, its ONNX nodes' kernel times from onnxruntime's profiler as JSON, with the
    profiled runs' own wall time under ``"<run>"`` (``""`` for fixed-cost cases and for runtimes
    without a profiler). ``windows`` passes over the cases; each case keeps its fastest window
    (:func:`fastest_window`)."""
    if runtime_id != "onnxruntime-cpu":
        return ["" for _ in cases]
    from edgekit.bench.runners import profile_onnxruntime
    from edgekit.export.interrupt import raise_if_interrupted

    todo = [i for i, c in enumerate(cases) if not (c.fixed_cost or c.paired)]
    seen: dict[int, list[dict[str, float]]] = {i: [] for i in todo}
    bar = _Progress("profile", len(todo) * windows, progress)
    for w in range(windows):
        for i in todo:
            prof = profile_onnxruntime(str(paths[i]), threads=threads, runs=PROFILE_RUNS,
                                       warmup=WARMUP)
            seen[i].append(_window(prof))
            raise_if_interrupted()
            bar.step(cases[i].name, f"window {w + 1}/{windows}")
    return [json.dumps(fastest_window(seen[i])) if i in seen else "" for i in range(len(cases))]


def _window(prof: pd.DataFrame) -> dict[str, float]:
    """One profile window as ``{node: seconds, "<run>": fastest run's wall seconds}``."""
    from edgekit.fit.kernel_fit import RUN_KEY

    nodes = {str(n): float(ms) / 1e3 for n, ms in
             zip(prof["onnx_node"], prof[PROFILE_STAT], strict=True)}
    return {**nodes, RUN_KEY: float(prof.attrs.get(PROFILE_RUN_STAT, 0.0)) / 1e3}


def fastest_window(windows: Sequence[dict[str, float]]) -> dict[str, float]:
    """Of a case's profile windows (``{node: s, "<run>": s}``), the one whose fastest run was
    fastest: the least contended snapshot, its nodes' split kept whole (as a case's latency is
    its fastest round's). A window without a run time counts as slowest."""
    from edgekit.fit.kernel_fit import RUN_KEY

    if not windows:
        raise ValueError("no profile window")
    return min(windows, key=lambda w: w.get(RUN_KEY, 0.0) or math.inf)


__all__ = ["CALIB_RUNTIMES", "DRIFT_WARN", "CalibRuntime", "KernelCase", "build_cases",
           "calib_runtime", "case_artifact", "check_toolchain", "drift_line", "fastest_window",
           "get_case", "runtime_versions", "suite", "table_drift", "time_cases"]
