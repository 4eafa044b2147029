"""Read and check measurement CSVs: one measured latency per model, with a column mapping.

The format (what ``edgekit validate`` writes and ``edgekit fit-device`` reads): one row per
measured model, columns

    model        registry model name (required)
    latency_ms   measured median latency in ms, > 0 (required)
    resolution   input resolution in pixels (default: the model's)
    deploy       true/false: re-parameterized deploy form (default true)
    status       if present, only rows with status "measured" are used
    (any other column is kept and ignored: device, runtime, precision, threads, p10_ms, ...)

Another table is read with a column mapping, e.g. ``{"latency_ms": "time_ms"}``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

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
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
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
            x = float(v)
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
                r = int(float(v))
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
    return df.reset_index(drop=True)


__all__ = ["REQUIRED_COLUMNS", "read_measurements"]
