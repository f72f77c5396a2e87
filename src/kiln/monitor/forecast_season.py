"""Drift of a forecaster's seasonality: do the live residuals depend on the season position?

A model that still fits the series leaves residuals with no seasonal pattern; when the seasonal shape
changes (a weekly peak moves, a summer grows), the live residuals differ by position in the season.
Kruskal–Wallis across season positions on the live scaled residuals, with eta-squared
((H − k + 1) / (n − k), Tomczak & Tomczak 2014: about 0 when the positions do not differ) as its effect
size, set against the same statistic on the backtest's residuals (what the model left when it was
chosen): the alert fires only when the live profile is clearly more seasonal than that.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

P_VALUE = 0.01
EFFECT = 0.1  # eta-squared above the backtest's: between a medium (0.06) and a large (0.14) effect


def steps_since(ds: pd.Series | pd.DatetimeIndex, anchor: pd.Timestamp, freq: str) -> np.ndarray:
    """Whole steps of `freq` from `anchor` to each timestamp (the season position is this modulo m)."""
    from pandas.tseries.frequencies import to_offset

    ds = pd.DatetimeIndex(pd.to_datetime(ds))
    offset = to_offset(freq)
    try:
        delta = pd.Timedelta(offset)
    except ValueError:  # a calendar frequency (MS, W-SUN, Q…): count the grid's steps
        grid = pd.date_range(anchor, max(ds.max(), anchor) + offset, freq=offset)
        return np.asarray(grid.searchsorted(ds), dtype="int64")
    return np.asarray(np.round((ds - anchor) / delta), dtype="int64")


def eta_squared(residual: np.ndarray, position: np.ndarray) -> tuple[float, float] | None:
    """Kruskal–Wallis H's eta-squared and p-value across positions with ≥ 2 residuals (None: too few)."""
    groups = [residual[position == p] for p in np.unique(position)]
    groups = [g for g in groups if len(g) >= 2]
    n = sum(len(g) for g in groups)
    if len(groups) < 2 or n < 6 or np.ptp(np.concatenate(groups)) == 0:
        return None
    test = stats.kruskal(*groups)
    return float((test.statistic - len(groups) + 1) / (n - len(groups))), float(test.pvalue)


def _backtest_effect(model: Any, m: int, anchor: pd.Timestamp, last: dict[str, int]) -> float | None:
    """The same effect size on the backtest's residuals: window w's step s lies s − w·H steps after the last
    training time of its series (the windows are cut back from the end)."""
    from kiln.forecasters.model import insample_scale

    bt = getattr(model, "backtest", None)
    if bt is None or not len(bt) or "window" not in bt.columns:
        return None
    bt = bt[bt["unique_id"].astype(str).isin(last)]
    if not len(bt):
        return None
    context = model.context
    scales = {str(sid): insample_scale(g["y"].to_numpy(dtype="float64"), m)
              for sid, g in context.groupby("unique_id", sort=False)}
    sid = bt["unique_id"].astype(str)
    residual = ((bt["y"] - bt["prediction"]) / sid.map(scales)).to_numpy(dtype="float64")
    offset = bt["step"].to_numpy(dtype="int64") - bt["window"].to_numpy(dtype="int64") * int(model.horizon)
    position = (sid.map(last).to_numpy(dtype="int64") + offset) % m
    found = eta_squared(residual, position)
    return None if found is None else found[0]


def seasonality_drift(model: Any, scored: pd.DataFrame) -> tuple[dict[str, Any] | None, dict[str, str] | None]:
    """(the test's numbers, an alert or None) for the scored live rows (series, ds, value, prediction, scale)."""
    m = int(getattr(model, "m", 1) or 1)
    context = getattr(model, "context", None)
    if m < 2 or context is None or not len(context) or len(scored) < 2 * m:
        return None, None
    anchor = pd.Timestamp(context["ds"].min())
    lasts = context.groupby("unique_id", sort=False)["ds"].max()
    last = dict(zip(lasts.index.astype(str), steps_since(lasts, anchor, model.freq).tolist(), strict=True))
    residual = ((scored["value"] - scored["prediction"]) / scored["scale"]).to_numpy(dtype="float64")
    position = steps_since(scored["ds"], anchor, model.freq) % m
    found = eta_squared(residual, position)
    if found is None:
        return None, None
    effect, p_value = found
    reference = _backtest_effect(model, m, anchor, last)
    out = {"test": "Kruskal–Wallis across season positions", "season_length": m, "eta_squared": effect,
           "backtest_eta_squared": reference, "p_value": p_value, "steps": len(residual)}
    base = max(reference, 0.0) if reference is not None and np.isfinite(reference) else 0.0
    if p_value < P_VALUE and effect - base >= EFFECT:
        worst = pd.Series(residual).groupby(position).mean().abs().idxmax()
        when = pd.Timestamp(pd.to_datetime(scored["ds"]).to_numpy()[position == worst].max())
        return out, {"metric": "seasonality", "message": (
            f"the live residuals differ by position in the season of {m} (Kruskal–Wallis p = {p_value:.4f}, "
            f"η² {effect:.2f} against {base:.2f} on the backtest; the position of {when.isoformat()} is off most): the "
            "seasonal shape changed; retrain on the newer history")}
    return out, None
