"""kiln's own tables, beside MLflow's in the same database.

    kiln_predictions  every served prediction (inputs, outputs, version, time, request id)
    kiln_audit        every promotion and rollback (who, when, why, the metrics behind it)

Created on first use with CREATE TABLE IF NOT EXISTS; nothing here alters MLflow's tables.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Column, Float, Integer, MetaData, String, Table, Text

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

metadata = MetaData()

predictions = Table(
    "kiln_predictions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False, index=True),
    Column("row", Integer, nullable=False),
    Column("model", String(256), nullable=False, index=True),
    Column("version", String(64), nullable=False),
    Column("at", Float, nullable=False, index=True),  # seconds since the epoch, UTC
    Column("inputs", JSON, nullable=False),
    Column("outputs", JSON, nullable=False),
)

audit = Table(
    "kiln_audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(256), nullable=False, index=True),
    Column("action", String(32), nullable=False),  # register | promote | rollback
    Column("alias", String(64), nullable=False),
    Column("from_version", String(64)),
    Column("to_version", String(64), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("at", Float, nullable=False),
    Column("reason", Text, nullable=False),
    Column("metrics", JSON),
)

_CREATED: set[str] = set()
_LOCK = threading.Lock()


def ensure_tables(engine: Engine) -> None:
    """Create kiln's tables if they are missing (safe to race: IF NOT EXISTS)."""
    key = str(engine.url)
    with _LOCK:
        if key in _CREATED:
            return
        from sqlalchemy.exc import OperationalError, ProgrammingError

        try:
            metadata.create_all(engine, checkfirst=True)
        except (OperationalError, ProgrammingError):
            # Another process created them between our check and our CREATE: check again.
            metadata.create_all(engine, checkfirst=True)
        _CREATED.add(key)
