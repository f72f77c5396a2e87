"""Run the app on uvicorn: one process or several, and a graceful drain on SIGTERM.

On SIGTERM (or Ctrl-C) a worker first turns /ready to 503 for `drain_s` seconds while
still answering, so a load balancer stops sending; then uvicorn stops accepting, lets
in-flight requests finish, runs the lifespan shutdown (the prediction log is flushed)
and the process exits 0.

uvicorn has no limit on how long or how slowly a client may send its request head
(request line and headers) with httptools, its fast parser: a 64 MB header was read whole,
and a connection that never finished its headers stayed open for ever. `HeadLimitedProtocol`
adds both limits (`max_header_bytes` → 431, `header_timeout_s` → 408, then close).

This module leans on uvicorn internals (its `Process`, its shutdown, its supervisor's
module-level `Process` name, the httptools protocol's callbacks), so pyproject.toml pins the
uvicorn minor version it was tested against; tests/unit/serve/test_uvicorn_pin.py checks that
the names still exist, and the drain, workers and head-limit tests check the behaviour.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
from collections.abc import Callable
from typing import Any

import uvicorn

from kiln.serve import lifecycle
from kiln.serve.settings import ServeSettings

SETTINGS_VARIABLE = "KILN_SERVE_SETTINGS_JSON"  # hands the settings to worker processes


FIRST_REQUEST_GRACE_S = 1.0  # at shutdown, how long a just-accepted connection has to deliver its request


def _httptools_protocol_class() -> type:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    return HttpToolsProtocol


def _raw_problem(status: str, message: str) -> bytes:
    import orjson

    body = orjson.dumps({"detail": [{"field": "headers", "row": None, "msg": message, "loc": ["header"]}]})
    return (f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n").encode() + body


class HeadLimitedProtocol(_httptools_protocol_class()):  # type: ignore[misc]
    """uvicorn's httptools protocol with a size and a time limit on each request head.

    The limits travel on the uvicorn config (`kiln_max_header_bytes`, `kiln_header_timeout_s`),
    which worker processes receive pickled. The bytes of a request are counted from its start
    until its headers are complete.
    """

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._head_bytes = 0
        self._messages = 0
        self._in_head = True
        self._head_timer: Any = None
        self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.config.kiln_header_timeout_s, self._head_expired)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def data_received(self, data: bytes) -> None:
        # Feed first, count after: a chunk may hold the end of the head and the start of the body,
        # and only a head still incomplete after it counts. One chunk is at most what the event
        # loop reads at once (256 KiB), so the parser never holds much more than the limit.
        begun = self._messages
        super().data_received(data)
        if not self._in_head or self.transport.is_closing():
            return
        self._head_bytes = len(data) if self._messages != begun else self._head_bytes + len(data)
        if self._head_bytes > self.config.kiln_max_header_bytes:
            self._refuse("431 Request Header Fields Too Large", "The request line and headers exceed this "
                         f"server's limit of {self.config.kiln_max_header_bytes:,} bytes; send shorter headers.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._messages += 1
        if not self._in_head:  # the next request on a kept-alive connection
            self._in_head = True
            self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm_head_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _head_expired(self) -> None:
        self._head_timer = None
        if self._in_head:
            self._refuse("408 Request Timeout", "The request line and headers did not arrive within "
                         f"{self.config.kiln_header_timeout_s:g} s; send the whole request head at once.")

    def _refuse(self, status: str, message: str) -> None:
        self._in_head = False
        self._disarm_head_timer()
        if not self.transport.is_closing():
            self.transport.write(_raw_problem(status, message))
            self.transport.close()


def _uvicorn_process_class() -> type:
    from uvicorn.supervisors.multiprocess import Process

    return Process


class DrainingServer(uvicorn.Server):
    """uvicorn's server, with a readiness drain before the graceful shutdown."""

    def __init__(self, config: uvicorn.Config, drain_s: float) -> None:
        super().__init__(config)
        self.drain_s = drain_s

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown, without its two ways of resetting a request a client has already sent.

        Closing a listening socket resets the connections waiting in its accept queue, and
        uvicorn closes at once every connection whose first request it has not parsed yet;
        under load both cut requests that are in flight. So: take the queued connections,
        stop listening, serve them, give fresh connections a moment to deliver their request,
        and only then let uvicorn close what is idle and wait for what runs.
        """
        import asyncio

        loop = asyncio.get_running_loop()
        queued = [conn for sock in sockets or () for conn in _accept_queued(sock)]
        for server in self.servers:
            server.close()

        def protocol() -> asyncio.Protocol:  # as uvicorn's startup builds one per connection
            return self.config.http_protocol_class(config=self.config, server_state=self.server_state,  # type: ignore[call-arg]
                                                   app_state=self.lifespan.state)

        for conn in queued:
            await loop.connect_accepted_socket(protocol, sock=conn)
        deadline = loop.time() + FIRST_REQUEST_GRACE_S
        while not self.force_exit and loop.time() < deadline and any(
                getattr(connection, "cycle", True) is None for connection in self.server_state.connections):
            await asyncio.sleep(0.01)
        await super().shutdown(sockets)

    def handle_exit(self, sig: int, frame: Any) -> None:
        if lifecycle.DRAINING.is_set() or self.drain_s <= 0:
            self._shut_down(sig, frame)
            return
        lifecycle.DRAINING.set()
        timer = threading.Timer(self.drain_s, self._shut_down, args=(sig, frame))
        timer.daemon = True
        timer.start()

    def _shut_down(self, sig: int, frame: Any) -> None:
        """uvicorn's graceful shutdown, without re-raising the signal afterwards: a drained
        server exits 0, which is what process managers read as a clean stop."""
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


class DrainingProcess(_uvicorn_process_class()):  # type: ignore[misc]
    """A uvicorn worker process whose server drains before shutting down."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            settings = ServeSettings.model_validate_json(os.environ[SETTINGS_VARIABLE])
            self._server = DrainingServer(self.config, settings.drain_s)
        return self._server


