"""From a user's long table to kiln's panel (unique_id, ds, y, covariates) on a regular time index.

Shared by training, batch prediction, serving and the data checks, so each reads a table the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kiln.errors import InvalidDataError, InvalidOptionError

ONE_SERIES = "series"  # the id of the single series of a table without an id column


@dataclass
class Columns:
    """The user's names for the id, time and target columns."""

    target: str
    time: str
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "time": self.time, "id": self.id}


@dataclass
class Panel:
    """A regular long panel sorted by (unique_id, ds), what the rule filled, and the inferred frequency."""

    frame: pd.DataFrame
    freq: str
    notes: list[str] = field(default_factory=list)

    def series(self) -> dict[str, np.ndarray]:
        return {str(k): g["y"].to_numpy(dtype="float64") for k, g in self.frame.groupby("unique_id", sort=False)}

    def lengths(self) -> np.ndarray:
        return self.frame.groupby("unique_id", sort=False).size().to_numpy()


def to_internal(frame: pd.DataFrame, columns: Columns, *, need_target: bool = True) -> pd.DataFrame:
    """Rename to unique_id, ds, y (one series when there is no id column); times parsed, ids as text."""
    missing = [c for c in (columns.time, columns.id, columns.target if need_target else None)
               if c is not None and c not in frame.columns]
    if missing:
        raise InvalidDataError(f"Column {missing[0]!r} is not in the table (it has {list(frame.columns)[:12]}); "
                               "pass the right --time-column / --id-column / --target.")
    out = frame.copy()
    if columns.id is None:
        out.insert(0, "unique_id", ONE_SERIES)
    else:
        out = out.rename(columns={columns.id: "unique_id"})
        if out["unique_id"].isna().any():
            raise InvalidDataError(f"Column {columns.id!r} has missing series ids; fill or drop those rows.")
        out["unique_id"] = out["unique_id"].astype(str)
    out = out.rename(columns={columns.time: "ds"})
    try:
        out["ds"] = pd.to_datetime(out["ds"])
    except (ValueError, TypeError) as exc:
        raise InvalidDataError(f"Column {columns.time!r} does not hold timestamps ({exc}); "
                               "give the time column as dates, e.g. 2024-01-31.") from exc
    if getattr(out["ds"].dt, "tz", None) is not None:
        out["ds"] = out["ds"].dt.tz_localize(None)
    if need_target:
        out = out.rename(columns={columns.target: "y"})
        out["y"] = pd.to_numeric(out["y"], errors="coerce")
    elif columns.target in out.columns:
        out = out.rename(columns={columns.target: "y"})
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def infer_frequency(frame: pd.DataFrame) -> str:
    """The pandas offset alias of the series' timestamps (the most common one across series)."""
    found: dict[str, int] = {}
    for _, group in frame.groupby("unique_id", sort=False):
        ds = pd.DatetimeIndex(group["ds"].drop_duplicates())
        freq = pd.infer_freq(ds[-min(len(ds), 200):]) if len(ds) >= 3 else None
        if freq is None and len(ds) >= 8:  # gaps: the commonest frequency of short runs of timestamps
            runs = [pd.infer_freq(ds[i:i + 6]) for i in range(0, len(ds) - 5, 3)]
            runs = [r for r in runs if r]
            freq = max(set(runs), key=runs.count) if runs else None
        if freq is None and len(ds) >= 3:
            step = pd.Series(ds).diff().mode()
            freq = pd.tseries.frequencies.to_offset(step.iloc[0]).freqstr if len(step) else None
        if freq:
            found[freq] = found.get(freq, 0) + 1
    if not found:
        raise InvalidDataError("The time column's frequency cannot be inferred (fewer than 3 regular timestamps "
                               "per series); pass --frequency, e.g. D, W, MS.")
    return max(found, key=found.get)


def regular(frame: pd.DataFrame, freq: str, covariates: list[str]) -> Panel:
    """Each series on its full regular index: gaps and missing targets filled by linear interpolation
    (covariates forward then backward filled), the rule stated in the notes."""
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except ValueError as exc:
        raise InvalidOptionError(f"--frequency {freq!r} is not a pandas offset alias; use e.g. D, B, W, MS, QS, h.") \
            from exc
    pieces, notes, gaps, missing = [], [], 0, 0
    for sid, group in frame.groupby("unique_id", sort=False):
        group = group.drop_duplicates("ds", keep="last").set_index("ds")
        index = pd.date_range(group.index.min(), group.index.max(), freq=offset)
        off_grid = group.index.difference(index)
        if len(off_grid):
            raise InvalidDataError(f"Series {sid!r} has timestamps off the {freq!r} grid (e.g. {off_grid[0].date()}); "
                                   "pass the right --frequency or aggregate the data to one row per period.")
        full = group.reindex(index)
        gaps += int(full["y"].isna().sum() - group["y"].isna().sum())
        missing += int(group["y"].isna().sum())
        full["y"] = full["y"].interpolate(limit_direction="both")
        for column in covariates:
            full[column] = full[column].ffill().bfill()
        full["unique_id"] = sid
        pieces.append(full.rename_axis("ds").reset_index())
    out = pd.concat(pieces, ignore_index=True)
    return Panel(out[["unique_id", "ds", "y", *covariates]], freq, notes)


def future_index(last: pd.Timestamp, freq: str, h: int) -> pd.DatetimeIndex:
    """The h timestamps after `last`."""
    offset = pd.tseries.frequencies.to_offset(freq)
    return pd.date_range(last + offset, periods=h, freq=offset)
