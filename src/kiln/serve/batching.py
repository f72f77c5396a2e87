"""Micro-batching: concurrent small requests predicted together, each caller given its own rows.

Small requests run on the event loop (`inline_rows`), one after another, and most of a single
row's cost is fixed per call (the graph's or the libraries' start, not the row). So a request
that reaches the model while other requests are inside /predict (reading or checking their
bodies) waits for them, up to `window_s` (≤ 1 ms by default), and all that arrived are
predicted in one call; the rows are then cut back per request, in order. A request alone in
the worker is predicted at once: batching never adds the window to an idle server's latency.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

MAX_BATCH_ROWS = 512  # a batch this large goes at once


class MicroBatcher:
    """Collects (model, decoded rows) pairs on one event loop and predicts them in one call per model."""

    def __init__(self, window_s: float = 0.001, max_rows: int = MAX_BATCH_ROWS) -> None:
        self.window_s = window_s
        self.max_rows = max_rows
        self.active = 0  # requests inside /predict (entered, not yet answered)
        self.batches = 0
        self.batched_requests = 0
        self._pending: list[tuple[Any, Any, asyncio.Future]] = []
        self._rows = 0
        self._timer: asyncio.TimerHandle | None = None

    def enter(self) -> None:
        self.active += 1

    def leave(self) -> None:
        self.active -= 1
        if self._pending and self.active <= len(self._pending):  # nobody else is coming
            self._flush()

    async def predict(self, served: Any, decoded: Any) -> np.ndarray:
        """`served.predict_raw(decoded)`, computed together with whatever else arrives meanwhile."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        self._pending.append((served, decoded, future))
        self._rows += decoded.n_rows
        if self._rows >= self.max_rows or self.active <= len(self._pending):
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.window_s, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending, self._rows = self._pending, [], 0
        if not pending:
            return
        self.batches += 1
        self.batched_requests += len(pending)
        groups: dict[int, list[tuple[Any, Any, asyncio.Future]]] = {}
        for item in pending:  # a swap mid-window: each request keeps the model it started with
            groups.setdefault(id(item[0]), []).append(item)
        for items in groups.values():
            served = items[0][0]
            try:
                if len(items) == 1:
                    outputs = [served.predict_raw(items[0][1])]
                else:
                    names = list(items[0][1].columns)
                    columns = {name: np.concatenate([d.columns[name] for _, d, _ in items]) for name in names}
                    raw = served.predict_raw_columns(columns, sum(d.n_rows for _, d, _ in items))
                    cuts = np.cumsum([d.n_rows for _, d, _ in items])[:-1]
                    outputs = np.split(raw, cuts)
            except Exception as exc:  # every caller of the batch gets the error its own call would have
                for _, _, future in items:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), output in zip(items, outputs, strict=True):
                if not future.done():  # a caller that timed out or disconnected
                    future.set_result(output)
