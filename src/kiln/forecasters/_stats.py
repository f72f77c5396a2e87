"""Shared wrapper around one statsforecast model: fit, forecast h steps with the 20…80% intervals."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from kiln.forecasters.base import LEVELS, finite, from_levels


def fit_forecast(model: Any, y: np.ndarray, h: int, *, intervals: bool = True,
                 x: np.ndarray | None = None, x_future: np.ndarray | None = None) -> tuple[Any, np.ndarray,
                                                                                              np.ndarray | None]:
    """(fitted model, mean, quantiles or None) of a statsforecast model on one series."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            fitted = model.fit(np.asarray(y, dtype="float64"), X=x)
            out = fitted.predict(h=h, X=x_future, level=list(LEVELS)) if intervals else fitted.predict(h=h, X=x_future)
    fallback = np.full(h, float(y[-1]))
    mean = finite(out["mean"], fallback)
    if not intervals:
        return fitted, mean, None
    quantiles = from_levels(mean, {key: finite(value, mean) for key, value in out.items() if key != "mean"})
    return fitted, mean, quantiles
