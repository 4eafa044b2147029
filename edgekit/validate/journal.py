"""The journal of a validation run: each timed round appended to a CSV as it is measured.

``<out>/measurements.partial.csv`` gets one row per entry and round (or one ``failed`` row per
entry) the moment it is measured, flushed and synced, so an interrupted or failed run keeps every
measurement it took and ``edgekit validate --resume`` continues from it. A row is written with one
``write`` of a complete line, so a kill leaves at most one torn last line, which is dropped on
reading. A finished run renames the journal to ``rounds.csv``.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.errors import ConfigError

PARTIAL = "measurements.partial.csv"
DONE = "rounds.csv"
FIELDS = ("label", "round", "runtime", "precision", "threads", "xnnpack", "resolution",
          "median_ms", "p10_ms", "p90_ms", "artifact", "status", "error", "times_us")
CONFIG = ("runtime", "precision", "threads")  # what a resumed run must share with the journal


@dataclass(frozen=True, slots=True)
class Round:
    """One timed round of one entry (what the aggregation needs of a ``BenchResult``)."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    times_ns: tuple[int, ...]
    resolution: int
    runtime: str
    precision: str
    xnnpack: bool | None
    artifact: str | None

    @classmethod
    def from_result(cls, res: Any) -> Round:
        return cls(res.median_ms, res.p10_ms, res.p90_ms, tuple(res.times_ns), res.resolution,
                   res.runtime.value, res.precision, res.xnnpack,
                   None if res.artifact is None else str(res.artifact))


class Journal:
    """Rounds already measured (read back on ``resume``) and the appender for new ones."""

    def __init__(self, out_dir: str | os.PathLike[str], config: dict[str, Any], *,
                 resume: bool = False) -> None:
        self.path = Path(out_dir) / PARTIAL
        self.config = {k: str(v) for k, v in config.items()}
        self.rounds: dict[tuple[str, int], Round] = {}
        self.failed: dict[str, str] = {}
        if self.path.is_file() and not resume:
            n = len(self._read())
            if n:
                raise ConfigError(
                    f"'{self.path}' holds {n} measurements of an interrupted run; continue it "
                    "with --resume, or delete the file to start afresh")
        if resume and self.path.is_file():
            for row in self._read():
                for k in CONFIG:
                    if row[k] != self.config[k]:
                        raise ConfigError(
                            f"--resume: '{self.path}' was measured with {k} {row[k]}, this run "
                            f"asks for {self.config[k]}; use the same options or another --out")
                if row["status"] == "failed":
                    self.failed[row["label"]] = row["error"]
                else:
                    self.rounds[(row["label"], int(row["round"]))] = Round(
                        float(row["median_ms"]), float(row["p10_ms"]), float(row["p90_ms"]),
                        tuple(int(t) * 1000 for t in row["times_us"].split()),
                        int(row["resolution"]), row["runtime"], row["precision"],
                        {"True": True, "False": False}.get(row["xnnpack"]),
                        row["artifact"] or None)
        if not self.path.is_file() or not resume:
            self._write_line(",".join(FIELDS) + "\n", "w")

    def _read(self) -> list[dict[str, str]]:
        text = self.path.read_text(encoding="utf-8")
        if not text.endswith("\n"):  # a torn last line of a killed run
            text = text[: text.rfind("\n") + 1]
        return [r for r in csv.DictReader(io.StringIO(text)) if r.get("times_us") is not None]

    def _write_line(self, line: str, mode: str = "a") -> None:
        with open(self.path, mode, encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def _append(self, row: dict[str, Any]) -> None:
        buf = io.StringIO()
        csv.DictWriter(buf, FIELDS, lineterminator="\n").writerow(
            {**{k: "" for k in FIELDS}, **self.config, **row})
        self._write_line(buf.getvalue())

    def record(self, label: str, round_: int, r: Round) -> None:
        self.rounds[(label, round_)] = r
        self._append({"label": label, "round": round_, "xnnpack": r.xnnpack,
                      "resolution": r.resolution, "median_ms": repr(r.median_ms),
                      "p10_ms": repr(r.p10_ms), "p90_ms": repr(r.p90_ms),
                      "artifact": r.artifact or "", "status": "measured",
                      "times_us": " ".join(str(t // 1000) for t in r.times_ns)})

    def record_failure(self, label: str, error: str) -> None:
        self.failed[label] = error
        self._append({"label": label, "round": 0, "status": "failed", "error": error})

    def finish(self) -> Path:
        """The run is complete: keep the journal as ``rounds.csv``."""
        done = self.path.with_name(DONE)
        os.replace(self.path, done)
        return done


__all__ = ["CONFIG", "DONE", "FIELDS", "PARTIAL", "Journal", "Round"]
