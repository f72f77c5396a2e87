"""The prediction log: every served prediction, appended to KILN_DB by a writer process.

A request only appends one entry to an in-memory queue (a deque append, no I/O). A feeder
thread hands what is queued to a writer process (`log_writer`) in batches of `batch_rows`
rows, or whatever it holds every `flush_s` seconds: it pickles the batch and sends it down a
pipe, which is all the logging a worker's CPU does. The writer process builds the rows,
encodes them and inserts them (`executemany`), and reports back what it wrote.

When the writer falls behind, the queue stops growing at `queue_rows` and a request waits for
room (back-pressure: `put`, or `append` with `wait_s`), so a server that answers faster than its
database can take the rows slows to the writer's pace instead of losing them. Only a wait
longer than `wait_s` drops the request's rows, counted; `append` without `wait_s` never waits and
drops at once (for callers that must not block). While the writer reports that the database
refuses everything (down), nothing waits: rows that do not fit are dropped at once, so an
outage of the database costs the log, not the latency of every request.

Loss bound: a `kill -9` of the worker loses only the rows not yet handed to the writer — those
still queued: never more than `queue_rows` (or the one request larger than that an empty queue
took); while the writer keeps up, the rows served in the last `flush_s` seconds — because the writer process
outlives it, writes every batch it received, and exits when the pipe closes
(tests/unit/store/test_prediction_log.py kills a worker to check). A clean shutdown (`close`)
writes everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import pickle
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from kiln.store.database import engine
from kiln.store.tables import ensure_tables, predictions

_log = logging.getLogger("kiln.serve")
PIPE_BYTES = 1 << 20  # the pipe to the writer process (Linux's most, by default)
SQLITE_MMAP_BYTES = 1 << 30  # address space (not memory) mapped while a monitoring sample is read


@dataclass(frozen=True)
class Entry:
    """One request's rows as the request had them; the writer process turns them into table rows.

    `records` are the request's records; only `columns` (the model's features) are logged,
    so junk keys a client adds never reach the database. `body`, when given, is the JSON body
    the records were parsed from: it is what goes to the writer process (which parses it
    again), because handing over bytes costs the worker a copy where pickling a thousand
    records costs it a few hundred microseconds.
    """

    request_id: str
    model: str
    version: str
    at: float
    columns: tuple[str, ...]
    records: list[dict[str, Any]]
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None = None
    body: bytes | None = None

    def as_tuple(self) -> tuple:
        return (self.request_id, self.model, self.version, self.at, self.columns,
                self.records if self.body is None else self.body, self.predictions, self.probabilities)

    def rows(self) -> list[dict[str, Any]]:
        from kiln.store.log_writer import rows_of

        return rows_of([self.as_tuple()])


class PredictionLog:
    """A batching, bounded log of served predictions, written by a process of its own; a full queue makes
    the caller wait (up to the wait it names) rather than lose rows."""

    def __init__(self, url: str | None = None, *, batch_rows: int = 500, flush_s: float = 1.0,
                 queue_rows: int = 50_000) -> None:
        self.url = url
        self.batch_rows = batch_rows
        self.flush_s = flush_s
        self.queue_rows = queue_rows
        self.written = 0
        self.dropped = 0
        self.sent = 0  # rows handed to the writer process
        self.cpu_s = 0.0  # CPU seconds the feeder thread spent in this process (pickling, sending)
        self.waits = 0  # appends that found the queue full and waited for room
        self.waited_s = 0.0  # their waiting, in seconds
        self.writer_cpu_s = 0.0  # CPU seconds the writer process has spent, as it last reported
        self.writer_ok = True  # False while the writer's last batch was refused whole (the database is down)
        self._room = threading.Condition()  # guards the queue and its row count; notified as batches leave
        self._queue: deque[Entry] = deque()
        self._queued_rows = 0
        self._in_flight: list[int] = []  # rows of each batch sent and not yet reported on
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._start_writer()
        self._thread = threading.Thread(target=self._run, name="kiln-prediction-log", daemon=True)
        self._thread.start()

    def _start_writer(self) -> None:
        from kiln.store import log_writer

        context = multiprocessing.get_context("spawn")  # no fork of a threaded server
        inbox, self._outbox = context.Pipe(duplex=False)
        self._reports, report_end = context.Pipe(duplex=False)
        self._process = context.Process(target=log_writer.main, args=(inbox, report_end, self.url, self.flush_s),
                                        name="kiln-prediction-log-writer", daemon=True)
        self._process.start()
        _widen(self._outbox)
        inbox.close()
        report_end.close()

    @property
    def queued(self) -> int:
        return self._queued_rows

    def has_room(self, rows: int) -> bool:
        """Whether `rows` more fit now (a request larger than the whole queue fits an empty one)."""
        return self._queued_rows == 0 or self._queued_rows + rows <= self.queue_rows

    def append(self, entry: Entry, wait_s: float = 0.0) -> bool:
        """Queue one request's rows, waiting up to `wait_s` seconds for room when the queue is full;
        False when they were dropped (counted) because none came."""
        rows = len(entry.records)
        with self._room:
            if not self.has_room(rows) and wait_s > 0 and self.writer_ok:
                started = time.monotonic()
                self.waits += 1
                self._room.wait_for(lambda: self.has_room(rows) or not self.writer_ok, wait_s)
                self.waited_s += time.monotonic() - started
            return self._queue_locked(entry, rows)

    async def put(self, entry: Entry, wait_s: float) -> bool:
        """`append` for a coroutine: a full queue makes the request wait (up to `wait_s`) without holding
        up the event loop, so the server slows to the writer's pace instead of losing rows."""
        rows = len(entry.records)
        if not self.has_room(rows) and wait_s > 0 and self.writer_ok:
            started = time.monotonic()
            self.waits += 1
            pause = 0.0005
            while not self.has_room(rows) and self.writer_ok and time.monotonic() - started < wait_s:
                await asyncio.sleep(pause)  # the feeder hands a batch over every few milliseconds
                pause = min(pause * 2, 0.01)
            self.waited_s += time.monotonic() - started
        with self._room:
            return self._queue_locked(entry, rows)

    def _queue_locked(self, entry: Entry, rows: int) -> bool:
        if not self.has_room(rows):
            self.dropped += rows
            return False
        self._queued_rows += rows
        self._queue.append(entry)
        if self._queued_rows >= self.batch_rows:
            self._wake.set()
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Hand over what is queued and wait (up to `timeout` seconds) until the writer has written it."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_s)
            self._wake.clear()
            started = time.thread_time()
            self._feed()
            self.cpu_s += time.thread_time() - started
            if self._stop.is_set() and not self._queue:
                self._finish()
                return

    def _feed(self) -> None:
        """Hand over full batches (everything when stopping), then count what the writer reported."""
        stopping = self._stop.is_set()
        while self._queue:
            self._send(self._take_batch())
            if not stopping and self._queued_rows < self.batch_rows:
                break
        self._read_reports(wait=0.0)

    def _take_batch(self) -> list[Entry]:
        batch: list[Entry] = []
        rows = 0
        with self._room:
            while self._queue and rows < self.batch_rows:
                entry = self._queue.popleft()
                self._queued_rows -= len(entry.records)
                rows += len(entry.records)
                batch.append(entry)
            self._room.notify_all()
        return batch

    def _send(self, batch: list[Entry]) -> None:
        rows = sum(len(entry.records) for entry in batch)
        try:
            message = pickle.dumps([entry.as_tuple() for entry in batch], protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # a record the server let through that cannot be pickled
            _log.warning("prediction log: a batch of %d rows cannot be handed over (%s)", rows, exc)
            self.dropped += rows
            return
        if not self._process.is_alive():  # the writer was killed: a new one takes over
            _log.warning("prediction log: the writer process died; starting another")
            self.dropped += sum(self._in_flight)
            self._in_flight.clear()
            self._start_writer()
        try:
            self._outbox.send_bytes(message)
        except (BrokenPipeError, OSError) as exc:
            _log.warning("prediction log: the writer process is gone (%s); %d rows dropped", exc, rows)
            self.dropped += rows
            return
        self.sent += rows
        self._in_flight.append(rows)

    def _read_reports(self, wait: float) -> bool:
        """Count what the writer reported; True once it said it closed."""
        try:
            while self._reports.poll(wait):
                kind, written, dropped, batches, self.writer_cpu_s = self._reports.recv()
                if kind == "closed":
                    return True
                rows = [self._in_flight.pop(0) for _ in range(min(batches, len(self._in_flight)))]
                self.written += written
                self.dropped += sum(rows) if kind == "lost" else dropped
                if kind == "batch":
                    self.writer_ok = written > 0 or dropped == 0
                wait = 0.0
        except (EOFError, OSError):
            return True
        return False

    def _finish(self) -> None:
        try:
            self._outbox.send_bytes(b"")
        except (BrokenPipeError, OSError):
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not self._read_reports(wait=0.1):
            if not self._process.is_alive() and not self._reports.poll(0):
                break
        self._process.join(5)


def _widen(connection: Any) -> None:
    """A pipe of PIPE_BYTES instead of Linux's 64 KiB: a batch of 1,000 rows (about 100 KB pickled) then
    goes over in one write instead of several that each wait for the writer to read."""
    import fcntl

    with contextlib.suppress(AttributeError, OSError):  # not Linux, or above /proc/sys/fs/pipe-max-size
        fcntl.fcntl(connection.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


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
