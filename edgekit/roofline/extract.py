"""Layer tables: the graph a device would run, walked node by node.

A registry or timm model is built in its deploy form (``create_model(name, deploy=True)``: every
train-time branch re-parameterized), exported to ONNX in memory (the TorchScript exporter folds
BatchNorm into the preceding convolution in eval mode) with shapes inferred, and counted by
:mod:`edgekit.roofline.counting`. Random weight draws are skipped (a layer count needs shapes
only): building ConvNeXt-S or RepLKNet-XL with random init would take longer than the analysis.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from edgekit.errors import ConfigError, EdgekitError, ExportError
from edgekit.models.registry import check_resolution
from edgekit.roofline import cache as _cache
from edgekit.roofline.counting import count_graph, rows_to_frame

if TYPE_CHECKING:
    import onnx
    from torch import nn

def is_onnx_path(model: Any) -> bool:
    return isinstance(model, (str, os.PathLike)) and str(model).lower().endswith(".onnx")


def model_label(model: Any) -> str:
    """The name a model goes by in tables: registry name, ``.onnx`` file stem, or class name."""
    if is_onnx_path(model):
        return Path(str(model)).stem
    if isinstance(model, (str, os.PathLike)):
        return str(model)
    return type(model).__name__


def _zero_init_mode() -> Any:
    """A ``TorchFunctionMode`` that turns every random weight draw into a cheap ``zero_()``.

    torch and timm initializers draw through ``Tensor.uniform_`` / ``Tensor.normal_``; the
    ``nn.init`` functions that dispatch torch functions themselves (``uniform_``, ``normal_``,
    ``kaiming_uniform_``...) reach the mode before their inner draw, so they are zeroed as a whole,
    which is what their inner draw would have given. Everything else runs unchanged.
    """
    import torch
    from torch.overrides import TorchFunctionMode

    draws = {torch.Tensor.uniform_, torch.Tensor.normal_, torch.nn.init.uniform_,
             torch.nn.init.normal_, torch.nn.init.kaiming_uniform_, torch.nn.init.kaiming_normal_,
             torch.nn.init.xavier_uniform_, torch.nn.init.xavier_normal_}

    class ZeroInit(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (),
                               kwargs: Any = None) -> Any:
            kwargs = kwargs or {}
            if func in draws:  # nn.init passes the tensor by keyword, Tensor methods as self
                with torch.no_grad():
                    return (args[0] if args else kwargs["tensor"]).zero_()
            return func(*args, **kwargs)

    return ZeroInit()


@contextlib.contextmanager
def skip_weight_init() -> Iterator[None]:
    """Make random weight initialisation a cheap ``zero_()`` while models are built here.

    Zeros keep the traced forward free of NaNs and denormals; buffers (BatchNorm statistics,
    attention index tables) are computed normally. The mode is active only in this thread and
    only inside the ``with`` block: nothing of torch is patched.
    """
    with _zero_init_mode():
        yield


def build_deploy_model(name: str, checkpoint: str | os.PathLike[str] | None = None,
                       deploy: bool = True) -> nn.Module:
    """The deploy form of a registry/timm model, with zero weights (or ``checkpoint``'s)."""
    from edgekit.models import create_model

    with skip_weight_init():
        return create_model(name, checkpoint=checkpoint, deploy=deploy)


def _export(model: nn.Module, resolution: int, label: str, default_res: int | None) -> onnx.ModelProto:
    from edgekit._onnx import torch_to_onnx

    try:
        return torch_to_onnx(model, (1, 3, resolution, resolution), export_params=False)
    except EdgekitError:
        raise
    except Exception as exc:  # noqa: BLE001 - any tracing failure; the cause is kept
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        if default_res is not None and resolution != default_res:
            raise ConfigError(
                f"model '{label}' cannot take resolution {resolution} ({first}); "
                f"use its default resolution {default_res} or one it supports"
            ) from exc
        raise ExportError(f"could not export '{label}' to ONNX at resolution {resolution}: "
                          f"{first}") from exc


def _has_unknown_shapes(proto: onnx.ModelProto) -> bool:
    known = set()
    for vi in (*proto.graph.value_info, *proto.graph.output, *proto.graph.input):
        tt = vi.type.tensor_type
        if tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
            known.add(vi.name)
    known.update(t.name for t in proto.graph.initializer)
    return any(o and o not in known for n in proto.graph.node for o in n.output)


def complete_shapes(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Resolve sizes that ONNX's own inference leaves symbolic.

    Models that compute shapes at run time (``Shape -> Gather -> Div -> Concat -> Reshape``, as
    EfficientViT's attention does) keep symbolic dimensions after ``onnx.shape_inference``, and
    their MatMuls would count 0 MACs. onnxruntime's symbolic shape inference evaluates those
    integer subgraphs for the fixed input size.
    """
    if not _has_unknown_shapes(proto):
        return proto
    try:
        from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

        out = SymbolicShapeInference.infer_shapes(proto, auto_merge=True)
    except Exception:  # noqa: BLE001 - best effort: keep ONNX's shapes when it cannot help
        out = None
    out = out if out is not None else proto
    if _has_unknown_shapes(out):  # e.g. Swin's padded windows: "floor(Pad_761 ...)" stays symbolic
        out = shapes_by_running(out)
    return out


def shapes_by_running(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Read every intermediate shape by running the graph once in onnxruntime on zeros.

    The input size is fixed, so one run gives the true size of every value; weights that are
    graph inputs (``export_params=False``) are fed zeros too (only shapes are read). Best effort:
    when the graph cannot run, the proto is returned unchanged.
    """
    import numpy as np
    import onnx
    from onnx import helper

    m = onnx.ModelProto()
    m.CopyFrom(proto)
    g = m.graph
    inits = {t.name for t in g.initializer}
    have = [o.name for o in g.output]
    names = [o for n in g.node if n.op_type != "Constant" for o in n.output
             if o and o not in set(have) and o not in inits]
    del g.value_info[:]
    del g.output[:]  # re-added untyped: a symbolic output type would fail the run's checks
    for name in [*have, *names]:
        g.output.append(helper.make_empty_tensor_value_info(name))
    feeds = {}
    for i in g.input:
        if i.name in inits:
            continue
        tt = i.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else 1 for d in tt.shape.dim]
        dtype = helper.tensor_dtype_to_np_dtype(tt.elem_type)
        feeds[i.name] = np.zeros(dims, dtype=dtype)
    try:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 3
        sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        outs = [o.name for o in sess.get_outputs()]
        values = sess.run(outs, feeds)
    except Exception:  # noqa: BLE001 - best effort, as the symbolic inference above
        return proto
    shapes = {n: (np.asarray(v).shape, helper.np_dtype_to_tensor_dtype(np.asarray(v).dtype))
              for n, v in zip(outs, values, strict=True)}
    result = onnx.ModelProto()
    result.CopyFrom(proto)
    keep = [vi for vi in result.graph.value_info if vi.name not in shapes]
    del result.graph.value_info[:]
    result.graph.value_info.extend(keep)
    outputs = {o.name: o for o in result.graph.output}
    for name, (shape, elem) in shapes.items():
        vi = helper.make_tensor_value_info(name, elem, list(shape))
        if name in outputs:
            outputs[name].CopyFrom(vi)
        else:
            result.graph.value_info.append(vi)
    return result


def _frame(proto: onnx.ModelProto, data_inputs: Sequence[str] | None, **attrs: Any) -> pd.DataFrame:
    df = rows_to_frame(count_graph(complete_shapes(proto), data_inputs))
    df.attrs.update(attrs)
    return df


def _table_from_name(name: str, resolution: int | None, checkpoint: Any, deploy: bool) -> pd.DataFrame:
    from edgekit.models import get_spec

    spec = get_spec(name)
    res = check_resolution(resolution if resolution is not None else spec.resolution)
    model = build_deploy_model(name, checkpoint, deploy)
    params = int(sum(p.numel() for p in model.parameters()))
    proto = _export(model, res, name, spec.resolution)
    return _frame(proto, ["input"], model=name, resolution=res, params=params,
                  family=spec.family, top1=spec.top1, source="registry", deploy=deploy)


def _table_from_module(model: nn.Module, resolution: int | None) -> pd.DataFrame:
    label = type(model).__name__
    if resolution is None:
        cfg = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None) or {}
        size = cfg.get("input_size") if isinstance(cfg, dict) else None
        if not size:
            raise ConfigError(f"resolution is needed for a {label} module (pass resolution=N)")
        resolution = int(size[-1])
    res = check_resolution(resolution)
    params = int(sum(p.numel() for p in model.parameters()))
    proto = _export(model, res, label, None)
    return _frame(proto, ["input"], model=label, resolution=res, params=params, family="module",
                  top1=None, source="module", deploy=False)


def load_onnx(path: str | os.PathLike[str], resolution: int | None = None) -> tuple[onnx.ModelProto, int | None]:
    """Read, check and shape-infer a user's ``.onnx`` file; returns the model and its resolution.

    A symbolic (dynamic) spatial size is fixed to ``resolution``; a fixed one must equal it.
    """
    import onnx

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"ONNX file '{p}' does not exist")
    try:
        proto = onnx.load(str(p))
    except Exception as exc:  # noqa: BLE001 - protobuf raises several unrelated types
        raise ConfigError(f"'{p}' is not a readable ONNX file ({type(exc).__name__}); "
                          "re-export it or check the path") from exc
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:
        first = (str(exc).strip().splitlines() or ["invalid"])[0][:200]
        raise ConfigError(f"'{p}' is not a valid ONNX model: {first}") from exc
    inits = {t.name for t in proto.graph.initializer}
    data = [i for i in proto.graph.input if i.name not in inits]
    if not data:
        raise ConfigError(f"'{p}' has no data input")
    res = _fix_input_shape(p, data[0], resolution)
    try:
        proto = onnx.shape_inference.infer_shapes(proto, strict_mode=True, data_prop=True)
    except Exception as exc:  # noqa: BLE001 - onnx raises InferenceError and RuntimeError
        first = (str(exc).strip().splitlines() or ["failed"])[0][:200]
        raise ConfigError(f"'{p}': ONNX shape inference failed: {first}") from exc
    return proto, res


