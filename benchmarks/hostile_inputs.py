"""The README's hostile-input table: each probe sent to a real `kiln serve` (default limits) on 127.0.0.1.

For every probe it records the status the server answered, the field its problem names, how
long the answer took, and the slowest `GET /health` answered while the probe ran (a thread
asks every 50 ms): the proof that no input stalls the event loop. Then it writes the table
into README.md between `<!-- hostile-inputs:start/end -->`, with the date and the commit.

    python benchmarks/hostile_inputs.py [--model BUNDLE] [--no-write]

Each row is also a test (tests/integration/serve/test_hostile_inputs.py, test_security.py).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sections import ROOT, write_section

ROW = {"Type": "L", "Air temperature [K]": 300.1, "Process temperature [K]": 310.2, "Rotational speed [rpm]": 1500,
       "Torque [Nm]": 40.3, "Tool wear [min]": 100}
HEADER = ",".join(ROW)
LIMIT = 8 * 1024 * 1024


def _train(folder: Path) -> Path:
    import pandas as pd

    import kiln

    table = pd.read_csv(ROOT / "tests" / "data" / "ai4i2020.csv").drop(columns=["TWF", "HDF", "PWF", "OSF", "RNF"])
    model = kiln.train(table, target="Machine failure", time_limit=20, max_trials=2, n_jobs=1, quiet=True)
    return kiln.save(model, folder / "bundle")


class Health:
    """Polls /health every 50 ms; `slowest()` is the longest answer since `reset()`."""

    def __init__(self, url: str) -> None:
        self.url, self.times, self.stop = url, [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=120) as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    answered = client.get(f"{self.url}/health").status_code == 200
                except httpx.TransportError:
                    answered = False
                self.times.append(time.perf_counter() - started if answered else float("inf"))
                self.stop.wait(0.05)

    def reset(self) -> None:
        self.times = []

    def slowest(self) -> float:
        return max(self.times, default=float("nan"))


def _post(url: str, content: bytes | Iterator[bytes], content_type: str | None = "application/json",
          path: str = "/predict", headers: dict[str, str] | None = None) -> tuple[int, str]:
    sent = {**({"content-type": content_type} if content_type else {}), **(headers or {})}
    answer = httpx.post(f"{url}{path}", content=content, headers=sent, timeout=120)
    return answer.status_code, _field(answer.content)


def _field(content: bytes) -> str:
    try:
        return json.loads(content.split(b"\r\n\r\n", 1)[-1])["detail"][0]["field"]
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def _raw(port: int, head: bytes, then: bytes = b"", repeat: int = 0) -> tuple[int, str]:
    """Send `head`, then `then` up to `repeat` times (stopping when refused); read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        try:
            sock.sendall(head)
            for _ in range(repeat):
                sock.sendall(then)
        except OSError:
            pass
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    status = int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/1.1 ") else 0
    return status, _field(received)


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 65536):
        yield data[start:start + 65536]


def _slow_senders(url: str, port: int) -> tuple[int, str]:
    """50 connections sending a byte a second (25 in the head, 25 in a declared body) for 12 s,
    while normal predictions go on; answers the status of the last normal prediction."""
    stop = threading.Event()
    head = b"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"

    def trickle(prefix: bytes, payload: bytes) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            try:
                sock.sendall(prefix)
                for byte in payload:
                    if stop.is_set():
                        return
                    sock.sendall(bytes([byte]))
                    stop.wait(1.0)
            except OSError:
                return

    senders = [threading.Thread(target=trickle, args=(b"", head + b"Content-Length: 2\r\n\r\n{}")) for _ in range(25)]
    senders += [threading.Thread(target=trickle, args=(head + b"Content-Length: 1000\r\n\r\n", b"x" * 1000))
                for _ in range(25)]
    for sender in senders:
        sender.start()
    statuses = []
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline:
        statuses.append(_post(url, json.dumps({"rows": [ROW]}).encode())[0])
        time.sleep(0.5)
    stop.set()
    for sender in senders:
        sender.join(30)
    worst = max(statuses, key=lambda status: status != 200)
    return worst, f"{statuses.count(200)} of {len(statuses)} normal predictions meanwhile answered 200"


