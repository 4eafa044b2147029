"""Timed inference on this host with onnxruntime, LiteRT or torch eager.

Every runner pins its thread count (ORT ``intra_op_num_threads``, LiteRT ``num_threads``,
``torch.set_num_threads``), records the process's CPU affinity and the package versions, and
times single-image inference with ``time.perf_counter_ns`` after untimed warm-up runs.

A target is a registry model name (exported on the fly: ONNX through ``edgekit._onnx``, TFLite
through ``edgekit.export``) or an artifact file whose suffix names its runtime (``.onnx``,
``.tflite``).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.bench.results import (
    ARTIFACT_RUNTIME,
    BenchResult,
    Runtime,
    affinity,
    host_description,
    versions,
)
from edgekit.errors import ConfigError, EdgekitError, missing_toolchain, unknown_name

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from torch import nn

RUNTIME_PACKAGES = {
    Runtime.ONNXRUNTIME: ("onnxruntime", "numpy"),
    Runtime.LITERT: ("ai-edge-litert", "numpy"),
    Runtime.TORCH: ("torch", "timm"),
}


def parse_runtime(name: str | Runtime) -> Runtime:
    """``'onnxruntime'`` -> ``Runtime.ONNXRUNTIME``; unknown names raise with the choices."""
    if isinstance(name, Runtime):
        return name
    aliases = {"ort": "onnxruntime", "tflite": "litert", "pytorch": "torch"}
    key = aliases.get(str(name).lower(), str(name).lower())
    try:
        return Runtime(key)
    except ValueError:
        choices = [r.value for r in Runtime]
        err = unknown_name("runtime", str(name), choices, "choose " + ", ".join(choices))
        raise err from None


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
    want = ARTIFACT_RUNTIME.get(path.suffix.lower())
    formats = ", ".join(f"{s} ({r.value})" for s, r in ARTIFACT_RUNTIME.items())
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
        suffix = next(s for s, r in ARTIFACT_RUNTIME.items() if r is rt)
        raise ConfigError(
            f"artifact '{path}' is a {path.suffix} file, but --runtime {rt.value} runs {suffix} "
            f"files; use --runtime {want.value} or give a {suffix} artifact"
        )
    if not path.is_file():
        raise ConfigError(f"artifact '{path}' does not exist")
    return want


@dataclass(slots=True)
class Prepared:
    """A loaded model ready to be invoked repeatedly on a fixed input."""

    name: str
    runtime: Runtime
    artifact: str | None
    precision: str
    resolution: int
    threads: int
    xnnpack: bool | None
    invoke: Callable[[], object] = field(repr=False)
    versions: dict[str, str] = field(default_factory=dict)


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


def ort_session_options(threads: int, *, profile_prefix: str | None = None) -> Any:
    """Session options pinned to ``threads`` intra-op threads, sequential execution."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise missing_toolchain("onnxruntime", "all", "running .onnx files") from exc
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3  # errors only: the NCHWc serialization warning is expected
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning threads burn the other core between runs; with one thread there is nothing to wait on.
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if threads > 1 else "0")
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    return so


def _ort_session(path: str, threads: int, profile_prefix: str | None = None) -> Any:
    import onnxruntime as ort

    so = ort_session_options(threads, profile_prefix=profile_prefix)
    try:
        return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ORT raises its own untyped errors
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"onnxruntime cannot load '{path}': {first}") from exc


def _ort_feed(sess: Any, seed: int) -> dict[str, Any]:
    import numpy as np

    feed = {}
    types = {"tensor(float)": np.float32, "tensor(float16)": np.float16,
             "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(int64)": np.int64}
    for i, inp in enumerate(sess.get_inputs()):
        shape = tuple(d if isinstance(d, int) else 1 for d in inp.shape)
        feed[inp.name] = _rng_input(shape, types.get(inp.type, np.float32), seed + i)
    return feed


def prepare_onnxruntime(path: str, *, threads: int, seed: int = 0, name: str | None = None,
                        precision: str = "fp32") -> Prepared:
    sess = _ort_session(path, threads)
    feed = _ort_feed(sess, seed)
    first = next(iter(feed.values()))
    out_names = [o.name for o in sess.get_outputs()]

    def invoke() -> object:
        return sess.run(out_names, feed)

    return Prepared(name or Path(path).name, Runtime.ONNXRUNTIME, path, precision,
                    int(first.shape[-1]), threads, None, invoke,
                    versions("onnxruntime", "numpy"))


