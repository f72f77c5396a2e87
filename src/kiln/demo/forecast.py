"""`kiln demo forecast`: the whole loop on real weather data a package ships (vega_datasets' seattle-weather,
daily maximum temperature in Seattle 2012–2015, MIT licence): profile → train → leaderboard → serve and
forecast → the actuals arrive → monitor → retrain on the extended history."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd

from kiln.errors import KilnError

DEFAULT_TIME_LIMIT = 30.0
NAME = "seattle-temp"
HORIZON = 14


def weather() -> pd.DataFrame:
    """date, temp_max (°C) and precipitation of every day 2012–2015."""
    from vega_datasets import local_data

    raw = local_data.seattle_weather()
    return pd.DataFrame({"date": pd.to_datetime(raw["date"]), "temp_max": raw["temp_max"].astype(float)})


def _call(url: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _kiln(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "kiln.cli", *args], capture_output=True, text=True, env=env)
    if done.returncode not in ((0, 1) if args[0] in ("profile", "monitor") else (0,)):
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        raise KilnError(f"kiln {args[0]} failed: {last}")
    return done.stdout


def run(folder: Path, *, time_limit: float | None, keep_serving: bool, rows: int | None = None) -> None:
    """The loop in `folder`; the server stops at the end unless `keep_serving`."""
    from rich.console import Console

    console = Console()
    began = time.time()
    folder.mkdir(parents=True, exist_ok=True)
    budget = f"{time_limit or DEFAULT_TIME_LIMIT:g}"
    env = {**os.environ, "KILN_HOME": os.environ.get("KILN_HOME") or str(folder / "home")}
    env["KILN_DB"] = os.environ.get("KILN_DB") or f"sqlite:///{folder / 'kiln.db'}"

    def step(title: str) -> None:
        console.print(f"\n[bold]{title}[/bold] [dim](at {int(time.time() - began) // 60}:"
                      f"{int(time.time() - began) % 60:02d})[/dim]")

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
    console.print(_kiln("profile", str(folder / "history.csv"), "--task", "forecast", *common,
                        "--out", str(folder / "profile.html"), env=env).strip())
    step(f"3. Train a {HORIZON}-day forecaster (--time-limit {budget}s) and register it")
    console.print(_kiln("train", str(folder / "history.csv"), "--task", "forecast", *common, "--horizon",
                        str(HORIZON), "--time-limit", budget, "--out", str(folder / "model"), "--quiet",
                        "--register", NAME, env=env).strip())
    console.print(_kiln("leaderboard", str(folder / "model"), env=env).rstrip())
    step("4. Serve it, forecast the next two weeks, send the actuals as they arrive")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = folder / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen([sys.executable, "-m", "kiln.cli", "serve", f"models:/{NAME}@champion", "--port",
                                   str(port)], stdout=output, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise KilnError(f"The demo server did not start; see {log}.")
            try:
                if _call(f"{url}/ready").get("status") == "ready":
                    break
            except OSError:
                time.sleep(0.25)
        answer = _call(f"{url}/forecast", {"ids": ["series"]})["forecasts"][0]
        console.print(f"POST /forecast from the stored history: {answer['time'][0][:10]} … {answer['time'][-1][:10]}"
                      f", median {answer['prediction'][0]:.1f} °C on day 1 (80% interval "
                      f"{answer['quantiles']['0.1'][0]:.1f}–{answer['quantiles']['0.9'][0]:.1f})")
        first = arrived.iloc[:HORIZON]
        _call(f"{url}/feedback", {"actuals": [{"id": "series", "time": d.strftime("%Y-%m-%d"), "value": v}
                                              for d, v in zip(first["date"], first["temp_max"], strict=True)]})
        recent = [{"time": d.strftime("%Y-%m-%d"), "value": v} for d, v in
                  zip(extended["date"].tail(120), extended["temp_max"].tail(120), strict=False)][: 120 - HORIZON]
        again = _call(f"{url}/forecast", {"series": [{"id": "series", "history": recent}]})["forecasts"][0]
        second = arrived.iloc[HORIZON:2 * HORIZON]
        _call(f"{url}/feedback", {"actuals": [{"id": "series", "time": d.strftime("%Y-%m-%d"), "value": v}
                                              for d, v in zip(second["date"], second["temp_max"], strict=True)]})
        console.print(f"POST /forecast with 106 days of recent history: from {again['time'][0][:10]}; "
                      f"{len(arrived)} actuals sent to POST /feedback")
        console.print(f"page (pick a series, see its fan chart): {url}/")
        step("5. Monitor: live MASE, WQL and coverage against the backtest")
        console.print(_kiln("monitor", NAME, "--since", "all", "--out", str(folder / "monitor.html"), env=env).strip())
        step("6. Retrain on the extended history: challenger vs champion on the newest two weeks (Diebold–Mariano)")
        console.print(_kiln("retrain", NAME, str(folder / "extended.csv"), "--time-limit", budget, "--quiet",
                            env=env).strip())
        if keep_serving:
            console.print(f"serving at {url} (Ctrl-C to stop)")
            server.wait()
    finally:
        if not keep_serving and server.poll() is None:
            server.terminate()
            server.wait(30)
    console.print(f"\n[bold]done in {time.time() - began:.0f}s[/bold]; files in {folder}")
    _ = rows  # the data set's size is fixed
