"""`kiln profile --task forecast --horizon H` checks the series against the horizon (FC004), not only against
two seasons; a horizon that is not a number of steps, or --horizon on a table's profile, is one sentence, exit 2."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from kiln.cli.app import app

PROFILE = ["--task", "forecast", "--target", "passengers", "--time-column", "month", "--id-column", "route"]


def test_series_shorter_than_the_horizon_are_reported_only_when_they_are(series_files: tuple[Path, Path]) -> None:
    data = str(series_files[0])  # 132 monthly points per series: longer than two seasons (24) and than 12
    for extra in ([], ["--horizon", "12"]):
        result = CliRunner().invoke(app, ["profile", data, *PROFILE, *extra])
        assert result.exit_code == 0, result.output
        assert "FC004" not in result.output
    result = CliRunner().invoke(app, ["profile", data, *PROFILE, "--horizon", "140"])
    assert result.exit_code == 0, result.output  # a warning: the short series get a fallback forecast
    flat = " ".join(result.output.split())
    assert "FC004" in flat and "2 series shorter than the horizon of 140 (140 points" in flat


def test_a_bad_horizon_or_one_given_to_a_table_is_one_sentence(series_files: tuple[Path, Path]) -> None:
    data = str(series_files[0])
    result = CliRunner().invoke(app, ["profile", data, *PROFILE, "--horizon", "0"])
    assert result.exit_code == 2 and "--horizon 0 is not a number of steps" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(app, ["profile", data, "--target", "passengers", "--horizon", "12"])
    assert result.exit_code == 2 and "--horizon does not apply to a tabular model" in result.output
