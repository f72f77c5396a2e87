"""The forecast kind's monitor hook: served forecasts joined with the actuals that arrived, scored per
forecast origin (live MASE, WQL, 80% coverage) against the backtest's interval, with alerts when a window
leaves it in the metric's bad direction, and residual tests for a shift of the series' level and a change of
its seasonal shape (kiln.monitor.forecast_season)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from kiln.forecasters.base import QUANTILES
from kiln.monitor.alerts import AlertRules


@dataclass
class ForecastMonitorResult:
    name: str
    version: str
    served: int
    scored: int
    windows: list[dict[str, Any]]
    overall: dict[str, float] | None
    backtest: dict[str, float]
    alerts: list[dict[str, str]] = field(default_factory=list)
    level: dict[str, float] | None = None
    previous: dict[str, Any] | None = None
    season: dict[str, Any] | None = None

    @property
    def status(self) -> str:
        if not self.scored:
            return "no data"
        return "alert" if self.alerts else "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "status": self.status, "served": self.served,
                "scored": self.scored, "windows": self.windows, "overall": self.overall, "backtest": self.backtest,
                "alerts": self.alerts, "level": self.level, "previous": self.previous, "season": self.season}

    def lines(self) -> list[str]:
        out = [f"{self.name} v{self.version}: {self.status} — {self.scored} of {self.served} served steps have "
               "their actual"]
        if self.overall:
            b = self.backtest
            out.append(f"  live MASE {self.overall['mase']:.3f} (backtest {b.get('mase', float('nan')):.3f}, "
                       f"95% {b.get('mase_ci_low', float('nan')):.3f}–{b.get('mase_ci_high', float('nan')):.3f}), "
                       f"WQL {self.overall['wql']:.4f}, 80% coverage {self.overall['coverage_80']:.2f}")
        if self.season:
            s = self.season
            reference = s.get("backtest_eta_squared")
            out.append(f"  seasonality (residuals by position in the season of {s['season_length']}): η² "
                       f"{s['eta_squared']:.2f}" + ("" if reference is None else f" (backtest {reference:.2f})")
                       + f", Kruskal–Wallis p = {s['p_value']:.4f} over {s['steps']} steps")
        out.extend(f"  alert: {a['message']}" for a in self.alerts)
        return out


def _scores(rows: pd.DataFrame) -> dict[str, float]:
    y = rows["value"].to_numpy(dtype="float64")
    mean = rows["prediction"].to_numpy(dtype="float64")
    q = np.asarray(rows["quantiles"].tolist(), dtype="float64")
    levels = np.asarray(QUANTILES)[None, :]
    loss = np.abs((y[:, None] - q) * ((y[:, None] <= q).astype("float64") - levels)).sum()
    return {"mase": float(np.mean(np.abs(y - mean) / rows["scale"].to_numpy(dtype="float64"))),
            "wql": float(2.0 / len(QUANTILES) * loss / max(np.abs(y).sum(), 1e-12)),
            "coverage_80": float(np.mean((q[:, 0] <= y) & (y <= q[:, -1]))), "steps": len(rows)}


def judge(model: Any, joined: pd.DataFrame, *, name: str, version: str, windows: int = 6) -> ForecastMonitorResult:
    """Score the joined forecasts per origin window; alert against the kept model's backtest interval."""
    board = model.leaderboard()
    kept = board.iloc[0].to_dict() if len(board) else {}
    backtest = {k: float(kept[k]) for k in ("mase", "mase_ci_low", "mase_ci_high", "wql", "wql_ci_low",
                                            "wql_ci_high", "coverage_80") if k in kept and kept[k] is not None}
    scored = joined.dropna(subset=["value"]) if len(joined) else joined
    scored = scored.drop_duplicates(["series", "origin", "ds"], keep="first") if len(scored) else scored
    rows, overall, alerts, level, season = [], None, [], None, None
    if len(scored):
        for origin, part in sorted(scored.groupby("origin"), key=lambda item: item[0])[-windows:]:
            rows.append({"origin": origin, **_scores(part)})
        overall = _scores(scored)
        high = backtest.get("mase_ci_high", backtest.get("mase"))
        if high is not None and np.isfinite(high) and overall["mase"] > high:
            alerts.append({"metric": "mase", "message": f"live MASE {overall['mase']:.3f} is above the backtest's "
                                                        f"95% interval (up to {high:.3f}): forecasts got worse"})
        high = backtest.get("wql_ci_high", backtest.get("wql"))
        if high is not None and np.isfinite(high) and overall["wql"] > high:
            alerts.append({"metric": "wql", "message": f"live WQL {overall['wql']:.4f} is above the backtest's "
                                                       f"95% interval (up to {high:.4f})"})
        floor = min(backtest.get("coverage_80", 0.8), 0.8) - 0.2
        if overall["steps"] >= 10 and overall["coverage_80"] < floor:
            alerts.append({"metric": "coverage_80", "message": f"80% intervals cover {overall['coverage_80']:.0%} "
                                                               f"of actuals (below {floor:.0%}): too narrow now"})
        residual = ((scored["value"] - scored["prediction"]) / scored["scale"]).to_numpy(dtype="float64")
        if len(residual) >= 5 and np.std(residual) > 0:
            test = stats.ttest_1samp(residual, 0.0)
            level = {"mean_scaled_residual": float(residual.mean()), "p_value": float(test.pvalue)}
            if test.pvalue < 0.01 and abs(residual.mean()) > 0.5:
                side = "above" if residual.mean() > 0 else "below"
                alerts.append({"metric": "level", "message": f"actuals sit {side}"
                                                             f" the forecasts by {abs(residual.mean()):.2f} scales on "
                                                             f"average (t-test p = {test.pvalue:.4f}): the level "
                                                             "shifted; retrain on the newer history"})
        from kiln.monitor.forecast_season import seasonality_drift

        season, alert = seasonality_drift(model, scored)
        if alert is not None:
            alerts.append(alert)
    return ForecastMonitorResult(name, version, len(joined), len(scored), rows, overall, backtest, alerts, level,
                                 season=season)


class ForecastMonitoring:
    def traffic(self, name: str, model: Any, *, version: str | None = None, since: float | None = None,
                url: str | None = None, max_rows: int | None = None) -> pd.DataFrame:
        from kiln.store.forecast_log import read_joined

        return read_joined(name, version=version, since=since, url=url, max_rows=max_rows)

    def assess(self, model: Any, traffic: Any, *, name: str, version: str, since: float | None,
               rules: AlertRules, windows: int = 6) -> ForecastMonitorResult:
        return judge(model, traffic, name=name, version=version, windows=windows)

    def summarise(self, model: Any, traffic: Any, *, version: str) -> dict[str, Any]:
        result = judge(model, traffic, name="", version=version)
        return {"version": version, "served": result.served, "scored": result.scored, "overall": result.overall}


MONITORING = ForecastMonitoring()
