"""One writer at a time for kiln's registry writes, across processes and machines.

Why: MLflow's write transactions read before they write. On SQLite, a transaction
whose snapshot went stale while another process committed fails at once with
"database is locked" (a busy timeout cannot help), and two processes creating
MLflow's schema at the same moment race in its migrations. On PostgreSQL, two
processes numbering a new model version at once collide (MLflow retries only a
few times). So every registry write sequence holds `database_lock(url)`:

    SQLite       an exclusive `flock` on `<database file>.lock` beside the database
    PostgreSQL   a session-level advisory lock (`pg_advisory_lock`), released when the
                 connection ends, so a killed process never leaves it held
    other        an in-process lock only (MLflow's own retries remain)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kiln.store.database import database_url, is_sqlite

# An arbitrary, fixed 64-bit key: the advisory lock that means "kiln registry write".
ADVISORY_KEY = 0x6B696C6E_72656701
_IN_PROCESS = threading.RLock()
_HELD = threading.local()


@contextmanager
def database_lock(url: str | None = None, *, timeout: float = 300.0) -> Iterator[None]:
    """Hold the cross-process registry lock for `url` (default: KILN_DB) while the block runs.

    Re-entrant within a thread: a nested call (promote inside register) does not wait on itself.
    """
    url = url or database_url()
    with _IN_PROCESS:
        held: set[str] = _HELD.__dict__.setdefault("urls", set())
        if url in held:
            yield
            return
        held.add(url)
        try:
            with _lock_for(url, timeout):
                yield
        finally:
            held.discard(url)


@contextmanager
def _lock_for(url: str, timeout: float) -> Iterator[None]:
    if is_sqlite(url):
        with _file_lock(_sqlite_lock_path(url), timeout):
            yield
    elif url.startswith("postgresql"):
        with _advisory_lock(url):
            yield
    else:
        yield


def _sqlite_lock_path(url: str) -> Path | None:
    """The lock file beside the database file; None for an in-memory database."""
    path = url.split("///", 1)[-1].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path).resolve().with_name(Path(path).name + ".lock")


@contextmanager
def _file_lock(path: Path | None, timeout: float) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: SQLite's own locking and MLflow's retries remain
        yield
        return
    if path is None:
        yield
        return
    from kiln.errors import KilnError

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise KilnError(f"Waited {timeout:g}s for the registry lock '{path}'; another kiln process "
                                    "holds it. Retry when it has finished.") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def _advisory_lock(url: str) -> Iterator[None]:
    from sqlalchemy import text

    from kiln.store.database import engine

    with engine(url).connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_KEY})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
            connection.commit()
