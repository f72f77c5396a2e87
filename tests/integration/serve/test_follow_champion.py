"""A server started on models:/NAME@champion follows the alias: 20 promotions under load give
zero failed requests, every answer comes from the old or the new version, and a version that
fails to load leaves the old one serving."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from tiny_models import cancer_frame, train_tiny

NAME = "follow"


@pytest.fixture
def registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from kiln.store.registry import register

    home = tmp_path / "home"  # the KILN_HOME start_server gives the server
    monkeypatch.setenv("KILN_HOME", str(home))
    monkeypatch.delenv("KILN_DB", raising=False)
    for seed in (0, 1, 2):
        register(train_tiny(tmp_path / f"bundle{seed}", seed), NAME)
    return home


def _wait_for_version(url: str, version: str, timeout: float = 240) -> None:
    """A liveness bound, not a speed target: a version's first swap starts a Python process that loads
    and tries it (lifecycle.verify_in_child), which on a loaded 2-core machine took over a minute."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/ready").json().get("version") == version:
            return
        time.sleep(0.1)
    pytest.fail(f"the server did not switch to version {version} within {timeout} s")


class _Load(threading.Thread):
    """Single-row predictions as fast as one client can send them, recording status and version."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.answers: list[tuple[int, str]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        row = cancer_frame(5, rows=1).drop(columns=["target"]).to_dict("records")
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                response = client.post(f"{self.url}/predict", json={"rows": row})
                self.answers.append((response.status_code, response.headers.get("x-model-version", "")))


def test_twenty_promotions_under_load_fail_no_request(registered, start_server) -> None:
    from kiln.store.registry import promote

    server = start_server(f"models:/{NAME}@champion", env={"KILN_SERVE_FOLLOW_INTERVAL_S": "0.2"})
    load = _Load(server.url)
    load.start()
    try:
        current = "1"
        for i in range(20):
            current = "2" if current == "1" else "1"
            promote(NAME, current, reason=f"switch {i}")
            _wait_for_version(server.url, current)
    finally:
        load.stop.set()
        load.join(30)
    statuses = {status for status, _ in load.answers}
    versions = {version for _, version in load.answers}
    assert len(load.answers) > 100 and statuses == {200}
    assert versions == {"1", "2"}
    assert httpx.get(f"{server.url}/stats").json()["swaps"] == 20


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(registered, start_server) -> None:
    from kiln.store.registry import promote, resolve

    third = resolve(f"models:/{NAME}/3").path
    manifest = (third / "kiln.json").read_bytes()
    damaged = 0
    for copy in registered.rglob("kiln.json"):  # the cache and the artifact store: every copy of version 3
        if copy.read_bytes() == manifest:
            with (copy.parent / "leaderboard.csv").open("a") as handle:
                handle.write("tampered\n")
            damaged += 1
    assert damaged >= 2
    server = start_server(f"models:/{NAME}@champion", env={"KILN_SERVE_FOLLOW_INTERVAL_S": "0.2"})
    promote(NAME, "3", reason="a broken version")
    deadline = time.monotonic() + 240  # the verifying child process reports the refusal (see _wait_for_version)
    while "failed to load" not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # five more chances to switch
    ready = httpx.get(f"{server.url}/ready")
    assert ready.status_code == 200 and ready.json()["version"] == "1"
    row = cancer_frame(5, rows=1).drop(columns=["target"]).to_dict("records")
    response = httpx.post(f"{server.url}/predict", json={"rows": row})
    assert response.status_code == 200 and response.headers["x-model-version"] == "1"
    assert "version 3" in server.log.read_text() and "failed to load" in server.log.read_text()
