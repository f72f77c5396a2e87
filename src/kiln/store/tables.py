"""kiln's own tables, beside MLflow's in the same database.

    kiln_predictions  every served prediction (inputs, outputs, version, time, request id)
    kiln_audit        every promotion and rollback (who, when, why, the metrics behind it)
    kiln_feedback     true labels that arrive later, keyed by request id (and row) or by an id column

Created on first use with CREATE TABLE IF NOT EXISTS; nothing here alters MLflow's tables.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Column, Float, Index, Integer, MetaData, String, Table, Text

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

metadata = MetaData()

predictions = Table(
    "kiln_predictions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # No index on request_id: it is random, so every insert would touch a random page, and the
    # writer could not keep up (measured in benchmarks/serving.py); labels are joined in memory.
    Column("request_id", String(64), nullable=False),
    Column("row", Integer, nullable=False),
    # No index on model alone: (model, version, at) below answers every model query by its prefix, and a
    # third index on each insert cost the writer a third of its rows/s (benchmarks/prediction_log.py).
    Column("model", String(256), nullable=False),
    Column("version", String(64), nullable=False),
    Column("at", Float, nullable=False, index=True),  # seconds since the epoch, UTC
    Column("inputs", JSON, nullable=False),
    Column("outputs", JSON, nullable=False),
    # Monitoring reads one version's window: counted, sampled and its versions listed from this index
    # alone. Added to databases made before it by `ensure_tables` (CREATE INDEX IF NOT EXISTS).
    Index("ix_kiln_predictions_model_version_at", "model", "version", "at"),
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

feedback = Table(
    "kiln_feedback", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(256), nullable=False, index=True),
    Column("request_id", String(64), index=True),  # with `row`: the logged prediction it labels
    Column("row", Integer),
    Column("id_column", String(256)),  # or: the logged input column whose value is `key`
    Column("key", String(256), index=True),
    Column("label", JSON, nullable=False),
    Column("at", Float, nullable=False),
    # Monitoring looks up the labels of a sample of logged rows by (request id, row).
    Index("ix_kiln_feedback_request_row", "request_id", "row"),
)

_CREATED: set[str] = set()
_LOCK = threading.Lock()


def ensure_tables(engine: Engine) -> None:
    """Create kiln's tables if they are missing (safe to race: IF NOT EXISTS)."""
    key = str(engine.url)
    with _LOCK:
        if key in _CREATED:
            return
        from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

        try:
            metadata.create_all(engine, checkfirst=True)
        except (OperationalError, ProgrammingError, IntegrityError):
            # Another process created them between our check and our CREATE: check again.
            # (PostgreSQL reports that race as a unique violation in pg_type: an IntegrityError.)
            metadata.create_all(engine, checkfirst=True)
        _add_indexes(engine)
        _drop_indexes(engine)
        _CREATED.add(key)


# Indexes that earlier versions made and that only slow the writer now.
DROPPED_INDEXES = ("ix_kiln_predictions_model",)


def _drop_indexes(engine: Engine) -> None:
    """DROP INDEX IF EXISTS each of `DROPPED_INDEXES`: cheap once they are gone."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError, ProgrammingError

    for name in DROPPED_INDEXES:
        try:
            with engine.begin() as connection:
                connection.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
        except (OperationalError, ProgrammingError):
            pass  # another process holds the table (it drops it itself), or the database refuses: it only costs speed


def _add_indexes(engine: Engine) -> None:
    """Indexes added after a table was first made: create_all skips existing tables, and their indexes."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    for table in metadata.sorted_tables:
        for index in table.indexes:
            columns = ", ".join(f'"{c.name}"' for c in index.columns)
            try:
                with engine.begin() as connection:  # IF NOT EXISTS: cheap once it is there
                    connection.execute(text(f'CREATE INDEX IF NOT EXISTS "{index.name}" ON "{table.name}" '
                                            f"({columns})"))
            except (OperationalError, ProgrammingError, IntegrityError):
                pass  # another process is creating it at this moment (PostgreSQL reports that race as an error)
