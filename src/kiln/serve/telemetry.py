"""Request counts and latency: Prometheus metrics for scrapers, a small JSON summary for the page.

Measured by a pure ASGI middleware (no per-request task or copy), labelled by the
route's template so that random paths cannot blow up the label set. With several
worker processes, Prometheus' multiprocess mode aggregates them (PROMETHEUS_MULTIPROC_DIR).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

LATENCY_BUCKETS = (0.0005, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0)
KNOWN_PATHS = frozenset({"/", "/predict", "/explain", "/feedback", "/monitor", "/health", "/ready", "/metadata",
                         "/metrics", "/stats", "/openapi.json",
                         # the other kinds' and the text model's routes
                         "/forecast", "/forecast/series", "/recommend", "/recommend/history", "/recommend/users",
                         "/recommender", "/similar", "/text", "/text/answer"})
RECENT = 4096  # latencies kept for the page's percentiles
disable_created_metrics()  # the *_created series double the exposition for no use here


class Telemetry:
    """Prometheus metrics of one app, plus recent latencies for `/stats`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("kiln_requests", "HTTP requests by route and status.", ["route", "status"],
                                registry=self.registry)
        self.latency = Histogram("kiln_request_seconds", "Request latency in seconds.", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.rows = Counter("kiln_rows_predicted", "Rows predicted.", registry=self.registry)
        self.unseen = Counter("kiln_unseen_categories", "Values of a category unseen in training.", ["column"],
                              registry=self.registry)
        self.out_of_range = Counter("kiln_out_of_range", "Numbers outside the training range.", ["column"],
                                    registry=self.registry)
        self.started = time.time()
        self.total = 0
        self.errors = 0
        self.row_total = 0
        self._recent: deque[float] = deque(maxlen=RECENT)
        self._lock = threading.Lock()

    def observe(self, path: str, status: int, seconds: float) -> None:
        route = path if path in KNOWN_PATHS else "other"
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        self.total += 1
        if status >= 400:
            self.errors += 1
        if route in ("/predict", "/explain"):
            self._recent.append(seconds)

    def observe_rows(self, n: int, counts: dict[str, dict[str, int]]) -> None:
        self.rows.inc(n)
        self.row_total += n
        for column, count in counts["unseen_categories"].items():
            self.unseen.labels(column).inc(count)
        for column, count in counts["out_of_range"].items():
            self.out_of_range.labels(column).inc(count)

    def summary(self) -> dict[str, Any]:
        recent = np.fromiter(tuple(self._recent), dtype=float)
        latency = {f"p{q}": (float(np.percentile(recent, q)) * 1000 if recent.size else None) for q in (50, 95, 99)}
        return {"uptime_s": round(time.time() - self.started, 1), "requests": self.total, "errors": self.errors,
                "rows": self.row_total, "latency_ms": latency, "worker": os.getpid()}

    def exposition(self) -> bytes:
        """The Prometheus text format; all worker processes together in multiprocess mode."""
        from prometheus_client import generate_latest

        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            combined = CollectorRegistry()
            multiprocess.MultiProcessCollector(combined)
            return generate_latest(combined)
        return generate_latest(self.registry)


class TelemetryMiddleware:
    """Times every HTTP request from its start to its last body byte."""

    def __init__(self, app: Any, telemetry: Telemetry) -> None:
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def timed_send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            self.telemetry.observe(scope["path"], status, time.perf_counter() - started)
