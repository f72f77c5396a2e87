"""The prediction log writer: batches; a full queue makes the caller wait (back-pressure) or, without a wait,
drops (counted); a database that is down costs the log, not the caller."""

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


@pytest.mark.parametrize("body", [b'{"rows": [{"x": 1.5, "junk": "j"}, {"x": null}]}',
                                  b'[{"x": 1.5, "junk": "j"}, {"x": null}]'])
def test_an_entry_handed_over_as_its_json_body_logs_the_parsed_records(tmp_path, body: bytes) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = PredictionLog(url, batch_rows=10, flush_s=0.05)
    log.append(Entry("b", "m", "1", time.time(), ("x",), [{}, {}], [1, 0], None, body))  # records: only counted
    log.append(Entry("one", "m", "1", time.time(), ("x",), [{}], [1], None, b'{"x": 2.0}'))
    log.close()
    rows = read_predictions("m", url=url)
    assert [r["inputs"] for r in rows] == [{"x": 1.5}, {"x": None}, {"x": 2.0}]
    assert [r["outputs"] for r in rows] == [{"prediction": 1}, {"prediction": 0}, {"prediction": 1}]
    assert log.written == 3 and log.dropped == 0


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


def test_under_sustained_load_a_full_queue_waits_and_every_row_answered_is_logged(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = PredictionLog(url, batch_rows=200, flush_s=0.05, queue_rows=600)
    for i in range(16):  # 8,000 rows as fast as appends go: far faster than SQLite takes them
        assert log.append(_entry(f"r{i}", n=500), wait_s=60)
        assert log.queued <= 600
    log.close(timeout=120)
    assert log.waits > 0  # the queue did fill: the caller was held back, not the rows dropped
    assert log.dropped == 0 and log.written == 8_000
    assert len(read_predictions("m", url=url)) == 8_000


def test_put_waits_on_the_event_loop_while_the_loop_keeps_running(tmp_path) -> None:
    import asyncio

    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = PredictionLog(url, batch_rows=100, flush_s=0.05, queue_rows=300)

    async def main() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        running = asyncio.create_task(ticker())
        results = [await log.put(_entry(f"r{i}", n=100), wait_s=60) for i in range(30)]
        running.cancel()
        assert all(results)
        return ticks

    assert asyncio.run(main()) > 0
    log.close(timeout=60)
    assert log.waits > 0 and log.dropped == 0 and len(read_predictions("m", url=url)) == 3_000


def test_a_wait_that_runs_out_drops_and_counts(tmp_path) -> None:
    log = PredictionLog(f"sqlite:///{tmp_path / 'log.db'}", batch_rows=1000, flush_s=30, queue_rows=5)
    for i in range(5):
        log.append(_entry(f"r{i}"))
    assert not log.append(_entry("late"), wait_s=0.05)  # the feeder sleeps for 30 s: no room comes
    assert log.dropped == 1 and log.waits == 1
    log.close()
    assert log.written == 5


def test_while_the_database_is_down_a_full_queue_does_not_make_callers_wait() -> None:
    log = PredictionLog("postgresql+psycopg://kiln@127.0.0.1:1/none", batch_rows=2, flush_s=0.05, queue_rows=4)
    log.append(_entry("first", n=2))
    deadline = time.monotonic() + 30
    while log.writer_ok and time.monotonic() < deadline:  # the writer reports its first batch refused whole
        time.sleep(0.05)
    assert not log.writer_ok
    for i in range(4):
        log.append(_entry(f"r{i}", n=2))
    assert not log.append(_entry("late", n=4), wait_s=60)  # a full queue: dropped at once, not after 60 s
    assert log.waits == 0
    log.close(timeout=5)
    assert log.written == 0


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
