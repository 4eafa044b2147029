"""The runtime registry: every runtime a device profile can name, by its structured id.

One module per runtime family (:mod:`~edgekit.runtime.litert`, :mod:`~edgekit.runtime.coreml`,
:mod:`~edgekit.runtime.onnxruntime`, :mod:`~edgekit.runtime.qnn`), each exporting ``RUNTIMES``, a
tuple of :class:`~edgekit.runtime.spec.RuntimeSpec`. A profile's ``runtime = "tflite-qnn"`` must be
one of these ids (``edgekit devices`` shows each profile's id and description).
"""

from __future__ import annotations

import functools
from types import MappingProxyType
from collections.abc import Mapping

from typing import TYPE_CHECKING

from edgekit.runtime.spec import RuntimeSpec

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from edgekit.device import DeviceProfile

_FAMILIES = ("litert", "coreml", "onnxruntime", "qnn")


@functools.cache
def _registry() -> Mapping[str, RuntimeSpec]:
    import importlib

    found: dict[str, RuntimeSpec] = {}
    for fam in _FAMILIES:
        for spec in importlib.import_module(f"edgekit.runtime.{fam}").RUNTIMES:
            assert spec.id not in found, f"runtime id {spec.id} registered twice"
            found[spec.id] = spec
    return MappingProxyType(found)


def list_runtimes() -> list[str]:
    """Every registered runtime id, sorted."""
    return sorted(_registry())


def get_runtime(runtime_id: str) -> RuntimeSpec:
    """The :class:`RuntimeSpec` of a registered id; an unknown id gets a did-you-mean."""
    from edgekit.errors import unknown_name

    reg = _registry()
    if runtime_id not in reg:
        raise unknown_name("runtime", runtime_id, list(reg), "valid runtime ids: "
                           + ", ".join(sorted(reg)))
    return reg[runtime_id]


def ops_run(table: pd.DataFrame, device: DeviceProfile) -> np.ndarray:
    """Ops each layer-table row becomes in the graph that runs on ``device``'s runtime.

    ``tflite-qnn`` uses its op-count model (:func:`edgekit.runtime.qnn.ops_per_row`); any other
    runtime runs one op per row that does work and is not fused into its producer.
    """
    import numpy as np

    if device.runtime == "tflite-qnn":
        from edgekit.runtime.qnn import ops_per_row

        return ops_per_row(table, device.fuses)
    fused = table["fusable"].to_numpy(bool) & table["op_type"].isin(device.fuses).to_numpy()
    work = (table["macs"].to_numpy(float) > 0) | (
        (table["in_act_elems"].to_numpy(float) + table["out_act_elems"].to_numpy(float)) > 0)
    live = work & ~fused & (table["op_class"].to_numpy(str) != "constant")
    return live.astype(np.int64)


def matmul_slices(table: pd.DataFrame) -> np.ndarray:
    """Independent 2-D matmuls each activation x activation matmul row runs (0 for other rows).

    A batched matmul over a ``(..., M, N)`` output is one 2-D product per leading index: Swin's
    windowed attention ``64x3x49x49`` is 192 small products in one op. A runtime that launches
    each of them on its own pays a fixed cost per slice (``[runtime_costs] per_matmul_slice_us``);
    an output of rank 2 or less is one slice.
    """
    import numpy as np

    from edgekit.roofline.counting import out_dims

    out = np.zeros(len(table), dtype=np.int64)
    rows = zip(table["op_class"].to_numpy(str), table["out_shape"], strict=True)
    for i, (cls, shape) in enumerate(rows):
        if cls == "matmul":
            out[i] = int(np.prod(out_dims(shape)[:-2]))  # 1 for rank 2 or less
    return out


__all__ = ["RuntimeSpec", "get_runtime", "list_runtimes", "matmul_slices", "ops_run"]
