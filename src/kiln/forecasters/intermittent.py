"""Intermittent demand (many zeros): Croston, ADIDA and IMAPA (statsforecast). They give a level,
no intervals: the training adds conformal ones from the backtest residuals."""

from __future__ import annotations

from typing import Any

import numpy as np

from kiln.forecasters._stats import fit_forecast
from kiln.forecasters.base import Family, Forecast


class Intermittent(Family):
    tags = frozenset({"statistical", "local", "intermittent"})
    intervals = False

    def __init__(self, name: str, model: str) -> None:
        self.name = name
        self._model = model

    def usable(self, lengths: np.ndarray, m: int, intermittent: bool) -> bool:
        return intermittent

    def forecast(self, y: np.ndarray, h: int, m: int, spec: dict[str, Any] | None = None,
                 x: np.ndarray | None = None, x_future: np.ndarray | None = None) -> Forecast:
        import statsforecast.models as models

        _, mean, _ = fit_forecast(getattr(models, self._model)(), y, h, intervals=False)
        return Forecast(mean, None, {})


FAMILIES = {"croston": Intermittent("croston", "CrostonClassic"), "adida": Intermittent("adida", "ADIDA"),
            "imapa": Intermittent("imapa", "IMAPA")}
