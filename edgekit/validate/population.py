"""The validation population: every zoo model (or a glob's matches), in deploy and train form."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Entry:
    """One member of the validation population."""

    model: str
    deploy: bool = True
    resolution: int | None = None

    @property
    def label(self) -> str:
        return self.model if self.deploy else f"{self.model}[train]"


def population(models: Sequence[str] | None = None, *, include_train_form: bool = True,
               include_test: bool = False) -> list[Entry]:
    """Every zoo model (or those matching the ``models`` globs), deploy form; re-parameterizable
    models also in their train-time form (unfused branches)."""
    from edgekit.errors import unknown_name
    from edgekit.models import get_spec, list_models
    from edgekit.models.registry import registered

    names: list[str] = []
    for pat in models or [None]:  # type: ignore[list-item]
        found = list_models(pat, include_test=include_test)
        if pat and not found:
            if any(ch in pat for ch in "*?["):
                raise unknown_name("model pattern", pat, registered(), "edgekit models")
            get_spec(pat)  # raises for an unknown name; accepts any timm name
            found = [pat]
        names += [n for n in found if n not in names]
    out = []
    for n in names:
        out.append(Entry(n, True))
        if include_train_form and get_spec(n).reparameterizable:
            out.append(Entry(n, False))
    return out



__all__ = ["Entry", "population"]
