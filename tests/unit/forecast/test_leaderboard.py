"""A forecaster's terminal leaderboard shows MASE, WQL and sMAPE, each with its 95% interval, and the fit
time; at 80 columns every number stays whole and the time column goes first (and the table says so)."""

from __future__ import annotations

import pandas as pd
from rich.console import Console

from kiln.cli.scoreboard import print_leaderboard
from kiln.forecasters.data import Columns
from kiln.forecasters.model import Forecaster

STATUSES = ["ok", "ok", "ok", "skipped: the series are too short for a backtest window", "stopped at its deadline"]
NAMES = ["ensemble", "auto_ets", "seasonal_naive (calibrated)", "mstl", "auto_arima"]


def _forecaster() -> Forecaster:
    board = []
    for i, (name, status) in enumerate(zip(NAMES, STATUSES, strict=True)):
        row = {"model": name, "tags": "", "fit_s": 12.345 * (i + 1), "status": status, "rank": i + 1,
               "predict_s_per_1k": float("nan")}
        if status == "ok":
            for key, base in (("mase", 0.8123), ("wql", 0.04567), ("smape", 12.3456)):
                value = base * (1 + 0.1 * i)
                row[key], row[f"{key}_ci_low"], row[f"{key}_ci_high"] = value, 0.9 * value, 1.1 * value
            row["score"], row["ci_low"], row["ci_high"] = row["mase"], row["mase_ci_low"], row["mase_ci_high"]
        else:
            row["score"] = row["ci_low"] = row["ci_high"] = float("nan")
        board.append(row)
    context = pd.DataFrame({"unique_id": ["a"], "ds": [pd.Timestamp("2024-01-01")], "y": [1.0]})
    return Forecaster(columns=Columns(target="y", time="ds"), horizon=12, freq="MS", m=12, known_future=[],
                      members=[{"family": "auto_ets", "weight": 0.6}, {"family": "seasonal_naive", "weight": 0.4}],
                      specs={}, sigmas={}, context=context, board=board)


def _printed(width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    print_leaderboard(_forecaster().leaderboard(), title="Leaderboard of model/ (mase)", console=console)
    return console.export_text()


def test_every_metric_and_interval_is_whole_at_80_columns_and_the_fit_time_goes_first() -> None:
    text = _printed(80)
    assert max(len(line) for line in text.splitlines()) <= 80
    for header in ("MASE", "WQL", "sMAPE %"):
        assert header in text
    for i in range(3):  # every ok row's three scores and three intervals, never cut ("0.812…")
        for base, decimals in ((0.8123, 3), (0.04567, 4), (12.3456, 2)):
            value = base * (1 + 0.1 * i)
            assert f"{value:.{decimals}f}" in text
            assert f"{0.9 * value:.{decimals}f}–{1.1 * value:.{decimals}f}" in text
    header = next(line for line in text.splitlines() if "MASE" in line)
    assert "fit s" not in header and "The fit s column is left out at 80 columns" in text
    assert "deadline" in text and "skipped:" in text
    assert "backtest's rolling-origin windows" in " ".join(text.split())


def test_a_wide_terminal_shows_the_fit_time_and_nothing_left_out() -> None:
    text = _printed(160)
    header = next(line for line in text.splitlines() if "MASE" in line)
    assert "fit s" in header and "12.3" in text and "61.7" in text and "left out" not in text
    assert "score" not in header and "95% CI" not in header  # the metric columns replace the tabular score column
