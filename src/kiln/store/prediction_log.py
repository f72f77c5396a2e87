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


def read_predictions(model: str, *, since: float | None = None, url: str | None = None) -> list[dict[str, Any]]:
    """Logged rows of `model` (optionally only those at or after `since`, epoch seconds), oldest first."""
    from sqlalchemy import select

    database = engine(url)
    ensure_tables(database)
    query = select(predictions).where(predictions.c.model == model)
    if since is not None:
        query = query.where(predictions.c.at >= since)
    with database.connect() as connection:
        result = connection.execute(query.order_by(predictions.c.id))
        return [dict(row._mapping) for row in result]
