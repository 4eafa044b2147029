"""The model registry: name-keyed specs, ``create_model``, ``list_models``, ``get_spec``.

The registry knows no family: each family module (``mobilenetv4.py``, ``efficientformer.py``,
``replknet.py``, ``baselines.py``) calls :func:`register` when :mod:`edgekit.models` imports it
(timm's pattern). Any other timm model name is accepted too, with a generic spec, so users can
bring their own architecture.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.errors import ConfigError, EdgekitError, unknown_name

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What edgekit knows about a model before building it.

    Attributes:
        name: registry name (timm's name where timm has the model).
        family: family label used in reports and plots (``MobileNetV4``, ``RepLKNet``...).
        resolution: default square input resolution in pixels.
        params_m: published parameter count in millions (``None`` when unpublished).
        macs_g: published multiply-accumulates in billions at ``resolution`` (``None`` if unknown).
        paper: the paper that defines the model.
        top1: published ImageNet-1k top-1 accuracy in percent (``None`` if not published).
        top1_source: where ``top1`` comes from (paper and table).
        reparameterizable: whether the model has train-time branches to fuse for deployment.
        deploy: how the deploy form is obtained (shown by ``edgekit info``).
        builder: ``builder(**overrides) -> nn.Module`` with random weights.
        timm_name: the timm model name, when timm builds it (hub weights come through timm).
        timm_kwargs: arguments always passed to timm (e.g. a tiny variant's widths).
        mission: part of the mission zoo (MobileNetV4, EfficientFormer, RepLKNet).
        tags: free labels, e.g. ``("test",)`` for tiny test variants.
    """

    name: str
    family: str
    resolution: int
    paper: str
    builder: Callable[..., nn.Module] = field(repr=False, compare=False)
    params_m: float | None = None
    macs_g: float | None = None
    top1: float | None = None
    top1_source: str | None = None
    reparameterizable: bool = False
    deploy: str = "as built (no train-time branches)"
    timm_name: str | None = None
    timm_kwargs: tuple[tuple[str, Any], ...] = ()
    mission: bool = False
    tags: tuple[str, ...] = ()

    @property
    def is_test(self) -> bool:
        return "test" in self.tags


_REGISTRY: dict[str, ModelSpec] = {}
# Set by ``edgekit.models`` when a family module fails to import: the registry is then incomplete,
# and every lookup raises this error instead of calling a model of the missing family unknown.
_family_error: EdgekitError | None = None


def register(spec: ModelSpec) -> ModelSpec:
    """Add a spec to the registry (called by family modules at import)."""
    if spec.name in _REGISTRY:
        raise ConfigError(f"model '{spec.name}' is registered twice (family {spec.family}); "
                          "give the new spec a name that `edgekit models --all` does not list")
    _REGISTRY[spec.name] = spec
    return spec


def family_failed(error: EdgekitError | None) -> None:
    """Record that a family module failed to import (``None`` clears it); called by the package."""
    global _family_error
    _family_error = error


def registered() -> dict[str, ModelSpec]:
    """All registered specs by name; raises the family import error if a family is missing."""
    if _family_error is not None:
        raise EdgekitError(str(_family_error)) from _family_error.__cause__
    return dict(_REGISTRY)


def list_models(
    pattern: str | None = None, *, family: str | None = None, include_test: bool = False,
    mission: bool | None = None,
) -> list[str]:
    """Registered model names matching a glob ``pattern`` (``"mobilenetv4_*"``), sorted.

    Tiny ``test_*`` variants are listed only with ``include_test`` or when the pattern names them.
    """
    names = []
    for name, spec in registered().items():
        if pattern and not fnmatch.fnmatch(name, pattern):
            continue
        if spec.is_test and not include_test and not (pattern and "test" in pattern):
            continue
        if family and spec.family.lower() != family.lower():
            continue
        if mission is not None and spec.mission != mission:
            continue
        names.append(name)
    return sorted(names)


MIN_RESOLUTION, MAX_RESOLUTION = 16, 4096  # pixels: below, stride-32 models collapse; above, OOM


def check_resolution(resolution: Any, option: str = "resolution", minimum: int = 1) -> int:
    """A square input size in pixels (``minimum``, 16 for CLI options, to 4096), or a one-line
    ConfigError naming ``option``; small toy modules in tests and the API may go below 16."""
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
        raise ConfigError(f"{option} must be a positive number of pixels, got {resolution!r}; "
                          f"use {MIN_RESOLUTION} to {MAX_RESOLUTION}")
    if not minimum <= resolution <= MAX_RESOLUTION:
        raise ConfigError(f"{option} must be between {minimum} and {MAX_RESOLUTION} "
                          f"pixels, got {resolution}")
    return resolution


def _timm_has(name: str) -> bool:
    from edgekit._compat import import_timm

    timm = import_timm()
    return timm.is_model(name)


def get_spec(name: str) -> ModelSpec:
    """The spec of a registered model, or a generic one for any other timm model name."""
    specs = registered()
    if name in specs:
        return specs[name]
    if name.startswith("timm/"):
        name = name[len("timm/"):]
    if name and not name.startswith("test_") and _timm_has(name):
        return ModelSpec(
            name=name, family="timm", resolution=_timm_resolution(name), paper="see timm",
            builder=_timm_builder(name), timm_name=name,
            reparameterizable=False, deploy="as built by timm",
        )
    raise unknown_name("model", name, specs, "edgekit models")


def _timm_resolution(name: str) -> int:
    from edgekit._compat import import_timm

    timm = import_timm()
    try:
        cfg = timm.models.get_pretrained_cfg(name)
        size = getattr(cfg, "input_size", None) or (3, 224, 224)
    except (RuntimeError, KeyError, AttributeError):
        size = (3, 224, 224)
    return int(size[-1])