def litert_interpreter(path: str, *, threads: int, xnnpack: bool) -> Any:
    """A LiteRT interpreter; ``xnnpack=False`` uses the built-in kernels without the delegate."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError as exc:
        raise missing_toolchain("ai-edge-litert", "tflite", "running .tflite files") from exc
    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        interp = Interpreter(model_path=path, num_threads=threads,
                             experimental_op_resolver_type=resolver)
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"LiteRT cannot load '{path}': {first}") from exc
    return interp


def prepare_litert(path: str, *, threads: int, xnnpack: bool = True, seed: int = 0,
                   name: str | None = None) -> Prepared:
    import numpy as np

    interp = litert_interpreter(path, threads=threads, xnnpack=xnnpack)
    details = interp.get_input_details()
    for i, d in enumerate(details):
        interp.set_tensor(d["index"], _rng_input(tuple(d["shape"]), d["dtype"], seed + i))
    d0 = details[0]
    shape = tuple(int(s) for s in d0["shape"])
    # NHWC or NCHW: the resolution is the largest spatial side either way.
    resolution = max(shape[1:3]) if shape[-1] in (1, 3) else shape[-1]
    precision = "int8" if np.dtype(d0["dtype"]).kind in "iu" or _has_int8_weights(interp) else "fp32"

    def invoke() -> object:
        interp.invoke()
        return None

    return Prepared(name or Path(path).name, Runtime.LITERT, path, precision, int(resolution),
                    threads, xnnpack, invoke, versions("ai-edge-litert", "numpy"))


def _has_int8_weights(interp: Any) -> bool:
    import numpy as np

    return any(np.dtype(t["dtype"]) == np.int8 for t in interp.get_tensor_details())


def prepare_torch(model: nn.Module, *, resolution: int, threads: int, name: str,
                  seed: int = 0) -> Prepared:
    import torch

    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 3, resolution, resolution, generator=gen)
    model = model.eval()

    def invoke() -> object:
        with torch.inference_mode():
            return model(x)

    return Prepared(name, Runtime.TORCH, None, "fp32", resolution, threads, None, invoke,
                    versions("torch", "timm"))


# --- model names -> artifacts -------------------------------------------------------------------
def default_cache_dir() -> Path:
    d = Path(os.environ.get("EDGEKIT_CACHE", Path(tempfile.gettempdir()) / "edgekit-cache"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def onnx_for_model(name: str, *, resolution: int | None = None, deploy: bool = True,
                   cache_dir: str | os.PathLike[str] | None = None) -> tuple[str, int]:
    """Export a registry model (random weights) to ``.onnx`` in the cache; returns (path, res)."""
    from edgekit.models import create_model, get_spec

    spec = get_spec(name)
    res = resolution or spec.resolution
    out = Path(cache_dir or default_cache_dir()) / f"{name}_{res}_{'deploy' if deploy else 'train'}.onnx"
    if not out.is_file():
        import onnx
        import torch

        from edgekit._onnx import torch_to_onnx

        torch.manual_seed(0)
        model = create_model(name, deploy=deploy)
        proto = torch_to_onnx(model, (1, 3, res, res), export_params=True)
        tmp = out.with_suffix(".tmp")
        onnx.save(proto, str(tmp))
        tmp.replace(out)
    return str(out), res


def tflite_for_model(name: str, *, precision: str = "int8", resolution: int | None = None,
                     cache_dir: str | os.PathLike[str] | None = None) -> tuple[str, int]:
    """Export a registry model to ``.tflite`` through ``edgekit.export`` (cached)."""
    from edgekit.models import get_spec

    spec = get_spec(name)
    res = resolution or spec.resolution
    out = Path(cache_dir or default_cache_dir()) / f"{name}_{res}_{precision}.tflite"
    if out.is_file():
        return str(out), res
    try:
        from edgekit.export import export
    except ImportError as exc:
        raise EdgekitError(
            f"benchmarking model '{name}' with LiteRT needs the TFLite exporter (edgekit.export); "
            "export it first and pass the .tflite file"
        ) from exc
    result = export(name, format="tflite", precision=precision, out=str(out), resolution=res,
                    verify=False)
    path = getattr(result, "path", None) or getattr(result, "artifact", None) or out
    if Path(path) != out and Path(path).is_file():
        Path(path).replace(out)
    return str(out), res


def prepare(target: str | os.PathLike[str], *, runtime: str | Runtime | None = None,
            threads: int = 1, xnnpack: bool = True, resolution: int | None = None,
            precision: str = "fp32", deploy: bool = True, seed: int = 0,
            cache_dir: str | os.PathLike[str] | None = None) -> Prepared:
    """Load ``target`` (model name or artifact) into ``runtime``, ready to invoke."""
    if threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")
    rt = resolve_runtime(target, runtime)
    if not xnnpack and rt is not Runtime.LITERT:
        raise ConfigError(f"--no-xnnpack applies to --runtime litert only, got --runtime {rt.value}")
    if is_artifact(target):
        path = str(target)
        if rt is Runtime.ONNXRUNTIME:
            return prepare_onnxruntime(path, threads=threads, seed=seed)
        return prepare_litert(path, threads=threads, xnnpack=xnnpack, seed=seed)
    name = str(target)
    if rt is Runtime.TORCH:
        from edgekit.models import create_model, get_spec

        res = resolution or get_spec(name).resolution
        return prepare_torch(create_model(name, deploy=deploy), resolution=res, threads=threads,
                             name=name, seed=seed)
    if rt is Runtime.ONNXRUNTIME:
        if precision != "fp32":
            raise ConfigError(f"--runtime onnxruntime runs fp32 exports of model names, got "
                              f"--precision {precision}; export an int8 .onnx and pass the file")
        path, _ = onnx_for_model(name, resolution=resolution, deploy=deploy, cache_dir=cache_dir)
        return prepare_onnxruntime(path, threads=threads, seed=seed, name=name)
    path, _ = tflite_for_model(name, precision=precision, resolution=resolution,
                               cache_dir=cache_dir)
    return prepare_litert(path, threads=threads, xnnpack=xnnpack, seed=seed, name=name)


def run_prepared(p: Prepared, *, runs: int = 50, warmup: int = 10,
                 min_time_s: float = 0.0) -> BenchResult:
    """Time a prepared model and wrap the timings with their context."""
    if runs < 1:
        raise ConfigError(f"--runs must be >= 1, got {runs}")
    if warmup < 0:
        raise ConfigError(f"--warmup must be >= 0, got {warmup}")
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
        target: a registry model name or an ``.onnx`` / ``.tflite`` file.
        runtime: ``onnxruntime``, ``litert`` or ``torch``; default from the artifact's suffix,
            else ``onnxruntime``.
        threads: threads the runtime may use (1 gives the most repeatable numbers here).
        runs: timed runs (at least; more while ``min_time_s`` has not elapsed).
        warmup: untimed runs first.
        xnnpack: LiteRT only: ``False`` disables the default XNNPACK delegate.
        resolution: input resolution for model names (default: the model's).
        precision: ``fp32`` or ``int8`` (LiteRT exports of model names).
        deploy: benchmark the re-parameterized deploy form of a model name.

    Returns:
        The raw timings with median / p10 / p90 / mean, threads, affinity and versions.
    """
    p = prepare(target, runtime=runtime, threads=threads, xnnpack=xnnpack, resolution=resolution,
                precision=precision, deploy=deploy, seed=seed, cache_dir=cache_dir)
    return run_prepared(p, runs=runs, warmup=warmup, min_time_s=min_time_s)