def _fix_input_shape(path: Path, inp: Any, resolution: int | None) -> int | None:
    dims = inp.type.tensor_type.shape.dim
    if len(dims) != 4:
        if resolution is not None:
            raise ConfigError(f"'{path}': input '{inp.name}' is not an image (rank {len(dims)}); "
                              "drop --resolution")
        return None
    if not dims[0].HasField("dim_value"):
        dims[0].dim_value = 1  # batch 1
    fixed = [int(d.dim_value) if d.HasField("dim_value") else None for d in dims[2:]]
    if resolution is not None:
        check_resolution(resolution)
        if any(f is not None and f != resolution for f in fixed):
            raise ConfigError(
                f"'{path}' has a fixed input of {fixed[0]}x{fixed[1]}; it cannot take resolution "
                f"{resolution} (drop --resolution or re-export with a dynamic size)"
            )
        for d in dims[2:]:
            d.dim_value = resolution
        return resolution
    if any(f is None for f in fixed):
        raise ConfigError(f"'{path}' has a dynamic input size; pass --resolution N")
    return fixed[-1]


def _table_from_onnx(path: str | os.PathLike[str], resolution: int | None) -> pd.DataFrame:
    proto, res = load_onnx(path, resolution)
    inits = {t.name for t in proto.graph.initializer}
    params = int(sum(
        math.prod(t.dims) for t in proto.graph.initializer
        if t.data_type in (1, 10, 11, 16)
    ))
    data = [i.name for i in proto.graph.input if i.name not in inits]
    return _frame(proto, data, model=Path(str(path)).stem, resolution=res, params=params,
                  family="onnx", top1=None, source="onnx", deploy=False)


