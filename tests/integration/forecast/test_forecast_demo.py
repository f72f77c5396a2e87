"""`kiln demo forecast`: the whole loop on real weather data (slow: two trainings, MLflow, a server)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_the_forecast_demo_runs_the_loop_and_retrains_through_the_gate(tmp_path: Path) -> None:
    env = {**os.environ, "KILN_HOME": str(tmp_path / "home"), "KILN_DB": f"sqlite:///{tmp_path / 'kiln.db'}"}
    done = subprocess.run([sys.executable, "-m", "kiln.cli", "demo", "forecast", "--out", str(tmp_path / "demo"),
                           "--time-limit", "20"], capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    for words in ("Check the series", "registered: seattle-temp version 1", "POST /forecast from the stored history",
                  "28 of 28 served steps have their actual", "Diebold–Mariano", "challenger version 2 registered"):
        assert words in out, (words, out[-3000:])
    assert (tmp_path / "demo" / "monitor.html").exists() and (tmp_path / "demo" / "model" / "report.html").exists()
