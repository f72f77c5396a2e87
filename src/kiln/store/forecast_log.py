"""Served forecasts and the actuals that arrive later (the forecast kind's prediction log and feedback).

    kiln_forecasts   one row per served (series, time): the version, request id, origin, step, the mean and
                     the nine quantiles
    kiln_actuals     the observed value of a (series, time), recorded by POST /feedback or `kiln feedback`

Own tables beside kiln's (created on first use, IF NOT EXISTS), in the same database.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pandas as pd
from sqlalchemy import JSON, Column, Float, Integer, MetaData, String, Table

from kiln.errors import InvalidDataError
from kiln.store.database import engine

metadata = MetaData()
forecasts = Table(
    "kiln_forecasts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(256), nullable=False, index=True),
    Column("version", String(128), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("series", String(256), nullable=False, index=True),
    Column("origin", String(32), nullable=False),  # the last time of the history the forecast started from
    Column("ds", String(32), nullable=False),
    Column("step", Integer, nullable=False),
    Column("prediction", Float, nullable=False),
    Column("quantiles", JSON, nullable=False),
    Column("scale", Float, nullable=False),  # the series' in-sample seasonal-naive MAE (MASE's denominator)
    Column("at", Float, nullable=False),
)
actuals = Table(
    "kiln_actuals", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(256), nullable=False, index=True),
    Column("series", String(256), nullable=False),
    Column("ds", String(32), nullable=False),
    Column("value", Float, nullable=False),
    Column("at", Float, nullable=False),
)
_CREATED: set[str] = set()
_LOCK = threading.Lock()


def _engine(url: str | None) -> Any:
    database = engine(url)
    key = str(database.url)
    with _LOCK:
        if key not in _CREATED:
            metadata.create_all(database, checkfirst=True)
            _CREATED.add(key)
    return database


def log_forecasts(model: str, version: str, request_id: str, rows: list[dict[str, Any]], *,
                  url: str | None = None) -> None:
    """Append served forecasts (series, origin, ds, step, prediction, quantiles, scale)."""
    if not rows:
        return
    now = time.time()
    with _engine(url).begin() as connection:
        connection.execute(forecasts.insert(), [{"model": model, "version": version, "request_id": request_id,
                                                 "at": now, **row} for row in rows])


def record_actuals(model: str, rows: list[dict[str, Any]], *, url: str | None = None) -> int:
    """Store observed values (series, ds as ISO text, value); returns how many."""
    clean = []
    for i, row in enumerate(rows, 1):
        value = row.get("value")
        if value is None or not isinstance(value, int | float) or value != value:
            raise InvalidDataError(f"Actual {i} (counting from 1) has no numeric value; give id, time and value.")
        clean.append({"model": model, "series": str(row["series"]), "ds": str(row["ds"]), "value": float(value),
                      "at": time.time()})
    if clean:
        with _engine(url).begin() as connection:
            connection.execute(actuals.insert(), clean)
    return len(clean)


def read_joined(model: str, *, version: str | None = None, since: float | None = None,
                url: str | None = None, max_rows: int | None = None) -> pd.DataFrame:
    """Served forecasts of `model` with their actual (NaN when none arrived yet), newest first."""
    from sqlalchemy import select

    database = _engine(url)
    query = select(forecasts).where(forecasts.c.model == model)
    if version is not None:
        query = query.where(forecasts.c.version == version)
    if since is not None:
        query = query.where(forecasts.c.at >= since)
    query = query.order_by(forecasts.c.id.desc())
    if max_rows is not None:
        query = query.limit(max_rows)
    with database.connect() as connection:
        served = pd.DataFrame(connection.execute(query).mappings().all())
        observed = pd.DataFrame(connection.execute(select(actuals).where(actuals.c.model == model)
                                                   .order_by(actuals.c.id)).mappings().all())
    if served.empty:
        return pd.DataFrame(columns=["series", "origin", "ds", "step", "prediction", "quantiles", "scale", "value",
                                     "version", "at"])
    if observed.empty:
        served["value"] = float("nan")
        return served
    latest = observed.drop_duplicates(["series", "ds"], keep="last")[["series", "ds", "value"]]
    return served.merge(latest, on=["series", "ds"], how="left")


def actuals_frame(model: str, *, url: str | None = None) -> pd.DataFrame:
    """Every recorded actual of `model` (series, ds, value), the latest per (series, ds)."""
    from sqlalchemy import select

    with _engine(url).connect() as connection:
        frame = pd.DataFrame(connection.execute(select(actuals).where(actuals.c.model == model)
                                                .order_by(actuals.c.id)).mappings().all())
    if frame.empty:
        return pd.DataFrame(columns=["series", "ds", "value"])
    return frame.drop_duplicates(["series", "ds"], keep="last")[["series", "ds", "value"]]