# Files a user may pass where a model goes that the roofline cannot count: what to pass instead.
OTHER_FILES = {
    ".tflite": "a TFLite file", ".mlpackage": "a Core ML package", ".mlmodel": "a Core ML model",
    ".pt": "a torch checkpoint", ".pth": "a torch checkpoint", ".safetensors": "a weights file",
}


def _refuse_other_files(model: Any) -> None:
    if not isinstance(model, str):
        return
    suffix = Path(model).suffix.lower()
    if suffix in OTHER_FILES:
        weights = suffix in (".pt", ".pth", ".safetensors")
        raise ConfigError(
            f"roofline counts ONNX graphs and registry models, got '{model}' "
            f"({OTHER_FILES[suffix]}); "
            + ("give the model's name and this file as --checkpoint" if weights else
               "give the name of the model it was exported from (its manifest.json says which) "
               "or its .onnx export"))


def _cache_key(model: Any, resolution: int | None, checkpoint: Any, deploy: bool) -> dict[str, Any] | None:
    if is_onnx_path(model):
        return _cache.make_key("onnx", str(Path(str(model)).resolve()), resolution,
                               _cache.weights_fingerprint(model), False)
    if isinstance(model, str):
        from edgekit.models import get_spec

        spec = get_spec(model)  # unknown names fail here, before any work
        res = resolution if resolution is not None else spec.resolution
        return _cache.make_key("registry", spec.name, res, _cache.weights_fingerprint(checkpoint),
                               deploy)
    return None


