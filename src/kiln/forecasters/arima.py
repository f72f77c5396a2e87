"""ARIMA (statsforecast AutoARIMA, stepwise): the orders chosen by AICc are stored and refitted.

The slowest family: the search sees at most the last `MAX_POINTS` points and runs under a deadline
(the training stops it, it does not wait for it).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from kiln.forecasters._stats import fit_forecast
from kiln.forecasters.base import Family, Forecast, usable_season

MAX_POINTS = 600


class ARIMAFamily(Family):
    name = "arima"
    tags = frozenset({"statistical", "local", "intervals", "slow"})
    space: ClassVar[dict[str, Any]] = {"p": [0, 5], "q": [0, 5], "P": [0, 2], "Q": [0, 2], "d": [0, 2], "D": [0, 1]}
    slow = True

    def forecast(self, y: np.ndarray, h: int, m: int, spec: dict[str, Any] | None = None,
                 x: np.ndarray | None = None, x_future: np.ndarray | None = None) -> Forecast:
        from statsforecast.models import ARIMA, AutoARIMA

        y = y[-MAX_POINTS:]
        if spec is None:
            season = usable_season(len(y), m)
            fitted, mean, quantiles = fit_forecast(AutoARIMA(season_length=season, nmodels=30), y, h)
            p, q, P, Q, season, d, D = (int(v) for v in fitted.model_["arma"])
            coef = fitted.model_["coef"]
            spec = {"order": [p, d, q], "seasonal_order": [P, D, Q], "m": season,
                    "drift": "drift" in coef, "mean": "intercept" in coef}
            return Forecast(mean, quantiles, spec)
        model = ARIMA(order=tuple(spec["order"]), seasonal_order=tuple(spec["seasonal_order"]),
                      season_length=int(spec["m"]), include_drift=bool(spec["drift"]),
                      include_mean=bool(spec["mean"]))
        _, mean, quantiles = fit_forecast(model, y, h)
        return Forecast(mean, quantiles, spec)


FAMILIES = {"arima": ARIMAFamily()}
