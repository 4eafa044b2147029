"""What a benchmark run returns: raw timings, their summary statistics, and the run's context."""

from __future__ import annotations

import enum
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from edgekit._meta import host_description  # re-exported: bench results record the host

if TYPE_CHECKING:
    import pandas as pd


class Runtime(enum.StrEnum):
    """The inference runtimes edgekit can time on this host.

    Which artifacts each runs is the exporters' business: an exporter names its runtime
    (``Exporter.runtime``), and bench loads artifacts through that exporter.
    """

    ONNXRUNTIME = "onnxruntime"
    LITERT = "litert"
    TORCH = "torch"


def percentile_ms(times_ns: tuple[int, ...], q: float) -> float:
    """The ``q``-th percentile (0-100, linear interpolation) of nanosecond timings, in ms."""
    import numpy as np

    return float(np.percentile(np.asarray(times_ns, dtype=np.float64), q)) / 1e6


def round_latency(round_medians: Sequence[float]) -> float:
    """The latency of a thing timed in interleaved rounds: the fastest round's median.

    On a shared 2-vCPU VM a session's speed is bimodal at 2 threads: the same model runs at
    4.1-4.4 ms for seconds, then at 6.7 ms for the next seconds (the other vCPU taken from under
    it, with no steal time shown), and back. A round's median is stable inside one mode, so the
    fastest round is the host's uncontended speed, which is what a prediction is of; the median
    of the rounds would be whichever mode held in two of three rounds. Micro-benchmark cases and
    validation models both use this statistic, so tables and validations compare like with like.
    """
    if not len(round_medians):
        raise ValueError("round_latency needs at least one round")
    return float(min(round_medians))


@dataclass(frozen=True, slots=True)
class BenchResult:
    """One timed benchmark: raw per-run wall times and where and how they were taken.

    Attributes:
        model: the model name or the artifact's file name.
        runtime: the runtime that executed it.
        artifact: path of the artifact run (``None`` for torch eager on a registry model).
        precision: ``fp32`` or ``int8`` (the artifact's input/weight type).
        resolution: input resolution in pixels.
        threads: the thread count the runtime was pinned to.
        xnnpack: whether LiteRT's default XNNPACK delegate was on (``None`` for other runtimes).
        affinity: CPUs the process was allowed to run on (``os.sched_getaffinity``).
        warmup: untimed runs before timing.
        times_ns: wall time of each timed run (``time.perf_counter_ns``).
        versions: package versions that produced the numbers.
        host: CPU model and kernel.
    """

    model: str
    runtime: Runtime
    artifact: str | None
    precision: str
    resolution: int
    threads: int
    xnnpack: bool | None
    affinity: tuple[int, ...]
    warmup: int
    times_ns: tuple[int, ...] = field(repr=False)
    versions: dict[str, str] = field(default_factory=dict, compare=False)
    host: str = ""

    @property
    def runs(self) -> int:
        return len(self.times_ns)

    @property
    def median_ms(self) -> float:
        return percentile_ms(self.times_ns, 50)

    @property
    def p10_ms(self) -> float:
        return percentile_ms(self.times_ns, 10)

    @property
    def p90_ms(self) -> float:
        return percentile_ms(self.times_ns, 90)

    @property
    def mean_ms(self) -> float:
        return sum(self.times_ns) / len(self.times_ns) / 1e6

    @property
    def min_ms(self) -> float:
        return min(self.times_ns) / 1e6

    def row(self) -> dict[str, Any]:
        """One tidy row: identifiers, then unit-suffixed statistics."""
        return {
            "model": self.model, "runtime": self.runtime.value, "precision": self.precision,
            "resolution": self.resolution, "threads": self.threads,
            "xnnpack": self.xnnpack, "runs": self.runs, "warmup": self.warmup,
            "median_ms": self.median_ms, "p10_ms": self.p10_ms, "p90_ms": self.p90_ms,
            "mean_ms": self.mean_ms, "min_ms": self.min_ms,
            "affinity": ",".join(map(str, self.affinity)), "artifact": self.artifact,
        }

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([self.row()])

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["runtime"] = self.runtime.value
        d.update({k: v for k, v in self.row().items() if k.endswith("_ms")})
        return d


def results_frame(results: list[BenchResult]) -> pd.DataFrame:
    """A tidy table, one row per result."""
    import pandas as pd

    return pd.DataFrame([r.row() for r in results])


def affinity() -> tuple[int, ...]:
    """The CPUs this process may run on."""
    try:
        return tuple(sorted(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return tuple(range(os.cpu_count() or 1))


def versions(*packages: str) -> dict[str, str]:
    """Installed versions of ``packages`` plus Python's (for benchmark results)."""
    from edgekit._meta import versions as _versions

    return _versions(*packages, python=True)
