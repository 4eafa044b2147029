"""How subcommands hand results over: aligned tables and JSON on stdout, files written atomically.

Results go to stdout or to files; what a command says about the files it wrote goes to stderr, so
``--csv -`` and ``--json -`` stay clean for pipes.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

STDOUT = "-"


def print_json(obj: Any) -> None:
    """``obj`` as indented JSON on stdout (values JSON does not know are printed as strings)."""
    print(json.dumps(obj, indent=2, default=str))


def print_table(rows: list[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    """A plain aligned text table on stdout (no colour, safe to pipe)."""
    if not rows:
        print("(none)")
        return
    cols = list(columns or rows[0].keys())
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary name beside ``path``, then rename it into place, so a
    reader never sees half a file; the temporary file is removed if ``write`` fails."""
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(text: str, dest: str | os.PathLike[str], option: str = "output") -> None:
    """Write ``text`` to the file ``dest`` (its folder created, ``wrote PATH`` on stderr), or to
    stdout when ``dest`` is ``-``; ``option`` names the flag in errors."""
    if str(dest) == STDOUT:
        sys.stdout.write(text)
        return
    from edgekit.errors import ensure_dir

    path = Path(dest)
    ensure_dir(path.parent, option)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    print(f"wrote {path}", file=sys.stderr)


def save_figure(fig: Any, path: Path, dpi: int = 110) -> Path:
    """Save a matplotlib Figure as ``path`` (PNG by its suffix), atomically."""
    return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi))