# --- per-layer timings (onnxruntime profiling) -----------------------------------------------------
_SUFFIXES = ("_kernel_time",)


def profile_onnxruntime(path: str, *, threads: int = 1, runs: int = 10, warmup: int = 3,
                        seed: int = 0) -> pd.DataFrame:
    """Per-node kernel times from onnxruntime's profiler, mapped to the exported graph's nodes.

    ORT rewrites the graph (fusions, NCHWc layout) before it runs; its nodes are mapped back to
    the original ONNX nodes through the tensors they produce. Returns one row per original node
    that ORT's kernels were charged to: ``onnx_node``, ``ort_ops`` (the kernels charged),
    ``time_ms`` (median over ``runs``). Layout reorders that produce no original tensor are
    charged to the node whose output they reorder, or kept as ``<layout>`` rows.
    """
    import json
    import re
    import statistics

    import onnx
    import pandas as pd

    orig = onnx.load(path, load_external_data=False)
    producer = {o: n.name for n in orig.graph.node for o in n.output}
    node_names = {n.name for n in orig.graph.node}
    with tempfile.TemporaryDirectory() as td:
        so = ort_session_options(threads, profile_prefix=os.path.join(td, "prof"))
        opt_path = os.path.join(td, "opt.onnx")
        so.optimized_model_filepath = opt_path
        import onnxruntime as ort

        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        feed = _ort_feed(sess, seed)
        for _ in range(warmup):
            sess.run(None, feed)
        sess.end_profiling()
        so2 = ort_session_options(threads, profile_prefix=os.path.join(td, "prof2"))
        sess = ort.InferenceSession(path, so2, providers=["CPUExecutionProvider"])
        for _ in range(warmup + runs):
            sess.run(None, feed)
        prof = sess.end_profiling()
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

    per_run: dict[tuple[str, str], list[float]] = {}
    kernel = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    for e in kernel:
        ort_node = e["name"][: -len("_kernel_time")]
        key = (owner(ort_node), e["args"].get("op_name", ""))
        per_run.setdefault(key, []).append(e["dur"] / 1e3)
    rows: dict[str, dict[str, Any]] = {}
    n_total = warmup + runs
    for (node, op), durs in per_run.items():
        # Events arrive in run order; keep the last ``runs`` occurrences per (node, kernel) group.
        per = len(durs) // n_total if len(durs) >= n_total else 1
        tail = durs[-runs * per:]
        runs_sum = [sum(tail[i * per:(i + 1) * per]) for i in range(len(tail) // per)]
        t = statistics.median(runs_sum) if runs_sum else 0.0
        r = rows.setdefault(node, {"onnx_node": node, "ort_ops": set(), "time_ms": 0.0})
        r["ort_ops"].add(op)
        r["time_ms"] += t
    df = pd.DataFrame(list(rows.values()), columns=["onnx_node", "ort_ops", "time_ms"])
    df["ort_ops"] = df["ort_ops"].map(lambda s: "+".join(sorted(s)))
    return df
