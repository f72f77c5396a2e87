"""A global LightGBM model over all series (mlforecast): lags, rolling means, date features and the
known-future covariates, on the differenced and per-series scaled target.

The bundle stores the booster in LightGBM's own text format and the feature recipe as JSON; the
mlforecast object is rebuilt from the recipe at load and its per-series state (the transforms'
statistics, the lags) recomputed from the history it is asked to forecast from.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from kiln.forecasters.base import Family

_DATE_FEATURES = {"D": ["dayofweek", "dayofyear"], "B": ["dayofweek", "dayofyear"], "W": ["week"],
                  "MS": ["month"], "M": ["month"], "ME": ["month"], "QS": ["quarter"], "Q": ["quarter"],
                  "QE": ["quarter"], "h": ["hour", "dayofweek"], "H": ["hour", "dayofweek"]}


class _Booster:
    """What mlforecast calls `predict` on: a LightGBM booster read from its text form."""

    def __init__(self, text: str) -> None:
        import lightgbm

        self.booster = lightgbm.Booster(model_str=text)

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(features.to_numpy(dtype="float64"), num_threads=1)


class LightGBMFamily(Family):
    name = "lightgbm"
    tags = frozenset({"global", "gradient_boosting", "covariates"})
    space: ClassVar[dict[str, Any]] = {"num_leaves": [15, 31], "learning_rate": [0.05],
                                       "n_estimators": [150, 300]}
    is_global = True
    intervals = False

    def usable(self, lengths: np.ndarray, m: int, intermittent: bool) -> bool:
        return int(lengths.sum()) >= 60 and int(lengths.min()) >= 12

    def recipe(self, lengths: np.ndarray, m: int, freq: str, known_future: list[str], seed: int) -> dict[str, Any]:
        """The feature recipe for series of these lengths (JSON)."""
        shortest = int(lengths.min())
        top = int(max(1, min(max(m, 4), 24, (shortest - 2) // 3)))
        lags = sorted({*range(1, top + 1), *([m] if m <= (shortest - 2) // 2 else [])})
        base = freq.lstrip("0123456789").split("-")[0]
        rows = int(lengths.sum())
        return {"freq": freq, "lags": lags, "rolling": [w for w in sorted({max(m, 2), 2 * max(m, 2)})
                                                        if w + 1 < shortest // 2],
                "date_features": _DATE_FEATURES.get(base, []), "known_future": list(known_future),
                "difference": 1, "seed": int(seed),
                "params": {"n_estimators": 300 if rows > 2000 else 150, "learning_rate": 0.05,
                           "num_leaves": 31 if rows > 2000 else 15, "min_child_samples": 5 if rows < 500 else 20,
                           "subsample": 0.9, "subsample_freq": 1, "colsample_bytree": 0.9}}

    def _forecaster(self, recipe: dict[str, Any], models: dict[str, Any]) -> Any:
        from mlforecast import MLForecast
        from mlforecast.lag_transforms import RollingMean
        from mlforecast.target_transforms import Differences, LocalStandardScaler

        lag_transforms = {1: [RollingMean(window_size=w) for w in recipe["rolling"]]} if recipe["rolling"] else None
        transforms = [Differences([recipe["difference"]])] if recipe["difference"] else []
        return MLForecast(models=models, freq=recipe["freq"], lags=recipe["lags"], lag_transforms=lag_transforms,
                          date_features=recipe["date_features"], target_transforms=[*transforms, LocalStandardScaler()],
                          num_threads=1)

    def fit(self, panel: pd.DataFrame, recipe: dict[str, Any]) -> str:
        """Train on a long panel (unique_id, ds, y, known-future columns); the booster's text."""
        import lightgbm

        columns = ["unique_id", "ds", "y", *recipe["known_future"]]
        model = lightgbm.LGBMRegressor(**recipe["params"], random_state=recipe["seed"], n_jobs=1, verbosity=-1,
                                       deterministic=True, force_row_wise=True)
        forecaster = self._forecaster(recipe, {"lgbm": model})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            forecaster.fit(panel[columns], static_features=[])
        return forecaster.models_["lgbm"].booster_.model_to_string()

    def predict(self, recipe: dict[str, Any], booster: str, history: pd.DataFrame, h: int,
                future: pd.DataFrame | None) -> pd.DataFrame:
        """unique_id, ds, mean for h steps after each series of `history`."""
        columns = ["unique_id", "ds", "y", *recipe["known_future"]]
        forecaster = self._forecaster(recipe, {"lgbm": _Booster(booster)})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            forecaster.preprocess(history[columns], static_features=[])
            forecaster.models_ = {"lgbm": _Booster(booster)}
            x = None
            if recipe["known_future"]:
                x = future[["unique_id", "ds", *recipe["known_future"]]] if future is not None else None
            out = forecaster.predict(h, X_df=x)
        return out.rename(columns={"lgbm": "mean"})


FAMILIES = {"lightgbm": LightGBMFamily()}
