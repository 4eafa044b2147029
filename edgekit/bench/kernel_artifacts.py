"""The kernel micro-benchmark cases' artifacts: each case exported once, cached by what it depends on.

Its own module because the cache key hashes the code that builds an artifact (this file, the
cases of :mod:`edgekit.bench.kernel_cases` and the exporter's module): how the cases are timed
(:mod:`edgekit.bench.kernels`) can change without re-exporting every case.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.bench.kernel_cases import KernelCase
from edgekit.cache_root import cache_root
from edgekit.errors import EdgekitError, ExportError
from edgekit.precision import Precision

if TYPE_CHECKING:
    from edgekit.export.calibration import CalibrationSet
    from edgekit.export.protocol import Exporter

SCHEMA = 1  # bump when the artifact cache key's meaning changes
CALIB_SAMPLES = 8  # int8 calibration inputs per case (seeded standard normal)


def kernels_dir() -> Path:
    """The micro-benchmark artifact cache (not created): ``kernels/`` under the cache root."""
    return cache_root() / "kernels"


def _code_hash(exporter: Exporter) -> str:
    from edgekit.bench import kernel_cases

    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(Path(kernel_cases.__file__).read_bytes())
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


__all__ = ["CALIB_SAMPLES", "SCHEMA", "calibration_set", "case_artifact", "case_key", "kernels_dir"]
