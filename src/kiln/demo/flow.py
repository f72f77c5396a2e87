"""`kiln demo`: the whole loop on generated predictive-maintenance data, narrated in the terminal.

generate → profile → train with a cost matrix → register the champion → serve → normal
traffic → drifted traffic (a worn, hot fleet) → delayed labels → monitor (drift, live
performance) → retrain → the statistical gate promotes the challenger → the server
follows the alias to the new version. Everything lives in one folder (default
./kiln-demo, with its own KILN_HOME), and no byte is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from kiln.demo.generate import FAILURE_MODES, WORN_AND_HOT, generate
from kiln.errors import KilnError

MODEL_NAME = "ai4i-demo"
TARGET = "Machine failure"
COST_FP, COST_FN = 1.0, 20.0  # a missed failure costs as much as 20 needless stops
BATCH = 250


@dataclass
class DemoSettings:
    folder: Path = Path("kiln-demo")
    rows: int = 10_000
    normal_rows: int = 2_000
    drifted_rows: int = 6_000
    time_limit: float = 40.0
    keep_serving: bool = False
    seed: int = 0


@dataclass
class DemoResult:
    url: str
    reports: dict[str, Path] = field(default_factory=dict)
    champion_before: str = ""
    champion_after: str = ""
    promoted: bool = False
    served_version_after: str = ""


def run_demo(settings: DemoSettings, console: Console | None = None) -> DemoResult:
    """Run the loop; the server is stopped at the end unless `keep_serving`."""
    console = console or Console()
    folder = _fresh_folder(settings.folder)
    os.environ["KILN_HOME"] = str(folder / ".kiln")
    os.environ.pop("KILN_DB", None)  # the demo's own SQLite store, whatever the shell says
    data = folder / "data"
    data.mkdir()
    result = DemoResult(url="")
    step = _Steps(console)

    step("Generate", f"{settings.rows:,} machine runs following the AI4I 2020 rules (types L/M/H, temperature "
                     "random walks, tool wear, five failure modes)")
    # One table, shuffled: the training rows and the "normal" traffic come from the same plant
    # and the same days (the temperature walks drift slowly, so a later stretch would differ).
    whole = generate(settings.rows + settings.normal_rows, seed=settings.seed).sample(frac=1.0,
                                                                                      random_state=settings.seed)
    table, normal_traffic = whole.iloc[:settings.rows], whole.iloc[settings.rows:]
    table.to_csv(data / "machines.csv", index=False)
    console.print(f"  failure rate {table[TARGET].mean():.1%}; {data / 'machines.csv'}")

    step("Profile", "data checks before training: leakage, identifiers, imbalance")
    result.reports["profile"] = _profile(table, folder, console)
    features = table.drop(columns=list(FAILURE_MODES))
    features.to_csv(data / "train.csv", index=False)
    console.print(f"  the five failure-mode columns ({', '.join(FAILURE_MODES)}) record the failure itself: "
                  "dropped, as the profile advises")

    step("Train", f"rank, tune and ensemble within a {settings.time_limit:g} s budget; a missed failure costs "
                  f"{COST_FN:g} false alarms, so the decision threshold is set by cost")
    from kiln import save, train

    model = train(features, target=TARGET, time_limit=settings.time_limit, seed=settings.seed, cost_fp=COST_FP,
                  cost_fn=COST_FN, quiet=True)
    bundle = save(model, folder / "bundles" / "champion")
    cv = model.manifest["cv"]
    console.print(f"  {cv['metric']} {cv['score']:.4f} [{cv['ci_low']:.4f}, {cv['ci_high']:.4f}] (5-fold CV); "
                  f"threshold {model.threshold:.3f}; members: {', '.join(m.name for m in model.members)}")
    result.reports["training"] = bundle / "report.html"

    step("Register", f"log the run and register the bundle in the MLflow registry as '{MODEL_NAME}'")
    from kiln.store.registry import register

    registered = register(bundle, MODEL_NAME)
    result.champion_before = registered.version
    console.print(f"  version {registered.version} is {', '.join(registered.aliases)}: "
                  f"models:/{MODEL_NAME}@champion")

    server = _Server.start(folder)
    result.url = server.url
    try:
        step("Serve", f"kiln serve models:/{MODEL_NAME}@champion → {server.url} (it follows the alias)")
        started = time.time()
        step("Normal traffic", f"{settings.normal_rows:,} rows like the training data, then their true labels")
        server.send(normal_traffic.drop(columns=list(FAILURE_MODES)))
        result.reports["monitor-normal"] = _monitor(folder, "normal", since=started, console=console)

        shift = WORN_AND_HOT
        step("Drifted traffic", f"{settings.drifted_rows:,} rows from a worn tool fleet "
                                f"(+{shift.tool_wear_shift_min:g} min) in a hotter plant "
                                f"(+{shift.air_temperature_shift_k:g} K)")
        drift_started = time.time()
        drifted = generate(settings.drifted_rows, seed=settings.seed + 2, drift=WORN_AND_HOT)
        drifted = drifted.drop(columns=list(FAILURE_MODES))
        server.send(drifted)
        console.print(f"  failure rate now {drifted[TARGET].mean():.1%} (was {table[TARGET].mean():.1%})")
        result.reports["monitor-drift"] = _monitor(folder, "drift", since=drift_started, console=console)

        step("Retrain", "a challenger on the labelled drifted rows; the gate compares both on the newest 30%")
        drifted.to_csv(data / "drifted_labelled.csv", index=False)
        from kiln.retrain.challenger import retrain

        outcome = retrain(MODEL_NAME, data / "drifted_labelled.csv", time_limit=settings.time_limit, quiet=True,
                          report_path=folder / "reports" / "retrain.html")
        result.reports["retrain"] = outcome.report
        result.promoted = outcome.promoted
        result.champion_after = outcome.challenger_version if outcome.promoted else registered.version
        colour = "green" if outcome.promoted else "yellow"
        console.print(f"  [{colour}]{'promoted' if outcome.promoted else 'kept the champion'}[/]: "
                      f"{escape(outcome.decision.reason)}")

        step("Follow", "the server reads the champion alias every 2 s and swaps versions between requests")
        result.served_version_after = server.wait_for_version(result.champion_after)
        console.print(f"  the server now answers with version {result.served_version_after}")
    finally:
        if not settings.keep_serving:
            server.stop()

    step.finish()
    _summary(console, result, settings.keep_serving, server)
    return result


def _clock(seconds: float) -> str:
    """A time as a clock reads (0:06, 2:41): a moment since the start, never a duration."""
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


class _Steps:
    """Numbered step headers, each stamped with the moment it starts ("at 0:06" since the demo began);
    `finish` says how long each step took, so no start time reads as a duration."""

    def __init__(self, console: Console, clock: Callable[[], float] = time.perf_counter) -> None:
        self.console = console
        self.clock = clock
        self.started = clock()
        self.steps: list[tuple[str, float]] = []  # title, when it started

    def __call__(self, title: str, detail: str) -> None:
        self.steps.append((title, self.clock()))
        at = _clock(self.steps[-1][1] - self.started)
        self.console.print(f"\n[bold cyan]{len(self.steps):>2}. {title}[/] [dim](at {at})[/] — {detail}")

    def finish(self) -> None:
        now = self.clock()
        ends = [start for _, start in self.steps[1:]] + [now]
        took = " · ".join(f"{title} {end - start:.0f} s" for (title, start), end in zip(self.steps, ends, strict=True))
        self.console.print(f"\n[bold]Done in {_clock(now - self.started)}[/] (minutes:seconds). Each step took: "
                           f"{took}.", highlight=False)


def _fresh_folder(folder: Path) -> Path:
    folder = folder.resolve()
    if folder.exists():
        if not (folder / ".kiln-demo").exists():
            raise KilnError(f"'{folder}' exists and was not made by kiln demo; pass --out with a new folder.")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / ".kiln-demo").write_text("made by kiln demo; it deletes and remakes this folder\n")
    return folder


def _profile(table: Any, folder: Path, console: Console) -> Path:
    from kiln.data.profile import profile_table
    from kiln.data.write import write_text
    from kiln.report.profile import render_profile

    profile = profile_table(table, target=TARGET)
    path = write_text(render_profile(profile, title="Data profile of the generated machines"),
                      folder / "reports" / "profile.html")
    for finding in profile.findings[:6]:
        colour = "red" if finding.severity == "error" else "yellow"
        where = f" '{escape(finding.column)}'" if finding.column else ""
        console.print(f"  [{colour}]{finding.code}[/] {finding.title}{where}")
    return path


def _monitor(folder: Path, label: str, *, since: float, console: Console) -> Path:
    from kiln.data.write import write_text
    from kiln.monitor.run import run_monitor
    from kiln.report.drift import render_drift

    result = run_monitor(MODEL_NAME, since=since)
    path = write_text(render_drift(result), folder / "reports" / f"monitor-{label}.html")
    overall = result.overall
    live = ""
    if overall is not None and overall.value is not None:
        live = (f"; live {overall.metric} {overall.value:.3f} [{overall.ci_low:.3f}, {overall.ci_high:.3f}] "
                f"vs CV {result.cv['score']:.3f}; CBPE estimate {overall.estimated:.3f}")
    drifted = escape(", ".join(result.drifted) or "none")  # "[min]" in a column name is not markup
    colour = "red" if result.alerts else "green"
    console.print(f"  [{colour}]{result.status}[/]: drifted features: {drifted}{live}")
    for alert in result.alerts:
        console.print(f"  [red]ALERT[/] {escape(alert.message)}")
    return path


@dataclass
class _Server:
    process: subprocess.Popen
    url: str
    log: Path

    @classmethod
    def start(cls, folder: Path) -> _Server:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        log = folder / "server.log"
        command = [sys.executable, "-m", "kiln.cli", "serve", f"models:/{MODEL_NAME}@champion", "--port", str(port)]
        with log.open("w") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=dict(os.environ))
        server = cls(process, f"http://127.0.0.1:{port}", log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise KilnError(f"The demo server exited ({process.returncode}); see {log}.")
            try:
                if _get(f"{server.url}/ready").get("status") == "ready":
                    return server
            except OSError:
                time.sleep(0.25)
        server.stop()
        raise KilnError(f"The demo server was not ready within 120 s; see {log}.")

    def send(self, frame: Any) -> None:
        """Predict in batches, then post each batch's true labels (as they would arrive later)."""
        records = frame.drop(columns=[TARGET]).to_dict("records")
        labels = frame[TARGET].tolist()
        for start in range(0, len(records), BATCH):
            answer = _post(f"{self.url}/predict", {"rows": records[start:start + BATCH]})
            _post(f"{self.url}/feedback", {"labels": [{"request_id": answer["request_id"], "row": i, "label": int(y)}
                                                      for i, y in enumerate(labels[start:start + BATCH])]})
        deadline = time.monotonic() + 30
        while _get(f"{self.url}/stats")["log"]["queued"] > 0 and time.monotonic() < deadline:
            time.sleep(0.2)  # the log is written in the background; let it land before monitoring
        time.sleep(1.2)

    def wait_for_version(self, version: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        served = ""
        while time.monotonic() < deadline:
            served = _get(f"{self.url}/ready").get("version", "")
            if served == version:
                break
            time.sleep(0.5)
        return served

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _summary(console: Console, result: DemoResult, keep_serving: bool, server: _Server) -> None:
    console.print("\n[bold]Reports[/]")
    for name, path in result.reports.items():
        console.print(f"  {name:<15} {path}")
    console.print(f"  {'server log':<15} {server.log}")
    if keep_serving:
        console.print(f"\n[bold green]The server keeps running[/] at {result.url} (open it in a browser); "
                      f"stop it with: kill {server.process.pid}")
    else:
        console.print(f"\nThe server at {result.url} was stopped; `kiln demo --keep-serving` leaves it running.")


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as response:  # the demo's own server on 127.0.0.1
        return json.loads(response.read())


def _post(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def run_default(folder: Path, *, time_limit: float | None, keep_serving: bool, rows: int | None = None) -> None:
    """`kiln demo` (kiln.demo.catalog): the tabular loop with the CLI's options."""
    settings = DemoSettings(folder=folder, keep_serving=keep_serving)
    if time_limit is not None:
        settings.time_limit = time_limit
    if rows is not None:
        settings.rows = rows
    run_demo(settings)
