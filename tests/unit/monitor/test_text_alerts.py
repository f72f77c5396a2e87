"""A text model's drift rows alert: with SHAP ranks (a tree model) the rows of a watched text
column are watched with it (the ranks name the column, never 'utterance: length'); the reject
rate, the predicted labels and a new frequent n-gram alert on their own."""

from __future__ import annotations

import numpy as np

from kiln.monitor.alerts import AlertRules
from kiln.monitor.run import MonitorResult, _alerts
from kiln.monitor.statistics import categorical_drift, numeric_drift

RNG = np.random.default_rng(0)


def _result(features, *, importance, prediction=None, new_ngrams=None) -> MonitorResult:
    return MonitorResult(name="bot", version="1", since=None, until=0.0, rows=400, labelled=0, features=features,
                         prediction=prediction, quality=[], over_time={}, performance=[], overall=None, cv={},
                         importance=importance, rules=AlertRules(), new_ngrams=new_ngrams or {})


def _longer() -> list:
    return [numeric_drift("utterance: length", RNG.normal(40, 8, 500), RNG.normal(90, 8, 400)),
            numeric_drift("utterance: out-of-vocabulary share", RNG.beta(1, 20, 500), RNG.beta(1, 20, 400))]


def test_a_watched_text_column_alerts_on_its_own_rows_with_shap_ranks() -> None:
    ranks = {"utterance": 0.9, "torque": 0.5, "speed": 0.1}  # what a tree model's SHAP ranking looks like
    alerts = _alerts(_result(_longer(), importance=ranks), "multiclass", ["utterance"])
    assert [(a.rule, a.message.split(":")[0]) for a in alerts] == [("text_drift", "'utterance")]
    assert "length" in alerts[0].message and alerts[0].value > 0.2
    # without the text columns the rows were never watched: the bug this guards against
    assert _alerts(_result(_longer(), importance=ranks), "multiclass") == []


def test_an_unwatched_text_column_stays_quiet_but_the_reject_rate_alerts() -> None:
    ranks = {f"x{i}": 1.0 - i / 10 for i in range(6)} | {"utterance": 0.01}  # below the top 5
    rejected = categorical_drift("answers: rejected as out of scope",
                                 np.where(RNG.random(500) < 0.08, "rejected", "answered"),
                                 np.where(RNG.random(400) < 0.45, "rejected", "answered"))
    alerts = _alerts(_result([*_longer(), rejected], importance=ranks), "multiclass", ["utterance"])
    assert [a.message.split(" drifted")[0] for a in alerts] == ["'answers: rejected as out of scope'"]


def test_predicted_labels_and_a_new_topic_alert() -> None:
    labels = categorical_drift("predicted class", RNG.choice(["leak", "jam", "noise"], 500),
                               RNG.choice(["leak", "jam", "noise"], 400, p=[0.8, 0.1, 0.1]))
    grams = {"utterance": [{"ngram": "kubernetes", "messages": 80, "share": 0.2},
                           {"ngram": "pod", "messages": 8, "share": 0.02}]}
    alerts = _alerts(_result([], importance={"utterance": 1.0}, prediction=labels, new_ngrams=grams),
                     "multiclass", ["utterance"])
    assert [a.rule for a in alerts] == ["text_drift", "text_new_ngrams"]
    assert "'predicted class'" in alerts[0].message and "'kubernetes' is in 20%" in alerts[1].message
    rare = {"utterance": [{"ngram": "pod", "messages": 8, "share": 0.02}]}
    assert _alerts(_result([], importance={"utterance": 1.0}, new_ngrams=rare), "multiclass", ["utterance"]) == []
