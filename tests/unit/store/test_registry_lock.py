"""The registry lock really excludes another process, on SQLite (a file lock) and PostgreSQL (advisory)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from kiln.store.locking import database_lock

HOLDER = """
import sys, time
from kiln.store.locking import database_lock
with database_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path / 'kiln.db'}"


def test_a_second_process_waits_for_the_holder(url: str) -> None:
    with subprocess.Popen([sys.executable, "-c", HOLDER, url, "1.5"], stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with database_lock(url):
            waited = time.monotonic() - started
    assert waited > 0.5


def test_the_lock_is_reentrant_within_a_thread(url: str) -> None:
    with database_lock(url), database_lock(url):
        pass


def test_a_killed_holder_releases_the_lock(url: str) -> None:
    with subprocess.Popen([sys.executable, "-c", HOLDER, url, "60"], stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout.readline().strip() == "locked"
        holder.kill()

    started = time.monotonic()
    with database_lock(url):
        assert time.monotonic() - started < 10
