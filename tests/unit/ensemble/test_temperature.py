"""Temperature scaling of linear members (ensemble/temperature.py): T is fitted on out-of-fold
predictions, the calibrated model is the same LogisticRegression with its scores divided by T,
and a trial's fold models, OOF predictions, scores and config all change together."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from scipy.special import softmax

from kiln.ensemble.temperature import calibrate_linear, fit_temperature, rescale
from kiln.evaluation.metrics import get_metric
from kiln.learners.linear import LinearLearner
from kiln.search.trial import TrialResult, TrialSpec


def _folds(n: int, k: int = 5) -> list[np.ndarray]:
    return [np.arange(n)[i::k] for i in range(k)]


def test_the_fitted_temperature_undoes_a_known_miscalibration() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=2.0, size=(4000, 5))
    y = np.array([rng.choice(5, p=p) for p in softmax(logits / 0.6, axis=1)])  # truth is sharper: T 0.6
    temperature, after, before = fit_temperature(softmax(logits, axis=1), y, _folds(len(y)))
    assert temperature == pytest.approx(0.6, abs=0.05)
    assert after < before - 0.01
    calibrated = softmax(logits / 0.6, axis=1)  # already calibrated: T stays 1
    assert fit_temperature(calibrated, y, _folds(len(y)))[0] == 1.0


def test_rescale_keeps_rows_summing_to_one_and_absent_classes_at_zero() -> None:
    proba = np.array([[0.7, 0.3, 0.0], [0.2, 0.5, 0.3]])
    sharper = rescale(proba, 0.5)
    assert np.allclose(sharper.sum(axis=1), 1.0) and sharper[0, 2] == 0.0
    assert sharper[0, 0] > 0.7 and np.array_equal(sharper.argmax(axis=1), proba.argmax(axis=1))
    assert np.allclose(sharper[1], softmax(np.log(proba[1]) / 0.5))


def _sparse_task(n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 6))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) if n_classes == 2 else np.argmax(X[:, :3], axis=1)
    return X, y


@pytest.mark.parametrize("n_classes", [2, 3])
def test_a_linear_learner_at_temperature_t_is_its_softmax_at_t(n_classes: int) -> None:
    X, y = _sparse_task(n_classes)
    task = "binary" if n_classes == 2 else "multiclass"
    plain = LinearLearner(task=task, n_classes=n_classes, params={"C": 1.0}).fit(X, y)
    expected = rescale(plain.predict_raw(X), 0.7)
    refit = LinearLearner(task=task, n_classes=n_classes, params={"C": 1.0, "temperature": 0.7}).fit(X, y)
    assert np.allclose(refit.predict_raw(X), expected, atol=1e-9)
    plain.set_temperature(0.7)
    assert np.allclose(plain.predict_raw(X), expected, atol=1e-9)
    assert plain.params["temperature"] == 0.7
    plain.set_temperature(1.0)  # relative to where it is, not to the first fit
    assert np.allclose(plain.predict_raw(X), rescale(expected, 1 / 0.7), atol=1e-9)


def test_calibrating_a_trial_changes_its_folds_oof_scores_and_config_together(tmp_path: Path) -> None:
    X, y = _sparse_task(3)
    folds = _folds(len(y))
    metric = get_metric("log_loss", "multiclass")
    oof, paths = np.zeros((len(y), 3)), []
    for k, val in enumerate(folds):
        train = np.setdiff1d(np.arange(len(y)), val)
        learner = LinearLearner(task="multiclass", n_classes=3, params={"C": 0.05}).fit(X[train], y[train])
        oof[val] = learner.predict_raw(X[val])  # strongly regularised: under-confident
        paths.append(tmp_path / f"fold_{k}.pkl")
        paths[-1].write_bytes(pickle.dumps((None, (), learner)))
    scores = [metric.score(y[val], oof[val], "multiclass") for val in folds]
    linear = TrialResult(TrialSpec(0, "linear", {"C": 0.05}, "portfolio"), oof, scores, 1.0, 1.0,
                         [str(p) for p in paths], score=float(np.mean(scores)))
    other = TrialResult(TrialSpec(1, "lightgbm", {}, "portfolio"), oof.copy(), scores, 1.0, 1.0, [],
                        score=float(np.mean(scores)))
    calibrated, untouched = calibrate_linear([linear, other], y, folds, metric, "multiclass")
    temperature = calibrated.spec.config["temperature"]
    assert temperature < 1.0 and calibrated.spec.config["C"] == 0.05
    assert calibrated.score < linear.score - 1e-3  # log loss: lower is better
    assert np.allclose(calibrated.oof, rescale(oof, temperature))
    for val, path in zip(folds, paths, strict=True):  # each fold model now predicts its calibrated OOF rows
        _, _, learner = pickle.loads(path.read_bytes())
        assert np.allclose(learner.predict_raw(X[val]), calibrated.oof[val], atol=1e-9)
    assert untouched is other
