"""Fixtures shared by the end-to-end tests: one model trained by `kiln train` on AI4I, for the session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

# One portfolio round: each of the eight learner families fitted once (the leaderboard test
# needs five or more, and the ensemble). --max-trials ends the search; the generous time limit
# only keeps a loaded machine from cutting it short (at load 10 on two cores, 40 s fitted four).
CLI_MAX_TRIALS = 8


@pytest.fixture(scope="session")
def cli_trained(ai4i_split: tuple[Path, Path, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory
                ) -> tuple[Path, Path, pd.DataFrame, subprocess.CompletedProcess[str]]:
    """`kiln train` on the 75% split, run once: (bundle, test CSV, test frame, the finished process).

    The CLI tests check the process, what it said (not --quiet: the notes on dropped columns are
    printed) and its bundle; the browser test evaluates the same bundle.
    """
    train_csv, test_csv, test = ai4i_split
    bundle = tmp_path_factory.mktemp("bundle") / "model"
    result = subprocess.run([sys.executable, "-m", "kiln.cli", "train", str(train_csv), "--target", "Machine failure",
                             "--time-limit", "60", "--max-trials", str(CLI_MAX_TRIALS), "--out", str(bundle),
                             "--seed", "0"], capture_output=True, text=True, timeout=600)
    return bundle, test_csv, test, result
