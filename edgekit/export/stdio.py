"""Keep converters' chatter off stdout: it goes to stderr while they run (stdout is for results)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


def stderr_log(msg: str) -> None:
    """The default progress callback: one ``edgekit: ...`` line on stderr."""
    print(f"edgekit: {msg}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout (Python and C level) to stderr while converters run.

    Converters print progress on stdout; the CLI keeps stdout for results.
    """
    sys.stdout.flush()
    try:
        fd_out = sys.__stdout__.fileno() if sys.__stdout__ else 1
        saved = os.dup(fd_out)
    except (OSError, ValueError, AttributeError):  # no real stdout (embedded interpreter)
        saved = None
    try:
        if saved is not None:
            os.dup2(sys.__stderr__.fileno() if sys.__stderr__ else 2, fd_out)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        with contextlib.suppress(ValueError, OSError):
            sys.stdout.flush()
        if saved is not None:
            os.dup2(saved, fd_out)
            os.close(saved)
