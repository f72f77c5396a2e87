"""The image kind end to end on tiny generated pictures: train (features + the network), the bundle, kiln predict,
the leaderboard, duplicates kept out of each other's folds, the network's safetensors round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tiny_images import SIDE, shared_bundle, write_set
from typer.testing import CliRunner

import kiln
from kiln.cli.app import app
from kiln.vision.network import Network, NetworkSpec, fit_network


@pytest.fixture(scope="module")
def trained() -> tuple[Path, Path]:
    """The session's tiny model: 3 classes × 15 images, a resized copy and a cross-class copy added."""
    return shared_bundle()


def test_train_predict_and_leaderboard_through_the_cli(trained: tuple[Path, Path], tmp_path: Path) -> None:
    bundle, new = trained
    manifest = json.loads((bundle / "kiln.json").read_text())
    assert manifest["kind"] == "image" and manifest["classes"] == ["horizontal", "ring", "vertical"]
    assert manifest["recipe"]["side"] == SIDE and manifest["recipe"]["mode"] == "L"
    out = tmp_path / "preds.csv"
    result = CliRunner().invoke(app, ["predict", str(bundle), str(new), "--out", str(out)])
    assert result.exit_code == 0, result.output
    preds = pd.read_csv(out)
    assert list(preds.columns) == ["path", "prediction", "proba_horizontal", "proba_ring", "proba_vertical"]
    assert len(preds) == 12 and preds["path"].str.match(r"^(horizontal|vertical|ring)/\d{3}\.png$").all()
    np.testing.assert_allclose(preds.filter(like="proba_").sum(axis=1), 1.0, atol=1e-6)
    truth = preds["path"].str.split("/").str[0]
    assert (preds["prediction"] == truth).mean() >= 0.75  # bars and rings are easy; chance is 1/3
    board = CliRunner().invoke(app, ["leaderboard", str(bundle), "--csv"])
    assert board.exit_code == 0 and "linear" in board.output


def test_copies_never_straddle_folds_and_mislabelled_copies_are_left_out(trained: tuple[Path, Path]) -> None:
    bundle, _ = trained
    model = kiln.load(bundle)
    manifest = model.manifest
    codes = {f["code"] for f in manifest["findings"]}
    assert {"IM005", "IM006"} <= codes
    assert manifest["training"]["images"] == 47
    # the resized copy is trained once; the horizontal bar filed under vertical and its original not at all
    assert manifest["training"]["trained_images"] == 47 - 1 - 2
    hashes = model.reference["__hash"]
    assert hashes.is_unique  # so no validation image has a copy in its training fold


def test_the_bundle_gives_the_models_own_predictions_and_refuses_a_bad_folder(trained: tuple[Path, Path],
                                                                              tmp_path: Path) -> None:
    bundle, new = trained
    once, twice = kiln.load(bundle), kiln.load(bundle)
    np.testing.assert_array_equal(once.predict_proba(new).to_numpy(), twice.predict_proba(new).to_numpy())
    result = CliRunner().invoke(app, ["predict", str(bundle), str(tmp_path / "nowhere"), "--out",
                                      str(tmp_path / "p.csv")])
    assert result.exit_code == 2 and "is not a folder" in result.output and "Traceback" not in result.output


def test_the_network_round_trips_through_safetensors_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arrays = rng.random((40, SIDE, SIDE, 1), dtype=np.float32)
    y = rng.integers(0, 3, 40)
    spec = NetworkSpec(channels=1, side=SIDE, n_classes=3)
    modules = [fit_network(arrays, y, spec, deadline=float("inf"), seed=k, max_epochs=1)[0] for k in range(2)]
    network = Network(spec, modules)
    network.save(tmp_path / "network.safetensors")
    assert (tmp_path / "network.safetensors").read_bytes()[8:9] == b"{"  # a JSON header, then raw tensors
    loaded = Network.load(tmp_path / "network.safetensors", spec, 2)
    np.testing.assert_array_equal(network.predict_proba(arrays), loaded.predict_proba(arrays))


def test_a_folder_with_one_class_is_refused_in_one_line(tmp_path: Path) -> None:
    write_set(tmp_path / "one", 3, seed=0)
    for kind in ("vertical", "ring"):
        for file in (tmp_path / "one" / kind).iterdir():
            file.unlink()
        (tmp_path / "one" / kind).rmdir()
    result = CliRunner().invoke(app, ["train", str(tmp_path / "one"), "--task", "image", "--time-limit", "5"])
    assert result.exit_code == 2 and "IM001" in result.output and "Traceback" not in result.output


def test_evaluate_and_profile_a_labelled_folder(trained: tuple[Path, Path], tmp_path: Path) -> None:
    bundle, new = trained
    report = tmp_path / "evaluation.html"
    result = CliRunner().invoke(app, ["evaluate", str(bundle), str(new), "--out", str(report), "--json"])
    assert result.exit_code == 0, result.output
    scores = {m["metric"]: m for m in json.loads(result.output)["metrics"]}
    assert set(scores) == {"accuracy", "macro_f1", "log_loss"}
    for m in scores.values():
        assert m["ci_low"] <= m["value"] <= m["ci_high"]
    assert json.loads(result.output)["n_images"] == 12
    page = report.read_text()
    assert "Confusion matrix" in page and "Occlusion maps" in page and "data:image/png;base64," in page
    profiled = CliRunner().invoke(app, ["profile", str(new), "--task", "image", "--out", str(tmp_path / "p.html")])
    assert profiled.exit_code == 0 and "12 images, 3 classes, 0 unreadable" in profiled.output
