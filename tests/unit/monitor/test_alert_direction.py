"""The performance alert follows the selection metric's direction, for every task.

For each task and each direction of metric (greater is better, lower is better), a real
small model is judged on fresh labelled traffic twice: with its own outputs (doing as
well as in CV: no alert) and with outputs made worse on purpose (rows' outputs shuffled
against their labels: the live metric must alert, whichever way "worse" points).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import kiln
from kiln.monitor.alerts import AlertRules
from kiln.monitor.run import assess
from kiln.monitor.window import TrafficWindow

CASES = [  # task, metric, greater is better
    ("binary", "roc_auc", True),
    ("binary", "log_loss", False),
    ("multiclass", "log_loss", False),
    ("multiclass", "accuracy", True),
    ("regression", "rmse", False),
    ("regression", "r2", True),
]


def _table(task: str, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    signal = 1.5 * x[:, 0] - x[:, 1] + 0.5 * x[:, 2]
    if task == "regression":
        frame["y"] = 10 * signal + rng.normal(0, 2, n)
    elif task == "binary":
        frame["y"] = np.where(rng.random(n) < 1 / (1 + np.exp(-2 * signal)), "yes", "no")
    else:
        frame["y"] = np.select([signal < -0.7, signal < 0.7], ["low", "mid"], "high")
        flip = rng.random(n) < 0.1
        frame.loc[flip, "y"] = rng.choice(["low", "mid", "high"], int(flip.sum()))
    return frame


@pytest.fixture(scope="module", params=CASES, ids=[f"{t}-{m}" for t, m, _ in CASES])
def case(request):
    task, metric, _ = request.param
    model = kiln.train(_table(task, 800, 0), target="y", metric=metric, learners=["lightgbm"], max_trials=1,
                       n_jobs=1, quiet=True, time_limit=10)
    return request.param, model, _table(task, 2000, 1)


def _traffic(model, rows: pd.DataFrame, *, worse: bool) -> TrafficWindow:
    features = rows.drop(columns=["y"]).reset_index(drop=True)
    raw = np.asarray(model.predict_raw(features))
    if worse:  # each row gets another row's output: no relation to its label left
        raw = raw[np.random.default_rng(2).permutation(len(raw))]
    predictions = model.labels(raw)
    if model.task == "regression":
        outputs = [{"prediction": float(p)} for p in predictions]
    else:
        classes = [str(c) for c in model.classes_]
        outputs = [{"prediction": p, "probabilities": dict(zip(classes, map(float, r), strict=True))}
                   for p, r in zip(predictions.tolist(), raw, strict=True)]
    log = pd.DataFrame({"at": 1_000.0 + np.arange(len(rows)), "outputs": outputs,
                        "label": pd.Series(rows["y"].tolist(), dtype=object)})
    return TrafficWindow(features, log)


def test_a_worse_model_alerts_and_one_as_good_does_not(case) -> None:
    (task, metric, greater), model, fresh = case
    assert model.metric == metric and model.manifest["cv"]["greater_is_better"] is greater
    rules = AlertRules(psi_threshold=10.0)  # performance only: no drift rule in the way
    same = assess(model, _traffic(model, fresh, worse=False), name="m", version="1", since=None, rules=rules)
    assert same.overall.metric == metric  # the live metric is the one the model was selected on
    assert same.overall.value is not None and same.alerts == [], (same.overall, same.cv)
    if task != "regression":
        assert same.overall.accuracy is not None  # accuracy is reported beside it
    worse = assess(model, _traffic(model, fresh, worse=True), name="m", version="1", since=None, rules=rules)
    assert [a.rule for a in worse.alerts] == ["live_below_cv"], (worse.overall, worse.cv)
    value, cv = worse.overall.value, worse.cv
    assert (value < cv["low"]) if greater else (value > cv["high"])
