"""`kiln demo`, shortened: the whole loop with real components — generate, profile, train,
register (MLflow on SQLite), serve (uvicorn on 127.0.0.1), normal then drifted traffic with
delayed labels, monitor, retrain, the gate, and the server following the champion alias."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from kiln.demo.flow import DemoSettings, run_demo


@pytest.fixture
def demo_result(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KILN_HOME", str(tmp_path / "unused"))  # the demo sets its own, inside its folder
    console = Console(record=True, width=160)
    result = run_demo(DemoSettings(folder=tmp_path / "demo", rows=4_000, normal_rows=1_500, drifted_rows=4_000,
                                   time_limit=12), console)
    return result, console.export_text()


def test_demo_detects_drift_promotes_and_the_server_follows(demo_result) -> None:
    result, text = demo_result
    assert result.promoted, text
    assert result.champion_after != result.champion_before
    assert result.served_version_after == result.champion_after
    for name in ("profile", "training", "monitor-normal", "monitor-drift", "retrain"):
        assert Path(result.reports[name]).stat().st_size > 10_000, name
    assert "Tool wear [min]" in text.split("Drifted traffic")[1]  # the drift is named
    assert "ALERT" in text.split("Drifted traffic")[1]
    assert "promoted" in text.split("Retrain")[1]
