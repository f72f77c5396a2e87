"""Live performance from labels and CBPE estimates without them, on a real small model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import kiln
from kiln.monitor.performance import Calibrator, _expected_auc, live_performance, overall_performance


def test_expected_auc_matches_the_realised_auc_of_calibrated_probabilities() -> None:
    rng = np.random.default_rng(0)
    p = rng.beta(0.6, 3.0, size=20_000)
    y = rng.random(p.size) < p
    assert _expected_auc(p) == pytest.approx(roc_auc_score(y, p), abs=0.01)


@pytest.fixture(scope="module")
def model_and_rows():
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    model = kiln.train(frame.iloc[:400], target="target", time_limit=10, max_trials=2, n_jobs=1, quiet=True)
    return model, frame.iloc[400:].reset_index(drop=True)


def _log(model, rows: pd.DataFrame, labels: list | None, start: float = 1_000.0) -> pd.DataFrame:
    proba = model.predict_proba(rows.drop(columns=["target"]))
    outputs = [{"prediction": None, "probabilities": {str(c): float(proba[c].iloc[i]) for c in model.classes_}}
               for i in range(len(rows))]
    return pd.DataFrame({"at": start + np.arange(len(rows)), "outputs": outputs,
                         "label": pd.Series(labels if labels is not None else [None] * len(rows), dtype=object)})


def test_real_value_with_interval_and_estimate_per_window(model_and_rows) -> None:
    model, rows = model_and_rows
    window = _log(model, rows, rows["target"].tolist())
    parts = live_performance(model, window, windows=2)
    assert sum(p.rows for p in parts) == len(rows) and len(parts) == 2 and all(p.metric == "roc_auc" for p in parts)
    whole = overall_performance(model, window)
    real = roc_auc_score(rows["target"], model.predict_proba(rows.drop(columns=["target"]))[1])
    assert whole.value == pytest.approx(real)
    assert whole.ci_low <= whole.value <= whole.ci_high
    assert 0.8 < whole.estimated <= 1.0


def test_without_labels_only_the_estimate_is_given(model_and_rows) -> None:
    model, rows = model_and_rows
    whole = overall_performance(model, _log(model, rows, None))
    assert whole.labelled == 0 and whole.value is None and whole.estimated is not None


def test_labels_as_text_or_numbers_both_count(model_and_rows) -> None:
    model, rows = model_and_rows
    labels = [str(v) if i % 2 else float(v) for i, v in enumerate(rows["target"])]
    assert overall_performance(model, _log(model, rows, labels)).labelled == len(rows)


def test_calibration_maps_the_reference_onto_its_label_rate(model_and_rows) -> None:
    model, _ = model_and_rows
    calibrator = Calibrator.from_reference(model)
    reference = model.reference
    from kiln.monitor.performance import served_reference_outputs

    calibrated = calibrator.calibrate(served_reference_outputs(model))  # what the served model says of them
    assert calibrated[:, 1].mean() == pytest.approx((reference["__target"].astype(str) == "1").mean(), abs=0.01)
