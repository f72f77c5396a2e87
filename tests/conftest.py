"""Shared fixtures: the real AI4I 2020 file shipped in tests/data, split as the issue asks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from postgres_server import postgres_url  # noqa: F401  (session fixture: a throw-away PostgreSQL server)
from resources import AI4I, FAILURE_MODES


@pytest.fixture(scope="session")
def ai4i() -> pd.DataFrame:
    """The AI4I 2020 table (tests/data) without the five failure-mode columns."""
    return pd.read_csv(AI4I).drop(columns=FAILURE_MODES)


@pytest.fixture(scope="session")
def ai4i_split(ai4i: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame]:
    """A stratified 75/25 split written to CSV files (train, test, test frame)."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(ai4i, test_size=0.25, random_state=0, stratify=ai4i["Machine failure"])
    folder = tmp_path_factory.mktemp("ai4i")
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    return folder / "train.csv", folder / "test.csv", test.reset_index(drop=True)


@pytest.fixture(scope="session")
def ai4i_bundle(ai4i: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real AI4I model (a few trials), saved once and shared by the serving tests."""
    import kiln

    model = kiln.train(ai4i, target="Machine failure", time_limit=20, max_trials=4, n_jobs=1, quiet=True)
    return kiln.save(model, tmp_path_factory.mktemp("served") / "ai4i_bundle")


class Server:
    """A real `kiln serve` process on 127.0.0.1, started by the `start_server` fixture."""

    def __init__(self, process: subprocess.Popen, url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start `kiln serve MODEL ARGS...` on a free port; waits until GET /ready answers 200."""
    import httpx

    started: list[Server] = []
    kiln_command = str(Path(sys.executable).with_name("kiln"))

    def start(model: Path | str, *args: str, env: dict[str, str] | None = None) -> Server:
        port = free_port()
        log = tmp_path / f"server-{port}.log"
        environment = {**os.environ, "KILN_HOME": str(tmp_path / "home"), **(env or {})}
        with log.open("w") as output:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen([kiln_command, "serve", str(model), "--port", str(port), *args],
                                       env=environment, stdout=output, stderr=subprocess.STDOUT)
        server = Server(process, f"http://127.0.0.1:{port}", log)
        started.append(server)
        deadline = time.monotonic() + 120
        key = {"X-API-Key": args[args.index("--api-key") + 1]} if "--api-key" in args else {}  # /ready needs it
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"kiln serve exited with {process.returncode}: {log.read_text()}")
            try:
                if httpx.get(f"{server.url}/ready", headers=key, timeout=1).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"kiln serve was not ready within 120 s: {log.read_text()}")

    yield start
    for server in started:
        server.stop()
