"""Predicted against measured latency over a population of models (``edgekit validate``).

* :mod:`~edgekit.validate.population` -- the default population (zoo models, both forms).
* :mod:`~edgekit.validate.measure` -- timing it on one runtime.
* :mod:`~edgekit.validate.layers` -- per-layer comparison with the onnxruntime profiler.
* :mod:`~edgekit.validate.run` -- :func:`run_validation`: measure, predict, fit, write.

The fitting and statistics live in :mod:`edgekit.fit` and the figure in
:mod:`edgekit.report.validation_figures`; their names are re-exported here, where they lived
before the split.
"""

from __future__ import annotations

from edgekit.fit import (
    MIN_OVERHEAD_S,
    REQUIRED_COLUMNS,
    FitReport,
    ModelCosts,
    RooflineFit,
    bootstrap_spearman,
    costs_from_layers,
    error_stats,
    fit_modes,
    fit_report,
    fit_roofline,
    fittable_classes,
    loo_predictions,
    model_costs,
    predict_layers_s,
    predict_s,
    profile_from_fit,
    read_measurements,
    spearman,
)
from edgekit.report.validation_figures import scatter_figure
from edgekit.validate.layers import layer_comparison, layer_summary
from edgekit.validate.measure import measure_population
from edgekit.validate.population import Entry, population
from edgekit.validate.run import Validation, run_validation, write_validation

__all__ = [
    "MIN_OVERHEAD_S", "REQUIRED_COLUMNS", "Entry", "FitReport", "ModelCosts", "RooflineFit",
    "Validation", "bootstrap_spearman", "costs_from_layers", "error_stats", "fit_modes",
    "fit_report", "fit_roofline", "fittable_classes", "layer_comparison", "layer_summary",
    "loo_predictions", "measure_population", "model_costs", "population", "predict_layers_s",
    "predict_s", "profile_from_fit", "read_measurements", "run_validation", "scatter_figure",
    "spearman", "write_validation",
]
