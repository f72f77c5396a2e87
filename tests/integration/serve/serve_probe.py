"""Helpers for probing a real `kiln serve` on 127.0.0.1: a module-long server, problem checks, raw sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROW = {"Type": "L", "Air temperature [K]": 300.1, "Process temperature [K]": 310.2, "Rotational speed [rpm]": 1500,
       "Torque [Nm]": 40.3, "Tool wear [min]": 100}
HEADER = ",".join(ROW)


class Running:
    """A `kiln serve` started for a whole module."""

    def __init__(self, process: subprocess.Popen, url: str, log: Path, headers: dict[str, str]) -> None:
        self.process, self.url, self.log, self.headers = process, url, log, headers
        self.port = int(url.rsplit(":", 1)[1])

    def post(self, content: bytes | Iterator[bytes], content_type: str | None = "application/json",
             path: str = "/predict", headers: dict[str, str] | None = None) -> httpx.Response:
        sent = {**self.headers, **({"content-type": content_type} if content_type else {}), **(headers or {})}
        return httpx.post(f"{self.url}{path}", content=content, headers=sent, timeout=60)

    def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers={**self.headers, **(headers or {})}, timeout=60)


def serve(model: Path, folder: Path, *args: str, env: dict[str, str] | None = None,
          headers: dict[str, str] | None = None) -> Iterator[Running]:
    """Start `kiln serve MODEL ARGS...`, yield it once /ready answers, stop it; no request may raise inside."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = folder / f"server-{port}.log"
    environment = {**os.environ, "KILN_HOME": str(folder / "home"), "KILN_DB": f"sqlite:///{folder / 'kiln.db'}",
                   **(env or {})}
    with log.open("w") as output:
        process = subprocess.Popen([str(Path(sys.executable).with_name("kiln")), "serve", str(model), "--port",
                                    str(port), *args], env=environment, stdout=output, stderr=subprocess.STDOUT)
    server = Running(process, f"http://127.0.0.1:{port}", log, headers or {})
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"kiln serve exited with {process.returncode}: {log.read_text()}")
            try:
                if httpx.get(f"{server.url}/ready", headers=server.headers, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"kiln serve was not ready within 120 s: {log.read_text()}")
            time.sleep(0.2)
        yield server
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]  # no request raised inside
    finally:
        process.terminate()
        process.wait(60)


def body(payload: object) -> bytes:
    import json

    return json.dumps(payload).encode()


def assert_refused(response: httpx.Response, status: int, field: str) -> dict:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    problem = response.json()["detail"][0]
    assert problem["field"] == field, problem
    assert problem["msg"]
    return problem


def assert_healthy(server: Running) -> None:
    assert server.process.poll() is None, "the server died"
    assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
    answer = server.post(body({"rows": [ROW]}))
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 1


def read_until_closed(sock: socket.socket, limit_s: float = 60) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts as closed)."""
    sock.settimeout(limit_s)  # a bound so a broken server fails the test instead of hanging it
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received
