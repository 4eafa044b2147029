"""Timed inference on this host with onnxruntime, LiteRT or torch eager.

Every runner pins its thread count (ORT ``intra_op_num_threads``, LiteRT ``num_threads``,
``torch.set_num_threads`` for the timed runs only, restored afterwards), records the process's CPU
affinity and the package versions, and times single-image inference with ``time.perf_counter_ns``
after untimed warm-up runs.

A target is a registry model name or an artifact file whose suffix names its format. Artifacts
are loaded by their exporter's own loader (:meth:`edgekit.export.Exporter.load`, the code path
verification uses); a model name is first exported by :func:`edgekit.export.export`, so bench
times exactly what ``edgekit export`` ships (see :mod:`edgekit.bench.artifacts` for the cache).
Which format a runtime runs, and which runtime a suffix needs, the exporter registry says.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.bench.results import (
    BenchResult,
    Runtime,
    affinity,
    host_description,
    versions,
)
from edgekit.errors import ConfigError, unknown_name

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from torch import nn

    from edgekit.export.protocol import Exporter, Runner

RUNTIME_PACKAGES = {
    Runtime.ONNXRUNTIME: ("onnxruntime", "numpy"),
    Runtime.LITERT: ("ai-edge-litert", "numpy"),
    Runtime.TORCH: ("torch", "timm"),
}


# --- runtimes and formats (the exporter registry decides which runs which) ----------------------
def _exporters_by_runtime() -> dict[Runtime, Exporter]:
    """The exporter whose loader each bench runtime uses (first registered name wins)."""
    from edgekit.export.registry import all_exporters

    found: dict[Runtime, Exporter] = {}
    for e in all_exporters():
        if e.runtime in {r.value for r in Runtime}:
            found.setdefault(Runtime(e.runtime), e)
    return found


def exporter_for_runtime(rt: Runtime) -> Exporter:
    """The exporter whose artifacts ``rt`` runs (``Runtime.TORCH`` has none)."""
    found = _exporters_by_runtime()
    if rt not in found:
        raise ConfigError(f"no registered export format runs on --runtime {rt.value}; "
                          f"choose {', '.join(r.value for r in found)}")
    return found[rt]


def _runnable_suffixes() -> dict[str, tuple[Exporter, Runtime]]:
    """Artifact suffix -> its exporter and runtime, for the formats this host can run."""
    return {e.suffix.lower(): (e, rt) for rt, e in _exporters_by_runtime().items()
            if e.can_run_here()}


def parse_runtime(name: str | Runtime) -> Runtime:
    """``'onnxruntime'`` -> ``Runtime.ONNXRUNTIME``; unknown names raise with the choices.

    ``ort`` and ``pytorch`` are accepted, and a format's name stands for the runtime its
    exporter loads with (``tflite`` -> ``litert``).
    """
    if isinstance(name, Runtime):
        return name
    key = str(name).lower()
    try:
        return Runtime(key)
    except ValueError:
        pass
    aliases = {"ort": Runtime.ONNXRUNTIME, "pytorch": Runtime.TORCH,
               **{e.name: rt for rt, e in _exporters_by_runtime().items()}}
    if key in aliases:
        return aliases[key]
    choices = [r.value for r in Runtime]
    raise unknown_name("runtime", str(name), choices, "choose " + ", ".join(choices)) from None


def is_artifact(target: object) -> bool:
    """Whether ``target`` names a file (anything with a suffix or a path separator that exists)."""
    if not isinstance(target, (str, os.PathLike)):
        return False
    s = str(target)
    return Path(s).suffix != "" and (Path(s).exists() or os.sep in s or "." in Path(s).name)


def resolve_runtime(target: object, runtime: str | Runtime | None) -> Runtime:
    """The runtime for ``target``: explicit, or from the artifact's suffix; conflicts raise."""
    rt = parse_runtime(runtime) if runtime is not None else None
    if not is_artifact(target):
        return rt or Runtime.ONNXRUNTIME
    path = Path(str(target))
    runnable = _runnable_suffixes()
    want = runnable.get(path.suffix.lower(), (None, None))[1]
    formats = ", ".join(f"{s} ({r.value})" for s, (_, r) in runnable.items())
    if want is None:
        raise ConfigError(
            f"artifact '{path}' has format '{path.suffix}', which no runtime here can run; "
            f"give a model name or an artifact of format {formats}"
        )
    if rt is not None and rt is not want:
        if rt is Runtime.TORCH:
            raise ConfigError(
                f"--runtime torch runs registry models, not artifacts, got '{path}'; "
                f"give a model name, or --runtime {want.value} for {path.suffix} files"
            )
        suffix = next(s for s, (_, r) in runnable.items() if r is rt)
        raise ConfigError(
            f"artifact '{path}' is a {path.suffix} file, but --runtime {rt.value} runs {suffix} "
            f"files; use --runtime {want.value} or give a {suffix} artifact"
        )
    if not path.exists():
        raise ConfigError(f"artifact '{path}' does not exist")
    return want


