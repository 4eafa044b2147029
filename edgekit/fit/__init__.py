"""Fitting device profiles to measured latencies: statistics, measurement CSVs, fits, profiles.

* :mod:`~edgekit.fit.stats` -- rank correlation and error statistics.
* :mod:`~edgekit.fit.measurements` -- the measurement-CSV reader (with a column mapping).
* :mod:`~edgekit.fit.costs` -- per-layer costs, fit groups and roofline predictions.
* :mod:`~edgekit.fit.roofline_fit` -- fitting ``P``, ``B``, ``O`` (and group factors), LOO.
* :mod:`~edgekit.fit.runtime_fit` -- the runtime model (class efficiencies, per-op cost), LOO;
  :mod:`~edgekit.fit.runtime_device` -- that fit over a measurement CSV (``--model runtime``).
* :mod:`~edgekit.fit.profile_writer` -- a fit as a device-profile TOML
  (:mod:`~edgekit.fit.toml` quotes its strings).
"""

from __future__ import annotations

from edgekit.fit.costs import (
    ATTENTION_NORM_OPS,
    FIT_GROUPS,
    FitGroup,
    ModelCosts,
    costs_from_layers,
    fit_group,
    model_costs,
    predict_layers_s,
    predict_s,
)
from edgekit.fit.measurements import REQUIRED_COLUMNS, read_measurements
from edgekit.fit.profile_writer import profile_from_fit
from edgekit.fit.roofline_fit import (
    MIN_OVERHEAD_S,
    FitReport,
    RooflineFit,
    fit_modes,
    fit_report,
    fit_roofline,
    fittable_classes,
    loo_predictions,
)
from edgekit.fit.runtime_fit import RunCosts, RuntimeFit, fit_runtime, loo_runtime, run_costs
from edgekit.fit.stats import bootstrap_spearman, error_stats, spearman
from edgekit.fit.toml import toml_list, toml_string

__all__ = [
    "ATTENTION_NORM_OPS", "FIT_GROUPS", "MIN_OVERHEAD_S", "REQUIRED_COLUMNS", "FitGroup",
    "FitReport", "ModelCosts", "RooflineFit", "bootstrap_spearman", "costs_from_layers",
    "error_stats", "fit_group", "fit_modes", "fit_report", "fit_roofline", "fittable_classes",
    "loo_predictions", "model_costs", "predict_layers_s", "predict_s", "profile_from_fit",
    "read_measurements", "spearman", "RunCosts", "RuntimeFit", "fit_runtime", "loo_runtime",
    "run_costs", "toml_list", "toml_string",
]
