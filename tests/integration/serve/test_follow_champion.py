"""A server started on models:/NAME@champion follows the alias: 8 promotions under load (20 under
-m slow) give zero failed requests, every answer comes from the old or the new version, and a
version that fails to load leaves the old one serving."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tiny_models import cancer_frame, train_tiny

NAME = "follow"  # versions 1 and 2, promoted back and forth
BROKEN = "follow-broken"  # versions 1, 2 and 3, whose version 3 is damaged


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A KILN_HOME holding both names; three tiny models trained once for the module, and each
    test on a name of its own, so neither sees what the other promoted or damaged."""
    from kiln.store.registry import register

    folder = tmp_path_factory.mktemp("follow")
    home = folder / "home"  # given to the servers: start_server(..., env=_server_env(home))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KILN_HOME", str(home))
        env.delenv("KILN_DB", raising=False)
        bundles = [train_tiny(folder / f"bundle{seed}", seed) for seed in (0, 1, 2)]
        for bundle in bundles[:2]:
            register(bundle, NAME)
        for bundle in bundles:
            register(bundle, BROKEN)
        yield home


@pytest.fixture
def in_home(registered: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process's registry calls (promote, resolve) go to the module's KILN_HOME."""
    monkeypatch.setenv("KILN_HOME", str(registered))
    monkeypatch.delenv("KILN_DB", raising=False)
    return registered


def _server_env(home: Path) -> dict[str, str]:
    return {"KILN_HOME": str(home), "KILN_SERVE_FOLLOW_INTERVAL_S": "0.2"}


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


# Each version's first swap is tried in a child process; later ones only reload. Eight promotions
# swap each version in four times; the twenty run under -m slow.
@pytest.mark.parametrize("promotions", [8, pytest.param(20, marks=pytest.mark.slow)])
def test_promotions_under_load_fail_no_request(in_home, start_server, promotions: int) -> None:
    from kiln.store.registry import promote

    server = start_server(f"models:/{NAME}@champion", env=_server_env(in_home))
    load = _Load(server.url)
    load.start()
    try:
        current = "1"
        for i in range(promotions):
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
    assert httpx.get(f"{server.url}/stats").json()["swaps"] == promotions


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(in_home, start_server) -> None:
    from kiln.store.registry import promote, resolve

    third = resolve(f"models:/{BROKEN}/3").path
    manifest = (third / "kiln.json").read_bytes()
    damaged = 0
    for copy in in_home.rglob("kiln.json"):  # the cache and the artifact store: every copy of version 3
        if copy.read_bytes() == manifest:
            with (copy.parent / "leaderboard.csv").open("a") as handle:
                handle.write("tampered\n")
            damaged += 1
    assert damaged >= 2
    server = start_server(f"models:/{BROKEN}@champion", env=_server_env(in_home))
    promote(BROKEN, "3", reason="a broken version")
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