@dataclass(slots=True)
class Prepared:
    """A loaded model ready to be invoked repeatedly on a fixed input.

    ``context`` is entered around the timed runs (torch: its thread count, restored after).
    """

    name: str
    runtime: Runtime
    artifact: str | None
    precision: str
    resolution: int
    threads: int
    xnnpack: bool | None
    invoke: Callable[[], object] = field(repr=False)
    versions: dict[str, str] = field(default_factory=dict)
    context: Callable[[], AbstractContextManager[object]] = field(
        default=contextlib.nullcontext, repr=False)


def time_invocations(invoke: Callable[[], object], *, runs: int, warmup: int,
                     min_time_s: float = 0.0, max_runs: int | None = None) -> tuple[int, ...]:
    """Run ``warmup`` untimed then at least ``runs`` timed invocations (more until ``min_time_s``)."""
    for _ in range(warmup):
        invoke()
    times: list[int] = []
    start = time.perf_counter_ns()
    cap = max_runs or max(runs, 1) * 100
    while len(times) < runs or (time.perf_counter_ns() - start < min_time_s * 1e9
                                and len(times) < cap):
        t0 = time.perf_counter_ns()
        invoke()
        times.append(time.perf_counter_ns() - t0)
    return tuple(times)


# --- preparing each runtime ---------------------------------------------------------------------
def _rng_input(shape: tuple[int, ...], dtype: Any, seed: int) -> np.ndarray:
    import numpy as np

    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    info = np.iinfo(dt)
    return rng.integers(max(info.min, -128), min(info.max, 127) + 1, size=shape).astype(dt)


def random_feed(runner: Runner, seed: int) -> dict[str, np.ndarray]:
    """Seeded random native inputs for every input of ``runner`` (symbolic dimensions as 1)."""
    return {t.name: _rng_input(tuple(d if isinstance(d, int) else 1 for d in t.shape), t.dtype,
                               seed + i)
            for i, t in enumerate(runner.inputs)}


def _resolution(shape: tuple[int, ...]) -> int:
    # NHWC or NCHW: the resolution is the largest spatial side either way.
    return int(max(shape[1:3]) if shape[-1] in (1, 3) else shape[-1])


def prepare_artifact(path: str | os.PathLike[str], runtime: Runtime, *, threads: int,
                     xnnpack: bool = True, seed: int = 0, name: str | None = None,
                     precision: str | None = None) -> Prepared:
    """Load an artifact with its exporter's loader and bind a seeded random input."""
    runner = exporter_for_runtime(runtime).load(Path(path), threads=threads, delegates=xnnpack)
    feed = random_feed(runner, seed)
    first = next(iter(feed.values()))
    return Prepared(name or Path(path).name, runtime, str(path), precision or runner.precision,
                    _resolution(tuple(first.shape)), threads,
                    xnnpack if runtime is Runtime.LITERT else None, runner.invoker(feed),
                    versions(*RUNTIME_PACKAGES[runtime]))


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Pin torch's intra-op thread count for the block, then restore the caller's."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def prepare_torch(model: nn.Module, *, resolution: int, threads: int, name: str,
                  seed: int = 0) -> Prepared:
    import torch

    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 3, resolution, resolution, generator=gen)
    model = model.eval()

    def invoke() -> object:
        with torch.inference_mode():
            return model(x)

    return Prepared(name, Runtime.TORCH, None, "fp32", resolution, threads, None, invoke,
                    versions(*RUNTIME_PACKAGES[Runtime.TORCH]),
                    context=lambda: torch_threads(threads))


def prepare(target: str | os.PathLike[str], *, runtime: str | Runtime | None = None,
            threads: int = 1, xnnpack: bool = True, resolution: int | None = None,
            precision: str = "fp32", deploy: bool = True, seed: int = 0,
            cache_dir: str | os.PathLike[str] | None = None) -> Prepared:
    """Load ``target`` (model name or artifact) into ``runtime``, ready to invoke.

    A model name is exported (verification skipped) into the artifact cache first, or found
    there; ``cache_dir`` replaces the cache's ``artifacts/`` directory.
    """
    if threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")
    rt = resolve_runtime(target, runtime)
    if not xnnpack and rt is not Runtime.LITERT:
        raise ConfigError(f"--no-xnnpack applies to --runtime litert only, got --runtime {rt.value}")
    if is_artifact(target):
        return prepare_artifact(target, rt, threads=threads, xnnpack=xnnpack, seed=seed)
    name = str(target)
    if rt is Runtime.TORCH:
        from edgekit.export.build import seeded_model
        from edgekit.models import get_spec

        res = resolution or get_spec(name).resolution
        return prepare_torch(seeded_model(name, deploy=deploy), resolution=res, threads=threads,
                             name=name, seed=seed)
    from edgekit.bench.artifacts import artifact_for_model
    from edgekit.export.planning import parse_precision

    exporter = exporter_for_runtime(rt)
    prec = parse_precision(precision)
    if prec not in exporter.precisions:
        runs = "/".join(p.value for p in exporter.precisions)
        raise ConfigError(f"--runtime {rt.value} runs {runs} exports of model names, got "
                          f"--precision {prec.value}; export an {prec.value} {exporter.suffix} "
                          "and pass the file")
    path, _ = artifact_for_model(name, exporter, precision=prec, resolution=resolution,
                                 deploy=deploy, cache_dir=cache_dir)
    return prepare_artifact(path, rt, threads=threads, xnnpack=xnnpack, seed=seed, name=name,
                            precision=prec.value)


