"""Where each op runs: which unit a runtime places it on, how many partitions that cuts.

Two sources, one result (:class:`Placement`):

* **Read from the runtime** (:func:`litert_placement`): a ``.tflite`` on this host's LiteRT. With
  XNNPACK applied, the interpreter's node list keeps the nodes the delegate replaced and appends
  one ``DELEGATE`` node per partition; a partition's nodes are those between its ``DELEGATE``
  node's input and output tensors (walked back from the outputs, stopping at the inputs). Every
  node in no partition runs on LiteRT's built-in kernels: that is the fallback, by type. A PAD
  that XNNPACK folds into the convolution it feeds (:func:`xnnpack_fused_pads`: the explicit
  padding the converter writes before a stride-2 conv) runs as no kernel of its own.
* **Derived from a profile** (:func:`profile_placement`): a target that cannot run here. Its
  runtime's op support (``unsupported_ops``, ONNX op types) decides each layer-table row;
  partitions are the maximal runs of delegate ops in graph order.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from edgekit.device import DeviceProfile

BUILTIN = "builtin"  # the unit name of LiteRT's own CPU kernels


@dataclass(frozen=True, slots=True)
class Placement:
    """The units one graph's ops run on.

    Attributes:
        runtime: the runtime id.
        units: per op (in the op table's order), the unit it runs on (``xnnpack``, ``builtin``,
            a delegate name, ``cpu``); ``""`` for ops that do no run-time work.
        partitions: delegate partitions (delegate <-> fallback boundaries + 1 per island).
        source: ``runtime`` (read from the interpreter) or ``profile`` (from op lists).
        pools: per op, the thread pool its work runs on (:mod:`edgekit.runtime.threadpools`;
            ``""``: the calling thread); empty where the runtime has one pool or runs 1 thread.
        folded: positions (in the op table's order) of the ops the runtime folds into the op
            they feed (XNNPACK's PADs before a conv, :func:`xnnpack_fused_pads`): unit ``""``.
    """

    runtime: str
    units: tuple[str, ...]
    partitions: int
    source: str
    pools: tuple[str, ...] = ()
    folded: tuple[int, ...] = ()

    @property
    def pool_switches(self) -> int:
        """Times consecutive threaded ops change thread pool
        (:func:`edgekit.runtime.threadpools.pool_switches`)."""
        from edgekit.runtime.threadpools import pool_switches

        return pool_switches(self.pools)

    def ops_per_unit(self) -> dict[str, int]:
        return dict(sorted(Counter(u for u in self.units if u).items()))

    def fallback_by_type(self, ops: pd.Series, delegate_unit: str) -> dict[str, int]:
        """Op types (``ops``, aligned with ``units``) not on ``delegate_unit``, with counts."""
        c = Counter(str(o) for o, u in zip(ops, self.units, strict=True)
                    if u and u != delegate_unit)
        return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))

    def summary(self, ops: pd.Series, delegate_unit: str) -> dict[str, Any]:
        """What the manifest and reports show: ops per unit, partitions, fallback op types, the
        op types folded into the op they feed, and the thread-pool switches where the runtime
        runs several pools."""
        names = [str(o) for o in ops]
        folded = Counter(names[i] for i in self.folded)
        return {"runtime": self.runtime, "source": self.source,
                "ops_per_unit": self.ops_per_unit(), "partitions": self.partitions,
                "fallback_ops": self.fallback_by_type(ops, delegate_unit),
                **({"folded_ops": dict(sorted(folded.items()))} if folded else {}),
                **({"pool_switches": self.pool_switches} if self.pools else {})}


# XNNPACK folds a zero PAD of the spatial dimensions into the convolution it alone feeds (the
# subgraph fusion of a static constant pad into a [depthwise] convolution's implicit padding:
# xnn_subgraph_fusion, as XNNPACK runs in ai-edge-litert 2.x), so the PAD runs as no kernel.
# Only ``PAD`` (zeros, or the zero point): a ``PADV2`` carries its own value (-inf before a max
# pool), which an implicit padding cannot hold.
XNNPACK_PAD_HOSTS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D"})
_PADS = frozenset({"PAD"})


def _spatial_only(shape_in: tuple[int, ...], shape_out: tuple[int, ...]) -> bool:
    """Whether an NHWC pad from ``shape_in`` to ``shape_out`` pads H and W only."""
    return (len(shape_in) == len(shape_out) == 4 and shape_in[0] == shape_out[0]
            and shape_in[3] == shape_out[3])


def xnnpack_fused_pads(details: list[dict[str, Any]], taken: dict[int, int],
                       shapes: dict[int, tuple[int, ...]]) -> set[int]:
    """The PAD nodes XNNPACK folds into the convolution they feed (:data:`XNNPACK_PAD_HOSTS`):
    taken by the delegate, padding H and W only, read by one convolution in the same
    partition. ``details``: the interpreter's nodes (``ops_details``), ``taken``: node ->
    its ``DELEGATE`` node, ``shapes``: tensor index -> shape."""
    orig = [d for d in details if d["op_name"] != "DELEGATE"]
    readers: dict[int, list[dict[str, Any]]] = {}
    for d in orig:
        for t in d["inputs"]:
            readers.setdefault(t, []).append(d)
    out = set()
    for d in orig:
        if d["op_name"] not in _PADS or d["index"] not in taken or not d["outputs"]:
            continue
        users = readers.get(d["outputs"][0], [])
        if (len(users) == 1 and users[0]["op_name"] in XNNPACK_PAD_HOSTS
                and taken.get(users[0]["index"]) == taken[d["index"]]
                and _spatial_only(shapes.get(d["inputs"][0], ()), shapes.get(d["outputs"][0], ()))):
            out.add(d["index"])
    return out


def _delegate_assignment(details: list[dict[str, Any]]) -> dict[int, int]:
    """Original node index -> the ``DELEGATE`` node that took it."""
    orig = [d for d in details if d["op_name"] != "DELEGATE"]
    producer = {t: d["index"] for d in orig for t in d["outputs"]}
    by_index = {d["index"]: d for d in orig}
    taken: dict[int, int] = {}
    for dnode in (d for d in details if d["op_name"] == "DELEGATE"):
        stop = set(dnode["inputs"])
        stack, seen = list(dnode["outputs"]), set()
        while stack:
            t = stack.pop()
            if t in stop or t in seen or t not in producer:
                continue
            seen.add(t)
            n = producer[t]
            if n in taken:
                continue
            taken[n] = dnode["index"]
            stack.extend(i for i in by_index[n]["inputs"] if i >= 0)
    return taken


def litert_placement(path: str | os.PathLike[str], runtime: str, ops: pd.DataFrame, *,
                     threads: int = 1) -> Placement:
    """The placement LiteRT makes of a ``.tflite`` on this host.

    Args:
        path: the ``.tflite`` file.
        runtime: ``litert-xnnpack`` (the default delegate applied) or ``litert-builtin``.
        ops: its op table (:func:`edgekit.runtime.tflite_graph.op_table`).
        threads: interpreter threads (XNNPACK's placement does not depend on them; the thread
            pools of the built-in kernels do: :mod:`edgekit.runtime.threadpools`).
    """
    from edgekit.errors import ConfigError
    from edgekit.roofline.opclass import OpClass
    from edgekit.runtime.threadpools import op_pools
    from edgekit.runtime.tflite_graph import interpreter, ops_details

    live = (ops["op_class"] != OpClass.CONSTANT.value).to_numpy()
    if runtime == "litert-builtin":
        units = tuple(BUILTIN if x else "" for x in live)
        return Placement(runtime, units, 0, "runtime", op_pools(ops, units, threads))
    if runtime != "litert-xnnpack":
        raise ConfigError(f"LiteRT placement on this host is for litert-xnnpack or "
                          f"litert-builtin, got {runtime!r}")
    interp = interpreter(path, delegates=True, threads=threads)
    details = ops_details(interp)
    orig = [d["index"] for d in details if d["op_name"] != "DELEGATE"]
    if orig != [int(i) for i in ops["index"]]:
        raise ConfigError(f"'{path}': the delegated graph's nodes do not match its op table "
                          f"({len(orig)} vs {len(ops)} nodes)")
    taken = _delegate_assignment(details)
    shapes = {int(t["index"]): tuple(int(v) for v in t["shape"])
              for t in interp.get_tensor_details()}
    folded = xnnpack_fused_pads(details, taken, shapes)
    units = tuple(("" if int(i) in folded else "xnnpack" if int(i) in taken else BUILTIN)
                  if x else "" for i, x in zip(ops["index"], live, strict=True))
    partitions = sum(1 for d in details if d["op_name"] == "DELEGATE")
    at = tuple(k for k, i in enumerate(ops["index"]) if int(i) in folded)
    return Placement(runtime, units, partitions, "runtime", op_pools(ops, units, threads), at)


def delegate_unit(device: DeviceProfile) -> str:
    """The unit name of a profile's accelerator: its runtime's delegate, else its kind."""
    spec = device.runtime_spec
    return (spec.delegate if spec is not None and spec.delegate else device.kind).lower()


def profile_placement(layers: pd.DataFrame, device: DeviceProfile) -> Placement:
    """The placement a profile's op support implies for a graph, in graph order.

    ``layers`` is an ONNX layer table (:func:`edgekit.roofline.layer_table`) or a ``.tflite`` op
    table (:func:`edgekit.runtime.tflite_graph.op_table`, judged by its ``onnx_op`` column). Ops
    the profile cannot run fall back to ``cpu``; the others run on the runtime's delegate
    (:func:`delegate_unit`). Constant rows and rows fused into their producer do no work of
    their own and get ``""``.
    """
    import numpy as np

    from edgekit.roofline.opclass import OpClass
    from edgekit.roofline.support import unsupported_mask

    unit = delegate_unit(device)
    live = layers["op_class"].astype(str).to_numpy() != OpClass.CONSTANT.value
    if "onnx_op" in layers:  # a .tflite op table: the converter already fused what it fuses
        bad = layers["onnx_op"].isin(list(device.unsupported_ops)).to_numpy()
    else:
        fused = layers["fusable"].to_numpy(bool) & layers["op_type"].isin(device.fuses).to_numpy()
        live &= ~fused
        bad = unsupported_mask(layers, device)
    units = np.where(~live, "", np.where(bad, "cpu", unit))
    seq = [u for u in units if u]
    partitions = sum(1 for i, u in enumerate(seq) if u == unit and (i == 0 or seq[i - 1] != unit))
    return Placement(device.runtime or device.kind, tuple(str(u) for u in units), partitions,
                     "profile")


# Runtimes whose placement this host's LiteRT computes by the same code as on the phone (XNNPACK's
# op support does not depend on the CPU architecture).
READ_HERE = ("litert-xnnpack", "litert-builtin")


def tflite_placement(path: str | os.PathLike[str], device: DeviceProfile,
                     ops: pd.DataFrame | None = None) -> tuple[Placement, pd.DataFrame]:
    """The placement of a ``.tflite`` on ``device``: read from this host's LiteRT when the
    profile's runtime is one of :data:`READ_HERE`, else derived from the profile's op lists.
    Returns it with the op table it is aligned with."""
    from edgekit.runtime.tflite_graph import op_table

    ops = op_table(path) if ops is None else ops
    if device.runtime in READ_HERE:
        return litert_placement(path, device.runtime, ops), ops
    return profile_placement(ops, device), ops


def placement_summary(pl: Placement, ops: pd.DataFrame, device: DeviceProfile) -> dict[str, Any]:
    """:meth:`Placement.summary` with the device's delegate unit and op-name column."""
    unit = "xnnpack" if device.runtime == "litert-xnnpack" else (
        BUILTIN if device.runtime == "litert-builtin" else delegate_unit(device))
    col = "op" if "op" in ops else "op_type"
    return {"device": device.name, **pl.summary(ops[col], unit)}


__all__ = ["BUILTIN", "READ_HERE", "XNNPACK_PAD_HOSTS", "Placement", "delegate_unit",
           "litert_placement", "placement_summary", "profile_placement", "tflite_placement",
           "xnnpack_fused_pads"]
