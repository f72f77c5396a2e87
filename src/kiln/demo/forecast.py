"""`kiln demo forecast`: the whole loop on real weather data a package ships (vega_datasets' seattle-weather,
daily maximum temperature in Seattle 2012–2015, MIT licence): profile → train → leaderboard → serve and
forecast → the actuals arrive → monitor → retrain on the extended history."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd

from kiln.demo.loop import call, kiln_command, start_server, step_printer, stop_server

DEFAULT_TIME_LIMIT = 30.0
NAME = "seattle-temp"
HORIZON = 14


def weather() -> pd.DataFrame:
    """date, temp_max (°C) and precipitation of every day 2012–2015."""
    from vega_datasets import local_data

    raw = local_data.seattle_weather()
    return pd.DataFrame({"date": pd.to_datetime(raw["date"]), "temp_max": raw["temp_max"].astype(float)})


def run(folder: Path, *, time_limit: float | None, keep_serving: bool, rows: int | None = None) -> None:
    """The loop in `folder`; the server stops at the end unless `keep_serving`."""
    from rich.console import Console

    console = Console()
    began = time.time()
    folder.mkdir(parents=True, exist_ok=True)
    budget = f"{time_limit or DEFAULT_TIME_LIMIT:g}"
    env = {**os.environ, "KILN_HOME": os.environ.get("KILN_HOME") or str(folder / "home")}
    env["KILN_DB"] = os.environ.get("KILN_DB") or f"sqlite:///{folder / 'kiln.db'}"
    step = step_printer(console)

    step("1. Real data: Seattle's daily maximum temperature (vega_datasets seattle-weather, MIT)")
    frame = weather()
    history = frame[frame["date"] < "2015-07-01"]
    history.to_csv(folder / "history.csv", index=False, date_format="%Y-%m-%d")
    arrived = frame[(frame["date"] >= "2015-07-01") & (frame["date"] < "2015-07-29")]
    extended = pd.concat([history, arrived])
    extended.to_csv(folder / "extended.csv", index=False, date_format="%Y-%m-%d")
    console.print(f"{len(history):,} days up to {history['date'].max().date()}; the next {len(arrived)} days "
                  "arrive later as actuals")
    common = ("--target", "temp_max", "--time-column", "date")
    step("2. Check the series")
    console.print(kiln_command("profile", str(folder / "history.csv"), "--task", "forecast", *common,
                               "--out", str(folder / "profile.html"), env=env).strip())
    step(f"3. Train a {HORIZON}-day forecaster (--time-limit {budget}s) and register it")
    console.print(kiln_command("train", str(folder / "history.csv"), "--task", "forecast", *common, "--horizon",
                               str(HORIZON), "--time-limit", budget, "--out", str(folder / "model"), "--quiet",
                               "--register", NAME, env=env).strip())
    console.print(kiln_command("leaderboard", str(folder / "model"), env=env).rstrip())
    step("4. Serve it, forecast the next two weeks, send the actuals as they arrive")
    server, url = start_server(f"models:/{NAME}@champion", folder, env=env, ready_within=180)
    try:
        answer = call(f"{url}/forecast", {"ids": ["series"]})["forecasts"][0]
        console.print(f"POST /forecast from the stored history: {answer['time'][0][:10]} … {answer['time'][-1][:10]}"
                      f", median {answer['prediction'][0]:.1f} °C on day 1 (80% interval "
                      f"{answer['quantiles']['0.1'][0]:.1f}–{answer['quantiles']['0.9'][0]:.1f})")
        first = arrived.iloc[:HORIZON]
        call(f"{url}/feedback", {"actuals": [{"id": "series", "time": d.strftime("%Y-%m-%d"), "value": v}
                                              for d, v in zip(first["date"], first["temp_max"], strict=True)]})
        recent = [{"time": d.strftime("%Y-%m-%d"), "value": v} for d, v in
                  zip(extended["date"].tail(120), extended["temp_max"].tail(120), strict=False)][: 120 - HORIZON]
        again = call(f"{url}/forecast", {"series": [{"id": "series", "history": recent}]})["forecasts"][0]
        second = arrived.iloc[HORIZON:2 * HORIZON]
        call(f"{url}/feedback", {"actuals": [{"id": "series", "time": d.strftime("%Y-%m-%d"), "value": v}
                                              for d, v in zip(second["date"], second["temp_max"], strict=True)]})
        console.print(f"POST /forecast with 106 days of recent history: from {again['time'][0][:10]}; "
                      f"{len(arrived)} actuals sent to POST /feedback")
        console.print(f"page (pick a series, see its fan chart): {url}/")
        step("5. Monitor: live MASE, WQL and coverage against the backtest")
        console.print(kiln_command("monitor", NAME, "--since", "all", "--out", str(folder / "monitor.html"),
                                   env=env).strip())
        step("6. Retrain on the extended history: challenger vs champion on the newest two weeks (Diebold–Mariano)")
        console.print(kiln_command("retrain", NAME, str(folder / "extended.csv"), "--time-limit", budget, "--quiet",
                                   env=env).strip())
        if keep_serving:
            console.print(f"serving at {url} (Ctrl-C to stop)")
            server.wait()
    finally:
        if not keep_serving:
            stop_server(server)
    console.print(f"\n[bold]done in {time.time() - began:.0f}s[/bold]; files in {folder}")
    _ = rows  # the data set's size is fixed
