"""Data checks for series (codes FC001 …), shared by `kiln profile --task forecast` and training.

A check of severity "error" refuses the table with one sentence naming the problem and the fix;
the others are told and handled by a stated rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kiln.errors import InvalidDataError
from kiln.forecasters.base import season_length
from kiln.forecasters.data import Columns, Panel, infer_frequency, regular, to_internal

CODES = {
    "FC001": "duplicate (series, time) rows",
    "FC002": "irregular or mixed frequency",
    "FC003": "gaps in the time index",
    "FC004": "series shorter than two seasons or than the horizon",
    "FC005": "constant series",
    "FC006": "missing target values",
    "FC007": "timestamps in the future of the rest",
    "FC008": "a known-future covariate that is only known in the past (leakage)",
    "FC009": "intermittent demand (many zeros)",
    "FC010": "a target that is not numeric",
}
INTERMITTENT_ZEROS = 0.3  # share of zeros above which a series is intermittent


@dataclass
class Check:
    code: str
    severity: str  # "error", "warning" or "info"
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "message": self.message}


@dataclass
class Prepared:
    """The regular panel, the columns, the known-future covariates, and what the checks found."""

    panel: Panel
    columns: Columns
    known_future: list[str]
    covariates: list[str]
    checks: list[dict[str, str]] = field(default_factory=list)
    intermittent: bool = False

    @property
    def notes(self) -> list[str]:
        return [f"{c['code']} {c['message']}" for c in self.checks if c["severity"] != "error"]


def check_series(frame: pd.DataFrame, *, target: str, time_column: str, id_column: str | None, horizon: int | None,
                 frequency: str | None, known_future: str | list[str] | None,
                 ignore: tuple[str, ...] = ()) -> tuple[Prepared | None, list[Check]]:
    """Every check on a long table; the prepared panel unless an error-level check fails."""
    checks: list[Check] = []
    columns = Columns(target=target, time=time_column, id=id_column)
    internal = to_internal(frame, columns)
    raw = frame[target]
    if not pd.api.types.is_numeric_dtype(raw) and internal["y"].isna().sum() > raw.isna().sum():
        bad = raw[internal["y"].isna() & raw.notna()].iloc[0]
        checks.append(Check("FC010", "error", f"Target {target!r} holds non-numbers (e.g. {bad!r}); "
                                              "forecast a numeric column."))
        return None, checks
    duplicated = internal.duplicated(["unique_id", "ds"])
    if duplicated.any():
        first = internal[duplicated].iloc[0]
        where = f"series {first['unique_id']!r} at " if id_column else ""
        checks.append(Check("FC001", "error", f"{int(duplicated.sum())} rows repeat a (series, time) pair ({where}"
                                              f"{first['ds']}); aggregate them to one row per period or pass the "
                                              "right --id-column."))
        return None, checks
    if frequency is None:
        per_series = {}
        for sid, group in internal.groupby("unique_id", sort=False):
            try:
                per_series[sid] = infer_frequency(group)
            except InvalidDataError:
                continue
        kinds = sorted(set(per_series.values()))
        if len(kinds) > 1:
            checks.append(Check("FC002", "error", f"The series have different frequencies ({', '.join(kinds)}); "
                                                  "resample them to one and pass --frequency."))
            return None, checks
        frequency = kinds[0] if kinds else infer_frequency(internal)
    covariates = [c for c in internal.columns if c not in ("unique_id", "ds", "y")]
    numeric = [c for c in covariates if pd.api.types.is_numeric_dtype(internal[c])]
    declared = _declared(known_future, covariates)
    known = declared if declared is not None else numeric
    if declared is None and numeric:
        checks.append(Check("FC008", "info", f"covariates {numeric} are taken as known for the horizon (inferred); "
                                             "pass --known-future COL,... to say which are, the rest are unused."))
    dropped = [c for c in covariates if c not in known]
    if dropped:
        checks.append(Check("FC008", "info", f"columns {dropped} are not known-future covariates and are not used."))
    for column in known:
        if not pd.api.types.is_numeric_dtype(internal[column]):
            checks.append(Check("FC008", "error", f"Known-future covariate {column!r} is not numeric; encode it as "
                                                  "numbers or leave it out of --known-future."))
            return None, checks
    missing_y = int(internal["y"].isna().sum())
    if missing_y == len(internal):
        checks.append(Check("FC006", "error", f"Target {target!r} has no values; forecast a column with data."))
        return None, checks
    panel = regular(internal.dropna(subset=["y"]) if missing_y else internal, frequency, known)
    _after_regular(panel, internal, checks, horizon, known, missing_y)
    checks = [c for c in checks if c.code not in ignore or c.severity == "error"]
    intermittent = any(c.code == "FC009" for c in checks)
    return Prepared(panel, columns, known, known, [c.to_dict() for c in checks], intermittent), checks


def _declared(known_future: str | list[str] | None, covariates: list[str]) -> list[str] | None:
    if known_future is None:
        return None
    names = [c.strip() for c in known_future.split(",")] if isinstance(known_future, str) else list(known_future)
    names = [c for c in names if c]
    unknown = [c for c in names if c not in covariates]
    if unknown:
        raise InvalidDataError(f"--known-future names {unknown}, which are not covariate columns of the table "
                               f"(it has {covariates}); fix the names.")
    return names


def _after_regular(panel: Panel, internal: pd.DataFrame, checks: list[Check], horizon: int | None,
                   known: list[str], missing_y: int) -> None:
    frame = panel.frame
    gaps = len(frame) - int(internal.dropna(subset=["y"]).shape[0]) if missing_y else len(frame) - len(internal)
    if gaps > 0:
        checks.append(Check("FC003", "warning", f"{gaps} missing periods filled by linear interpolation of the "
                                                "target (covariates carried forward)."))
    if missing_y:
        checks.append(Check("FC006", "warning", f"{missing_y} missing target values filled by linear interpolation."))
    m = season_length(panel.freq)
    lengths = frame.groupby("unique_id", sort=False).size()
    too_short = lengths[lengths < 3]
    if len(too_short):
        raise InvalidDataError(f"Series {too_short.index[0]!r} has {int(too_short.iloc[0])} point(s); a forecast "
                               "needs at least 3: drop it or add history.")
    need = max(2 * m, horizon or 0)
    short = lengths[lengths < need]
    if len(short):
        bound = (f"the horizon of {horizon}" if horizon and horizon > 2 * m else
                 f"two seasons of {m}" + ("" if horizon else " (no --horizon given)"))
        checks.append(Check("FC004", "warning", f"{len(short)} series shorter than {bound} ({need} points; e.g. "
                                                f"{short.index[0]!r} with {int(short.iloc[0])}): they get "
                                                "non-seasonal and naive forecasts."))
    stats = frame.groupby("unique_id", sort=False)["y"].agg(["std", lambda y: float((y == 0).mean())])
    stats.columns = ["std", "zeros"]
    constant = stats[stats["std"].fillna(0) == 0]
    if len(constant):
        checks.append(Check("FC005", "warning", f"{len(constant)} constant series (e.g. {constant.index[0]!r}): "
                                                "they are forecast as that constant."))
    intermittent = stats[stats["zeros"] >= INTERMITTENT_ZEROS]
    if len(intermittent):
        checks.append(Check("FC009", "info", f"{len(intermittent)} series are intermittent (≥{INTERMITTENT_ZEROS:.0%} "
                                             "zeros): Croston, ADIDA and IMAPA are tried."))
    last = frame.groupby("unique_id", sort=False)["ds"].max()
    offset = pd.tseries.frequencies.to_offset(panel.freq)
    ahead = last[last > last.median() + (horizon or 1) * offset]
    if len(ahead):
        checks.append(Check("FC007", "warning", f"{len(ahead)} series end after the others (e.g. {ahead.index[0]!r} "
                                                f"at {ahead.iloc[0].date()}, most end by {last.median().date()}): "
                                                "check for future-dated rows."))
    now = pd.Timestamp.now()
    future_rows = int((frame["ds"] > now + 2 * offset).sum())
    if future_rows:
        checks.append(Check("FC007", "warning", f"{future_rows} rows are dated after today; check the time column."))
    for column in known:
        values = frame[column].to_numpy(dtype="float64")
        y = frame["y"].to_numpy(dtype="float64")
        if internal.groupby("unique_id")[column].apply(lambda s: s.iloc[-1:].isna().any()).any():
            checks.append(Check("FC008", "warning", f"Known-future covariate {column!r} is missing at the end of the "
                                                    "history: it looks known only in the past."))
        elif np.nanstd(values) > 0 and np.nanstd(y) > 0 and abs(np.corrcoef(values, y)[0, 1]) > 0.995:
            checks.append(Check("FC008", "warning", f"Known-future covariate {column!r} reproduces the target "
                                                    f"(correlation {abs(np.corrcoef(values, y)[0, 1]):.3f}): it is "
                                                    "likely measured with the target, not known ahead (leakage)."))


def prepare(frame: pd.DataFrame, *, target: str, time_column: str, id_column: str | None, horizon: int,
            frequency: str | None, known_future: str | list[str] | None) -> Prepared:
    """The prepared panel, or the first error-level check as an InvalidDataError."""
    prepared, checks = check_series(frame, target=target, time_column=time_column, id_column=id_column,
                                    horizon=horizon, frequency=frequency, known_future=known_future)
    errors = [c for c in checks if c.severity == "error"]
    if errors or prepared is None:
        raise InvalidDataError(f"{errors[0].code}: {errors[0].message}")
    return prepared


def summary(checks: list[Check]) -> dict[str, Any]:
    return {"checks": [c.to_dict() for c in checks], "errors": sum(c.severity == "error" for c in checks)}
