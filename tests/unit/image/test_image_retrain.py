"""`kiln retrain` on a registered image champion: a challenger trained on a folder of new images, gated on the
newest of them with the shared paired test, promoted only if the gate passes, audited either way."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from tiny_images import shared_bundle, write_set
from typer.testing import CliRunner

import kiln
from kiln.cli.app import app


@pytest.mark.slow  # MLflow's registry schema on a fresh SQLite file takes ~11 s on 2 busy cores; the run ~7 s
def test_retrain_of_an_image_model_trains_gates_and_audits_a_challenger(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from kiln.retrain.image import ImageGate
    from kiln.store.registry import audit_history, resolve

    monkeypatch.setenv("KILN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KILN_DB", f"sqlite:///{tmp_path / 'registry.db'}")
    bundle, _ = shared_bundle()
    runner = CliRunner()
    done = runner.invoke(app, ["models", "register", str(bundle), "--name", "shapes"])
    assert done.exit_code == 0, done.output
    new = tmp_path / "new"
    write_set(new, 25, seed=2)  # 75 images: the newest 23 (by modification time) are the gate set
    files = sorted(new.rglob("*.png"), key=lambda p: (p.name, p.parent.name))  # the classes interleaved in time
    for i, path in enumerate(files):
        at = time.time() - 1000 + i
        os.utime(path, (at, at))
    order = ImageGate().read(new)
    assert list(order["path"]) == [str(p.resolve()) for p in files]
    only_rings = tmp_path / "rings"
    write_set(only_rings, 25, seed=3)
    for i, path in enumerate(sorted(only_rings.rglob("*.png"))):  # ring images written last: a one-class gate
        os.utime(path, (time.time() - 1000 + i,) * 2)
    refused = runner.invoke(app, ["retrain", "shapes", str(only_rings), "--quiet"])
    assert refused.exit_code == 2 and "one class" in refused.output  # before any training

    done = runner.invoke(app, ["retrain", "shapes", str(new), "--time-limit", "20", "--jobs", "1", "--quiet",
                               "--out", str(tmp_path / "retrain.html")])
    assert done.exit_code == 0, done.output
    promoted = done.output.startswith("promoted: shapes version 2")
    assert promoted or done.output.startswith("kept: shapes champion stays version 1; challenger version 2")
    last = audit_history("shapes")[-1]
    assert last.action == ("promote" if promoted else "keep")
    assert resolve("models:/shapes@champion").version == ("2" if promoted else "1")
    challenger = kiln.load(resolve("models:/shapes/2").path)
    assert challenger.kind == "image" and challenger.manifest["training"]["images"] == 52  # the gate's 23 held out
    assert set(challenger.classes_) == {"horizontal", "vertical", "ring"}
    evidence = json.loads(json.dumps(last.metrics))
    assert evidence["champion_version"] == "1" and evidence["challenger_version"] == "2"
    assert (tmp_path / "retrain.html").exists()


def test_the_image_gate_reads_a_folder_in_time_order_trains_a_challenger_and_aligns_both(tmp_path: Path) -> None:
    """The kind's parts of the shared retrain, without the registry: what the CLI test runs end to end."""
    import numpy as np
    import pandas as pd

    from kiln.errors import InvalidDataError
    from kiln.retrain.challenger import split_recent
    from kiln.retrain.image import GATE
    from kiln.training.progress import Reporter

    champion = kiln.load(shared_bundle()[0])
    new = tmp_path / "new"
    write_set(new, 25, seed=2)
    files = sorted(new.rglob("*.png"), key=lambda p: (p.name, p.parent.name))
    for i, path in enumerate(files):
        os.utime(path, (time.time() - 1000 + i,) * 2)
    frame = GATE.labelled(GATE.read(new), champion)
    assert list(frame["path"]) == [str(p.resolve()) for p in files]
    fit_rows, gate_rows = split_recent(frame, 0.3)
    GATE.check_gate(gate_rows, champion)
    with pytest.raises(InvalidDataError, match="one class"):
        GATE.check_gate(gate_rows.assign(label="ring"), champion)
    assert "fewer than the monitor's min_rows" in GATE.shift_evidence(champion, fit_rows).summary()
    challenger = GATE.train(fit_rows, champion, time_limit=20, seed=0, n_jobs=1, reporter=Reporter())
    assert challenger.manifest["training"]["images"] == len(fit_rows) == 52
    assert challenger.manifest["training"]["max_trials"] == champion.manifest["training"]["max_trials"] == 2
    y, champion_pred, challenger_pred = GATE.predictions(champion, challenger, gate_rows)
    assert list(y) == [champion.classes_.index(v) for v in gate_rows["label"]]
    assert champion_pred.shape == challenger_pred.shape == (23, 3)
    np.testing.assert_allclose(challenger_pred.sum(axis=1), 1, atol=1e-6)
    assert GATE.task(champion) == "multiclass" and isinstance(frame, pd.DataFrame)
