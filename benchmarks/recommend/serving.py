"""Serving latency of a recommender: top-10 from a 10,000-item catalogue, in process and over HTTP.

    python benchmarks/recommend/serving.py [--requests 1000]

Generates 3,000 users' interactions with 10,000 items (Zipf popularity, seeded), trains a recommender
(kiln.train, 30 s; not timed here), then measures (1) in process: one user's blended scores, seen items
masked and `argpartition` top-10 (RecommenderModel.recommend_codes), and (2) over HTTP: sequential
`POST /recommend {"user", "k": 10}` to a real `kiln serve` on 127.0.0.1 through one keep-alive
connection. The issue's target is p50 ≤ 2 ms over HTTP. Writes the `recommend-serving` section of
benchmarks/RESULTS.md, with the machine's load beside it.
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
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sections import write_section


def interactions(n_users: int = 3000, n_items: int = 10_000, per_user: int = 25, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_items + 1) ** 0.8
    weights /= weights.sum()
    rows = [(f"u{u}", f"i{i}", 1_700_000_000 + 3600 * k) for u in range(n_users)
            for k, i in enumerate(rng.choice(n_items, per_user, replace=False, p=weights))]
    return pd.DataFrame(rows, columns=["user", "item", "ts"])


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)),
            "p99": float(np.percentile(ms, 99))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    import httpx

    import kiln

    load_before = os.getloadavg()
    table = interactions()
    with tempfile.TemporaryDirectory() as tmp:
        model = kiln.train(table, task="recommend", user_column="user", item_column="item", time_column="ts",
                           time_limit=30, quiet=True)
        bundle = kiln.save(model, Path(tmp) / "model")
        model = kiln.load(bundle)
        model.warm_up()  # as `kiln serve` does: BLAS at one thread for one-user products
        rng = np.random.default_rng(1)
        users = [f"u{u}" for u in rng.integers(0, 3000, args.requests)]
        codes = model.user_codes(users)
        model.recommend_codes(codes[:10], 10)
        inproc = []
        for code in codes:
            started = time.perf_counter()
            model.recommend_codes(np.array([code]), 10)
            inproc.append(time.perf_counter() - started)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "KILN_HOME": str(Path(tmp) / "home")}
        server = subprocess.Popen([sys.executable, "-m", "kiln.cli", "serve", str(bundle), "--port", str(port)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(timeout=30) as client:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    try:
                        if client.get(f"{url}/ready").status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.2)
                for user in users[:50]:
                    client.post(f"{url}/recommend", json={"user": user, "k": 10})
                http = []
                for user in users:
                    started = time.perf_counter()
                    response = client.post(f"{url}/recommend", json={"user": user, "k": 10})
                    http.append(time.perf_counter() - started)
                    assert response.status_code == 200 and len(response.json()["items"]) == 10
        finally:
            server.terminate()
            server.wait(30)
    components = ", ".join(f"{c.name} {w:.2f}" for c, w in model.components)
    a, b = percentiles(inproc), percentiles(http)
    load_after = os.getloadavg()
    body = f"""## Recommendation serving: top-10 from a 10,000-item catalogue

A recommender trained on 3,000 generated users × 10,000 items (75,000 interactions, Zipf popularity;
the blend kept: {components}). {args.requests:,} requests for random known users, top 10, seen items excluded.

| path | p50 ms | p95 ms | p99 ms |
|---|---:|---:|---:|
| in process (`recommend_codes`: blended scores, seen masked, `argpartition`) | {a['p50']:.2f} | {a['p95']:.2f} | {a['p99']:.2f} |
| over HTTP (`POST /recommend`, one keep-alive connection, real `kiln serve`) | {b['p50']:.2f} | {b['p95']:.2f} | {b['p99']:.2f} |

Target p50 ≤ 2 ms over HTTP: **{'met' if b['p50'] <= 2 else 'missed'}**. Machine load (1-minute average)
{load_before[0]:.1f} before, {load_after[0]:.1f} after, on {os.cpu_count()} cores shared with other work: the
numbers are pessimistic.
"""
    print(body)
    if not args.no_write:
        write_section("recommend-serving", body, script=__file__)


if __name__ == "__main__":
    main()
