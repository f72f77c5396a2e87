"""`kiln train --register`, `kiln predict models:/...` and `kiln models ...` end to end.

`kiln train --register`, a prediction from `models:/NAME@champion` and the database-URL
errors run as real `kiln` processes (they also prove MLflow's log lines stay out of the
output). The other commands run in-process through Typer's runner: the same code path from
argument parsing to exit code, without paying MLflow's import (seconds) once per command.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from tiny_models import cancer_frame
from typer.testing import CliRunner

import kiln
from kiln.cli import app

NAME = "cancer"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A fresh KILN_HOME (and so a fresh SQLite KILN_DB) for this module's registry."""
    folder = tmp_path_factory.mktemp("kiln-home")
    return {"KILN_HOME": str(folder), "KILN_DB": f"sqlite:///{folder / 'kiln.db'}"}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "cancer.csv"
    cancer_frame(seed=0).to_csv(path, index=False)
    return path


def kiln_process(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "kiln.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **env})


def kiln_in_process(*args: str, env: dict[str, str]):
    # The MLflow variables are listed so that the runner restores them after the call.
    quiet = {"MLFLOW_LOGGING_LEVEL": "ERROR", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env={**env, **quiet})


@pytest.fixture(scope="module")
def registered(home: dict[str, str], data: Path, tmp_path_factory: pytest.TempPathFactory):
    """Version 1 from `kiln train --register` (a real process); version 2 registered in-process,
    which is cheaper and the same code."""
    from tiny_models import train_tiny

    from kiln.store.registry import register

    folder = tmp_path_factory.mktemp("bundles")
    first = kiln_process("train", str(data), "--target", "target", "--time-limit", "30", "--max-trials", "1",
                         "--quiet", "--out", str(folder / "v1"), "--register", NAME, env=home)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in home.items():
            patch.setenv(key, value)
        second = register(train_tiny(folder / "v2", seed=1), NAME)
    return first, second, folder


def test_train_register_prints_name_version_and_alias_without_mlflow_noise(registered) -> None:
    first, second, _ = registered

    assert first.returncode == 0, first.stderr
    assert f"registered: {NAME} version 1 (champion); models:/{NAME}/1" in first.stdout
    # Registering is timed apart from --time-limit, which covers training and saving.
    assert re.search(r"in [0-9.]+s \(--time-limit 30s\)", first.stdout), first.stdout
    assert re.search(r"registered in [0-9.]+s \(not counted in --time-limit\)", first.stdout), first.stdout
    assert "mlflow" not in first.stderr.lower() and "Downloading artifacts" not in first.stderr
    assert "Warning" not in first.stderr
    assert (second.version, second.aliases) == ("2", ("challenger",))


def test_predict_from_the_champion_equals_the_bundle(registered, home, data, tmp_path) -> None:
    folder = registered[-1]
    out = tmp_path / "p.csv"

    result = kiln_process("predict", f"models:/{NAME}@champion", str(data), "--out", str(out), env=home)

    assert result.returncode == 0, result.stderr
    expected = kiln.load(folder / "v1").predictions_frame(pd.read_csv(data).drop(columns="target"))
    pd.testing.assert_frame_equal(pd.read_csv(out), expected, check_dtype=False)


def test_models_list_and_show(registered, home) -> None:
    listed = kiln_in_process("models", "list", env=home)
    shown = kiln_in_process("models", "show", NAME, env=home)

    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if f" {NAME} " in line)
    assert "roc_auc" in row and " 2 " in row
    assert shown.exit_code == 0, shown.output
    assert "champion" in shown.output and "challenger" in shown.output and "register" in shown.output
    assert "versions" in shown.output and "audit history" in shown.output


def test_promote_then_rollback_then_nothing_left_to_roll_back(registered, home) -> None:
    promoted = kiln_in_process("models", "promote", NAME, "2", "--reason", "beats v1", env=home)
    rolled = kiln_in_process("models", "rollback", NAME, "--reason", "alerts", env=home)
    again = kiln_in_process("models", "rollback", NAME, env=home)
    shown = kiln_in_process("models", "show", NAME, env=home)

    assert promoted.exit_code == 0, promoted.output
    assert f"{NAME}: champion 1 → 2 (promote" in promoted.output and "beats v1" in promoted.output
    assert rolled.exit_code == 0 and f"{NAME}: champion 2 → 1 (rollback" in rolled.output
    assert again.exit_code == 2 and "no earlier champion" in again.output
    assert "Traceback" not in again.output
    assert "alerts" in shown.output and "beats v1" in shown.output


@pytest.mark.parametrize(("args", "message"), [
    (("models", "show", "nosuch"), "No registered model named 'nosuch'"),
    (("models", "promote", NAME, "9"), "has no version 9"),
    (("models", "promote", NAME, "two"), "Version 'two' is not valid"),
    (("models", "rollback", "bad name"), "Model name 'bad name' is not valid"),
])
def test_models_bad_input_is_one_line_and_exit_2(registered, home, args, message) -> None:
    result = kiln_in_process(*args, env=home)

    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(("url", "message"), [
    ("postgresql+psycopg://nobody@127.0.0.1:1/kiln", "Cannot reach KILN_DB"),
    ("not a database url", "cannot be used"),
])
def test_an_unusable_database_is_one_line_and_exit_2(home, url, message) -> None:
    result = kiln_process("models", "list", env={**home, "KILN_DB": url})

    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_predict_from_an_unknown_alias_is_exit_2(registered, home, data, tmp_path) -> None:
    result = kiln_in_process("predict", f"models:/{NAME}@nope", str(data), "--out", str(tmp_path / "p.csv"),
                             env=home)

    assert result.exit_code == 2
    assert f"Model '{NAME}' has no alias 'nope'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "p.csv").exists()


def test_models_register_adds_an_already_trained_bundle(registered, home) -> None:
    folder = registered[-1]

    added = kiln_in_process("models", "register", str(folder / "v1"), "--name", f"{NAME}-kept", env=home)
    typo = kiln_in_process("models", "register", str(folder / "v1x"), "--name", f"{NAME}-kept", env=home)

    assert added.exit_code == 0, added.output
    assert f"registered: {NAME}-kept version 1 (champion); models:/{NAME}-kept/1" in added.output
    assert typo.exit_code == 2 and "is not a kiln bundle (no kiln.json) and does not exist" in typo.output
    assert f"Did you mean '{folder / 'v1'}'?" in typo.output


def test_a_name_not_found_says_which_registry_was_searched_and_the_closest_name(registered, home) -> None:
    result = kiln_in_process("models", "show", NAME[:-1] + "x", env=home)

    assert result.exit_code == 2, result.output
    assert (f"No registered model named '{NAME[:-1]}x' in the registry at KILN_DB={home['KILN_DB']}; "
            f"did you mean '{NAME}'?") in result.output


def test_an_empty_registry_says_where_it_looked(tmp_path) -> None:
    result = kiln_in_process("models", "list", env={"KILN_HOME": str(tmp_path), "KILN_DB": ""})

    assert result.exit_code == 0, result.output
    assert f"No registered models in the registry in {tmp_path / 'kiln.db'} (KILN_HOME={tmp_path})" in \
        " ".join(result.output.split())
