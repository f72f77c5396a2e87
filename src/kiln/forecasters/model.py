"""The fitted forecaster: the ensemble's members, each member's selected form per series, the
conformal spreads from the backtest, the LightGBM booster, and the recent history per series.

Forecasting refits each member's stored form on the history it is given (the stored context, or a
newer one): exact (the same history gives the same forecast) and fast (no form search).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from kiln.errors import InvalidDataError, InvalidOptionError
from kiln.forecasters.base import QUANTILES, family, monotone, normal_quantiles
from kiln.forecasters.data import Columns, future_index, to_internal

QUANTILE_COLUMNS = tuple(f"quantile_{q:g}" for q in QUANTILES)


def insample_scale(y: np.ndarray, m: int) -> float:
    """MASE's scale: the in-sample seasonal-naive MAE (period 1 when the series is shorter than 2m)."""
    m = m if len(y) >= 2 * m else 1
    if len(y) <= m:
        return 1.0
    scale = float(np.mean(np.abs(y[m:] - y[:-m])))
    return scale if scale > 0 and np.isfinite(scale) else max(float(np.mean(np.abs(y))), 1e-8)


def conformal(mean: np.ndarray, scale: float, sigma: np.ndarray) -> np.ndarray:
    """Quantiles from the backtest: normal around the mean with the per-step spread of the scaled errors."""
    return normal_quantiles(mean, scale * np.asarray(sigma[: len(mean)], dtype="float64"))


