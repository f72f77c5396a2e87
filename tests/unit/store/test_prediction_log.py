"""The prediction log writer: batches, never blocks, drops (counted) when the database is down."""

from __future__ import annotations

import time

import pytest

from kiln.store.prediction_log import Entry, PredictionLog, read_predictions


def _entry(request_id: str, n: int = 1, at: float | None = None) -> Entry:
    records = [{"x": float(i), "junk": "not logged"} for i in range(n)]
    return Entry(request_id, "m", "1", at or time.time(), ("x",), records, [0] * n, [{"0": 0.9, "1": 0.1}] * n)


def test_rows_are_written_in_batches_with_only_the_model_columns(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = PredictionLog(url, batch_rows=10, flush_s=0.05)
    for i in range(25):
        log.append(_entry(f"r{i}", n=2))
    log.close()
    rows = read_predictions("m", url=url)
    assert log.written == 50 and log.dropped == 0 and len(rows) == 50
    assert rows[0]["inputs"] == {"x": 0.0} and rows[1]["row"] == 1
    assert rows[0]["outputs"] == {"prediction": 0, "probabilities": {"0": 0.9, "1": 0.1}}
    assert [r["request_id"] for r in rows[::2]] == [f"r{i}" for i in range(25)]


def test_since_filters_by_time(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = PredictionLog(url, flush_s=0.05)
    log.append(_entry("old", at=100.0))
    log.append(_entry("new", at=200.0))
    log.close()
    assert [r["request_id"] for r in read_predictions("m", since=150.0, url=url)] == ["new"]


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path) -> None:
    log = PredictionLog(f"sqlite:///{tmp_path / 'log.db'}", batch_rows=1000, flush_s=30, queue_rows=5)
    started = time.perf_counter()
    for i in range(8):
        log.append(_entry(f"r{i}"))
    assert time.perf_counter() - started < 1.0  # appends never wait for the database
    assert log.dropped == 3 and log.queued == 5
    log.close()
    assert log.written == 5


def test_a_database_that_is_down_costs_the_log_not_the_caller() -> None:
    log = PredictionLog("postgresql+psycopg://kiln@127.0.0.1:1/none", batch_rows=2, flush_s=0.05, queue_rows=100)
    for i in range(6):
        log.append(_entry(f"r{i}"))
    deadline = time.monotonic() + 30
    while log.dropped < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    log.close(timeout=5)
    assert log.written == 0 and log.dropped == 6


def test_one_refused_value_costs_only_its_own_row(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = PredictionLog(url, batch_rows=10, flush_s=0.05)
    log.append(_entry("good"))
    bad = Entry("bad", "m", "1", time.time(), ("x",), [{"x": object()}], [0])  # not JSON-serialisable
    log.append(bad)
    log.append(_entry("good2"))
    log.close()
    assert log.written == 2 and log.dropped == 1
    assert [r["request_id"] for r in read_predictions("m", url=url)] == ["good", "good2"]


@pytest.mark.parametrize("rows", [1, 3])
def test_close_writes_everything_queued(tmp_path, rows: int) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = PredictionLog(url, batch_rows=1000, flush_s=60)  # would not flush on its own for a minute
    for i in range(7):
        log.append(_entry(f"r{i}", n=rows))
    log.close()
    assert len(read_predictions("m", url=url)) == 7 * rows


KILLED_WORKER = """
import os, signal, sys, time
from kiln.store.prediction_log import Entry, PredictionLog
log = PredictionLog(sys.argv[1], batch_rows=100, flush_s=0.05)
records = [{"x": float(i)} for i in range(100)]
for i in range(10):
    log.append(Entry(f"sent{i}", "m", "1", time.time(), ("x",), records, [0] * 100))
deadline = time.monotonic() + 60
while log.sent < 1000 and time.monotonic() < deadline:
    time.sleep(0.01)
log.flush_s = 3600  # what comes now stays in the queue: the rows a kill -9 may lose
log.append(Entry("unsent", "m", "1", time.time(), ("x",), records[:7], [0] * 7))
print(log.sent, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_worker_loses_only_the_rows_not_handed_to_the_writer(tmp_path) -> None:
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'log.db'}"
    done = subprocess.run([sys.executable, "-c", KILLED_WORKER, url], capture_output=True, text=True, timeout=120)
    assert done.returncode == -9 and done.stdout.strip() == "1000", done.stderr[-2000:]
    deadline = time.monotonic() + 60  # the writer process outlives the worker and finishes what it was sent
    while time.monotonic() < deadline and len(read_predictions("m", url=url)) < 1000:
        time.sleep(0.1)
    time.sleep(0.5)
    rows = read_predictions("m", url=url)
    sent = [row for row in rows if row["request_id"].startswith("sent")]
    assert len(sent) == 1000  # every row handed to the writer was written, though the worker died
    assert len(rows) - len(sent) in (0, 7)  # at most the last, unsent request is lost
