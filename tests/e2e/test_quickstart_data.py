"""The README's quick start has data to run on, and what kiln writes stays out of git (issue 13, item 10)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from kiln.cli import app
from kiln.demo.generate import FAILURE_MODES

ROOT = Path(__file__).resolve().parents[2]


def test_data_only_writes_the_three_quick_start_tables_and_never_overwrites(tmp_path: Path) -> None:
    first = CliRunner().invoke(app, ["demo", "--data-only", "--out", str(tmp_path), "--rows", "500"])
    again = CliRunner().invoke(app, ["demo", "--data-only", "--out", str(tmp_path)])

    assert first.exit_code == 0, first.output
    machines, labelled, new = (pd.read_csv(tmp_path / name) for name in
                               ("machines.csv", "labelled_machines.csv", "new_machines.csv"))
    assert (len(machines), len(labelled), len(new)) == (500, 2_000, 1_000)
    assert "Machine failure" in machines and "Machine failure" in labelled and "Machine failure" not in new
    assert not set(FAILURE_MODES) & set(machines.columns)  # the leaks the profile would stop training on
    assert set(machines["UDI"]).isdisjoint(labelled["UDI"]) and set(labelled["UDI"]).isdisjoint(new["UDI"])
    assert 0 < machines["Machine failure"].mean() < 0.2
    assert again.exit_code == 2 and "already exist; remove them or pass --out" in again.output


def test_folders_and_files_kiln_writes_into_a_checkout_are_ignored_but_the_code_is_not() -> None:
    generated = ["kiln-demo/data/machines.csv", "kiln-demo-text/x", "machines.csv", "labelled_machines.csv",
                 "new_machines.csv", "model/kiln.json", "evaluation.html", "predictions.csv", ".kiln/kiln.db"]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *generated, "src/kiln/model/predictor.py"],
                             cwd=ROOT, capture_output=True, text=True)

    assert ignored.stdout.split() == generated
