"""The forecast kind's model folder (safe formats only, no pickle):

    forecaster.json    columns, horizon, frequency, members and weights, each member's selected form per
                       series (its parameters' structure, refitted from the history at forecast time),
                       the conformal spreads, the LightGBM feature recipe, the training facts
    context.parquet    the last points of every series (what `kiln predict` and /forecast start from)
    booster.txt        the global LightGBM model in LightGBM's text format (checked before parsing)
    leaderboard.json, windows.json, backtest.parquet   the backtest's scores and the kept model's forecasts
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kiln.errors import BundleError
from kiln.forecasters.data import Columns
from kiln.forecasters.model import Forecaster
from kiln.learners.safe_load import check_lightgbm_model

MODEL = "forecaster.json"
CONTEXT = "context.parquet"
BOOSTER = "booster.txt"
REQUIRED = (MODEL, CONTEXT, "leaderboard.json", "windows.json", "backtest.parquet")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


class ForecastFormat:
    """Writes and reads a `Forecaster` inside a bundle folder."""

    def write(self, model: Forecaster, root: Path) -> dict[str, Any]:
        state = {"columns": model.columns.to_dict(), "horizon": model.horizon, "freq": model.freq, "m": model.m,
                 "known_future": model.known_future, "members": model.members, "specs": model.specs,
                 "sigmas": model.sigmas, "recipe": model.recipe, "info": model.info}
        (root / MODEL).write_text(json.dumps(state, indent=1, default=_plain), encoding="utf-8")
        model.context.to_parquet(root / CONTEXT, index=False)
        if model.booster is not None:
            (root / BOOSTER).write_text(model.booster, encoding="utf-8")
        (root / "leaderboard.json").write_text(json.dumps(model.board, default=_plain), encoding="utf-8")
        (root / "windows.json").write_text(json.dumps(model.windows, default=_plain), encoding="utf-8")
        model.backtest.to_parquet(root / "backtest.parquet", index=False)
        return model.manifest

    def confine(self, root: Path, manifest: dict[str, Any], *, confine: Callable[[object], Path]) -> None:
        files = manifest["files"]
        for name in REQUIRED:
            confine(name)
            if name not in files:
                raise BundleError(f"Bundle '{root}' does not list the checksum of '{name}'; the bundle is damaged, "
                                  "retrain.")
        members = manifest.get("members")
        if not isinstance(members, list) or not members:
            raise BundleError(f"Bundle '{root}' lists no forecasting members; the bundle is damaged, retrain.")
        if any(isinstance(m, dict) and m.get("family") == "lightgbm" for m in members) and BOOSTER not in files:
            raise BundleError(f"Bundle '{root}' uses LightGBM but lists no '{BOOSTER}'; the bundle is damaged, "
                              "retrain.")

    def read(self, root: Path, manifest: dict[str, Any]) -> Forecaster:
        state = json.loads((root / MODEL).read_text(encoding="utf-8"))
        booster = None
        if BOOSTER in manifest["files"]:
            check_lightgbm_model(root / BOOSTER)
            booster = (root / BOOSTER).read_text(encoding="utf-8")
        context = pd.read_parquet(root / CONTEXT)
        context["unique_id"] = context["unique_id"].astype(str)
        return Forecaster(columns=Columns(**state["columns"]), horizon=state["horizon"], freq=state["freq"],
                          m=state["m"], known_future=state["known_future"], members=state["members"],
                          specs=state["specs"], sigmas=state["sigmas"], context=context, recipe=state["recipe"],
                          booster=booster,
                          board=json.loads((root / "leaderboard.json").read_text(encoding="utf-8")),
                          windows=json.loads((root / "windows.json").read_text(encoding="utf-8")),
                          backtest=pd.read_parquet(root / "backtest.parquet"), info=state["info"])


FORMAT = ForecastFormat()
