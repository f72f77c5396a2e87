"""The one database kiln writes to: KILN_DB, an SQLAlchemy URL (SQLite by default).

SQLite runs in WAL mode with a busy timeout so that many processes (trainers
registering, servers logging) share one file without "database is locked" errors.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from kiln.settings import kiln_home

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

SQLITE_BUSY_TIMEOUT_MS = 60_000
CONNECT_TIMEOUT_S = 10
_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


def database_url() -> str:
    """KILN_DB, or `sqlite:///<KILN_HOME>/kiln.db`."""
    url = os.environ.get("KILN_DB", "").strip()
    return url or f"sqlite:///{kiln_home() / 'kiln.db'}"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def engine(url: str | None = None) -> Engine:
    """A pooled engine for `url` (default: `database_url()`), made once per process."""
    url = url or database_url()
    with _LOCK:
        if url not in _ENGINES:
            _ENGINES[url] = _create(url)
        return _ENGINES[url]


def _create(url: str) -> Engine:
    from sqlalchemy import create_engine, event

    from kiln.errors import InvalidOptionError

    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        created = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                                json_serializer=_json, json_deserializer=_from_json)
        event.listen(created, "connect", _sqlite_pragmas)
        return created
    # A server that does not answer should fail in seconds, not after the OS's TCP timeout.
    libpq = url.split(":", 1)[0] in ("postgresql", "postgresql+psycopg", "postgresql+psycopg2")
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_S} if libpq else {}
    try:
        return create_engine(url, pool_pre_ping=True, json_serializer=_json, json_deserializer=_from_json,
                             connect_args=connect_args)
    except Exception as exc:  # a bad URL or a missing driver: say which
        raise InvalidOptionError(f"KILN_DB '{_redact(url)}' cannot be used ({exc}); "
                                 "give an SQLAlchemy URL such as postgresql+psycopg://user@host/db.") from exc


def _json(value: object) -> str:
    """JSON columns through orjson: the prediction log writes one document per served row."""
    import orjson

    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS).decode()


def _from_json(text: str | bytes | float) -> object:
    """JSON columns read through orjson too: monitoring reads thousands of logged rows per call.

    SQLite gives a JSON column numeric affinity, so a label `1` comes back as the number 1;
    rows written by the standard library before orjson may hold NaN, which orjson refuses.
    """
    import json

    import orjson

    if isinstance(text, int | float):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _sqlite_pragmas(connection: object, _record: object) -> None:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"
