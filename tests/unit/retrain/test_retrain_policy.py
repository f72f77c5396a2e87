"""The retrain policy without a registry: which rows gate, which settings train, which rule applies."""

from __future__ import annotations

import pandas as pd
import pytest

from kiln.retrain.challenger import champion_spec, choose_rule, split_recent

CV = {"metric": "roc_auc", "greater_is_better": True, "score": 0.95, "ci_low": 0.93, "ci_high": 0.97}


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


@pytest.mark.parametrize(("interval", "rule"), [
    ((0.80, 0.90), "non-inferiority"),  # the whole gate interval below CV: the data moved
    ((0.85, 0.94), "superiority"),  # overlapping: no evidence of a shift
    ((0.96, 0.99), "superiority"),
])
def test_a_champion_measurably_worse_than_its_cv_means_shifted_data(interval, rule) -> None:
    chosen, why = choose_rule(None, CV, interval, "roc_auc")

    assert chosen == rule
    assert (why is not None) == (rule == "non-inferiority")
    if why:
        assert "0.8000 to 0.9000" in why and "below its cross-validated 0.9300 to 0.9700" in why


def test_for_a_loss_worse_means_above_the_cv_interval() -> None:
    cv = {"metric": "rmse", "greater_is_better": False, "score": 1.0, "ci_low": 0.9, "ci_high": 1.1}

    assert choose_rule(None, cv, (1.2, 1.4), "rmse")[0] == "non-inferiority"
    assert choose_rule(None, cv, (0.7, 0.8), "rmse")[0] == "superiority"


def test_an_explicit_choice_wins_and_missing_intervals_mean_superiority() -> None:
    assert choose_rule(True, CV, (0.96, 0.99), "roc_auc")[0] == "non-inferiority"
    assert choose_rule(False, CV, (0.5, 0.6), "roc_auc") == ("superiority", None)
    assert choose_rule(None, {}, (0.5, 0.6), "roc_auc") == ("superiority", None)
    assert choose_rule(None, CV, (float("nan"), 0.6), "roc_auc") == ("superiority", None)


def test_gate_predictions_put_the_challengers_classes_in_the_champions_order() -> None:
    import numpy as np

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
