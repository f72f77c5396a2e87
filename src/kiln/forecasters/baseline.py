"""Seasonal naive, naive and random walk with drift: numpy, no fit, normal intervals.

Seasonal naive is the benchmark every other forecast is judged against (MASE's scale) and the
first useful forecast of a training run; for a stock price, the naive forecast is the random walk.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kiln.forecasters.base import Family, Forecast, normal_quantiles


def _rms(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.sqrt(np.mean(values ** 2))) if len(values) else 0.0


class SeasonalNaive(Family):
    name = "seasonal_naive"
    tags = frozenset({"baseline", "fast"})

    def forecast(self, y: np.ndarray, h: int, m: int, spec: dict[str, Any] | None = None,
                 x: np.ndarray | None = None, x_future: np.ndarray | None = None) -> Forecast:
        m = m if len(y) >= m else 1
        steps = np.arange(h)
        mean = y[-m:][steps % m].astype("float64")
        sigma = _rms(y[m:] - y[:-m]) if len(y) > m else 0.0
        return Forecast(mean, normal_quantiles(mean, sigma * np.sqrt(np.ceil((steps + 1) / m))), {"m": int(m)})


class Naive(Family):
    name = "naive"
    tags = frozenset({"baseline", "fast", "random_walk"})

    def forecast(self, y: np.ndarray, h: int, m: int, spec: dict[str, Any] | None = None,
                 x: np.ndarray | None = None, x_future: np.ndarray | None = None) -> Forecast:
        mean = np.full(h, float(y[-1]))
        sigma = _rms(np.diff(y)) if len(y) > 1 else 0.0
        return Forecast(mean, normal_quantiles(mean, sigma * np.sqrt(np.arange(1, h + 1))), {})


class Drift(Family):
    name = "drift"
    tags = frozenset({"baseline", "fast", "random_walk"})

    def forecast(self, y: np.ndarray, h: int, m: int, spec: dict[str, Any] | None = None,
                 x: np.ndarray | None = None, x_future: np.ndarray | None = None) -> Forecast:
        n = len(y)
        slope = float(y[-1] - y[0]) / (n - 1) if n > 1 else 0.0
        steps = np.arange(1, h + 1)
        mean = float(y[-1]) + slope * steps
        sigma = _rms(np.diff(y) - slope) if n > 2 else 0.0
        return Forecast(mean, normal_quantiles(mean, sigma * np.sqrt(steps * (1 + steps / max(n - 1, 1)))), {})


FAMILIES = {"seasonal_naive": SeasonalNaive(), "naive": Naive(), "drift": Drift()}
