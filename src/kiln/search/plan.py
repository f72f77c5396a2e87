"""Which configurations to try, in which order.

Phase 1 fits the learners' portfolios: each family's proven configs, strongest and
cheapest first, round-robin across families so every family is represented early
(AutoGluon's zero-shot portfolios, FLAML's cost-frugal order). Phase 2 tunes the most
promising families with Optuna's TPE sampler (ask/tell), one study per family.

Optuna trials are handed out in generations: a new generation is asked only once the
previous one is told, so with the same seed and no time-outs a search makes the same
suggestions whatever order the workers finish in.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from kiln.evaluation.metrics import Metric
from kiln.learners.registry import all_learners, get
from kiln.search.trial import TrialResult, TrialSpec
from kiln.types import Task

# Family order within a portfolio round: strong and cheap first.
FAMILY_PRIORITY = ("lightgbm", "catboost", "xgboost", "extra_trees", "linear", "random_forest",
                   "hist_gradient_boosting", "knn")
# With a text column the linear family comes first: its word and char n-gram TF-IDF reads
# the text itself; the others read it through stacked scores (kiln.prep.text).
TEXT_FAMILY_PRIORITY = ("linear", "lightgbm", "catboost", "xgboost", "extra_trees", "random_forest",
                        "hist_gradient_boosting", "knn")
TUNED_FAMILIES = 3
KNN_MAX_ROWS = 100_000


class SearchPlan:
    """Hands out TrialSpecs; `report()` feeds results back for tuning."""

    def __init__(self, task: Task, metric: Metric, *, seed: int, n_rows: int,
                 max_trials: int | None = None, learners: list[str] | None = None,
                 generation_size: int = 2, text: bool = False, short_text: bool = False) -> None:
        self.task = task
        self.text = text
        self.short_text = short_text  # text columns of short texts: character n-grams are cheap
        self.metric = metric
        self.seed = seed
        self.max_trials = max_trials
        self.generation_size = max(1, generation_size)
        registered = all_learners()
        for key in learners or ():
            get(key)  # an unknown key is an InvalidOptionError naming the known ones
        priority = TEXT_FAMILY_PRIORITY if text else FAMILY_PRIORITY
        keys = learners or [k for k in priority if k in registered] + sorted(set(registered) - set(priority))
        self.learners = [k for k in keys if task in registered[k].tags.tasks
                         and not (k == "knn" and n_rows > KNN_MAX_ROWS)]
        self._portfolio = deque(self._portfolio_order(registered))
        self._issued = 0
        self._results: dict[str, list[float]] = {}
        self._studies: dict[str, Any] = {}
        self._pending_optuna: dict[int, tuple[str, Any]] = {}
        self._tune_turn = 0
        self._generation_left = 0

    def _portfolio_order(self, registered: dict) -> list[tuple[str, dict]]:
        per_family = {k: registered[k].text_portfolio(self.task, short=self.short_text) if self.text
                      else registered[k].portfolio(self.task)
                      for k in self.learners}
        order = []
        for round_ in range(max((len(v) for v in per_family.values()), default=0)):
            order += [(k, configs[round_]) for k, configs in per_family.items() if round_ < len(configs)]
        return order

    @property
    def exhausted(self) -> bool:
        return self.max_trials is not None and self._issued >= self.max_trials

    def next_trial(self) -> TrialSpec | None:
        """The next trial, or None when nothing can be issued right now."""
        if self.exhausted:
            return None
        if self._portfolio:
            learner, config = self._portfolio.popleft()
            return self._issue(learner, config, "portfolio")
        if not self._pending_optuna:
            self._generation_left = self.generation_size  # the previous generation is all told
        if self._generation_left == 0:
            return None
        spec = self._ask_optuna()
        if spec is not None:
            self._generation_left -= 1
        return spec

    def _issue(self, learner: str, config: dict, origin: str) -> TrialSpec:
        spec = TrialSpec(self._issued, learner, config, origin)  # type: ignore[arg-type]
        self._issued += 1
        return spec

    def _ask_optuna(self) -> TrialSpec | None:
        families = self._families_to_tune()
        if not families:
            return None
        learner = families[self._tune_turn % len(families)]
        self._tune_turn += 1
        study = self._study(learner)
        trial = study.ask()
        learner_class = all_learners()[learner]
        space = learner_class.text_search_space if self.text else learner_class.search_space
        config = space(trial, self.task)
        spec = self._issue(learner, config, "optuna")
        self._pending_optuna[spec.trial_id] = (learner, trial)
        return spec

    def _families_to_tune(self) -> list[str]:
        best = {k: max(v) for k, v in self._results.items() if v}
        ranked = sorted(best, key=lambda k: -best[k])
        return [k for k in ranked if k != "knn"][:TUNED_FAMILIES]

    def _study(self, learner: str) -> Any:
        if learner not in self._studies:
            import optuna

            optuna.logging.set_verbosity(optuna.logging.WARNING)
            sampler = optuna.samplers.TPESampler(seed=self.seed + len(self._studies), n_startup_trials=4,
                                                 multivariate=True)
            self._studies[learner] = optuna.create_study(direction="minimize", sampler=sampler)
        return self._studies[learner]

    def report(self, result: TrialResult) -> None:
        """Record a finished trial (higher `utility` is better for every metric)."""
        utility = self.utility(result)
        if math.isfinite(utility):
            self._results.setdefault(result.spec.learner, []).append(utility)
        pending = self._pending_optuna.pop(result.spec.trial_id, None)
        if pending is not None:
            import optuna

            learner, trial = pending
            if math.isfinite(utility):
                self._studies[learner].tell(trial, -utility)
            else:
                self._studies[learner].tell(trial, state=optuna.trial.TrialState.FAIL)

    def utility(self, result: TrialResult) -> float:
        if result.status == "failed" or not math.isfinite(result.score):
            return float("-inf")
        return result.score if self.metric.greater_is_better else -result.score
