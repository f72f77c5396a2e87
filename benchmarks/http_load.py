"""A closed-loop HTTP load generator for machines without wrk: N keep-alive connections, one POST body.

    python benchmarks/http_load.py --port 8000 --path /predict --body body.json --connections 16 --duration 8

Each connection sends its next request when the last is answered (as wrk does), over one
asyncio event loop (uvloop when installed) in this process, speaking HTTP/1.1 on plain asyncio
streams: no client library in the request path, so the client costs as little CPU as Python
allows. Prints one line, `KILN-BENCH {json}`, with the keys of `benchmarks/serving.py`'s wrk Lua
script (latencies in µs, per request from sending to the last byte of the answer), so that the
benchmark reads either tool's output the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any


async def _answer(reader: asyncio.StreamReader) -> tuple[int, int, bool]:
    """Read one HTTP/1.1 response: (status, bytes read, whether the server closes the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip().lower() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
    size = len(head)
    if "content-length" in headers:
        size += len(await reader.readexactly(int(headers["content-length"])))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            length = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            size += len(await reader.readexactly(length + 2))
            if length == 0:
                break
    return status, size, headers.get("connection") == "close"


async def _connection(port: int, request: bytes, deadline: float, stats: dict[str, Any]) -> None:
    reader = writer = None
    while time.perf_counter() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            sent = time.perf_counter_ns()
            writer.write(request)
            status, size, closing = await _answer(reader)  # type: ignore[arg-type]
            stats["latencies_ns"].append(time.perf_counter_ns() - sent)
            stats["bytes"] += size
            stats["last"] = time.perf_counter()
            if status != 200:
                stats["status_errors"] += 1
            if closing:
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            stats["connect_errors" if writer is None else "read_errors"] += 1
            stats.setdefault("first_error", repr(exc))
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def run(port: int, path: str, body: bytes, connections: int, duration_s: float) -> dict[str, Any]:
    """Drive the server for `duration_s` seconds; wrk's summary keys, latencies in µs."""
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n").encode() + body
    stats: dict[str, Any] = {"latencies_ns": [], "bytes": 0, "connect_errors": 0, "read_errors": 0,
                             "status_errors": 0}
    started = time.perf_counter()
    stats["last"] = started
    await asyncio.gather(*(_connection(port, request, started + duration_s, stats) for _ in range(connections)))
    latencies = sorted(stats["latencies_ns"])

    def percentile(share: float) -> int:
        return latencies[min(len(latencies) - 1, int(share * len(latencies)))] // 1000 if latencies else 0

    out = {"requests": len(latencies), "duration_us": int((stats["last"] - started) * 1e6), "bytes": stats["bytes"],
           "p50_us": percentile(0.50), "p90_us": percentile(0.90), "p99_us": percentile(0.99),
           "max_us": latencies[-1] // 1000 if latencies else 0,
           "mean_us": sum(latencies) / len(latencies) / 1000 if latencies else 0.0,
           "connect_errors": stats["connect_errors"], "read_errors": stats["read_errors"], "write_errors": 0,
           "status_errors": stats["status_errors"], "timeouts": 0}
    if "first_error" in stats:
        out["first_error"] = stats["first_error"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/predict")
    parser.add_argument("--body", type=Path, required=True, help="file holding the JSON body to POST")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(run(args.port, args.path, args.body.read_bytes(), args.connections, args.duration))
    print("KILN-BENCH " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