class Forecaster:
    """A trained forecasting model; `forecast` gives the mean and quantiles h steps after each series."""

    kind = "forecast"
    metric = "mase"

    def __init__(self, *, columns: Columns, horizon: int, freq: str, m: int, known_future: list[str],
                 members: list[dict[str, Any]], specs: dict[str, dict[str, Any]], sigmas: dict[str, list[float]],
                 context: pd.DataFrame, recipe: dict[str, Any] | None = None, booster: str | None = None,
                 board: list[dict[str, Any]] | None = None, windows: list[dict[str, Any]] | None = None,
                 backtest: pd.DataFrame | None = None, info: dict[str, Any] | None = None) -> None:
        self.columns = columns
        self.horizon = int(horizon)
        self.freq = freq
        self.m = int(m)
        self.known_future = list(known_future)
        self.members = members
        self.specs = specs
        self.sigmas = sigmas
        self.context = context
        self.recipe = recipe
        self.booster = booster
        self.board = board or []
        self.windows = windows or []
        self.backtest = backtest if backtest is not None else pd.DataFrame()
        self.info = info or {}
        self._stored: dict[str, pd.DataFrame] | None = None  # the forecast from the stored context, per series

    # -- what the bundle records ----------------------------------------------------------------------
    @property
    def target(self) -> str:
        return self.columns.target

    @property
    def manifest(self) -> dict[str, Any]:
        return {"kind": self.kind, "task": "forecast", "target": self.columns.target, "time_column": self.columns.time,
                "id_column": self.columns.id, "horizon": self.horizon, "frequency": self.freq,
                "season_length": self.m, "known_future": self.known_future, "quantiles": list(QUANTILES),
                "metric": self.metric, "members": [{"name": m["family"], **m} for m in self.members],
                "series": int(self.context["unique_id"].nunique()), "best": self.info.get("best"),
                "cv": self._backtest_summary(),
                "training": {"seconds": self.info.get("seconds"), "time_limit": self.info.get("time_limit"),
                             "seed": self.info.get("seed"), "rows": len(self.context)}}

    def _backtest_summary(self) -> dict[str, Any]:
        """The kept model's backtest MASE with its interval (what the registry logs as the model's score)."""
        if not self.board:
            return {}
        top = min((r for r in self.board if r.get("score") == r.get("score")), key=lambda r: r.get("rank", 0),
                  default=None)
        if top is None:
            return {}
        return {"metric": "mase", "score": top.get("score"), "ci_low": top.get("ci_low"),
                "ci_high": top.get("ci_high"), "model": top.get("model"), "n_folds": self.info.get("windows"),
                "wql": top.get("wql")}

    def leaderboard(self) -> pd.DataFrame:
        """Every candidate's backtest scores (MASE, WQL, sMAPE with 95% intervals across windows), times, status."""
        frame = pd.DataFrame(self.board)
        if frame.empty:
            return frame
        used = {m["family"] for m in self.members}
        frame["used"] = frame["model"].map(lambda name: name == "ensemble" or (name in used and len(used) == 1))
        if "ensemble" not in set(frame["model"]) and len(used) > 1:
            frame["used"] = frame["model"].isin(used)
        # What the terminal leaderboard shows (kiln.cli.scoreboard reads these): each metric with its interval.
        frame.attrs["metrics"] = {"mase": ("MASE", 3), "wql": ("WQL", 4), "smape": ("sMAPE %", 2)}
        frame.attrs["times"] = ("fit s",)
        frame.attrs["note"] = ("scores are means over the backtest's rolling-origin windows, the interval under "
                               "each is 95% across windows; fit s is the candidate's fit and forecast time over "
                               "all windows")
        return frame

    @property
    def series_ids(self) -> list[str]:
        return [str(s) for s in self.context["unique_id"].unique()]

    # -- forecasting ------------------------------------------------------------------------------------
    def forecast(self, history: pd.DataFrame | None = None, *, future: pd.DataFrame | None = None,
                 h: int | None = None, ids: list[str] | None = None) -> pd.DataFrame:
        """unique_id, ds, prediction, quantile_0.1 … quantile_0.9 for h steps after each series' last time.

        `history` is internal (unique_id, ds, y, covariates); None forecasts from the stored context.
        """
        h = self.horizon if h is None else int(h)
        if not 1 <= h <= self.horizon:
            raise InvalidOptionError(f"h={h} must be between 1 and the trained horizon {self.horizon}.")
        if history is None and future is None and self._future_free():
            # From the stored context the forecast never changes: computed once, then sliced (serving's fast path).
            if self._stored is None:
                stored = self._forecast(self.context, None, self.horizon, None)
                self._stored = {str(k): g.reset_index(drop=True) for k, g in stored.groupby("unique_id", sort=False)}
            return self._slice(self._stored, h, ids)
        return self._forecast(self.context if history is None else history, future, h, ids)

    def _future_free(self) -> bool:
        return not self.known_future or not any(m["family"] == "lightgbm" for m in self.members)

    def _slice(self, stored: dict[str, pd.DataFrame], h: int, ids: list[str] | None) -> pd.DataFrame:
        if ids is not None:
            unknown = sorted(set(ids) - set(stored))
            if unknown:
                raise InvalidDataError(f"Series {unknown[:5]} are not in the model's stored history; "
                                       f"known series: {self.series_ids[:10]}.")
        chosen = [stored[i].iloc[:h] for i in (ids if ids is not None else stored)]
        return chosen[0].copy() if len(chosen) == 1 else pd.concat(chosen, ignore_index=True)

    def _forecast(self, history: pd.DataFrame, future: pd.DataFrame | None, h: int,
                  ids: list[str] | None) -> pd.DataFrame:
        if ids is not None:
            unknown = sorted(set(ids) - set(history["unique_id"].astype(str)))
            if unknown:
                raise InvalidDataError(f"Series {unknown[:5]} are not in the model's stored history; "
                                       f"known series: {self.series_ids[:10]}.")
            history = history[history["unique_id"].astype(str).isin(ids)]
        future = self._future(history, future)
        total = sum(member["weight"] for member in self.members)
        mean_sum: dict[str, np.ndarray] = {}
        quantile_sum: dict[str, np.ndarray] = {}
        groups = {str(k): g for k, g in history.groupby("unique_id", sort=False)}
        for member in self.members:
            weight = member["weight"] / total
            for sid, (mean, quantiles) in self._member(member, groups, future).items():
                mean_sum[sid] = mean_sum.get(sid, 0) + weight * mean
                quantile_sum[sid] = quantile_sum.get(sid, 0) + weight * quantiles
        rows = []
        for sid, group in groups.items():
            index = future_index(group["ds"].iloc[-1], self.freq, self.horizon)[:h]
            quantiles = monotone(quantile_sum[sid])[:h]
            spread = float(self.info.get("spread", 1.0))
            if spread != 1.0:  # the spread scaling chosen on the backtest windows (calibration)
                median = quantiles[:, 4:5]
                quantiles = monotone(median + spread * (quantiles - median))
            out = pd.DataFrame(quantiles, columns=list(QUANTILE_COLUMNS))
            out.insert(0, "prediction", mean_sum[sid][:h])
            out.insert(0, "ds", index)
            out.insert(0, "unique_id", sid)
            rows.append(out)
        return pd.concat(rows, ignore_index=True)

    def _member(self, member: dict[str, Any], groups: dict[str, pd.DataFrame],
                future: pd.DataFrame | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        name = member["family"]
        fam = family(name)
        sigma = np.asarray(self.sigmas.get(name, []), dtype="float64")
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if fam.is_global:
            history = pd.concat(groups.values(), ignore_index=True)
            predicted = fam.predict(self.recipe, self.booster, history, self.horizon, future)
            for sid, group in predicted.groupby("unique_id", sort=False):
                y = groups[str(sid)]["y"].to_numpy(dtype="float64")
                mean = group["mean"].to_numpy(dtype="float64")
                out[str(sid)] = (mean, conformal(mean, insample_scale(y, self.m), sigma))
            return out
        specs = self.specs.get(name, {})
        for sid, group in groups.items():
            y = group["y"].to_numpy(dtype="float64")
            try:
                result = fam.forecast(y, self.horizon, self.m, specs.get(sid))
            except Exception:  # a form that cannot be refitted on this history: the seasonal naive answers
                result = family("seasonal_naive").forecast(y, self.horizon, self.m)
            if member.get("intervals") == "model" and result.quantiles is not None:
                quantiles = result.quantiles
            else:
                quantiles = conformal(result.mean, insample_scale(y, self.m), sigma)
            out[sid] = (result.mean, quantiles)
        return out

    def _future(self, history: pd.DataFrame, future: pd.DataFrame | None) -> pd.DataFrame | None:
        """The known-future covariates for every series' horizon, or a sentence naming what is missing."""
        if not self.known_future or not any(m["family"] == "lightgbm" for m in self.members):
            return None
        if future is None:
            raise InvalidDataError(f"This model uses the known-future covariates {self.known_future}: give them for "
                                   f"the {self.horizon} steps after each series with --future FILE.")
        missing = [c for c in self.known_future if c not in future.columns]
        if missing:
            raise InvalidDataError(f"The future table lacks the known-future column(s) {missing}; add them.")
        need = []
        for sid, group in history.groupby("unique_id", sort=False):
            index = future_index(group["ds"].iloc[-1], self.freq, self.horizon)
            need.append(pd.DataFrame({"unique_id": str(sid), "ds": index}))
        wanted = pd.concat(need, ignore_index=True)
        given = future.assign(unique_id=future["unique_id"].astype(str))
        merged = wanted.merge(given[["unique_id", "ds", *self.known_future]].drop_duplicates(["unique_id", "ds"]),
                              on=["unique_id", "ds"], how="left")
        holes = merged[merged[self.known_future].isna().any(axis=1)]
        if len(holes):
            first = holes.iloc[0]
            raise InvalidDataError(f"The future table has no {self.known_future} for series {first['unique_id']!r} "
                                   f"at {pd.Timestamp(first['ds']).date()} ({len(holes)} of {len(merged)} steps "
                                   "missing); give every step of the horizon.")
        return merged

    def warm_up(self) -> None:
        """One forecast of the first stored series (what the server does before it answers)."""
        if not self._future_free():
            return  # the covariates of the horizon are the client's to send
        self.forecast()  # every stored series: later requests by id are answered from it

    # -- the user's column names ----------------------------------------------------------------------
    def read_history(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A user table (their column names) as the internal panel this model forecasts from."""
        from kiln.forecasters.data import regular

        internal = to_internal(frame, self.columns)
        covariates = [c for c in self.info.get("covariates", []) if c in internal.columns]
        return regular(internal.dropna(subset=["y"]) if internal["y"].notna().any() else internal,
                       self.freq, covariates).frame

    def read_future(self, frame: pd.DataFrame) -> pd.DataFrame:
        return to_internal(frame, self.columns, need_target=False)

    def to_user(self, forecast: pd.DataFrame) -> pd.DataFrame:
        """The contract's columns: the id column (if any), the time column, prediction, quantile_0.1 … 0.9."""
        out = forecast.rename(columns={"ds": self.columns.time})
        if self.columns.id is None:
            return out.drop(columns=["unique_id"])
        return out.rename(columns={"unique_id": self.columns.id})

    def predict_table(self, frame: pd.DataFrame, future: pd.DataFrame | None = None) -> pd.DataFrame:
        """Forecast from a user table (and its known-future table): the contract's columns."""
        started = time.perf_counter()
        history = self.read_history(frame)
        out = self.forecast(history, future=None if future is None else self.read_future(future))
        self.info["last_predict_seconds"] = time.perf_counter() - started
        return self.to_user(out)
