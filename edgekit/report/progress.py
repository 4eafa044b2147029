"""Progress of the report job's stages on stderr: items done, elapsed time and an ETA per stage."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

# ``edgekit.validate.measure`` logs one line per timed entry: ``[round 2/3 5/17] label: ...``.
_ROUND = re.compile(r"^\[round (\d+)/(\d+) (\d+)/(\d+)\]")


def _secs(s: float) -> str:
    return f"{s / 60:.1f} min" if s >= 120 else f"{s:.0f} s"


class Stage:
    """One stage of the job: counts items and logs lines such as
    ``[report 2/5] name: 3/17 item (12 s, ETA 55 s)``.

    The ETA is the elapsed time per item so far times the items left; it is a guide, and the
    first items of a cold run (exports, layer tables) make it pessimistic.
    """

    def __init__(self, index: int, count: int, name: str, total: int,
                 log: Callable[[str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self.index, self.count, self.name, self.total = index, count, name, max(total, 0)
        self.done = 0
        self._log, self._clock = log, clock
        self._start = clock()
        log(f"[report {index}/{count}] {name}: {self.total} item(s)")

    @property
    def elapsed_s(self) -> float:
        return self._clock() - self._start

    def eta_s(self) -> float | None:
        """Seconds left at the rate so far (``None`` before the first item)."""
        if self.done <= 0:
            return None
        return self.elapsed_s / self.done * max(self.total - self.done, 0)

    def step(self, item: str = "", done: int | None = None) -> None:
        """One more item finished (or ``done`` items in all); logs the line."""
        self.done = self.done + 1 if done is None else done
        eta = self.eta_s()
        tail = f", ETA {_secs(eta)}" if eta is not None and self.done < self.total else ""
        self._log(f"[report {self.index}/{self.count}] {self.name}: {self.done}/{self.total} "
                  f"{item} ({_secs(self.elapsed_s)}{tail})".replace("  ", " "))

    def finish(self) -> float:
        """Log the stage's time; returns it in seconds."""
        took = self.elapsed_s
        self._log(f"[report {self.index}/{self.count}] {self.name}: done in {_secs(took)}")
        return took

    def round_log(self) -> Callable[[str], None]:
        """A log for :func:`edgekit.validate.run_validation`: its round lines advance the stage
        (``total`` is then set from them); other lines pass through."""
        def log(msg: str) -> None:
            m = _ROUND.match(msg)
            if m is None:
                self._log(msg)
                return
            r, rounds, i, n = (int(g) for g in m.groups())
            self.total = rounds * n
            self.step(msg[m.end():].strip().split(":")[0], done=(r - 1) * n + i)
        return log


__all__ = ["Stage"]