def probes(url: str, port: int) -> list[tuple[str, str, Callable[[], tuple[int, str]]]]:
    row = json.dumps({"rows": [ROW]}).encode()
    over = b'{"rows": [' + b" " * (LIMIT - 9) + b"]}"
    wide = ",".join(f"c{i}" for i in range(700_000)) + "\n" + ",".join("1" * 700_000) + "\n"
    million = json.dumps({**ROW, **{f"k{i:07d}": 0 for i in range(1_000_000)}}).encode()
    hundred_k = json.dumps({"rows": [{**ROW, **{f"k{i:06d}": i for i in range(100_000)}}]}).encode()
    field = json.dumps({"rows": [{**ROW, "Torque [Nm]": "@"}]}).encode()
    typed = json.dumps({"rows": [{**ROW, "Type": "@"}]}).encode()
    label = {"labels": [{"request_id": "r", "row": 2**63, "label": 1}]}
    return [
        ("Oversized body, Content-Length", "8 MiB + 1 byte, declared", lambda: _post(url, over)),
        ("Oversized body, chunked", "8 MiB + 1 byte, no length", lambda: _post(url, _chunks(over))),
        ("Deep JSON", "10,000 nested `[`", lambda: _post(url, b"[" * 10_000 + b"]" * 10_000)),
        ("Deep JSON in a field", "500 levels in `Type`", lambda: _post(
            url, typed.replace(b'"@"', b"[" * 500 + b"]" * 500))),
        ("A million keys", "one record, 14 MB", lambda: _post(url, million)),
        ("100,000 keys", "one record, 1.8 MB", lambda: _post(url, hundred_k)),
        ("Non-finite number", "`NaN` literal", lambda: _post(url, field.replace(b'"@"', b"NaN"))),
        ("Non-finite number", "`1e309`", lambda: _post(url, field.replace(b'"@"', b"1e309"))),
        ("Beyond float32", "`1e300`", lambda: _post(url, field.replace(b'"@"', b"1e300"))),
        ("Non-finite number in CSV", "`inf` cell", lambda: _post(
            url, f"{HEADER}\nL,300,310,1500,inf,100\n".encode(), "text/csv")),
        ("Lone surrogate", '`"\\ud800"`', lambda: _post(url, typed.replace(b'"@"', b'"\\ud800"'))),
        ("NUL", '`"L\\u0000"` in a category', lambda: _post(url, typed.replace(b'"@"', b'"L\\u0000"'))),
        ("Wrong content type", "`text/plain`", lambda: _post(url, row, "text/plain")),
        ("Wrong content type", "none", lambda: _post(url, row, None)),
        ("Wrong content type", "a pickle, `application/octet-stream`", lambda: _post(
            url, b"\x80\x04K\x01.", "application/octet-stream")),
        ("Wide CSV header", "700,000 columns, 5.5 MB", lambda: _post(url, wide.encode(), "text/csv")),
        ("Ragged CSV row", "7 cells under a 6-column header", lambda: _post(
            url, f"{HEADER}\nL,300,310,1500,40,100,7\n".encode(), "text/csv")),
        ("Huge header", "64 MiB `X-Big`", lambda: _raw(
            port, b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: ", b"a" * 65536, 1024)),
        ("Unfinished request head", "never sends the blank line", lambda: _raw(
            port, b"GET /health HTTP/1.1\r\nHost: localhost\r\n")),
        ("Foreign Host (DNS rebinding)", "`Host: evil.example`", lambda: _post(
            url, row, headers={"Host": "evil.example"})),
        ("Feedback row past int64", "`row: 2**63`", lambda: _post(
            url, json.dumps(label).encode(), path="/feedback")),
        ("Slow senders", "50 connections, a byte a second, 12 s", lambda: _slow_senders(url, port)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="A bundle (default: train a small AI4I model).")
    parser.add_argument("--no-write", action="store_true", help="Print the table only.")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kiln-hostile-") as folder:
        model = options.model or _train(Path(folder))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        environment = {**os.environ, "KILN_HOME": folder, "KILN_DB": f"sqlite:///{folder}/kiln.db"}
        server = subprocess.Popen([str(Path(sys.executable).with_name("kiln")), "serve", str(model), "--port",
                                   str(port)], env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            health = Health(url)
            lines = ["| input | sent | answer | field named | answered in | slowest `/health` meanwhile |",
                     "|---|---|---|---|---|---|"]
            for name, sent, probe_once in probes(url, port):
                health.reset()
                started = time.perf_counter()
                status, field = probe_once()
                took = time.perf_counter() - started
                time.sleep(0.1)  # one more /health sample after the answer
                lines.append(f"| {name} | {sent} | {status} | {field or '—'} | {took:.2f} s | "
                             f"{health.slowest() * 1000:.0f} ms |")
                print(lines[-1], flush=True)
            health.stop.set()
            alive = server.poll() is None
        finally:
            server.terminate()
            server.wait(60)
    table = "\n".join(lines) + ("\n\nThe server was still up after the last probe." if alive else
                                "\n\n**The server died during the probes.**")
    print(table)
    if not options.no_write:
        write_section("hostile-inputs", table, path=ROOT / "README.md", script=__file__)


if __name__ == "__main__":
    main()
