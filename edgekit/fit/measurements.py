"""Read and check measurement CSVs: one measured latency per model, with a column mapping.

The format (what ``edgekit validate`` writes and ``edgekit fit-device`` reads): one row per
measured model, columns

    model        registry model name (required)
    latency_ms   measured median latency in ms, > 0 (required)
    resolution   input resolution in pixels (default: the model's)
    deploy       true/false: re-parameterized deploy form (default true)
    status       if present, only rows with status "measured" are used
    (any other column is kept and ignored: device, runtime, precision, threads, p10_ms, ...)

Another table is read with a column mapping, e.g. ``{"latency_ms": "time_ms"}``. A file
separated by ``;`` or tabs (a spreadsheet's export) is recognised, and there a decimal comma
(``12,5``) is read as ``12.5``. Rows of one model at one resolution and form are combined: their
geometric mean is used, and when their latencies differ the table's ``attrs["warnings"]`` names
them (``edgekit fit-device`` prints it).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

REQUIRED_COLUMNS = ("model", "latency_ms")


def read_measurements(path: str | os.PathLike[str], *, columns: Mapping[str, str] | None = None,
                      where: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read and check a measurement CSV (format in this module's docstring).

    Args:
        path: the CSV file.
        columns: ``{edgekit column: column in the file}`` for tables with other names.
        where: keep only rows whose column equals the value, e.g. ``{"device": "pixel6-cpu"}``.

    Raises:
        ConfigError: a missing column, or a latency that is missing, not a number or <= 0; the
            message names the file, the line and the column.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"measurement file '{path}' does not exist")
    sep = _separator(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep, index_col=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable CSV file ({exc})") from exc
    df.columns = [c.strip() for c in df.columns]
    df["_line"] = range(2, len(df) + 2)  # header is line 1
    mapping = dict(columns or {})
    for ours, theirs in mapping.items():
        if theirs not in df.columns:
            raise ConfigError(f"{path}: column mapping {ours}={theirs}: no column '{theirs}' "
                              f"(columns: {', '.join(c for c in df.columns if c != '_line')})")
        df[ours] = df[theirs]
    for col in REQUIRED_COLUMNS:
        if col not in df.columns:
            from edgekit.errors import did_you_mean

            raise ConfigError(
                f"{path}: missing required column '{col}'{did_you_mean(col, df.columns)} "
                f"(columns: {', '.join(c for c in df.columns if c != '_line')}; map another "
                f"with --column {col}=NAME)"
            )
    for col, val in (where or {}).items():
        if col not in df.columns:
            raise ConfigError(f"{path}: --where {col}={val}: no column '{col}'")
        df = df[df[col].str.strip() == val]
    if "status" in df.columns:
        df = df[df["status"].str.strip().str.lower() == "measured"]
    if df.empty:
        raise ConfigError(f"{path}: no measured rows{' match ' + str(dict(where)) if where else ''}")
    lat = []
    for line, model, v in zip(df["_line"], df["model"], df["latency_ms"], strict=True):
        if not str(model).strip():
            raise ConfigError(f"{path}: line {line}, column 'model': empty model name")
        try:
            x = _number(v, sep)
        except ValueError:
            raise ConfigError(f"{path}: line {line} ({model}), column 'latency_ms': "
                              f"not a number, got {v!r}") from None
        if not math.isfinite(x) or x <= 0:
            raise ConfigError(f"{path}: line {line} ({model}), column 'latency_ms': "
                              f"must be > 0, got {v!r}")
        lat.append(x)
    df = df.copy()
    df["latency_ms"] = lat
    df["model"] = df["model"].str.strip()
    if "resolution" in df.columns:
        res = []
        for line, model, v in zip(df["_line"], df["model"], df["resolution"], strict=True):
            if str(v).strip() == "":
                res.append(None)
                continue
            try:
                r = int(_number(v, sep))
            except ValueError:
                r = 0
            if r <= 0:
                raise ConfigError(f"{path}: line {line} ({model}), column 'resolution': "
                                  f"must be a positive integer, got {v!r}")
            res.append(r)
        df["resolution"] = pd.Series(res, index=df.index, dtype=object)
    else:
        df["resolution"] = None
    if "deploy" in df.columns:
        df["deploy"] = [str(v).strip().lower() not in ("false", "0", "no") for v in df["deploy"]]
    else:
        df["deploy"] = True
    return merge_duplicates(df.reset_index(drop=True), path)


def _separator(path: Path) -> str:
    """The file's field separator (``,``, ``;`` or tab); a comma file whose rows have more fields
    than its header (decimal commas, most likely) is refused with that diagnosis."""
    import csv

    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a readable CSV file ({exc})") from exc
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ConfigError(f"{path}: the file is empty; it needs a header line model,latency_ms")
    try:
        sep = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",;\t").delimiter
    except csv.Error:
        sep = ","
    if sep == "," and ";" in lines[0] and "," not in lines[0]:
        sep = ";"
    if sep == ",":
        width = len(next(csv.reader([lines[0]])))
        for n, row in enumerate(csv.reader(lines[1:]), start=2):
            if len(row) > width:
                raise ConfigError(
                    f"{path}: line {n} has {len(row)} fields but the header has {width}; a "
                    "decimal comma in a comma-separated file? write decimals with '.', or "
                    "separate fields with ';'")
    return sep


def _number(value: str, sep: str) -> float:
    """A float from a cell; in a ``;``- or tab-separated file ``12,5`` means 12.5."""
    text = str(value).strip()
    if sep != "," and text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    return float(text)


def merge_duplicates(df: pd.DataFrame, path: str | os.PathLike[str] = "") -> pd.DataFrame:
    """One row per model, resolution and form: the geometric mean of its rows' latencies.

    Rows whose latencies differ get a line in ``attrs["warnings"]`` naming the model, the lines
    and the values.
    """
    import numpy as np

    key = ["model", "resolution", "deploy"]
    warnings: list[str] = list(df.attrs.get("warnings", []))
    keep, drop = {}, []
    groups: dict[tuple[str, ...], list[Any]] = {}
    for i, *k in zip(df.index, *(df[c] for c in key), strict=True):
        groups.setdefault(tuple(str(x) for x in k), []).append(i)
    for idx in groups.values():
        rows = df.loc[list(idx)]
        first = rows.index[0]
        keep[first] = float(np.exp(np.log(rows["latency_ms"].to_numpy(float)).mean()))
        drop += list(rows.index[1:])
        vals = rows["latency_ms"].to_list()
        if len(rows) > 1 and max(vals) != min(vals):
            m = rows.iloc[0]
            form = "" if m["deploy"] else " [train]"
            res = f" at {m['resolution']}" if m["resolution"] is not None else ""
            warnings.append(
                f"{path}: conflicting duplicate rows for {m['model']}{form}{res} (lines "
                + ", ".join(str(x) for x in rows["_line"]) + ": "
                + ", ".join(f"{v:g} ms" for v in vals)
                + f"); using their geometric mean {keep[first]:.4g} ms")
    out = df.drop(index=drop).copy()
    out["latency_ms"] = [keep[i] for i in out.index]
    out = out.reset_index(drop=True)
    out.attrs["warnings"] = warnings
    return out


__all__ = ["REQUIRED_COLUMNS", "merge_duplicates", "read_measurements"]