def run_prepared(p: Prepared, *, runs: int = 50, warmup: int = 10,
                 min_time_s: float = 0.0) -> BenchResult:
    """Time a prepared model and wrap the timings with their context."""
    if runs < 1:
        raise ConfigError(f"--runs must be >= 1, got {runs}")
    if warmup < 0:
        raise ConfigError(f"--warmup must be >= 0, got {warmup}")
    with p.context():
        times = time_invocations(p.invoke, runs=runs, warmup=warmup, min_time_s=min_time_s)
    return BenchResult(
        model=p.name, runtime=p.runtime, artifact=p.artifact, precision=p.precision,
        resolution=p.resolution, threads=p.threads, xnnpack=p.xnnpack, affinity=affinity(),
        warmup=warmup, times_ns=times, versions=p.versions, host=host_description(),
    )


def bench(target: str | os.PathLike[str], *, runtime: str | Runtime | None = None,
          threads: int = 1, runs: int = 50, warmup: int = 10, xnnpack: bool = True,
          resolution: int | None = None, precision: str = "fp32", deploy: bool = True,
          min_time_s: float = 0.0, seed: int = 0,
          cache_dir: str | os.PathLike[str] | None = None) -> BenchResult:
    """Time single-image inference of a model name or artifact on this host.

    Args:
        target: a registry model name or an artifact file of a format this host runs.
        runtime: ``onnxruntime``, ``litert`` or ``torch``; default from the artifact's suffix,
            else ``onnxruntime``.
        threads: threads the runtime may use (1 gives the most repeatable numbers here).
        runs: timed runs (at least; more while ``min_time_s`` has not elapsed).
        warmup: untimed runs first.
        xnnpack: LiteRT only: ``False`` disables the default XNNPACK delegate.
        resolution: input resolution for model names (default: the model's).
        precision: export precision for model names (one the runtime's format supports).
        deploy: benchmark the re-parameterized deploy form of a model name (``False``: the
            train-time form, exported as such).
        seed: seed of the random input.
        cache_dir: directory of the benchmark artifacts (default: ``artifacts/`` under
            ``$EDGEKIT_CACHE_DIR``).

    Returns:
        The raw timings with median / p10 / p90 / mean, threads, affinity and versions.
    """
    p = prepare(target, runtime=runtime, threads=threads, xnnpack=xnnpack, resolution=resolution,
                precision=precision, deploy=deploy, seed=seed, cache_dir=cache_dir)
    return run_prepared(p, runs=runs, warmup=warmup, min_time_s=min_time_s)


# --- per-layer timings (onnxruntime profiling) -----------------------------------------------------
_SUFFIXES = ("_kernel_time",)


# ONNX ops that only move data (a kernel case's layout transpose) or hold constants, and ORT's
# layout kernels.
_LAYOUT_OPS = frozenset({"Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity",
                         "Constant"})
_LAYOUT_KERNELS = frozenset({"ReorderInput", "ReorderOutput", "Transpose", "Reshape"})


