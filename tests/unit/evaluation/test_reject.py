"""The reject option's threshold, chosen on one half of the rows, holds on the other."""

from __future__ import annotations

import numpy as np
import pytest

from kiln.errors import InvalidOptionError
from kiln.evaluation.reject import answered, choose_reject, parse_reject


def _calibrated(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities drawn first, labels drawn from them: the probabilities are calibrated."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.5, size=(n, k))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(k, p=row) for row in proba])
    return proba, y


@pytest.mark.parametrize("target", [0.8, 0.9])
def test_auto_threshold_reaches_its_precision_on_held_out_rows(target: float) -> None:
    hits = []
    for seed in range(20):
        proba, y = _calibrated(2000, 5, seed)
        rule = choose_reject(proba[:1000], y[:1000], list(range(5)), setting="auto", target_precision=target)
        keep = answered(proba[1000:], rule.threshold, None)
        hits.append((proba[1000:].argmax(axis=1)[keep] == y[1000:][keep]).mean() >= target)
        assert 0.0 < rule.oof_coverage < 1.0
        assert rule.oof_precision >= target  # the lower bound is above the target, so the estimate is too
    assert np.mean(hits) >= 0.9  # the 95% lower bound makes a miss on new rows rare


def test_an_out_of_scope_class_is_rejected_and_counted() -> None:
    proba, y = _calibrated(1000, 4, 3)
    classes = ["a", "b", "c", "out_of_scope"]
    rule = choose_reject(proba, y, classes, setting=0.5)
    predicted_oos = proba.argmax(axis=1) == 3
    assert not answered(proba, 0.5, 3)[predicted_oos].any()
    assert rule.mode == "manual" and rule.threshold == 0.5
    assert rule.out_of_scope_rows == int((y == 3).sum())
    assert 0.0 < rule.out_of_scope_caught <= 1.0
    assert [p["coverage"] for p in rule.curve] == sorted((p["coverage"] for p in rule.curve), reverse=True)


@pytest.mark.parametrize("value", ["sometimes", "0", "1.5", "-0.2"])
def test_bad_reject_settings_are_refused(value: str) -> None:
    with pytest.raises(InvalidOptionError, match="--reject-below"):
        parse_reject(value)
    assert parse_reject("AUTO") == "auto" and parse_reject("0.7") == 0.7
