"""`kiln retrain` end to end on a real SQLite registry: the gate promotes a better challenger, keeps the
champion otherwise, records why in the audit table, rolls back, and survives `kill -9` at any point.

Data: scikit-learn's breast-cancer table, shuffled once. A "noisy" champion learned from 150 rows
with 35% of labels flipped (CV AUC ≈ 0.65); a "clean" one from 250 clean rows (≈ 0.99). The new
data is the remaining rows; its newest 30% is the gate set.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import kiln
from kiln.cli import app
from kiln.errors import InvalidDataError, InvalidOptionError, KilnError
from kiln.retrain.challenger import retrain
from kiln.store import registry

KILN = str(Path(sys.executable).with_name("kiln"))


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).frame.sample(frac=1, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="module")
def champions(cancer: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Bundles of the two champions (one trial each, one process: about a second apiece)."""
    folder = tmp_path_factory.mktemp("champions")
    noisy = cancer.iloc[:150].copy()
    flip = np.random.default_rng(0).random(len(noisy)) < 0.35
    noisy.loc[flip, "target"] = 1 - noisy.loc[flip, "target"]
    frames = {"noisy": noisy, "clean": cancer.iloc[:250]}
    bundles = {key: kiln.save(kiln.train(frame, target="target", time_limit=10, max_trials=1, n_jobs=1, seed=0,
                                         quiet=True), folder / key) for key, frame in frames.items()}
    bundles["f1"] = kiln.save(kiln.train(noisy, target="target", metric="f1", time_limit=10, max_trials=1, n_jobs=1,
                                         seed=0, quiet=True), folder / "f1")
    return bundles


