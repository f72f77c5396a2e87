"""The retrain policy without a registry: which rows gate, which settings train, which rule applies.

The rule (superiority, or non-inferiority when the data moved) comes from the monitor's drift
rule on the features of the challenger's training rows, never from the gate rows' scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kiln.monitor.alerts import AlertRules
from kiln.retrain.challenger import ShiftEvidence, champion_spec, choose_rule, shift_evidence, split_recent


def test_the_newest_rows_form_the_gate_set() -> None:
    frame = pd.DataFrame({"t": range(10)})

    fit, gate = split_recent(frame, 0.3)

    assert fit["t"].tolist() == list(range(7)) and gate["t"].tolist() == [7, 8, 9]


def test_the_challenger_gets_the_champions_settings_with_overrides() -> None:
    manifest = {"target": "y", "task": "binary", "metric": "roc_auc",
                "training": {"seed": 7, "time_limit": 30.0, "max_trials": 4},
                "decision": {"objective": "cost", "cost_fp": 1.0, "cost_fn": 20.0, "threshold": 0.1}}

    spec = champion_spec(manifest, time_limit=12)

    assert (spec.target, spec.task, spec.metric, spec.seed, spec.time_limit, spec.max_trials) == (
        "y", "binary", "roc_auc", 7, 12.0, 4)
    assert (spec.cost_fp, spec.cost_fn) == (1.0, 20.0)
    f1_manifest = {**manifest, "decision": {"objective": "f1", "cost_fp": 1.0, "cost_fn": 1.0}}
    assert champion_spec(f1_manifest, seed=3).cost_fn is None and champion_spec(f1_manifest, seed=3).seed == 3


@pytest.fixture(scope="module")
def champion():
    """A one-trial binary model on generated data (about a second): its reference sample is what drift is read
    against."""
    import kiln

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(0, 1, 600), "x2": rng.normal(5, 2, 600),
                          "kind": rng.choice(["a", "b", "c"], 600)})
    frame["y"] = (frame["x1"] + 0.3 * frame["x2"] + rng.normal(0, 1, 600) > 1.5).astype(int)
    return kiln.train(frame, target="y", time_limit=10, max_trials=1, n_jobs=1, seed=0, quiet=True), frame


def _fresh(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(0, 1, n), "x2": rng.normal(5, 2, n), "kind": rng.choice(["a", "b", "c"], n)})
    frame["y"] = (frame["x1"] + 0.3 * frame["x2"] + rng.normal(0, 1, n) > 1.5).astype(int)
    return frame


def test_rows_like_the_training_data_mean_superiority(champion) -> None:
    model, _ = champion

    evidence = shift_evidence(model, _fresh(400, seed=1), rules=AlertRules())

    assert not evidence.shifted and evidence.tested == 3 and evidence.rows == 400
    assert choose_rule(None, evidence)[0] == "superiority"
    assert "no feature of the 400 training rows drifted" in evidence.summary()


def test_drifted_features_mean_non_inferiority_and_name_the_feature(champion) -> None:
    model, _ = champion
    moved = _fresh(400, seed=2)
    moved["x2"] = moved["x2"] + 3.0  # 1.5 standard deviations

    rule, why = choose_rule(None, shift_evidence(model, moved, rules=AlertRules()))

    assert rule == "non-inferiority"
    assert why is not None and why.startswith("the data shifted") and "'x2' PSI" in why and "'x1'" not in why


def test_the_evidence_reads_no_label_so_gate_labels_cannot_choose_the_rule(champion) -> None:
    """What the gate rows' labels say (here: every label flipped) cannot change the hypothesis."""
    model, _ = champion
    rows = _fresh(400, seed=3)
    flipped = rows.assign(y=1 - rows["y"])

    assert shift_evidence(model, rows, rules=AlertRules()) == shift_evidence(model, flipped, rules=AlertRules())


def test_too_few_rows_or_no_reference_mean_superiority_with_the_reason(champion) -> None:
    from dataclasses import replace

    model, _ = champion

    few = shift_evidence(model, _fresh(50, seed=4), rules=AlertRules())
    bare = shift_evidence(replace(model, reference=None), _fresh(400, seed=4), rules=AlertRules())

    assert not few.shifted and "fewer than the monitor's min_rows (100)" in few.summary()
    assert not bare.shifted and "no reference sample" in bare.summary()


def test_an_explicit_choice_wins_over_the_evidence() -> None:
    moved = ShiftEvidence(True, 500, 0.2, (("x", 0.9, "ks", 0.4, 1e-9),), tested=1)

    assert choose_rule(True, None) == ("non-inferiority", "the data was declared shifted (--shifted)")
    assert choose_rule(False, moved)[0] == "superiority" and "--no-shifted" in choose_rule(False, moved)[1]
    assert choose_rule(None, moved)[0] == "non-inferiority"
    assert choose_rule(None, None) == ("superiority", None)


def test_gate_predictions_put_the_challengers_classes_in_the_champions_order() -> None:
    from kiln.data.target import Target
    from kiln.retrain.tabular import gate_predictions

    class Fixed:
        """A model that predicts fixed probabilities, in its own class order."""

        def __init__(self, classes: list[str], proba: list[list[float]]) -> None:
            self.target, self.task, self.classes_ = Target("y", "multiclass", classes), "multiclass", classes
            self._proba = np.array(proba)

        def predict_raw(self, rows: pd.DataFrame) -> np.ndarray:
            return self._proba

    rows = pd.DataFrame({"y": ["a", "c"]})
    champion = Fixed(["a", "b", "c"], [[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    challenger = Fixed(["c", "a"], [[0.1, 0.9], [0.8, 0.2]])  # never saw "b"

    y, champion_pred, challenger_pred = gate_predictions(champion, challenger, rows)  # type: ignore[arg-type]

    assert y.tolist() == [0, 2]
    np.testing.assert_array_equal(champion_pred, champion._proba)
    np.testing.assert_array_equal(challenger_pred, [[0.9, 0.0, 0.1], [0.2, 0.0, 0.8]])