def _timm_builder(timm_name: str, **fixed: Any) -> Callable[..., nn.Module]:
    """A builder that creates ``timm_name`` with random weights and ``fixed`` kwargs."""

    def build(**overrides: Any) -> nn.Module:
        from edgekit._compat import import_timm

        timm = import_timm()
        kwargs = {**fixed, **overrides}
        return timm.create_model(timm_name, pretrained=False, **kwargs)

    build.__name__ = f"build_{timm_name}"
    return build


def timm_spec(name: str, family: str, resolution: int, paper: str, timm_name: str | None = None,
              fixed: dict[str, Any] | None = None, **kw: Any) -> ModelSpec:
    """A spec whose model timm builds (``fixed`` are kwargs always passed to timm)."""
    tname = timm_name or name
    return ModelSpec(name=name, family=family, resolution=resolution, paper=paper,
                     builder=_timm_builder(tname, **(fixed or {})), timm_name=tname,
                     timm_kwargs=tuple(sorted((fixed or {}).items())), **kw)


def create_model(
    name: str,
    *,
    pretrained: bool = False,
    checkpoint: str | os.PathLike[str] | None = None,
    deploy: bool = False,
    **overrides: Any,
) -> nn.Module:
    """Build a model by name, in eval mode.

    Args:
        name: a registered name (``edgekit models``) or any timm model name.
        pretrained: load the published weights through timm's hub (needs network access).
        checkpoint: a local ``.safetensors`` file or torch file (loaded with ``weights_only=True``).
        deploy: return the re-parameterized deploy form (see ``edgekit.layers.reparam``).
        **overrides: passed to the builder (e.g. ``num_classes=10``).
    """
    spec = get_spec(name)
    if pretrained and checkpoint:
        raise ConfigError("--pretrained and --checkpoint both given; use one of them")
    if pretrained:
        model = _create_pretrained(spec, **overrides)
    else:
        model = spec.builder(**overrides)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, name=spec.name)
    model.eval()
    if deploy:
        from edgekit.layers.reparam import reparameterize

        model = reparameterize(model)
    return model


def _create_pretrained(spec: ModelSpec, **overrides: Any) -> nn.Module:
    if spec.timm_name is None:
        raise ConfigError(
            f"model '{spec.name}' has no published weights on a hub; "
            "train it or pass --checkpoint PATH"
        )
    from edgekit._compat import import_timm

    timm = import_timm()
    try:
        return timm.create_model(spec.timm_name, pretrained=True,
                                 **{**dict(spec.timm_kwargs), **overrides})
    except (OSError, RuntimeError, ValueError) as exc:  # network errors surface as OSError subclasses
        raise EdgekitError(
            f"could not fetch pretrained weights for '{spec.name}' ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:160] if str(exc) else 'no detail'}); "
            "offline, download the file elsewhere and pass --checkpoint PATH"
        ) from exc


def _read_state_dict(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"checkpoint '{path}' does not exist")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise ConfigError(f"checkpoint '{path}' is not a readable safetensors file: {exc}") from exc
    import pickle

    import torch

    import warnings
    import zipfile

    try:
        with warnings.catch_warnings():  # torch's pickle-protocol notes are not the user's concern
            warnings.simplefilter("ignore", UserWarning)
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, KeyError, ValueError,
            AttributeError, IndexError, TypeError) as exc:  # what torch raises on garbage
        # torch's own message advises weights_only=False, i.e. running the file's code: not ours.
        with open(path, "rb") as fh:
            head = fh.read(2)
        if "Weights only load failed" in str(exc) and (zipfile.is_zipfile(path)
                                                        or head[:1] == b"\x80"):
            why = "it holds Python objects besides tensors, which edgekit does not unpickle"
        else:
            why = "it is not a torch checkpoint (a corrupt file, or a file of another kind)"
        raise ConfigError(
            f"checkpoint '{path}' cannot be loaded: {why}; pass a plain state_dict saved with "
            "torch.save(model.state_dict(), path), or a .safetensors file"
        ) from exc
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict", "ema"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict):
        raise ConfigError(f"checkpoint '{path}' holds a {type(obj).__name__}, not a state_dict")
    return obj


def load_checkpoint(model: nn.Module, path: str | os.PathLike[str], *,
                    name: str | None = None) -> nn.Module:
    """Load a local checkpoint strictly; mismatches name the missing and unexpected keys.

    ``name`` is the model's edgekit name for the message (default: the module's class name).
    """
    path = Path(path)
    state = _read_state_dict(path)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    bad_shape = sorted(
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in set(own) & set(state)
        if hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(own[k].shape)
    )
    if missing or unexpected or bad_shape:
        def few(keys: list[str]) -> str:
            return ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")

        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys: {few(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys: {few(unexpected)}")
        if bad_shape:
            parts.append(f"{len(bad_shape)} shape mismatches: {few(bad_shape)}")
        hint = ("check the model name and --checkpoint file; a fine-tune with another class "
                "count needs --num-classes N" if bad_shape else
                "check the model name and --checkpoint file")
        raise ConfigError(
            f"checkpoint '{path}' does not match model '{name or type(model).__name__}': "
            + "; ".join(parts) + f" ({hint})"
        )
    model.load_state_dict(state, strict=True)
    return model


__all__ = [
    "ModelSpec", "create_model", "get_spec", "list_models", "load_checkpoint", "register",
    "registered", "replace", "timm_spec",
]
