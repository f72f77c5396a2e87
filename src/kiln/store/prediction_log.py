"""The prediction log: every served prediction, appended to KILN_DB by a background writer.

A request only appends one entry to an in-memory queue (a deque append, no I/O); a
daemon thread inserts what is queued in batches of `batch_rows`, or whatever it holds
every `flush_s` seconds. If the database is slow or down, serving goes on: the queue
stops growing at `queue_rows` and what does not fit is dropped and counted.

Loss bound: a crash loses at most the rows queued and not yet written — those served
in the last `flush_s` seconds plus one batch in flight, and never more than
`queue_rows + batch_rows`. A clean shutdown (`close`) writes everything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from kiln.store.database import engine
from kiln.store.tables import ensure_tables, predictions

_log = logging.getLogger("kiln.serve")
SQLITE_MMAP_BYTES = 1 << 30  # address space (not memory) mapped while a monitoring sample is read


@dataclass(frozen=True)
class Entry:
    """One request's rows as the request had them; the writer thread turns them into table rows.

    `records` are the request's records; only `columns` (the model's features) are logged,
    so junk keys a client adds never reach the database.
    """

    request_id: str
    model: str
    version: str
    at: float
    columns: tuple[str, ...]
    records: list[dict[str, Any]]
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None = None

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for i, record in enumerate(self.records):
            outputs: dict[str, Any] = {"prediction": self.predictions[i]}
            if self.probabilities is not None:
                outputs["probabilities"] = self.probabilities[i]
            out.append({"request_id": self.request_id, "row": i, "model": self.model, "version": self.version,
                        "at": self.at, "inputs": {c: record.get(c) for c in self.columns}, "outputs": outputs})
        return out


class PredictionLog:
    """A batching, bounded, never-blocking writer of the `kiln_predictions` table."""

    def __init__(self, url: str | None = None, *, batch_rows: int = 500, flush_s: float = 1.0,
                 queue_rows: int = 50_000) -> None:
        self.url = url
        self.batch_rows = batch_rows
        self.flush_s = flush_s
        self.queue_rows = queue_rows
        self.written = 0
        self.dropped = 0
        self._queue: deque[Entry] = deque()
        self._queued_rows = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kiln-prediction-log", daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        return self._queued_rows

    def append(self, entry: Entry) -> None:
        """Queue one request's rows; drop them (counted) when the queue is full."""
        rows = len(entry.records)
        if self._queued_rows + rows > self.queue_rows:
            self.dropped += rows
            return
        self._queued_rows += rows
        self._queue.append(entry)
        if self._queued_rows >= self.batch_rows:
            self._wake.set()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (for up to `timeout` seconds), then stop the writer."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_s)
            self._wake.clear()
            stopping = self._stop.is_set()
            while self._queue:
                self._write(self._take_batch())
                if not stopping and self._queued_rows < self.batch_rows:
                    break
            if stopping and not self._queue:
                return

    def _take_batch(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while self._queue and len(rows) < self.batch_rows:
            entry = self._queue.popleft()
            self._queued_rows -= len(entry.records)
            rows.extend(entry.rows())
        return rows

    def _write(self, rows: list[dict[str, Any]]) -> None:
        try:
            self._insert(rows)
            self.written += len(rows)
        except Exception as exc:  # the database is down, slow, or refused a value
            _log.warning("prediction log: a batch of %d rows failed (%s); retrying row by row", len(rows), exc)
            self._write_one_by_one(rows)

    def _write_one_by_one(self, rows: list[dict[str, Any]]) -> None:
        """A value the database refuses (e.g. NUL in PostgreSQL text) costs its own row only."""
        for i, row in enumerate(rows):
            try:
                self._insert([row])
                self.written += 1
            except Exception:
                self.dropped += 1
                if self._down():
                    self.dropped += len(rows) - i - 1
                    return

    def _down(self) -> bool:
        try:
            with engine(self.url).connect():
                return False
        except Exception:
            time.sleep(min(self.flush_s, 1.0))  # back off; the queue bound keeps memory flat
            return True

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        database = engine(self.url)
        ensure_tables(database)
        with database.begin() as connection:
            connection.execute(predictions.insert(), rows)


def read_predictions(model: str, *, version: str | None = None, since: float | None = None,
                     url: str | None = None) -> list[dict[str, Any]]:
    """Logged rows of `model` (one `version`, or all; only those at or after `since`, epoch seconds), oldest first."""
    from sqlalchemy import select

    database = engine(url)
    ensure_tables(database)
    with database.connect() as connection:
        result = connection.execute(select(predictions).where(*_window(model, version, since))
                                    .order_by(predictions.c.id))
        return [dict(row._mapping) for row in result]


@dataclass(frozen=True)
class Sample:
    """Rows of a window: all of them (`exact`), or an even sample with the window's size estimated."""

    rows: list[dict[str, Any]]
    total: int
    exact: bool


def sample_predictions(model: str, *, max_rows: int, version: str | None = None, since: float | None = None,
                       url: str | None = None, seed: int = 0) -> Sample:
    """At most about `max_rows` logged rows of the window, spread evenly over it, oldest first.

    Costs the same on a window of a thousand rows or of millions: no COUNT, no scan. Ids
    grow with time, so the window lies between its first and last id (two index seeks).
    When that range is small the window is read whole. Otherwise one id is drawn at random
    in each of G equal slices of the range (stratified, so a regular interleaving of other
    models' rows cannot line up with the grid) and read by primary key; those that are the
    window's rows are the sample, and their share of the G draws estimates the window's
    size (exact when every id in the range is the window's). G starts at `max_rows` and
    grows (to at most 20×) when the window holds only part of its range.
    """
    import numpy as np
    from sqlalchemy import select

    database = engine(url)
    ensure_tables(database)
    where = _window(model, version, since)
    with database.connect() as connection:
        first = connection.execute(select(predictions.c.id).where(*where).order_by(predictions.c.at).limit(1))
        low = first.scalar_one_or_none()
        if low is None:
            return Sample([], 0, True)
        last = connection.execute(select(predictions.c.id).where(*where).order_by(predictions.c.at.desc()).limit(1))
        low, high = sorted((int(low), int(last.scalar_one())))
        span = high - low + 1
        if span <= max_rows:
            rows = [dict(r._mapping) for r in connection.execute(select(predictions).where(*where))]
            return Sample(sorted(rows, key=lambda r: r["id"]), len(rows), True)
        rng = np.random.default_rng(seed)
        slices = max_rows
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # random rows of a big file: mapped pages instead of a read() each (measured 3x less CPU)
            connection.exec_driver_sql(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        try:
            while True:
                grid = low + np.floor((np.arange(slices) + rng.random(slices)) * (span / slices)).astype(np.int64)
                rows = [r for r in _rows_by_id(connection, np.unique(grid).tolist())
                        if _in_window(r, model, version, since)]
                wider = min(span, 20 * max_rows, int(max_rows * slices / max(len(rows), 1)))
                if len(rows) >= max_rows // 2 or wider <= slices:
                    break
                slices = wider
        finally:
            if sqlite:  # the pooled connection goes back as it came
                connection.exec_driver_sql("PRAGMA mmap_size=0")
    total = max(round(span * len(rows) / slices), len(rows))
    return Sample(sorted(rows, key=lambda r: r["id"]), total, len(rows) == slices)


_COLUMNS = ("id", "request_id", "row", "model", "version", "at", "inputs", "outputs")


def _rows_by_id(connection: Any, ids: list[int]) -> list[dict[str, Any]]:
    """Rows by primary key only, in plain SQL with orjson.

    Only the key: with the window's conditions in the query as well SQLite walks the
    window's index range instead (measured: seconds on 1M rows); they are checked by the
    caller. Plain SQL: SQLAlchemy's per-row processing was half the time of a call.
    """
    from kiln.store.database import _from_json

    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(f'"{c}"' for c in _COLUMNS)
    cursor = connection.connection.dbapi_connection.cursor()  # the driver's own cursor: fetchall in C
    out = []
    try:
        for part in _chunks(ids):
            cursor.execute(f"SELECT {names} FROM kiln_predictions WHERE id IN ({', '.join([mark] * len(part))})",
                           tuple(part))
            for values in cursor.fetchall():
                row = dict(zip(_COLUMNS, values, strict=True))
                for column in ("inputs", "outputs"):
                    if isinstance(row[column], str | bytes):  # PostgreSQL's driver decodes JSON itself
                        row[column] = _from_json(row[column])
                out.append(row)
    finally:
        cursor.close()
    return out


def _in_window(row: dict[str, Any], model: str, version: str | None, since: float | None) -> bool:
    return row["model"] == model and (version is None or row["version"] == version) and \
        (since is None or row["at"] >= since)


def _chunks(values: list[Any], size: int = 900) -> list[list[Any]]:
    """IN lists short enough for any database's limit on bound parameters."""
    return [values[i:i + size] for i in range(0, len(values), size)]


def logged_versions(model: str, *, since: float | None = None, url: str | None = None) -> dict[str, float]:
    """Each version of `model` with rows at or after `since` → the time of its latest row.

    One index seek per version (the next version name after the last, then its latest
    row), so a log of millions of rows of a few versions costs a few lookups.
    """
    from sqlalchemy import func, select

    database = engine(url)
    ensure_tables(database)
    found: dict[str, float] = {}
    after: str | None = None
    with database.connect() as connection:
        while True:
            query = select(func.min(predictions.c.version)).where(predictions.c.model == model)
            if after is not None:
                query = query.where(predictions.c.version > after)
            after = connection.execute(query).scalar_one_or_none()
            if after is None:
                return found
            last = connection.execute(select(func.max(predictions.c.at)).where(*_window(model, after, since)))
            latest = last.scalar_one_or_none()
            if latest is not None:
                found[after] = float(latest)


def _window(model: str, version: str | None, since: float | None) -> list[Any]:
    where = [predictions.c.model == model]
    if version is not None:
        where.append(predictions.c.version == version)
    if since is not None:
        where.append(predictions.c.at >= since)
    return where
