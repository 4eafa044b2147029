"""Time a validation population on one runtime, interleaved over rounds, failures recorded."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from edgekit.errors import EdgekitError

if TYPE_CHECKING:
    import pandas as pd

    from edgekit.validate.journal import Journal
    from edgekit.validate.population import Entry


def log_stderr(msg: str) -> None:
    """The default progress log: one line on stderr."""
    import sys

    print(msg, file=sys.stderr, flush=True)


def measure_population(entries: Sequence[Entry], *, runtime: str = "onnxruntime",
                       threads: int = 1, repeats: int = 3, runs: int = 10, warmup: int = 3,
                       min_time_s: float = 0.3, precision: str = "fp32", xnnpack: bool = True,
                       cache_dir: str | os.PathLike[str] | None = None, seed: int = 0,
                       log: Callable[[str], None] = log_stderr,
                       journal: Journal | None = None) -> pd.DataFrame:
    """Time every entry ``repeats`` times, in a shuffled order each round (interleaved, so slow
    drifts of a noisy host spread over all models), and keep the fastest round's median as
    ``latency_ms`` (:func:`edgekit.bench.results.round_latency`, the statistic the runtime
    tables' cases keep too); ``rounds_median_ms`` is the median of the round medians.

    With a ``journal`` each round is recorded as it is measured, and rounds it already holds
    (a resumed run) are not measured again.
    """
    import random

    import numpy as np
    import pandas as pd

    from edgekit.bench.results import round_latency
    from edgekit.bench.runners import prepare, run_prepared
    from edgekit.validate.journal import Round

    rounds: dict[str, list[Any]] = {e.label: [] for e in entries}
    order = list(entries)
    rng = random.Random(seed)
    failed: dict[str, str] = dict(journal.failed) if journal else {}
    for r in range(repeats):
        if r:
            rng.shuffle(order)
        for i, e in enumerate(order):
            if e.label in failed:
                continue
            if journal and (e.label, r) in journal.rounds:
                rounds[e.label].append(journal.rounds[(e.label, r)])
                continue
            try:
                p = prepare(e.model, runtime=runtime, threads=threads, xnnpack=xnnpack,
                            resolution=e.resolution, precision=precision, deploy=e.deploy,
                            cache_dir=cache_dir, seed=seed)
                res = run_prepared(p, runs=runs, warmup=warmup, min_time_s=min_time_s)
            except (EdgekitError, RuntimeError, ValueError) as exc:
                # A model the runtime cannot convert or run (e.g. an int8 DIV by zero in LiteRT)
                # is a finding to report, not a reason to lose the rest of the population.
                text = str(exc).strip()
                failed[e.label] = text.splitlines()[0][:300] if text else type(exc).__name__
                log(f"[round {r + 1}/{repeats} {i + 1}/{len(order)}] {e.label}: FAILED "
                    f"({failed[e.label]})")
                if journal:
                    journal.record_failure(e.label, failed[e.label])
                continue
            rounds[e.label].append(Round.from_result(res))
            if journal:
                journal.record(e.label, r, rounds[e.label][-1])
            del p
            log(f"[round {r + 1}/{repeats} {i + 1}/{len(order)}] {e.label}: "
                f"{res.median_ms:.2f} ms (p10 {res.p10_ms:.2f}, p90 {res.p90_ms:.2f})")
    rows = []
    for e in entries:
        if e.label in failed:
            rows.append({"model": e.model, "deploy": e.deploy, "label": e.label,
                         "resolution": e.resolution, "runtime": runtime, "precision": precision,
                         "threads": threads, "latency_ms": float("nan"), "status": "failed",
                         "error": failed[e.label]})
            continue
        res_list = rounds[e.label]
        med = np.array([x.median_ms for x in res_list])
        all_ns = tuple(t for x in res_list for t in x.times_ns)
        last = res_list[-1]
        rows.append({
            "model": e.model, "deploy": e.deploy, "label": e.label,
            "resolution": last.resolution, "runtime": last.runtime,
            "precision": last.precision, "threads": threads, "xnnpack": last.xnnpack,
            "latency_ms": round_latency(med), "rounds_median_ms": float(np.median(med)),
            "repeat_min_ms": float(med.min()),
            "repeat_max_ms": float(med.max()),
            "p10_ms": float(np.percentile(all_ns, 10) / 1e6),
            "p90_ms": float(np.percentile(all_ns, 90) / 1e6),
            "mean_ms": float(np.mean(all_ns) / 1e6), "runs": len(all_ns), "repeats": repeats,
            "artifact": last.artifact, "status": "measured", "error": "",
        })
    return pd.DataFrame(rows)


__all__ = ["log_stderr", "measure_population"]
