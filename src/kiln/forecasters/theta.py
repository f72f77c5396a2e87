"""Theta models (statsforecast AutoTheta: standard, optimised, dynamic); the variant chosen by MSE is refitted."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from kiln.forecasters._stats import fit_forecast
from kiln.forecasters.base import Family, Forecast, usable_season


class Theta(Family):
    name = "theta"
    tags = frozenset({"statistical", "local", "intervals"})
    space: ClassVar[dict[str, Any]] = {"model": ["STM", "OTM", "DSTM", "DOTM"],
                                       "decomposition": ["multiplicative", "additive"]}

    def forecast(self, y: np.ndarray, h: int, m: int, spec: dict[str, Any] | None = None,
                 x: np.ndarray | None = None, x_future: np.ndarray | None = None) -> Forecast:
        from statsforecast.models import AutoTheta

        season = usable_season(len(y), m) if spec is None else int(spec["m"])
        decomposition = ("multiplicative" if np.min(y) > 0 else "additive") if spec is None else spec["decomposition"]
        model = AutoTheta(season_length=season, decomposition_type=decomposition,
                          model=None if spec is None else spec["model"])
        fitted, mean, quantiles = fit_forecast(model, y, h)
        return Forecast(mean, quantiles, {"m": season, "decomposition": decomposition,
                                          "model": str(fitted.model_["modeltype"])})


FAMILIES = {"theta": Theta()}
