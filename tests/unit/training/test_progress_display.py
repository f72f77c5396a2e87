"""The training display keeps its clock moving while a trial runs and names the trials being fitted.

Before, the clock and the bar were set only when a trial finished, so a fold fitting for a
minute froze the line. A hand-driven clock shows the display moving between two trial
events without any; what is drawn is read from the frame each refresh draws.
"""

from __future__ import annotations

import io

from rich.console import Console

from kiln.search.trial import TrialProgress
from kiln.training.progress import RichReporter, running_line


class HandClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _frame(reporter: RichReporter) -> str:
    console = Console(width=80, record=True, color_system=None, file=io.StringIO())
    console.print(reporter.render())
    return console.export_text()


def test_the_clock_ticks_and_the_running_trials_show_while_no_trial_finishes() -> None:
    clock = HandClock()
    reporter = RichReporter(console=Console(file=io.StringIO(), width=80), clock=clock)
    reporter.start(budget=60, started=clock.now, metric="roc_auc", n_folds=5)
    try:
        clock.now += 5
        first = _frame(reporter)
        reporter.running([TrialProgress("lightgbm_0", 2, 5), TrialProgress("catboost_1", 0, 5)])
        clock.now += 7.5  # no trial finished in between
        second = _frame(reporter)
    finally:
        reporter.stop()
    assert "5.0s / 60s" in first and "starting workers" in first
    assert "12.5s / 60s" in second and "5.0s / 60s" not in second
    assert "fitting (2): lightgbm_0 2/5 folds, catboost_1 0/5 folds" in second
    assert max(len(line) for line in second.splitlines()) <= 80


def test_finished_trials_and_the_best_score_are_counted_and_the_running_line_goes() -> None:
    clock = HandClock()
    reporter = RichReporter(console=Console(file=io.StringIO(), width=80), clock=clock)
    reporter.start(budget=60, started=clock.now, metric="roc_auc", n_folds=5)
    try:
        reporter.running([TrialProgress("lightgbm_0", 4, 5)])
        reporter.trial(object(), [object()], 0.9312)
        reporter.running([])
        clock.now += 61  # past the budget: the clock says so, the bar stays full
        text = _frame(reporter)
    finally:
        reporter.stop()
    assert "trials 1 · best roc_auc 0.9312" in text
    assert "61.0s / 60s" in text
    assert "fitting" not in text


def test_the_running_line_is_empty_when_nothing_runs() -> None:
    assert running_line([]) == ""
    assert running_line([TrialProgress("knn_3", 1, 3)]) == "fitting (1): knn_3 1/3 folds"
