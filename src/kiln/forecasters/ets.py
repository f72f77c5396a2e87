"""Exponential smoothing (statsforecast AutoETS): the form chosen by AICc, refitted from that form."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from kiln.forecasters._stats import fit_forecast
from kiln.forecasters.base import Family, Forecast, usable_season


class ETS(Family):
    name = "ets"
    tags = frozenset({"statistical", "local", "intervals"})
    space: ClassVar[dict[str, Any]] = {"model": "ZZZ (error, trend, season chosen by AICc)", "damped": [True, False]}

    def forecast(self, y: np.ndarray, h: int, m: int, spec: dict[str, Any] | None = None,
                 x: np.ndarray | None = None, x_future: np.ndarray | None = None) -> Forecast:
        from statsforecast.models import AutoETS

        season = usable_season(len(y), m)
        if spec is None:
            # Multiplicative forms need positive data.
            model = AutoETS(season_length=season, model="ZZZ" if np.min(y) > 0 else "AZZ")
        else:
            model = AutoETS(season_length=int(spec["m"]), model=spec["model"], damped=spec["damped"])
        fitted, mean, quantiles = fit_forecast(model, y, h)
        components = str(fitted.model_["components"])
        return Forecast(mean, quantiles, {"m": int(season if spec is None else spec["m"]),
                                          "model": components[:3], "damped": components[3] == "D"})


FAMILIES = {"ets": ETS()}