@pytest.fixture
def store(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> dict:
    """One SQLite database for the module (MLflow's schema is built once), a fresh KILN_HOME per test."""
    env = {"KILN_DB": f"sqlite:///{tmp_path_factory.getbasetemp() / 'retrain.db'}",
           "KILN_HOME": str(tmp_path / "home")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def name() -> str:
    return f"cancer-{uuid.uuid4().hex[:8]}"


def test_a_better_challenger_is_promoted_with_its_reason_and_rollback_restores_the_champion(
        store, champions, cancer, name) -> None:
    registry.register(champions["noisy"], name)

    result = retrain(name, cancer.iloc[150:], n_jobs=1, quiet=True)

    d = result.decision
    assert (result.champion_version, result.challenger_version, result.promoted) == ("1", "2", True)
    assert d.test == "delong" and d.rule == "superiority" and d.n_rows == 126  # ceil(0.3 × 419)
    assert d.challenger > d.champion and d.ci_low > 0 and d.p_value < 0.05
    assert registry.alias_version(name, "champion") == "2"
    last = registry.audit_history(name)[-1]
    assert (last.action, last.from_version, last.to_version, last.reason) == ("promote", "1", "2", d.reason)
    assert last.metrics["p_value"] == pytest.approx(d.p_value) and last.metrics["test"] == "delong"
    assert last.metrics["ci_low"] == pytest.approx(d.ci_low) and last.metrics["champion_version"] == "1"
    page = result.report.read_text()
    assert "promoted: v2 is the champion" in page and "DeLong" in page and "Recency policy" in page

    registry.rollback(name, reason="alerts after the release")

    assert registry.alias_version(name, "champion") == "1"
    rows = cancer.iloc[:20].drop(columns="target")
    pd.testing.assert_frame_equal(kiln.load(f"models:/{name}@champion").predictions_frame(rows),
                                  kiln.load(champions["noisy"]).predictions_frame(rows))


def test_a_challenger_no_better_is_registered_but_the_champion_stays(store, champions, cancer, name) -> None:
    registry.register(champions["clean"], name)

    result = retrain(name, cancer.iloc[250:], n_jobs=1, quiet=True)

    assert not result.promoted and not result.decision.promote
    assert registry.alias_version(name, "champion") == "1"
    assert registry.alias_version(name, "challenger") == "2"
    last = registry.audit_history(name)[-1]
    assert (last.action, last.alias, last.from_version, last.to_version) == ("keep", "champion", "2", "1")
    assert "not significantly better" in last.reason and last.reason == result.decision.reason
    assert last.metrics["difference"] == pytest.approx(result.decision.difference)
    assert "kept champion v1" in result.report.read_text()
    registry.promote(name, "2", reason="promoted by hand")  # a keep row does not confuse rollback's replay
    registry.rollback(name, reason="back")
    assert registry.alias_version(name, "champion") == "1"


def test_promote_never_records_a_passed_gate_without_promoting(store, champions, cancer, name) -> None:
    registry.register(champions["noisy"], name)

    result = retrain(name, cancer.iloc[150:], promote="never", n_jobs=1, quiet=True)

    assert result.decision.promote and not result.promoted
    assert registry.alias_version(name, "champion") == "1"
    last = registry.audit_history(name)[-1]
    assert last.action == "keep" and last.reason.startswith("Not promoted (--promote never)")
    assert last.metrics["promote_mode"] == "never"


def test_shifted_data_switches_the_gate_to_non_inferiority(store, champions, cancer, name) -> None:
    """A recalibrated instrument: every measurement of the new data reads three times larger."""
    registry.register(champions["clean"], name)
    new = cancer.iloc[250:].reset_index(drop=True)
    features = [c for c in new.columns if c != "target"]
    new[features] = new[features] * 3.0

    result = retrain(name, new, n_jobs=1, quiet=True)

    d = result.decision
    assert d.rule == "non-inferiority" and d.margin == 0.005
    assert "because the data shifted" in d.reason and result.promoted


def test_gate_rows_that_score_badly_do_not_choose_the_rule(store, champions, cancer, name) -> None:
    """Labels flipped on 40% of the gate rows only: the champion scores far below its CV there, which once switched
    the gate to the easier non-inferiority rule. The features did not move, so the rule stays superiority."""
    registry.register(champions["clean"], name)
    new = cancer.iloc[250:].reset_index(drop=True)
    gate = np.arange(len(new)) >= len(new) - int(np.ceil(0.3 * len(new)))
    flip = gate & (np.random.default_rng(1).random(len(new)) < 0.4)
    new.loc[flip, "target"] = 1 - new.loc[flip, "target"]

    result = retrain(name, new, n_jobs=1, quiet=True)

    d = result.decision
    assert d.champion < champions_cv_low(champions["clean"])  # the champion did score far below its CV here
    assert d.rule == "superiority" and "no feature of the" in d.reason
    assert "Why this rule" in result.report.read_text()


def champions_cv_low(bundle: Path) -> float:
    return float(kiln.load(bundle).manifest["cv"]["ci_low"])


def test_label_metrics_judge_both_models_at_their_served_thresholds(store, champions, cancer, name) -> None:
    registry.register(champions["f1"], name)

    result = retrain(name, cancer.iloc[150:], n_jobs=1, quiet=True)

    d = result.decision
    champion = kiln.load(champions["f1"])
    challenger = kiln.load(f"models:/{name}/{result.challenger_version}")
    assert d.metric == "f1" and d.test == "bootstrap"
    assert d.thresholds == (champion.threshold, challenger.threshold) and champion.threshold != 0.5
    y = champion.target.encode(cancer.iloc[150:].iloc[-d.n_rows:]["target"])
    served = champion.predict(cancer.iloc[150:].iloc[-d.n_rows:])
    from sklearn.metrics import f1_score
    assert d.champion == pytest.approx(f1_score(y, champion.target.encode(pd.Series(served))))


def test_declared_shift_uses_the_margin(store, champions, cancer, name) -> None:
    registry.register(champions["clean"], name)

    result = retrain(name, cancer.iloc[250:], shifted=True, margin=0.05, n_jobs=1, quiet=True)

    d = result.decision
    assert d.rule == "non-inferiority" and d.margin == 0.05 and "--shifted" in d.reason
    assert result.promoted == (d.ci_low > -0.05)


def test_bad_input_fails_before_training_with_one_sentence(store, champions, cancer, name) -> None:
    registry.register(champions["clean"], name)

    with pytest.raises(KilnError, match="No registered model named 'nobody'"):
        retrain("nobody", cancer, quiet=True)
    with pytest.raises(InvalidDataError, match="has no column 'target'"):
        retrain(name, cancer.drop(columns="target"), quiet=True)
    with pytest.raises(InvalidOptionError, match="--holdout must lie between"):
        retrain(name, cancer, holdout=1.5, quiet=True)
    with pytest.raises(InvalidOptionError, match="--alpha must lie between 0 and"):
        retrain(name, cancer, alpha=0.5, quiet=True)
    with pytest.raises(InvalidOptionError, match="--time-limit 2 is too short"):
        retrain(name, cancer, time_limit=2, quiet=True)
    with pytest.raises(InvalidDataError, match="gate set holds 9 labelled rows"):
        retrain(name, cancer.iloc[:30], quiet=True)
    assert [e.action for e in registry.audit_history(name)] == ["register"]


def test_cli_bad_input_exits_2_with_one_line(store, tmp_path) -> None:
    missing = tmp_path / "missing.csv"

    result = CliRunner().invoke(app, ["retrain", "nobody", str(missing), "--holdout", "2"], env=store)

    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "--holdout must lie between" in result.output


# -- crash safety -------------------------------------------------------------------------------

def _check_registry(name: str, champion_before: str, versions_before: set[str]) -> tuple[str, set[str]]:
    """Every listed version loads; the champion moved only by an audited promotion of a new version."""
    details = registry.show(name)
    listed = {v.version for v in details.versions}
    for version in sorted(listed, key=int):
        kiln.load(f"models:/{name}/{version}")  # verified against its checksums
    champion = details.aliases["champion"]
    if champion != champion_before:
        promotions = [e for e in details.audit if e.action == "promote"]
        assert promotions and promotions[-1].to_version == champion, details.audit
        assert champion not in versions_before
    assert {e.to_version for e in details.audit} <= listed
    return champion, listed


def _kill_nine(store: dict, champions: dict, cancer: pd.DataFrame, tmp_path: Path, name: str, kills: int) -> None:
    data = tmp_path / "new.csv"
    cancer.iloc[150:].to_csv(data, index=False)
    env = {**os.environ, **store, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "passive"}

    def command(model: str) -> list[str]:
        return [KILN, "retrain", model, str(data), "--jobs", "1", "--quiet"]

    registry.register(champions["noisy"], f"{name}-timing")
    started = time.monotonic()
    timing = subprocess.run(command(f"{name}-timing"), env=env, capture_output=True, text=True, timeout=300)
    normal = time.monotonic() - started
    assert timing.returncode == 0, timing.stderr

    registry.register(champions["noisy"], name)
    champion, versions = "1", {"1"}
    seed = 20261202  # fixed: the kill points differ with the machine's speed, not from run to run
    rng = np.random.default_rng(seed)
    for _ in range(kills):
        delay = float(rng.uniform(0.5, normal))
        process = subprocess.Popen(command(name), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(delay)
        process.kill()  # SIGKILL; a run that already finished is simply reaped
        _, err = process.communicate(timeout=60)
        assert process.returncode in (0, -9), err.decode()
        champion, versions = _check_registry(name, champion, versions)

    rerun = subprocess.run(command(name), env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, f"seed {seed}: {rerun.stderr}"
    assert rerun.stdout.startswith(("promoted: ", "kept: ")) and "report: " in rerun.stdout
    _check_registry(name, champion, versions)


def test_kill_9_at_random_points_leaves_a_consistent_registry(store, champions, cancer, tmp_path, name) -> None:
    _kill_nine(store, champions, cancer, tmp_path, name, kills=3)


@pytest.mark.slow
def test_kill_9_ten_times_leaves_a_consistent_registry(store, champions, cancer, tmp_path, name) -> None:
    _kill_nine(store, champions, cancer, tmp_path, name, kills=10)
