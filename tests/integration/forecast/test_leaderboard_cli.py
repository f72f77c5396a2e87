"""`kiln leaderboard` of a trained forecaster (the shared CLI-trained bundle) shows MASE, WQL and sMAPE with
their intervals in 80 columns, and --csv keeps every column (fit time included)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

import kiln
from kiln.cli.app import app


def test_kiln_leaderboard_of_a_forecaster_shows_three_metrics_with_intervals(forecaster: tuple[Path, str]) -> None:
    bundle, _ = forecaster
    result = CliRunner().invoke(app, ["leaderboard", str(bundle)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    header = next(line for line in result.output.splitlines() if "MASE" in line)
    assert "WQL" in header and "sMAPE %" in header
    top = kiln.load(bundle).leaderboard().iloc[0]
    for key, decimals in (("mase", 3), ("wql", 4), ("smape", 2)):
        assert f"{top[key]:.{decimals}f}" in result.output
        assert f"{top[f'{key}_ci_low']:.{decimals}f}–{top[f'{key}_ci_high']:.{decimals}f}" in result.output
    csv = CliRunner().invoke(app, ["leaderboard", str(bundle), "--csv"])
    frame = pd.read_csv(io.StringIO(csv.output))
    assert {"mase", "wql", "smape", "wql_ci_low", "smape_ci_high", "fit_s"} <= set(frame.columns)
