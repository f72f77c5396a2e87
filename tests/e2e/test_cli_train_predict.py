"""The CLI end to end on the real AI4I 2020 file: train → leaderboard → predict."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

KILN = [sys.executable, "-m", "kiln.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KILN, *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def trained(cli_trained) -> tuple[Path, Path, pd.DataFrame, subprocess.CompletedProcess]:
    """`kiln train` on the 75% split (tests/e2e/conftest.py; the browser test evaluates it too)."""
    return cli_trained


def test_train_writes_a_complete_bundle(trained) -> None:
    bundle, _, _, result = trained
    assert result.returncode == 0, result.stderr
    manifest = json.loads((bundle / "kiln.json").read_text())
    assert manifest["task"] == "binary"
    assert manifest["classes"] == [0, 1]
    assert manifest["metric"] == "roc_auc"
    assert {"UDI", "Product ID"} <= set(manifest["schema"]["dropped"])
    assert manifest["cv"]["ci_low"] <= manifest["cv"]["score"] <= manifest["cv"]["ci_high"]
    assert manifest["training"]["rows"] == 7500
    assert (bundle / "leaderboard.csv").exists() and (bundle / "oof.parquet").exists()
    assert all((bundle / name).is_file() for name in manifest["files"])


def test_train_says_which_identifier_columns_it_dropped(trained) -> None:
    result = trained[3]  # the shared run, without --quiet
    assert result.returncode == 0, result.stderr
    assert "Dropped column 'UDI' (identifier" in result.stderr
    assert "Dropped column 'Product ID' (identifier" in result.stderr


def test_leaderboard_lists_several_families_and_the_ensemble(trained) -> None:
    bundle = trained[0]
    result = run("leaderboard", str(bundle), "--csv")
    assert result.returncode == 0, result.stderr
    board = pd.read_csv(io.StringIO(result.stdout))
    assert "ensemble" in set(board["model"])
    assert board["learner"].nunique() >= 5
    assert board["used"].sum() == 1
    ok = board[~board["status"].isin(["failed", "skipped"])]  # those have no score
    assert (ok["ci_low"] <= ok["score"]).all() and (ok["score"] <= ok["ci_high"]).all()


def test_predict_beats_095_auc_on_the_held_out_quarter(trained, tmp_path) -> None:
    bundle, test_csv, test, _ = trained
    out = tmp_path / "predictions.csv"
    result = run("predict", str(bundle), str(test_csv), "--out", str(out))
    assert result.returncode == 0, result.stderr
    predictions = pd.read_csv(out)
    assert list(predictions.columns) == ["prediction", "proba_0", "proba_1"]
    assert len(predictions) == len(test)
    auc = roc_auc_score(test["Machine failure"], predictions["proba_1"])
    assert auc > 0.95, f"held-out ROC AUC {auc:.4f}"


def test_predict_refuses_a_missing_required_column_with_exit_code_2(trained, tmp_path) -> None:
    bundle, _, test, _ = trained
    broken = tmp_path / "broken.csv"
    test.drop(columns=["Torque [Nm]"]).to_csv(broken, index=False)
    result = run("predict", str(bundle), str(broken), "--out", str(tmp_path / "p.csv"))
    assert result.returncode == 2
    assert "Torque [Nm]" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "p.csv").exists()


def test_predict_refuses_a_tampered_bundle(trained, tmp_path) -> None:
    import shutil

    bundle = tmp_path / "copy"
    shutil.copytree(trained[0], bundle)
    victim = next((bundle / "model").rglob("prep.skops"))
    victim.write_bytes(victim.read_bytes() + b"\0")
    result = run("predict", str(bundle), str(trained[1]), "--out", str(tmp_path / "p.csv"))
    assert result.returncode == 2
    assert "checksum" in result.stderr and "Traceback" not in result.stderr


def test_train_with_an_unknown_target_exits_2_with_one_line(ai4i_split, tmp_path) -> None:
    result = run("train", str(ai4i_split[0]), "--target", "machine failure", "--time-limit", "10")
    assert result.returncode == 2
    assert "Did you mean 'Machine failure'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
