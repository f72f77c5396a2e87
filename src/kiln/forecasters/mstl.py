"""MSTL (statsforecast): several seasonalities (a week and a year of daily data) removed by STL, the
rest forecast by AutoETS without season."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from kiln.forecasters._stats import fit_forecast
from kiln.forecasters.base import Family, Forecast


class MSTLFamily(Family):
    name = "mstl"
    tags = frozenset({"statistical", "local", "intervals", "multi_seasonal"})
    space: ClassVar[dict[str, Any]] = {"season_length": "the periods two full cycles of the series hold"}

    def usable(self, lengths: np.ndarray, m: int, intermittent: bool) -> bool:
        return m > 1 and int(lengths.min()) >= 2 * m + 2

    def forecast(self, y: np.ndarray, h: int, m: int, spec: dict[str, Any] | None = None,
                 x: np.ndarray | None = None, x_future: np.ndarray | None = None) -> Forecast:
        from statsforecast.models import MSTL, AutoETS

        seasons = [s for s in (spec or {}).get("seasons", [m]) if len(y) >= 2 * s + 2] or [1]
        if seasons == [1]:
            model: Any = AutoETS(model="ZZN" if np.min(y) > 0 else "AZN")
        else:
            model = MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN"))
        _, mean, quantiles = fit_forecast(model, y, h)
        return Forecast(mean, quantiles, {"seasons": seasons})


FAMILIES = {"mstl": MSTLFamily()}
