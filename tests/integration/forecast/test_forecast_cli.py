"""The forecast kind end to end through the CLI on a small real series: train, leaderboard, predict (the
contract's columns, from the bundle alone and from newer history), evaluate, profile, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from conftest import HORIZON
from typer.testing import CliRunner

import kiln
from kiln.cli.app import app

QUANTILES = [f"quantile_0.{k}" for k in range(1, 10)]


def test_train_keeps_a_model_that_beats_the_seasonal_naive_on_the_backtest(forecaster: tuple[Path, str]) -> None:
    bundle, output = forecaster
    assert "backtest MASE" in output and "bundle:" in output
    manifest = json.loads((bundle / "kiln.json").read_text())
    assert manifest["kind"] == "forecast" and manifest["horizon"] == HORIZON and manifest["frequency"] == "MS"
    suffixes = {Path(name).suffix for name in manifest["files"]}
    assert suffixes <= {".json", ".parquet", ".txt", ".html"}, suffixes  # no pickle anywhere
    board = kiln.load(bundle).leaderboard()
    naive = float(board.loc[board["model"] == "seasonal_naive", "score"].iloc[0])
    assert board.iloc[0]["score"] < naive  # trend + seasonality: something beats repeating the last year
    assert {"mase", "wql", "smape", "mase_ci_low", "mase_ci_high", "fit_s", "coverage_80"} <= set(board.columns)


def test_predict_writes_exactly_the_contracts_columns_and_rows(forecaster: tuple[Path, str],
                                                                series_files: tuple[Path, Path],
                                                                tmp_path: Path) -> None:
    bundle, _ = forecaster
    out = tmp_path / "forecast.csv"
    result = CliRunner().invoke(app, ["predict", str(bundle), str(series_files[0]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["route", "month", "prediction", *QUANTILES]
    assert len(frame) == 2 * HORIZON and frame.groupby("route").size().tolist() == [HORIZON, HORIZON]
    assert frame["month"].iloc[0] == "1960-01-01"
    values = frame[["prediction", *QUANTILES]].to_numpy()
    assert np.isfinite(values).all() and (np.diff(frame[QUANTILES].to_numpy(), axis=1) >= 0).all()
    truth = pd.read_csv(series_files[1]).groupby("route").tail(HORIZON)
    error = np.abs(frame["prediction"].to_numpy() - truth["passengers"].to_numpy()) / truth["passengers"].to_numpy()
    assert error.mean() < 0.15  # a real forecast of a real series, not a constant


def test_a_newer_history_moves_the_forecast_origin_without_retraining(forecaster: tuple[Path, str],
                                                                      series_files: tuple[Path, Path],
                                                                      tmp_path: Path) -> None:
    bundle, _ = forecaster
    model = kiln.load(bundle)
    full = pd.read_csv(series_files[1])
    forecast = model.predict_table(full)
    assert forecast["month"].min() == pd.Timestamp("1961-01-01")
    again = kiln.load(kiln.save(model, tmp_path / "copy"))  # save/load: the same forecast
    pd.testing.assert_frame_equal(forecast, again.predict_table(full))


def test_evaluate_reports_skill_against_the_seasonal_naive_and_the_random_walk(
        forecaster: tuple[Path, str], series_files: tuple[Path, Path], tmp_path: Path) -> None:
    bundle, _ = forecaster
    report = tmp_path / "evaluation.html"
    result = CliRunner().invoke(app, ["evaluate", str(bundle), str(series_files[1]), "--out", str(report), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    kept = next(row for row in data["overall"] if row["model"] == "kept model")
    naive = next(row for row in data["overall"] if row["model"] == "seasonal_naive")
    assert kept["mase"] < naive["mase"] and 0 <= kept["coverage_80"] <= 1
    assert {d["against"] for d in data["diebold_mariano"]} == {"seasonal_naive", "naive"}
    page = report.read_text()
    assert "random walk" in page and "Fan charts" in page and "Diebold" in page


def test_profile_reports_the_fc_checks(series_files: tuple[Path, Path], tmp_path: Path) -> None:
    frame = pd.read_csv(series_files[0])
    frame = frame.drop(index=[5, 6])  # a gap of two months in route A
    path = tmp_path / "gappy.csv"
    frame.to_csv(path, index=False)
    result = CliRunner().invoke(app, ["profile", str(path), "--task", "forecast", "--target", "passengers",
                                      "--time-column", "month", "--id-column", "route"])
    assert result.exit_code == 0, result.output
    assert "FC003" in result.output and "2 missing periods" in result.output


def test_bad_input_is_one_sentence_and_exit_2(series_files: tuple[Path, Path], tmp_path: Path) -> None:
    frame = pd.read_csv(series_files[0])
    duplicated = pd.concat([frame, frame.iloc[[3]]])
    path = tmp_path / "dup.csv"
    duplicated.to_csv(path, index=False)
    runner = CliRunner()
    result = runner.invoke(app, ["train", str(path), "--task", "forecast", "--target", "passengers",
                                 "--time-column", "month", "--id-column", "route", "--horizon", "3"])
    assert result.exit_code == 2 and "FC001" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["train", str(series_files[0]), "--task", "forecast", "--target", "passengers",
                                 "--time-column", "month", "--id-column", "route"])
    assert result.exit_code == 2 and "--horizon" in result.output
