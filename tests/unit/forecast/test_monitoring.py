"""Monitoring a forecaster: served forecasts and later actuals joined in SQLite, scored per origin, and alerts
only when live accuracy leaves the backtest's interval in the bad direction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kiln.monitor.forecast import judge
from kiln.store.forecast_log import log_forecasts, read_joined, record_actuals


class _Model:
    """What judge reads of a forecaster: its leaderboard (the kept model's backtest row first)."""

    def leaderboard(self) -> pd.DataFrame:
        return pd.DataFrame([{"model": "ensemble", "mase": 0.8, "mase_ci_low": 0.6, "mase_ci_high": 1.0,
                              "wql": 0.05, "wql_ci_low": 0.04, "wql_ci_high": 0.06, "coverage_80": 0.8}])


def _served(url: str, name: str, error: float) -> None:
    rows = []
    for origin in range(3):
        for step in range(1, 8):
            day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=7 * origin + step)
            rows.append({"series": "s", "origin": f"2024-01-{1 + 7 * origin:02d}T00:00:00", "ds": day.isoformat(),
                         "step": step, "prediction": 100.0, "quantiles": list(np.linspace(95, 105, 9)), "scale": 2.0})
    log_forecasts(name, "1", "r1", rows, url=url)
    rng = np.random.default_rng(0)
    actuals = [{"series": "s", "ds": r["ds"], "value": 100.0 + error + float(rng.normal(0, 1))} for r in rows]
    record_actuals(name, actuals[:-2], url=url)  # the two newest have not arrived yet


def test_live_accuracy_within_the_backtest_interval_raises_no_alert(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kiln.db'}"
    _served(url, "calm", error=0.0)
    joined = read_joined("calm", url=url)
    assert len(joined) == 21 and int(joined["value"].notna().sum()) == 19
    result = judge(_Model(), joined, name="calm", version="1")
    assert result.status == "ok" and result.scored == 19 and len(result.windows) == 3
    assert result.overall is not None and result.overall["mase"] < 1.0


def test_a_level_shift_alerts_on_mase_wql_coverage_and_level(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kiln.db'}"
    _served(url, "shifted", error=15.0)
    result = judge(_Model(), read_joined("shifted", url=url), name="shifted", version="1")
    assert result.status == "alert"
    assert {a["metric"] for a in result.alerts} == {"mase", "wql", "coverage_80", "level"}
    assert "above the forecasts" in next(a["message"] for a in result.alerts if a["metric"] == "level")