def app_from_environment() -> Any:
    """The app factory worker processes call (settings travel in an environment variable)."""
    from kiln.serve.app import create_app

    return create_app(ServeSettings.model_validate_json(os.environ[SETTINGS_VARIABLE]))


def _config(app: Any, settings: ServeSettings, **options: Any) -> uvicorn.Config:
    config = uvicorn.Config(app, http=HeadLimitedProtocol, **options)
    config.kiln_max_header_bytes = settings.max_header_bytes  # type: ignore[attr-defined]
    config.kiln_header_timeout_s = settings.header_timeout_s  # type: ignore[attr-defined]
    return config


def run(settings: ServeSettings, *, host: str | None = None, port: int = 8000, workers: int = 1,
        log_level: str = "warning", announce: Callable[[str], None] | None = None) -> None:
    """Serve until SIGTERM/SIGINT; returns after the drain and a clean shutdown.

    The port is bound first (a busy port is told at once, not after the model has loaded for
    seconds), then the model is loaded, then uvicorn starts: a bad bundle or a busy port is
    one clear `KilnError`, not a server that starts and dies.
    """
    if host is not None and host != settings.host:
        settings = settings.model_copy(update={"host": host})
    host = settings.host
    sock = _bind(host, port)
    try:
        _serve(settings, sock, port=port, workers=workers, log_level=log_level, announce=announce)
    finally:
        sock.close()


def _serve(settings: ServeSettings, sock: socket.socket, *, port: int, workers: int, log_level: str,
           announce: Callable[[str], None] | None) -> None:
    from kiln.serve.holder import ModelHolder

    host = settings.host
    holder = ModelHolder(settings.model, follow_interval_s=settings.follow_interval_s)
    holder.load()
    os.environ[SETTINGS_VARIABLE] = settings.model_dump_json()
    common: dict[str, Any] = {"host": host, "port": port, "log_level": log_level, "access_log": False,
                              "timeout_graceful_shutdown": max(30.0, settings.request_timeout_s + 5),
                              "timeout_keep_alive": 5}
    if workers <= 1:
        from kiln.serve.app import create_app

        config = _config(create_app(settings, holder=holder), settings, **common)
        if announce:
            announce(f"http://{host}:{sock.getsockname()[1]}/")
        DrainingServer(config, settings.drain_s).run(sockets=[sock])
        return
    holder.stop()  # each worker process loads and follows on its own
    with tempfile.TemporaryDirectory(prefix="kiln-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # one set of counters across the workers
        config = _config("kiln.serve.server:app_from_environment", settings, factory=True, workers=workers,
                         **common)
        from uvicorn.supervisors import multiprocess

        if announce:
            announce(f"http://{host}:{sock.getsockname()[1]}/")
        # uvicorn's supervisor builds its workers by this module-level name (also when it restarts
        # one); ours run DrainingServer instead of uvicorn's plain Server.
        multiprocess.Process = DrainingProcess
        multiprocess.Multiprocess(config, sockets=[sock]).run()


def _accept_queued(sock: socket.socket) -> list[socket.socket]:
    """The connections the kernel has completed but no one has accepted yet."""
    accepted = []
    while True:
        try:
            sock.setblocking(False)  # the loop's socket already is; never block here
            conn, _ = sock.accept()
        except OSError:  # BlockingIOError: the queue is empty (or the socket is closed)
            return accepted
        conn.setblocking(False)
        accepted.append(conn)


def _bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves (as uvicorn would), so a busy port is one clear error."""
    from kiln.errors import InvalidOptionError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InvalidOptionError(f"Cannot listen on {host}:{port} ({exc.strerror}); "
                                 "pick a free port with --port.") from None
    sock.set_inheritable(True)
    return sock
