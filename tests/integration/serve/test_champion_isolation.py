"""A server following models:/NAME@champion survives a promotion to a version that would crash
it: a bundle written by kiln's own writer, valid checksums, registered (as an older kiln without
tree checks would have), whose one forest tree has a child index far outside the tree. The new
version is tried in a child process first; it is refused there, and the old one keeps answering."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tiny_models import cancer_frame, train_tiny

import kiln

NAME = "isolation"


def _crafted_forest(folder: Path) -> Path:
    """A random forest saved by kiln's writer after one child index was pointed outside its tree."""
    model = kiln.train(cancer_frame(1), target="target", time_limit=20, max_trials=1, n_jobs=1, seed=1, quiet=True,
                       learners=["random_forest"])
    model.members[0].folds[0].learner.estimator_.estimators_[0].tree_.children_left[0] = 10**12
    return kiln.save(model, folder / "crafted")


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """KILN_HOME with version 1 (a good model, champion) and version 2 (the crafted forest)."""
    from kiln.learners import safe_load
    from kiln.store.registry import register

    folder = tmp_path_factory.mktemp("isolation")
    home = folder / "home"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KILN_HOME", str(home))
        env.delenv("KILN_DB", raising=False)
        register(train_tiny(folder / "good", 0), NAME)
        crafted = _crafted_forest(folder)
        with pytest.MonkeyPatch.context() as patched:  # only this test process registers as an older kiln would
            patched.setattr(safe_load, "check_structures", lambda obj: None)
            register(crafted, NAME)
        yield home


def _wait_for_log(server, text: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = server.log.read_text()
        if text in log:
            return log
        assert server.process.poll() is None, f"the server died ({server.process.returncode}): {log}"
        time.sleep(0.2)
    pytest.fail(f"'{text}' not in the server log within {timeout} s: {server.log.read_text()}")


def test_a_promotion_to_a_crafted_crash_version_keeps_the_old_one_serving(registered, start_server) -> None:
    from kiln.store.registry import promote

    server = start_server(f"models:/{NAME}@champion",
                          env={"KILN_SERVE_FOLLOW_INTERVAL_S": "0.2", "KILN_HOME": str(registered)})
    promote(NAME, "2", reason="a crafted version")

    log = _wait_for_log(server, "version 2 of isolation failed to load")
    assert "the verifying process exited with 2" in log and "holds a malformed tree" in log
    time.sleep(1.0)  # five more polls: the refused version is not tried again, nothing else happens
    assert server.process.poll() is None
    ready = httpx.get(f"{server.url}/ready")
    assert ready.status_code == 200 and ready.json()["version"] == "1"
    row = cancer_frame(5, rows=1).drop(columns=["target"]).to_dict("records")
    for _ in range(5):
        response = httpx.post(f"{server.url}/predict", json={"rows": row})
        assert response.status_code == 200 and response.headers["x-model-version"] == "1"
    assert server.log.read_text().count("failed to load") == 1


def test_the_crafted_version_would_have_crashed_a_process_without_the_checks(registered, tmp_path) -> None:
    """The premise: with the tree checks off, predicting with version 2 kills the process (SIGSEGV)."""
    import subprocess

    rows = tmp_path / "rows.csv"
    cancer_frame(5, rows=50).drop(columns=["target"]).to_csv(rows, index=False)
    script = ("import sys, kiln, pandas as pd\n"
              "from kiln.learners import safe_load\n"
              "safe_load.check_structures = lambda obj: None\n"
              "model = kiln.load(sys.argv[1])\n"
              "model.predict_raw(pd.read_csv(sys.argv[2]))\n")
    from kiln.store.registry import resolve

    with pytest.MonkeyPatch.context() as patched:
        from kiln.learners import safe_load

        patched.setattr(safe_load, "check_structures", lambda obj: None)
        path = resolve(f"models:/{NAME}/2").path
    result = subprocess.run([sys.executable, "-c", script, str(path), str(rows)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode < 0, (result.returncode, result.stderr[-500:])
