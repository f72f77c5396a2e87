"""SearchPlan: portfolio configs round-robin by family, then Optuna tuning, reproducibly."""

from __future__ import annotations

import pytest

from kiln.errors import InvalidOptionError
from kiln.evaluation.metrics import get_metric
from kiln.learners.registry import all_learners
from kiln.search.plan import FAMILY_PRIORITY, KNN_MAX_ROWS, TUNED_FAMILIES, SearchPlan
from kiln.search.trial import TrialResult, TrialSpec

AUC = get_metric("roc_auc", "binary")


def _plan(**options) -> SearchPlan:
    settings = {"seed": 0, "n_rows": 500, **options}
    return SearchPlan(settings.pop("task", "binary"), settings.pop("metric", AUC), **settings)


def _issue_all(plan: SearchPlan, limit: int = 200) -> list[TrialSpec]:
    specs = []
    while len(specs) < limit and (spec := plan.next_trial()) is not None:
        specs.append(spec)
    return specs


def _report(plan: SearchPlan, spec: TrialSpec, score: float | None = None) -> None:
    """Tell the plan a trial scored `score` (default: a fixed score per learner and id)."""
    if score is None:
        score = 0.7 + 0.01 * (sorted(all_learners()).index(spec.learner)) + 0.001 * (spec.trial_id % 7)
    plan.report(TrialResult(spec, None, [score], 1.0, 0.1, score=score))


def _portfolio_size(task: str = "binary") -> int:
    return sum(len(cls.portfolio(task)) for cls in all_learners().values())


def test_first_trial_is_lightgbm_from_the_portfolio() -> None:
    spec = _plan().next_trial()

    assert (spec.trial_id, spec.learner, spec.origin) == (0, "lightgbm", "portfolio")
    assert spec.config == all_learners()["lightgbm"].portfolio("binary")[0]


def test_portfolio_goes_round_robin_by_family_in_priority_order() -> None:
    specs = _issue_all(_plan())
    registered = all_learners()
    first_round = [k for k in FAMILY_PRIORITY if k in registered]

    assert [s.learner for s in specs[:len(first_round)]] == first_round
    assert [s.learner for s in specs[len(first_round):2 * len(first_round)]] == first_round
    assert all(s.origin == "portfolio" for s in specs)
    assert len(specs) == _portfolio_size()
    assert [s.trial_id for s in specs] == list(range(len(specs)))


def test_each_family_gives_its_configs_best_first() -> None:
    specs = _issue_all(_plan())

    for key, cls in all_learners().items():
        assert [s.config for s in specs if s.learner == key] == cls.portfolio("binary")


def test_learners_option_restricts_the_families_in_the_given_order() -> None:
    specs = _issue_all(_plan(learners=["linear", "lightgbm"]))

    assert [s.learner for s in specs[:4]] == ["linear", "lightgbm", "linear", "lightgbm"]
    assert {s.learner for s in specs} == {"linear", "lightgbm"}


def test_unknown_learner_is_refused_naming_it() -> None:
    with pytest.raises(InvalidOptionError, match=r"Unknown learner 'lgbm'"):
        _plan(learners=["lgbm"])


def test_knn_is_left_out_of_large_tables() -> None:
    specs = _issue_all(_plan(n_rows=KNN_MAX_ROWS + 1))

    assert "knn" not in {s.learner for s in specs}
    assert "knn" in {s.learner for s in _issue_all(_plan(n_rows=KNN_MAX_ROWS))}


@pytest.mark.parametrize("max_trials", [1, 3, 10])
def test_max_trials_caps_the_trials_issued(max_trials: int) -> None:
    plan = _plan(max_trials=max_trials)

    specs = _issue_all(plan)

    assert len(specs) == max_trials
    assert plan.exhausted
    assert plan.next_trial() is None


def test_optuna_trials_follow_the_portfolio_once_results_are_in() -> None:
    plan = _plan(generation_size=2)
    portfolio = _issue_all(plan)
    assert plan.next_trial() is None  # nothing is known yet, so nothing to tune

    for spec in portfolio:
        _report(plan, spec)
    tuned = _issue_all(plan)

    assert [s.origin for s in tuned] == ["optuna", "optuna"]  # one generation
    assert [s.trial_id for s in tuned] == [len(portfolio), len(portfolio) + 1]
    assert plan.next_trial() is None  # the next generation waits for these results


def test_optuna_tunes_the_best_families_except_knn() -> None:
    plan = _plan(generation_size=1)
    best = {"knn": 0.99, "linear": 0.95, "xgboost": 0.9, "catboost": 0.85}
    for spec in _issue_all(plan):
        _report(plan, spec, best.get(spec.learner, 0.6))

    tuned = []
    for _ in range(2 * TUNED_FAMILIES):
        (spec,) = _issue_all(plan)
        tuned.append(spec.learner)
        _report(plan, spec, 0.5)

    assert tuned == ["linear", "xgboost", "catboost"] * 2


def test_failed_trials_are_not_tuned() -> None:
    plan = _plan(learners=["lightgbm", "linear"], generation_size=1)
    for spec in _issue_all(plan):
        status = "failed" if spec.learner == "linear" else "ok"
        plan.report(TrialResult(spec, None, [], 1.0, 0.1, status=status, score=0.8))

    assert {_issue_all(plan)[0].learner} == {"lightgbm"}


def _run(seed: int, n_optuna: int = 6) -> list[tuple[str, str, dict]]:
    learners = ["lightgbm", "xgboost", "linear"]
    plan = _plan(seed=seed, learners=learners, generation_size=2)
    n_portfolio = sum(len(all_learners()[key].portfolio("binary")) for key in learners)
    sequence = []
    while len(sequence) < n_portfolio + n_optuna:
        generation = _issue_all(plan)
        assert generation, "the plan stopped issuing trials"
        for spec in generation:
            sequence.append((spec.learner, spec.origin, spec.config))
            _report(plan, spec)
    return sequence


def test_same_seed_issues_the_same_sequence() -> None:
    first, second = _run(seed=3), _run(seed=3)

    assert first == second
    assert any(origin == "optuna" for _, origin, _ in first)


def test_another_seed_samples_other_optuna_configs() -> None:
    tuned = [config for _, origin, config in _run(seed=3) if origin == "optuna"]
    other = [config for _, origin, config in _run(seed=4) if origin == "optuna"]

    assert tuned != other


def test_utility_is_higher_for_better_scores_whatever_the_direction() -> None:
    spec = TrialSpec(0, "lightgbm", {}, "portfolio")
    rmse_plan = _plan(task="regression", metric=get_metric("rmse", "regression"))

    def result(score: float) -> TrialResult:
        return TrialResult(spec, None, [score], 1.0, 0.1, score=score)

    assert _plan().utility(result(0.9)) > _plan().utility(result(0.8))
    assert rmse_plan.utility(result(1.0)) > rmse_plan.utility(result(2.0))
    assert rmse_plan.utility(TrialResult(spec, None, [], 1.0, 0.1, status="failed")) == float("-inf")
