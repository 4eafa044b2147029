"""Export a model for a target device; the public names of the export package, imported lazily.

Modules, one job each:

* :mod:`~edgekit.export.protocol` the Exporter and Runner protocols format plug-ins follow
* :mod:`~edgekit.export.registry` exporters found through the ``edgekit.exporters`` entry points
* :mod:`~edgekit.export.planning` format and precision for a target
* :mod:`~edgekit.export.build` the module to convert (seeded random init, checkpoint, form)
* :mod:`~edgekit.export.calibration` calibration and verification images
* :mod:`~edgekit.export.job` one export fully resolved (:class:`ExportJob`) and its paths
* :mod:`~edgekit.export.convert` conversion in a work directory
* :mod:`~edgekit.export.verify` fidelity against torch
* :mod:`~edgekit.export.manifest` the manifest beside each artifact
* :mod:`~edgekit.export.appinfo` the facts an app needs (labels, normalisation), embedded
* :mod:`~edgekit.export.int8_report` where int8 breaks: float vs int8 TFLite layer by layer
* :mod:`~edgekit.export.atomic` temporary names, renames, cleanup
* :mod:`~edgekit.export.stdio` converters' stdout sent to stderr
* :mod:`~edgekit.export.pipeline` :func:`export` and :func:`export_all_targets`

Formats are plug-ins in ``exporters/`` registered under the ``edgekit.exporters`` entry-point
group; the core never imports a format module by name. Names resolve on first use, so importing
one module (the registry, say, which device profiles consult) does not import the rest.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and IDEs
    from edgekit.export.build import RANDOM_INIT_SEED, build_model, seeded_model
    from edgekit.export.job import ExportJob
    from edgekit.export.manifest import sha256_of, size_of
    from edgekit.export.pipeline import ExportResult, TargetOutcome, export, export_all_targets
    from edgekit.export.planning import Plan, parse_precision, plan
    from edgekit.export.protocol import (
        ConvertOptions,
        Exporter,
        Inventory,
        NotRunnableError,
        OpRecord,
        Runner,
        TensorSpec,
    )
    from edgekit.export.registry import ENTRY_POINT_GROUP, get_exporter, list_formats
    from edgekit.export.stdio import stdout_to_stderr
    from edgekit.export.verify import FP32_MIN_SQNR_DB, compare_outputs, torch_logits

_LAZY = {
    "ENTRY_POINT_GROUP": "registry", "get_exporter": "registry", "list_formats": "registry",
    "ConvertOptions": "protocol", "Exporter": "protocol", "Inventory": "protocol",
    "NotRunnableError": "protocol", "OpRecord": "protocol", "Runner": "protocol",
    "TensorSpec": "protocol",
    "Plan": "planning", "parse_precision": "planning", "plan": "planning",
    "RANDOM_INIT_SEED": "build", "build_model": "build", "seeded_model": "build",
    "ExportJob": "job",
    "FP32_MIN_SQNR_DB": "verify", "compare_outputs": "verify", "torch_logits": "verify",
    "sha256_of": "manifest", "size_of": "manifest",
    "stdout_to_stderr": "stdio",
    "ExportResult": "pipeline", "TargetOutcome": "pipeline", "export": "pipeline",
    "export_all_targets": "pipeline",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"edgekit.export.{_LAZY[name]}"), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'edgekit.export' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


class _CallablePackage(types.ModuleType):
    """This package, callable as :func:`export`.

    ``edgekit.export`` is a lazy name for the function, but importing any module of this package
    binds the package itself to ``edgekit.export``; calling it still exports, so
    ``edgekit.export(model, target)`` works whatever was imported first.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from edgekit.export.pipeline import export

        return export(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
