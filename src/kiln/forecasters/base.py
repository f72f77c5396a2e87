"""The family interface, the quantile levels and the seasonal period of a frequency."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

QUANTILES: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
LEVELS = (20, 40, 60, 80)  # the central intervals whose bounds are the quantiles 0.1 … 0.9
# Order matters: the cheap baselines first, so a useful forecast exists within seconds.
FAMILIES: tuple[str, ...] = ("seasonal_naive", "naive", "drift", "theta", "ets", "ces", "arima", "mstl",
                             "croston", "adida", "imapa", "lightgbm")
_MODULES = {"seasonal_naive": "baseline", "naive": "baseline", "drift": "baseline", "theta": "theta",
            "ets": "ets", "ces": "ces", "arima": "arima", "mstl": "mstl", "croston": "intermittent",
            "adida": "intermittent", "imapa": "intermittent", "lightgbm": "lightgbm"}
# The seasonal period of a pandas offset alias's base (its leading number stripped).
_PERIODS = {"MS": 12, "M": 12, "ME": 12, "BMS": 12, "BM": 12, "QS": 4, "Q": 4, "QE": 4, "BQS": 4,
            "W": 52, "D": 7, "B": 5, "C": 5, "h": 24, "H": 24, "bh": 8, "BH": 8, "min": 60, "T": 60,
            "s": 60, "S": 60, "YS": 1, "Y": 1, "YE": 1, "A": 1, "AS": 1}
# A second, longer season MSTL may model beside the first.
_LONG = {"D": 365, "h": 24 * 7, "H": 24 * 7, "min": 60 * 24, "T": 60 * 24, "B": 260}


@dataclass
class Forecast:
    """One series' forecast: the mean path, its quantiles (h × 9) when the model has them, and the spec
    that refits it (JSON: the selected model form, never fitted objects)."""

    mean: np.ndarray
    quantiles: np.ndarray | None
    spec: dict[str, Any] = field(default_factory=dict)


class Family:
    """A forecasting family. Local ones forecast one series at a time (`forecast`); a global one
    (`is_global`) forecasts the whole panel (see kiln.forecasters.lightgbm)."""

    name: str = ""
    tags: frozenset[str] = frozenset()
    space: ClassVar[dict[str, Any]] = {}
    is_global = False
    slow = False  # stopped at its deadline rather than waited for
    intervals = True  # has model intervals; otherwise conformal ones from the backtest

    def usable(self, lengths: np.ndarray, m: int, intermittent: bool) -> bool:
        """Whether the family is worth trying on series of these lengths."""
        return True

    def forecast(self, y: np.ndarray, h: int, m: int, spec: dict[str, Any] | None = None,
                 x: np.ndarray | None = None, x_future: np.ndarray | None = None) -> Forecast:
        """Fit on `y` (choosing a form when `spec` is None, refitting the given form otherwise) and forecast h."""
        raise NotImplementedError


def family(name: str) -> Family:
    """The family called `name`."""
    if name not in _MODULES:
        raise KeyError(name)
    module = importlib.import_module(f"kiln.forecasters.{_MODULES[name]}")
    return module.FAMILIES[name]


def season_length(freq: str) -> int:
    """The seasonal period m of a pandas frequency alias (1 when it has none)."""
    base = freq.lstrip("0123456789").split("-")[0]
    return _PERIODS.get(base, 1)


def long_season(freq: str) -> int | None:
    """A second seasonal period (days in a year for daily data), or None."""
    base = freq.lstrip("0123456789").split("-")[0]
    return _LONG.get(base)


def usable_season(n: int, m: int) -> int:
    """m when the series holds two full seasons, else 1 (a seasonal model cannot be estimated)."""
    return m if m > 1 and n >= 2 * m + 2 else 1


def from_levels(mean: np.ndarray, out: dict[str, np.ndarray]) -> np.ndarray:
    """Statsforecast's lo-/hi- bounds of the 20…80% intervals as the 9 quantiles (the median is the mean)."""
    columns = [out[f"lo-{level}"] for level in reversed(LEVELS)] + [mean] + [out[f"hi-{level}"] for level in LEVELS]
    return monotone(np.column_stack(columns))


def monotone(quantiles: np.ndarray) -> np.ndarray:
    """Quantiles sorted along the level axis (crossing bounds are a numerical artefact)."""
    return np.sort(np.asarray(quantiles, dtype="float64"), axis=1)


def normal_quantiles(mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Normal quantiles 0.1 … 0.9 around `mean` with per-step standard deviation `sigma`."""
    from scipy.stats import norm

    z = norm.ppf(np.asarray(QUANTILES))
    return mean[:, None] + np.asarray(sigma, dtype="float64")[:, None] * z[None, :]


def finite(values: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """`values` where finite, else the fallback (a diverged fit must not leak NaN into a forecast)."""
    values = np.asarray(values, dtype="float64")
    return np.where(np.isfinite(values), values, fallback)
