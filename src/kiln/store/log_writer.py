"""The prediction log's writer process: inserts the batches a server worker hands it.

The worker's feeder thread pickles each batch of queued entries (a few microseconds a row) and
sends it down a pipe; everything else (row building, JSON encoding, the inserts with
`executemany`, retries) runs here, in a process of its own, so it costs the worker's cores
nothing and never holds the worker's GIL. After each batch it sends back how many rows were
written and dropped. When the pipe closes (the worker stopped, cleanly or killed) it has
already written every batch it received, and exits.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import time
from typing import Any

_log = logging.getLogger("kiln.serve")


def rows_of(entries: list[tuple]) -> list[dict[str, Any]]:
    """Table rows from pickled entries (request_id, model, version, at, columns, records, predictions,
    probabilities)."""
    out = []
    for request_id, model, version, at, columns, records, predictions, probabilities in entries:
        for i, record in enumerate(records):
            outputs: dict[str, Any] = {"prediction": predictions[i]}
            if probabilities is not None:
                outputs["probabilities"] = probabilities[i]
            out.append({"request_id": request_id, "row": i, "model": model, "version": version, "at": at,
                        "inputs": {c: record.get(c) for c in columns}, "outputs": outputs})
    return out


class Writer:
    """Batch inserts with a row-by-row retry, so one refused value costs its own row only."""

    def __init__(self, url: str | None, flush_s: float) -> None:
        self.url = url
        self.flush_s = flush_s

    def write(self, rows: list[dict[str, Any]]) -> tuple[int, int]:
        """(written, dropped)."""
        try:
            self._insert(rows)
            return len(rows), 0
        except Exception as exc:  # the database is down, slow, or refused a value
            _log.warning("prediction log: a batch of %d rows failed (%s); retrying row by row", len(rows), exc)
            return self._one_by_one(rows)

    def _one_by_one(self, rows: list[dict[str, Any]]) -> tuple[int, int]:
        written = dropped = 0
        for i, row in enumerate(rows):
            try:
                self._insert([row])
                written += 1
            except Exception:
                dropped += 1
                if self._down():
                    return written, dropped + len(rows) - i - 1
        return written, dropped

    def _down(self) -> bool:
        from kiln.store.database import engine

        try:
            with engine(self.url).connect():
                return False
        except Exception:
            time.sleep(min(self.flush_s, 1.0))  # back off; the worker's queue bound keeps memory flat
            return True

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        from kiln.store.database import engine
        from kiln.store.tables import ensure_tables, predictions

        database = engine(self.url)
        ensure_tables(database)
        with database.begin() as connection:
            connection.execute(predictions.insert(), rows)


def main(inbox: Any, outbox: Any, url: str | None, flush_s: float) -> None:
    """The writer process: one message per batch (b"" asks for a last report, then exit)."""
    writer = Writer(url, flush_s)
    while True:
        try:
            message = inbox.recv_bytes()
        except (EOFError, OSError):  # the worker is gone: everything received is written
            return
        if not message:
            outbox.send(("closed", 0, 0))
            return
        try:
            report = ("batch", *writer.write(rows_of(pickle.loads(message))))
        except Exception as exc:  # a batch that cannot even be read: the worker counts it dropped
            _log.warning("prediction log: a batch could not be read (%s)", exc)
            report = ("lost", 0, 0)
        with contextlib.suppress(BrokenPipeError, OSError):  # the worker stopped listening: keep writing
            outbox.send(report)
