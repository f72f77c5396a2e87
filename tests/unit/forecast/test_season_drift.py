"""Drift of a forecaster's seasonality: a planted change of the weekly shape in the actuals fires the
seasonality alert (Kruskal–Wallis across season positions on the live residuals, beyond the backtest's);
the same series with an unchanged shape does not. Served forecasts and actuals go through the real SQLite log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kiln.monitor.forecast import judge
from kiln.report.forecast import render_monitor
from kiln.store.forecast_log import log_forecasts, read_joined, record_actuals

START = pd.Timestamp("2024-01-01")
WEEKS = 8


def pattern(day: pd.Timestamp) -> float:
    return 100.0 + 10.0 * [0, 1, 2, 3, 2, 1, -3][day.dayofweek]


class _Model:
    """What judge reads of a daily forecaster with a weekly season: its leaderboard, season, history and the
    backtest's residuals (noise only: the model fitted the weekly shape when it was chosen)."""

    m, freq, horizon = 7, "D", 7

    def __init__(self) -> None:
        ds = pd.date_range(START, periods=7 * WEEKS, freq="D")
        self.context = pd.DataFrame({"unique_id": "s", "ds": ds, "y": [pattern(d) for d in ds]})
        rng = np.random.default_rng(1)
        rows = []
        for w in (1, 2, 3):
            for step in range(1, 8):
                y = pattern(ds[-1] + pd.Timedelta(days=step - 7 * w))
                rows.append({"unique_id": "s", "window": w, "cut": len(ds) - 7 * w, "step": step, "y": y,
                             "prediction": y + float(rng.normal(0, 1)), "q10": y - 3, "q90": y + 3})
        self.backtest = pd.DataFrame(rows)

    def leaderboard(self) -> pd.DataFrame:
        return pd.DataFrame([{"model": "ensemble", "mase": 0.8, "mase_ci_low": 0.0, "mase_ci_high": 9.0,
                              "wql": 0.05, "wql_ci_low": 0.0, "wql_ci_high": 9.0, "coverage_80": 0.8}])


def _judged(tmp_path: Path, name: str, change: float):
    """Four weekly origins after the history; actuals = the old shape + `change`·(a zero-mean weekly wave)."""
    url = f"sqlite:///{tmp_path / 'kiln.db'}"
    last = START + pd.Timedelta(days=7 * WEEKS - 1)
    rows = []
    for origin in range(4):
        base = last + pd.Timedelta(days=7 * origin)
        for step in range(1, 8):
            day = base + pd.Timedelta(days=step)
            rows.append({"series": "s", "origin": base.isoformat(), "ds": day.isoformat(), "step": step,
                         "prediction": pattern(day), "quantiles": list(pattern(day) + np.linspace(-40, 40, 9)),
                         "scale": 2.0})
    log_forecasts(name, "1", "r1", rows, url=url)
    rng = np.random.default_rng(0)
    actuals = [{"series": "s", "ds": r["ds"], "value": r["prediction"] + float(rng.normal(0, 1))
                + change * np.sin(2 * np.pi * pd.Timestamp(r["ds"]).dayofweek / 7)} for r in rows]
    record_actuals(name, actuals, url=url)
    return judge(_Model(), read_joined(name, url=url), name=name, version="1")


def test_an_unchanged_weekly_shape_raises_no_seasonality_alert(tmp_path: Path) -> None:
    result = _judged(tmp_path, "calm", change=0.0)
    assert result.season is not None and result.season["steps"] == 28 and result.season["season_length"] == 7
    assert result.season["p_value"] > 0.01 and result.status == "ok"
    assert "seasonality" not in {a["metric"] for a in result.alerts}


def test_a_changed_weekly_shape_fires_the_seasonality_alert_and_shows_on_the_page(tmp_path: Path) -> None:
    result = _judged(tmp_path, "reshaped", change=6.0)
    assert result.season is not None and result.season["p_value"] < 0.01
    assert result.season["eta_squared"] - result.season["backtest_eta_squared"] >= 0.1
    alerts = {a["metric"]: a["message"] for a in result.alerts}
    assert "seasonality" in alerts and "level" not in alerts  # the wave has mean zero: the level did not move
    assert "seasonal shape changed" in alerts["seasonality"]
    page = render_monitor(result)
    assert "Residual tests" in page and "Kruskal–Wallis across season positions" in page
    assert any("seasonality (residuals by position" in line for line in result.lines())