def profile_onnxruntime(path: str, *, threads: int = 1, runs: int = 10, warmup: int = 3,
                        seed: int = 0) -> pd.DataFrame:
    """Per-node kernel times from onnxruntime's profiler, mapped to the exported graph's nodes.

    ORT rewrites the graph (fusions, NCHWc layout) before it runs; its nodes are mapped back to
    the original ONNX nodes through the tensors they produce. Returns one row per original node
    that ORT's kernels were charged to: ``onnx_node``, ``ort_ops`` (the kernels charged),
    ``time_ms`` (median over ``runs``) and ``min_ms`` (the node's fastest run). Layout
    reorders that produce no original tensor are charged to the node whose output they
    reorder, or kept as ``<layout>`` rows. ``attrs["run_ms"]`` and ``attrs["run_min_ms"]`` are
    the median and fastest wall time of the profiled runs themselves (ORT's ``model_run``
    events), to put the kernel times on the scale of a timing taken at another moment
    (:func:`edgekit.fit.kernel_fit.fit_kernel_table`).
    """
    import json
    import re
    import statistics

    import onnx
    import pandas as pd

    orig = onnx.load(path, load_external_data=False)
    producer = {o: n.name for n in orig.graph.node for o in n.output}
    node_names = {n.name for n in orig.graph.node}
    exporter: Any = exporter_for_runtime(Runtime.ONNXRUNTIME)  # its loader takes profiler options
    with tempfile.TemporaryDirectory() as td:
        opt_path = os.path.join(td, f"optimized{exporter.suffix}")
        runner = exporter.load(Path(path), threads=threads, profile_prefix=os.path.join(td, "prof"),
                               optimized_model_path=opt_path)
        feed = random_feed(runner, seed)
        invoke = runner.invoker(feed)
        for _ in range(warmup):
            invoke()
        runner.end_profiling()
        runner = exporter.load(Path(path), threads=threads,
                               profile_prefix=os.path.join(td, "prof2"))
        invoke = runner.invoker(feed)
        for _ in range(warmup + runs):
            invoke()
        prof = runner.end_profiling()
        with open(prof, encoding="utf-8") as f:
            events = json.load(f)
        optimized = onnx.load(opt_path, load_external_data=False)
    opt_outputs = {n.name: list(n.output) for n in optimized.graph.node}
    opt_inputs = {n.name: list(n.input) for n in optimized.graph.node}

    opt_producer = {o: n.name for n in optimized.graph.node for o in n.output}

    def from_name(name: str) -> str | None:
        # ORT names rewritten nodes after the original tensor they produce ("<t>_nchwc") or the
        # original node plus a fusion path ("<node>/MatMulScaleFusion/..."); peel those off.
        cands = [name]
        base = re.sub(r"(_bn)?_nchwc$|_new_reshape$|_token_\d+$|_fused$", "", name)
        cands.append(base)
        parts = base.split("/")
        cands += ["/".join(parts[:i]) for i in range(len(parts) - 1, 1, -1)]
        for c in cands:
            if c in node_names:
                return c
            if c in producer:
                return producer[c]
        return None

    def owner(ort_node: str, depth: int = 0) -> str:
        found = from_name(ort_node)
        if found:
            return found
        for t in opt_outputs.get(ort_node, []):
            if t in producer:
                return producer[t]
        if depth < 8:  # a layout reorder: charge it to whatever produced its input
            for t in opt_inputs.get(ort_node, [])[:1]:
                if t in producer:
                    return producer[t]
                if t in opt_producer:
                    return owner(opt_producer[t], depth + 1)
        return "<layout>"

    # A kernel ORT renamed past recognition (its transpose optimizer moves a layout Transpose
    # across an elementwise op, which then reads the graph input and writes a new tensor; ORT
    # 1.31 also runs HardSwish as HardSigmoid + Mul) is charged, in a graph of one node besides
    # layout ops and constants (a kernel case), to that node; in a network it stays unplaced.
    work = [n.name for n in orig.graph.node if n.op_type not in _LAYOUT_OPS]
    per_run: dict[tuple[str, str], list[float]] = {}
    kernel = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    for e in kernel:
        ort_node = e["name"][: -len("_kernel_time")]
        op_name = e["args"].get("op_name", "")
        found = owner(ort_node)
        if found == "<layout>" and op_name not in _LAYOUT_KERNELS and len(work) == 1:
            found = work[0]
        key = (found, op_name)
        per_run.setdefault(key, []).append(e["dur"] / 1e3)
    rows: dict[str, dict[str, Any]] = {}
    n_total = warmup + runs
    for (node, op), durs in per_run.items():
        # Events arrive in run order; keep the last ``runs`` occurrences per (node, kernel) group.
        per = len(durs) // n_total if len(durs) >= n_total else 1
        tail = durs[-runs * per:]
        runs_sum = [sum(tail[i * per:(i + 1) * per]) for i in range(len(tail) // per)]
        r = rows.setdefault(node, {"onnx_node": node, "ort_ops": set(), "time_ms": 0.0,
                                   "min_ms": 0.0})
        r["ort_ops"].add(op)
        r["time_ms"] += statistics.median(runs_sum) if runs_sum else 0.0
        r["min_ms"] += min(runs_sum, default=0.0)
    df = pd.DataFrame(list(rows.values()), columns=["onnx_node", "ort_ops", "time_ms", "min_ms"])
    df["ort_ops"] = df["ort_ops"].map(lambda s: "+".join(sorted(s)))
    run = [e["dur"] / 1e3 for e in events if e.get("cat") == "Session"
           and e.get("name") == "model_run"][-runs:]
    df.attrs["run_ms"] = statistics.median(run) if run else 0.0
    df.attrs["run_min_ms"] = min(run, default=0.0)
    return df
