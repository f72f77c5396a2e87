"""SIGTERM while clients reuse keep-alive connections: during the drain every response says
`Connection: close`, so no client sends a request on a connection the server then closes (no
reset, no incomplete read), against a real `kiln serve --drain 1.5` on 127.0.0.1."""

from __future__ import annotations

import signal
import threading
import time

import httpx
from test_drain import DRAIN_S, ROW, _refused

THREADS = 3


def _reusing(url: str, seen: list, failed: list, stop: threading.Event) -> None:
    with httpx.Client(timeout=20) as client:  # keep-alive: one connection, reused
        while not stop.is_set():
            try:
                response = client.post(f"{url}/predict", json={"rows": [ROW]})
            except httpx.TransportError as exc:
                if isinstance(exc, httpx.ConnectError) and _refused(exc):
                    return  # the listener closed: the end, not a cut request
                failed.append(repr(exc))
                continue
            seen.append((time.monotonic(), response.status_code, response.headers.get("connection", "")))


def test_a_drain_closes_reused_connections_without_resets(start_server, ai4i_bundle) -> None:
    server = start_server(ai4i_bundle, "--drain", str(DRAIN_S), "--no-log-predictions")
    seen: list[tuple[float, int, str]] = []
    failed: list[str] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_reusing, args=(server.url, seen, failed, stop), daemon=True)
               for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    warm = time.monotonic() + 30
    while len(seen) < 30 and time.monotonic() < warm and not failed:
        time.sleep(0.05)
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    try:
        code = server.process.wait(timeout=45)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert code == 0, server.log.read_text()[-3000:]
    assert failed == [], failed[:5]
    assert all(status == 200 for _, status, _ in seen)
    before = [header for at, _, header in seen if at < signalled]
    during = [header for at, _, header in seen if at > signalled + 0.1]
    assert len(before) >= 30 and "close" not in before  # keep-alive until the signal
    assert during and all(header == "close" for header in during), during[:10]
