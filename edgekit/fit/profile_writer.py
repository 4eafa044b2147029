"""Write a fitted roofline as a device-profile TOML that ``load_device`` reads back."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgekit.fit.toml import toml_list, toml_string

if TYPE_CHECKING:
    from edgekit.device import DeviceProfile
    from edgekit.fit.roofline_fit import RooflineFit


def profile_from_fit(fit: RooflineFit, name: str, base: DeviceProfile, *, source: str,
                     confidence: str = "low") -> str:
    """A device-profile TOML: ``base``'s description with the fitted numbers and their source."""
    q = toml_string
    notes = f"fit mode {fit.mode}, n={fit.n}, rms log error {fit.rms_log_err:.3f}"
    lines = [
        f"name = {q(name)}",
        f"description = {q(base.description + ' (empirically fit roofline)')}",
        f"kind = {q(base.kind.value)}",
        f"precision = {q(base.precision.value)}",
        f"format = {q(base.format)}",
        f"runtime = {q(base.runtime)}",
        f"fuses = {toml_list(base.fuses)}",
        f"unsupported_ops = {toml_list(base.unsupported_ops)}",
        f"notes = {q(notes)}",
        "",
        "[peak_gmac_s]",
        f"value = {fit.peak_gmac_s:.6g}",
        f"source = {q(source)}",
        f"confidence = {q(confidence)}",
        "",
        "[mem_gb_s]",
        f"value = {fit.mem_gb_s:.6g}",
        f"source = {q(source)}",
        f"confidence = {q(confidence)}",
        "",
        "[overhead_ms]",
        f"value = {fit.overhead_ms:.6g}",
        f"source = {q(source)}",
        f"confidence = {q(confidence)}",
        "",
    ]
    return "\n".join(lines)


__all__ = ["profile_from_fit"]
