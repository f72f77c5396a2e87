"""The reference matches what is served: on traffic drawn like the training data, prediction
drift is rarely flagged and CBPE estimates the AUC that is then realised.

A real model trained on kiln's AI4I-like generator; traffic is drawn from a fresh table of
the same plant and scored by the served (refitted) model, as `kiln serve` logs it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

import kiln
from kiln.demo.generate import generate
from kiln.monitor.performance import Calibrator
from kiln.monitor.run import _prediction_drift
from kiln.monitor.statistics import DEFAULT_THRESHOLDS
from kiln.monitor.window import TrafficWindow

MODES = ["TWF", "HDF", "PWF", "OSF", "RNF"]
TARGET = "Machine failure"
TRIALS = 200
TRAFFIC_ROWS = 1_000  # a window of served rows (/monitor assesses up to 2,000)


@pytest.fixture(scope="module")
def model_and_fresh():
    # One LightGBM trial: the same model on a quiet or a loaded machine, so the test is deterministic.
    model = kiln.train(generate(5_000, seed=0).drop(columns=MODES), target=TARGET, time_limit=20, max_trials=1,
                       learners=["lightgbm"], n_jobs=1, quiet=True)
    fresh = generate(20_000, seed=1).drop(columns=MODES)
    return model, fresh, np.asarray(model.predict_raw(fresh.drop(columns=[TARGET])))


def _window(model, rows: pd.DataFrame, raw: np.ndarray) -> TrafficWindow:
    classes = [str(c) for c in model.classes_]
    outputs = [{"prediction": None, "probabilities": dict(zip(classes, map(float, r), strict=True))} for r in raw]
    log = pd.DataFrame({"at": np.arange(len(rows), dtype=float), "outputs": outputs,
                        "label": pd.Series([None] * len(rows), dtype=object)})
    return TrafficWindow(rows.drop(columns=[TARGET]).reset_index(drop=True), log)


def test_prediction_drift_false_alarms_stay_within_alpha(model_and_fresh) -> None:
    model, fresh, raw = model_and_fresh
    rng = np.random.default_rng(0)
    flagged = 0
    for _ in range(TRIALS):
        rows = rng.choice(len(fresh), TRAFFIC_ROWS, replace=False)
        flagged += _prediction_drift(model, _window(model, fresh.iloc[rows], raw[rows])).drifted
    # the test's own α (0.01): at most that share of same-distribution windows may be flagged
    assert flagged <= DEFAULT_THRESHOLDS.alpha * TRIALS, f"{flagged} of {TRIALS} windows flagged"


def test_cbpe_estimates_the_realised_auc(model_and_fresh) -> None:
    model, fresh, raw = model_and_fresh
    estimated = Calibrator.from_reference(model).expected(raw, "roc_auc", model._decide(raw))
    realised = roc_auc_score(fresh[TARGET], raw[:, 1])
    assert abs(estimated - realised) <= 0.02, (estimated, realised)


def test_multiclass_cbpe_counts_the_predicted_class_not_the_largest_calibrated_one() -> None:
    """Calibration can reorder classes: a row predicted as class 0 whose calibrated chance of
    class 1 is higher is right with the chance of class 0, which is what is realised."""
    rng = np.random.default_rng(0)
    raw = rng.dirichlet([4.0, 2.0, 1.0], size=20_000)  # class 0 is (nearly always) the one predicted
    # true chances: class 0 is over-, class 1 under-estimated by the model
    truth = np.column_stack([raw[:, 0] * 0.5, raw[:, 1] * 1.8, raw[:, 2]])
    truth /= truth.sum(axis=1, keepdims=True)
    y = (rng.random(len(raw))[:, None] > np.cumsum(truth, axis=1)).sum(axis=1)
    half = len(raw) // 2  # calibrate on one half (the reference), estimate on the other (served)
    fitted = [IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(raw[:half, c], y[:half] == c)
              for c in range(3)]
    served, labels = raw[half:], y[half:]
    predicted = served.argmax(axis=1)
    realised = float(np.mean(predicted == labels))
    estimated = Calibrator(fitted).expected(served, "accuracy", predicted)
    largest = float(np.mean(Calibrator(fitted).calibrate(served).max(axis=1)))
    assert abs(estimated - realised) < 0.01, (estimated, realised)
    assert largest - realised > 0.03  # the old rule's estimate, which this guards against
