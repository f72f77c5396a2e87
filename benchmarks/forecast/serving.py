"""POST /forecast latency over HTTP against a real `kiln serve` (uvicorn on 127.0.0.1): one series at h=24,
from the stored history (by id) and from a client's recent history (refitted per request).

    python benchmarks/forecast/serving.py [--requests 300] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import sections  # noqa: E402
from suite import load  # noqa: E402

H = 24


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    import httpx

    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kiln-fc-serve-"))
    frame = load("air_passengers")
    frame.assign(ds=frame["ds"].dt.strftime("%Y-%m-%d")).to_csv(folder / "train.csv", index=False)
    kiln = str(Path(sys.executable).parent / "kiln")
    env = {**os.environ, "KILN_HOME": str(folder / "home"), "KILN_DB": f"sqlite:///{folder / 'kiln.db'}"}
    subprocess.run([kiln, "train", str(folder / "train.csv"), "--task", "forecast", "--target", "y", "--time-column",
                    "ds", "--id-column", "unique_id", "--horizon", str(H), "--frequency", "MS", "--time-limit", "30",
                    "--out", str(folder / "model"), "-q"], check=True, env=env, capture_output=True)
    port = _port()
    server = subprocess.Popen([kiln, "serve", str(folder / "model"), "--port", str(port), "--workers", "1"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        history = [{"time": d.strftime("%Y-%m-%d"), "value": float(v)}
                   for d, v in zip(frame["ds"].tail(120), frame["y"].tail(120), strict=True)]
        bodies = {"by id (stored history)": {"ids": ["air_passengers"], "h": H},
                  "with 120 points of history (refit)": {"series": [{"id": "x", "history": history}], "h": H}}
        rows = []
        with httpx.Client(base_url=url, timeout=60) as client:
            for label, body in bodies.items():
                n = args.requests if "id" in label else max(30, args.requests // 10)
                for _ in range(10):
                    assert client.post("/forecast", json=body).status_code == 200
                times = []
                for _ in range(n):
                    began = time.perf_counter()
                    answer = client.post("/forecast", json=body)
                    times.append(1000 * (time.perf_counter() - began))
                    assert answer.status_code == 200
                p50, p95, p99 = np.percentile(times, [50, 95, 99])
                rows.append(f"| {label} | {n} | {p50:.2f} | {p95:.2f} | {p99:.2f} |")
                print(rows[-1], flush=True)
    finally:
        server.terminate()
        server.wait(30)
    text = "\n".join([
        "### Forecast serving latency (POST /forecast over HTTP, one series, h=24)", "",
        "| request | requests | p50 ms | p95 ms | p99 ms |", "|---|---:|---:|---:|---:|", *rows, "",
        "A real `kiln serve` (one uvicorn worker, the prediction log on SQLite) on 127.0.0.1; AirPassengers "
        f"trained with `--horizon {H}`; sequential requests on one keep-alive connection. Target: p50 ≤ 5 ms for "
        "one series at h=24 (by id: the stored-history forecast is computed once at warm-up). Machine load "
        f"(1-min average) at the end: {os.getloadavg()[0]:.1f} on 2 shared cores."])
    print(text)
    if not args.no_write:
        sections.write_section("forecast-serving", text)


if __name__ == "__main__":
    main()
