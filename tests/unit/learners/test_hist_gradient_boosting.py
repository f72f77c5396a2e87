"""HistGradientBoosting-specific behaviour the conformance suite cannot see."""

from __future__ import annotations

import os

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from kiln.learners.hist_gradient_boosting import HistGradientBoostingLearner


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores to tell one thread from many")
def test_hist_gradient_boosting_fits_with_n_threads_openmp_threads(learner_data, monkeypatch) -> None:
    import sklearn.ensemble as ensemble

    threads_during_fit: list[int] = []
    fit = ensemble.HistGradientBoostingClassifier.fit

    def spying_fit(self, *args, **kwargs):
        threads_during_fit.extend(p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp")
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(ensemble.HistGradientBoostingClassifier, "fit", spying_fit)
    X, categorical, y = learner_data.get("hist_gradient_boosting", "binary")
    learner = HistGradientBoostingLearner(task="binary", n_classes=2, params={"n_rounds": 5}, n_threads=1)

    with threadpool_limits(limits=2, user_api="openmp"):
        learner.fit(X, y, categorical=categorical)

    assert threads_during_fit
    assert max(threads_during_fit) == 1