def layer_table(
    model: Any,
    resolution: int | None = None,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    deploy: bool = True,
    cache: bool = True,
) -> pd.DataFrame:
    """One row per ONNX node of the graph a device would run, with element counts.

    Args:
        model: a registry or timm model name, an ``nn.Module``, or a path to an ``.onnx`` file.
        resolution: square input size in pixels (default: the model's own).
        checkpoint: local weights for a named model (only the key of the cache depends on it).
        deploy: re-parameterize the model first (the form a device runs).
        cache: read and write the on-disk cache (named models and ``.onnx`` files).

    Returns:
        A DataFrame with columns ``name, op_type, module, kind, macs, weight_elems, bias_elems,
        in_act_elems, out_act_elems, fusable, producer, out_shape, note`` and ``attrs``
        ``model, resolution, params, family, top1, source, deploy``.
    """
    if resolution is not None:
        check_resolution(resolution)
    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    _refuse_other_files(model)
    key = _cache_key(model, resolution, checkpoint, deploy) if cache else None
    if key is not None:
        hit = _cache.load(key)
        if hit is not None:
            return hit
    if is_onnx_path(model):
        table = _table_from_onnx(model, resolution)
    elif isinstance(model, str):
        table = _table_from_name(model, resolution, checkpoint, deploy)
    else:
        from torch import nn

        if not isinstance(model, nn.Module):
            raise ConfigError(f"model must be a name, an .onnx path or an nn.Module, got "
                              f"{type(model).__name__}")
        table = _table_from_module(model, resolution)
    if key is not None:
        _cache.store(key, table)
    return table


def _worker(model: str, resolution: int | None, checkpoint: Any, deploy: bool,
            cache: bool) -> pd.DataFrame:
    """One table in a pool process, on one thread (the pool's processes share the CPUs)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return layer_table(model, resolution, checkpoint=checkpoint, deploy=deploy, cache=cache)
    finally:
        torch.set_num_threads(threads)


def _cost_hint(model: Any) -> float:
    """Rough relative build+export cost, to start the slowest models first."""
    if not isinstance(model, str) or is_onnx_path(model):
        return 0.0
    try:
        from edgekit.models import get_spec

        spec = get_spec(model)
    except EdgekitError:
        return 0.0
    return float(spec.params_m or 0.0) + 5.0 * float(spec.macs_g or 0.0)


def layer_tables(
    models: Sequence[Any],
    resolution: int | None = None,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    deploy: bool = True,
    cache: bool = True,
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[pd.DataFrame]:
    """Layer tables of several models, in order: cache hits first, the rest in worker processes.

    Args:
        workers: processes for the misses (default: up to the CPU count, at most 4; 1 = in-process).
        progress: called with each model's label when its table is ready.
    """
    for m in models:
        _refuse_other_files(m)  # before any table is built
    out: dict[int, pd.DataFrame] = {}
    todo: list[int] = []
    for i, m in enumerate(models):
        key = _cache_key(m, resolution, checkpoint, deploy) if cache else None
        hit = _cache.load(key) if key is not None else None
        if hit is not None:
            out[i] = hit
            if progress:
                progress(model_label(m))
        else:
            todo.append(i)
    n_workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    named = [i for i in todo if isinstance(models[i], str)]
    if len(named) > 1 and n_workers > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        named.sort(key=lambda i: -_cost_hint(models[i]))
        ctx = mp.get_context("spawn")  # fork after torch's thread pools exist can hang
        with ProcessPoolExecutor(min(n_workers, len(named)), mp_context=ctx) as pool:
            futs = {pool.submit(_worker, models[i], resolution, checkpoint, deploy, cache): i
                    for i in named}
            try:
                for fut in _as_completed(futs):
                    i = futs[fut]
                    out[i] = fut.result()
                    if progress:
                        progress(model_label(models[i]))
            except BaseException:
                for f in futs:
                    f.cancel()
                raise
    for i in todo:
        if i not in out:
            out[i] = layer_table(models[i], resolution, checkpoint=checkpoint, deploy=deploy,
                                 cache=cache)
            if progress:
                progress(model_label(models[i]))
    return [out[i] for i in range(len(models))]


def _as_completed(futs: Any) -> Iterator[Any]:
    from concurrent.futures import as_completed

    return as_completed(futs)
