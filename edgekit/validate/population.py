"""The validation population: which models (and forms) a validation run measures.

:func:`population` expands names or globs (default: every zoo model) into entries, deploy form and,
for re-parameterizable models, train form. :func:`representative_models` is the smaller default
of ``edgekit report``: every family at least once, chosen from the registry as it is now.
"""

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


# A family's second, mid-sized member joins the representative set only below this many MACs,
# so the default report never times a desktop-size model (ConvNeXt, RepLKNet-31B...) twice.
REPRESENTATIVE_MAX_MACS_G = 2.0


def representative_models(*, include_test: bool = False,
                          max_macs_g: float = REPRESENTATIVE_MAX_MACS_G) -> list[str]:
    """Every registered family at least once: per family its cheapest model by published MACs,
    and the family's median model when that costs at most ``max_macs_g`` GMACs.

    Families and members come from the registry, so a new family joins without an edit here.
    The order interleaves families (one from each, then the second ones), which spreads the
    families over the measuring rounds.
    """
    from edgekit.models import get_spec, list_models

    by_family: dict[str, list[str]] = {}
    for n in list_models(include_test=include_test):
        if include_test or not get_spec(n).is_test:
            by_family.setdefault(get_spec(n).family, []).append(n)
    firsts, seconds = [], []
    for fam in sorted(by_family):
        names = sorted(by_family[fam], key=lambda n: (_macs_g(n), n))
        firsts.append(names[0])
        mid = names[len(names) // 2]
        if mid != names[0] and _macs_g(mid) <= max_macs_g:
            seconds.append(mid)
    return firsts + seconds


def _macs_g(name: str) -> float:
    from edgekit.models import get_spec

    macs = get_spec(name).macs_g
    return float(macs) if macs is not None else float("inf")


__all__ = ["REPRESENTATIVE_MAX_MACS_G", "Entry", "population", "representative_models"]
