"""Complex exponential smoothing (statsforecast AutoCES): simple, partial, full seasonal forms by AIC."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from kiln.forecasters._stats import fit_forecast
from kiln.forecasters.base import Family, Forecast, usable_season


class CES(Family):
    name = "ces"
    tags = frozenset({"statistical", "local", "intervals"})
    space: ClassVar[dict[str, Any]] = {"model": ["N", "S", "P", "F"]}

    def forecast(self, y: np.ndarray, h: int, m: int, spec: dict[str, Any] | None = None,
                 x: np.ndarray | None = None, x_future: np.ndarray | None = None) -> Forecast:
        from statsforecast.models import AutoCES

        season = usable_season(len(y), m) if spec is None else int(spec["m"])
        model = AutoCES(season_length=season, model="Z" if spec is None else spec["model"])
        fitted, mean, quantiles = fit_forecast(model, y, h)
        return Forecast(mean, quantiles, {"m": season, "model": str(fitted.model_["seasontype"])})


FAMILIES = {"ces": CES()}
