"""`kiln train --task recommend`: interactions in, a tuned and blended recommender out, judged the honest way.

Validation is cut from the training interactions the way the benchmark cuts its test: each user's
last interaction (or, with `--split time`, everything after a global time cut), items the rest
never shows dropped. Every candidate ranks the *whole* catalogue for the validation users with
their seen items excluded (no sampled negatives: Krichene & Rendle, KDD 2020). Each learner's
defaults are tried first, then Optuna (TPE, seeded) searches each learner's space in turn while
the budget lasts; the best configuration per learner enters a greedy blend (Caruana-style forward
selection with replacement) on validation NDCG@10, and the chosen components are refitted on all
interactions. The time kept back for that refit is the measured fit time of each learner's best.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kiln.errors import InvalidDataError, InvalidOptionError
from kiln.evaluation.ranking import (
    Estimate,
    bootstrap_coverage,
    bootstrap_mean,
    coverage,
    paired_test,
    per_user_metrics,
    popularity_bias,
    popularity_percentiles,
)
from kiln.recommenders.base import FitData, Param, Recommender, weighted
from kiln.recommenders.content import standardise_rows
from kiln.recommenders.features import feature_matrix, read_item_features
from kiln.recommenders.interactions import Columns, Interactions, build, leave_last_out, time_split
from kiln.recommenders.model import RecommenderModel, top_k
from kiln.recommenders.registry import RECOMMENDERS
from kiln.training.progress import Reporter

K = 10
MAX_VALIDATION_USERS = 3000  # users scored per trial; more only narrows the interval
MAX_BLEND_STEPS = 12
LEARNER_ORDER = ("most_popular", "als", "ease", "item_knn", "feature_hybrid", "bpr")  # strong for their cost first
MAX_TRIALS = {"most_popular": 6}  # a small space: more trials only repeat themselves
FIRST_FIT_GUESS_S = 3.0  # at most, a learner not yet fitted on this data is assumed to take this long
SEARCH_SHARE = 0.5  # of --time-limit for the search; the blend, refit and bundle get the rest
REFIT_SHARE = 0.85  # refits must end by then: saving the bundle and the report take the last seconds
REFIT_SLOWER = 1.4  # a refit on all interactions (one more per user) takes longer than the validation fit


@dataclass
class Trial:
    """One fitted configuration and its validation results."""

    learner: str
    params: dict[str, Any]
    label: str
    fit_s: float
    predict_s: float
    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    coverage: float = float("nan")
    popularity_bias: float = float("nan")
    status: str = "ok"
    scores: np.ndarray | None = None  # the standardised validation scores (seen excluded), kept for the best
    fitted: Recommender | None = None  # the model fitted on the fit part, kept for the best of each learner

    @property
    def ndcg(self) -> float:
        return float(self.metrics["ndcg"].mean()) if self.metrics else float("nan")


@dataclass
class Validation:
    """The validation problem: the fit part, the users judged, their relevant items, their seen items."""

    interactions: Interactions
    fit_mask: np.ndarray
    users: np.ndarray
    relevant: list[np.ndarray]
    data: dict[str, FitData]  # by weighting
    percentiles: np.ndarray

    def history(self, weighting: str) -> sp.csr_matrix:
        return self.data[weighting].matrix[self.users]


def columns_from(options: Mapping[str, Any]) -> Columns:
    """The roles the options name; the user and item columns are required."""
    missing = [f"--{name.replace('_', '-')}" for name in ("user_column", "item_column") if not options.get(name)]
    if missing:
        raise InvalidOptionError(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required for "
                                 "--task recommend: name the column(s) holding the user and the item ids.")
    return Columns(user=str(options["user_column"]), item=str(options["item_column"]),
                   rating=options.get("rating_column"), time=options.get("time_column"))


class RecommendTrainer:
    """The recommend kind's train hook (kiln.training.kind.Trainer)."""

    options = frozenset({"user_column", "item_column", "rating_column", "time_column", "item_features",
                         "min_rating", "split"})

    def train(self, data: pd.DataFrame | str | Path, *, target: str | None, task: str, options: Mapping[str, Any],
              time_limit: float, seed: int, reporter: Reporter, started: float | None) -> RecommenderModel:
        started = time.time() if started is None else started
        if target is not None:
            raise InvalidOptionError("--target does not apply to --task recommend; name --user-column and "
                                     "--item-column instead.")
        if time_limit <= 0:
            raise InvalidOptionError(f"--time-limit must be positive, got {time_limit:g}.")
        split = str(options.get("split") or "last")
        if split not in ("last", "time"):
            raise InvalidOptionError(f"--split {split!r} is not known; choose last or time.")
        from kiln.data.load import read_table
        from kiln.recommenders.checks import refuse_unusable

        columns = columns_from(options)
        frame = read_table(data)
        features_table = read_item_features(options["item_features"], columns.item) \
            if options.get("item_features") else None
        interactions = build(frame, columns, min_rating=options.get("min_rating"),
                             catalogue=features_table.index if features_table is not None else ())
        refuse_unusable(interactions)
        features = feature_matrix(features_table, interactions.items) if features_table is not None else None
        return fit_recommender(interactions, columns, features=features, split=split, time_limit=time_limit,
                               seed=seed, reporter=reporter, started=started,
                               source=Path(data).name if isinstance(data, (str, Path)) else "a DataFrame",
                               options=dict(options))

    def summary(self, model: RecommenderModel) -> list[str]:
        best = model.manifest["validation"]
        ndcg = best["ndcg@10"]
        parts = ", ".join(f"{c['learner']} {c['weight']:.2f}" for c in model.manifest["components"])
        lines = [f"model: blend of {parts}" if len(model.manifest["components"]) > 1 else f"model: {parts.split()[0]}",
                 f"validation NDCG@10 {ndcg['value']:.4f} [{ndcg['low']:.4f}, {ndcg['high']:.4f}] over "
                 f"{best['users']:,} users (full catalogue of {model.n_items:,} items, seen excluded); "
                 f"most-popular {best['most_popular_ndcg@10']:.4f}",
                 f"trained in {model.manifest['training']['seconds']:.1f}s "
                 f"(--time-limit {model.manifest['training']['time_limit']:g}s)"]
        for test in model.manifest.get("paired_tests", []):
            lines.append(f"paired test {test['a']} vs {test['b']}: NDCG@10 difference {test['difference']:+.4f} "
                         f"[{test['low']:+.4f}, {test['high']:+.4f}], p={test['p_value']:.3g} ({test['verdict']})")
        return lines


TRAINER = RecommendTrainer()


def validation_problem(interactions: Interactions, *, split: str, seed: int,
                       features: np.ndarray | None) -> Validation:
    """The fit part and the judged users, cut the same way as the final test."""
    mask = leave_last_out(interactions, seed=seed) if split == "last" else time_split(interactions)
    if not mask.any():
        raise InvalidDataError("No user has a second interaction with an item others also have, so nothing "
                               "can be validated; recommendation needs users with at least 2 interactions.")
    fit_mask = ~mask
    users, relevant = _relevant(interactions, mask)
    if len(users) > MAX_VALIDATION_USERS:
        pick = np.sort(np.random.default_rng(seed).choice(len(users), MAX_VALIDATION_USERS, replace=False))
        users, relevant = users[pick], [relevant[i] for i in pick]
    raw = interactions.matrix(fit_mask)
    ages = interactions.ages(fit_mask)
    data = {w: FitData(matrix=weighted(raw, w), ages=ages, item_features=features) for w in ("binary", "rating")}
    popularity = np.asarray((raw > 0).sum(axis=0)).ravel()
    return Validation(interactions, fit_mask, users, relevant, data, popularity_percentiles(popularity))


def _relevant(interactions: Interactions, mask: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    from kiln.recommenders.interactions import relevant_lists

    return relevant_lists(interactions, mask)


def evaluate_trial(learner: str, params: dict[str, Any], problem: Validation, *, seed: int) -> Trial:
    """Fit one configuration on the fit part and rank the whole catalogue for the validation users."""
    cls = RECOMMENDERS[learner]
    model = cls(**params)
    fit_started = time.perf_counter()
    model.fit(problem.data[model.weighting], seed=seed)
    fit_s = time.perf_counter() - fit_started
    predict_started = time.perf_counter()
    scores = validation_scores(model, problem)
    predict_s = time.perf_counter() - predict_started
    trial = Trial(learner, dict(model.params), model.label(), fit_s, predict_s, scores=scores, fitted=model)
    judge(trial, problem)
    return trial


def validation_scores(model: Recommender, problem: Validation) -> np.ndarray:
    """Standardised scores of the validation users, their fit-part items set to -inf."""
    history = problem.history(model.weighting)
    scores = standardise_rows(model.scores(problem.users, history)).astype(np.float32)
    seen = problem.data["binary"].matrix[problem.users]
    rows = np.repeat(np.arange(len(problem.users)), np.diff(seen.indptr))
    scores[rows, seen.indices] = -np.inf
    return scores


def judge(trial: Trial, problem: Validation) -> None:
    """Fill the trial's per-user metrics, coverage and popularity bias from its scores."""
    assert trial.scores is not None
    index, _ = top_k(trial.scores, K)
    trial.metrics = per_user_metrics(index, problem.relevant, K)
    trial.coverage = coverage(index, problem.interactions.shape[1], K)
    trial.popularity_bias = float(np.nanmean(popularity_bias(index, problem.percentiles, K)))


def suggest(trial: Any, space: Mapping[str, Param], fixed: Mapping[str, Any]) -> dict[str, Any]:
    """An Optuna trial's parameters from a learner's space (data, kiln.recommenders.base.Param)."""
    params: dict[str, Any] = {}
    for name, param in space.items():
        if name in fixed:
            params[name] = fixed[name]
        elif param.kind == "choice":
            params[name] = trial.suggest_categorical(name, list(param.choices))
        elif param.kind == "int":
            params[name] = trial.suggest_int(name, int(param.low), int(param.high), log=param.log)
        else:
            params[name] = trial.suggest_float(name, float(param.low), float(param.high), log=param.log)
    return params


def fit_recommender(interactions: Interactions, columns: Columns, *, features: np.ndarray | None, split: str,
                    time_limit: float, seed: int, reporter: Reporter, started: float, source: str,
                    options: dict[str, Any]) -> RecommenderModel:
    """Search, blend, refit: the whole training of a recommender within `time_limit` seconds from `started`."""
    import optuna

    deadline = started + time_limit
    problem = validation_problem(interactions, split=split, seed=seed, features=features)
    fixed = {} if columns.rating is not None else {"weighting": "binary"}
    learners = [name for name in LEARNER_ORDER
                if "item_features" not in RECOMMENDERS[name].needs or features is not None]
    reporter.note(f"{len(interactions):,} interactions, {interactions.shape[0]:,} users, "
                  f"{interactions.shape[1]:,} items; validating on {len(problem.users):,} users' "
                  f"{'last interaction' if split == 'last' else 'interactions after the time cut'}")
    reporter.start(budget=time_limit, started=started, metric="ndcg@10", n_folds=1)
    trials: list[Trial] = []
    best: dict[str, Trial] = {}
    seen_params: set[tuple[str, str]] = set()

    search_deadline = started + SEARCH_SHARE * time_limit

    def reserve() -> float:
        """Seconds kept after the search: the blend, the refit (what fits of it) and the bundle."""
        return deadline - search_deadline

    def run(learner: str, params: dict[str, Any]) -> Trial | None:
        params = dict(RECOMMENDERS[learner](**params).params)
        key = (learner, repr(sorted(params.items())))
        if key in seen_params:
            return None
        seen_params.add(key)
        try:
            trial = evaluate_trial(learner, params, problem, seed=seed)
        except (ValueError, np.linalg.LinAlgError, MemoryError) as exc:
            trial = Trial(learner, params, RECOMMENDERS[learner](**params).label(), 0.0, 0.0,
                          status=f"failed: {exc}"[:200])
            trials.append(trial)
            return trial
        trials.append(trial)
        if learner not in best or trial.ndcg > best[learner].ndcg:
            if learner in best:
                best[learner].scores = best[learner].fitted = None
            best[learner] = trial
        else:
            trial.scores = trial.fitted = None
        reporter.trial(trial, trials, max(t.ndcg for t in best.values()))
        return trial

    def fits(learner: str) -> bool:
        """Whether another fit of `learner` is likely to end before the reserve is needed."""
        last = [t.fit_s + t.predict_s for t in trials if t.learner == learner and t.status == "ok"]
        expected = max(last[-3:]) * 1.3 if last else first_guess
        return time.time() + expected + reserve() < deadline

    # a learner not yet fitted: a guess that grows with the interactions (movielens' 100k: a few seconds)
    first_guess = float(np.clip(FIRST_FIT_GUESS_S * len(interactions) / 100_000, 0.05, FIRST_FIT_GUESS_S))
    for learner in learners:  # each learner's known-good defaults first
        for params in RECOMMENDERS[learner].defaults:
            if params.get("decay") and interactions.has_time is False:
                continue  # no timestamps: a decayed count is the plain count again
            if not fits(learner) and best:
                break
            run(learner, {**params, **fixed})
            if time.time() + reserve() > deadline:
                break
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    studies = {name: optuna.create_study(direction="maximize",
                                         sampler=optuna.samplers.TPESampler(seed=seed + i, n_startup_trials=4))
               for i, name in enumerate(learners)}
    for name, study in studies.items():
        for t in trials:
            if t.learner == name and t.status == "ok":
                study.enqueue_trial({k: v for k, v in t.params.items() if k not in fixed})
    counts = {name: sum(t.learner == name for t in trials) for name in learners}
    stalled = 0  # rounds in a row where no learner fitted anything new
    while time.time() + reserve() < deadline and stalled < 3:
        progressed = False
        for name in learners:
            if counts[name] >= MAX_TRIALS.get(name, 10**6) or not fits(name):
                continue
            space = RECOMMENDERS[name].space
            ask = studies[name].ask()
            params = suggest(ask, space, fixed)
            done = run(name, params)
            counts[name] += 1
            if done is None:  # a repeat (or an enqueued default): tell Optuna its known value
                full = dict(RECOMMENDERS[name](**params).params)
                previous = next(t for t in trials if t.learner == name and t.params == full)
                studies[name].tell(ask, previous.ndcg if previous.status == "ok" else 0.0)
                continue
            studies[name].tell(ask, done.ndcg if done.status == "ok" else 0.0)
            progressed = True
            if time.time() + reserve() > deadline:
                break
        stalled = 0 if progressed else stalled + 1
    reporter.stop()
    if not best:
        raise InvalidDataError("No recommender could be fitted on these interactions; see kiln profile --task "
                               "recommend for why.")
    blend, blend_metrics = greedy_blend(best, problem)
    tests = paired_tests(best, blend, blend_metrics)
    model = refit(interactions, columns, features=features, blend=blend, best=best, seed=seed,
                  until=started + REFIT_SHARE * time_limit)
    seconds = time.time() - started
    model.leaderboard_frame = leaderboard_frame(trials, blend, blend_metrics, problem, seed=seed)
    model.manifest = _manifest(model, problem, trials, best, blend, blend_metrics, tests, split=split, seed=seed,
                               seconds=seconds, time_limit=time_limit, source=source, options=options,
                               features=features)
    return model


def greedy_blend(best: dict[str, Trial], problem: Validation) -> tuple[list[tuple[str, float]],
                                                                     dict[str, np.ndarray]]:
    """Forward selection with replacement of each learner's best on mean validation NDCG@10."""
    pool = {name: t for name, t in best.items() if t.scores is not None}
    first = max(pool.values(), key=lambda t: t.ndcg)
    chosen = [first.learner]
    total = np.where(np.isfinite(first.scores), first.scores, -np.inf).astype(np.float32)  # type: ignore[arg-type]
    current = first.ndcg
    metrics = first.metrics
    for _ in range(MAX_BLEND_STEPS - 1):
        step_best: tuple[float, str, np.ndarray, dict[str, np.ndarray]] | None = None
        for name, trial in pool.items():
            candidate = total + trial.scores  # type: ignore[operator]
            index, _ = top_k(candidate, K)
            m = per_user_metrics(index, problem.relevant, K)
            score = float(m["ndcg"].mean())
            if step_best is None or score > step_best[0]:
                step_best = (score, name, candidate, m)
        if step_best is None or step_best[0] <= current + 1e-9:
            break
        current, name, total, metrics = step_best[0], step_best[1], step_best[2], step_best[3]
        chosen.append(name)
    weights = {name: chosen.count(name) / len(chosen) for name in dict.fromkeys(chosen)}
    blend_scores = total
    index, _ = top_k(blend_scores, K)
    return list(weights.items()), {**metrics, "_index": index}


def paired_tests(best: dict[str, Trial], blend: list[tuple[str, float]],
                 blend_metrics: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """The best two learners against each other, and the blend against the best single learner."""
    ranked = sorted((t for t in best.values() if t.status == "ok"), key=lambda t: -t.ndcg)
    tests = []
    if len(ranked) >= 2:
        tests.append(paired_test(ranked[0].metrics["ndcg"], ranked[1].metrics["ndcg"],
                                 names=(ranked[0].learner, ranked[1].learner)).to_dict())
    if len(blend) > 1:
        tests.append(paired_test(blend_metrics["ndcg"], ranked[0].metrics["ndcg"],
                                 names=("blend", ranked[0].learner)).to_dict())
    return tests


def refit(interactions: Interactions, columns: Columns, *, features: np.ndarray | None,
          blend: list[tuple[str, float]], best: dict[str, Trial], seed: int, until: float) -> RecommenderModel:
    """The blend's components refitted on every interaction while the time lasts (heaviest weight first; a
    component whose refit would not end by `until` keeps its fit on the validation's fit part, and scores
    every user from their whole history), with the cold-start list beside them."""
    raw = interactions.matrix()
    ages = interactions.ages()
    data = {w: FitData(matrix=weighted(raw, w), ages=ages, item_features=features) for w in ("binary", "rating")}
    components: list[tuple[Recommender, float]] = []
    refitted: list[str] = []
    order = sorted(range(len(blend)), key=lambda i: -blend[i][1])
    chosen: dict[int, Recommender] = {}
    for i in order:
        name, _ = blend[i]
        trial = best[name]
        if time.time() + REFIT_SLOWER * trial.fit_s < until or trial.fitted is None:
            component = RECOMMENDERS[name](**trial.params)
            chosen[i] = component.fit(data[component.weighting], seed=seed)
            refitted.append(name)
        else:
            chosen[i] = trial.fitted
            refresh = getattr(chosen[i], "refresh_users", None)
            if refresh is not None:  # factors fitted without each user's newest interaction: catch up on it
                refresh(data[chosen[i].weighting].matrix)
    components = [(chosen[i], blend[i][1]) for i in range(len(blend))]
    popular_params = best["most_popular"].params if "most_popular" in best else {}
    popular = RECOMMENDERS["most_popular"](**popular_params).fit(data["binary"], seed=seed)
    model = RecommenderModel(users=interactions.users, items=interactions.items, seen=raw.tocsr(),
                             components=components, popularity=popular.popularity, columns=columns)
    model.manifest = {"refitted": refitted}
    return model


def _row(name: str, learner: str, metrics: Mapping[str, np.ndarray], *, cov: Estimate, bias: float, fit_s: float,
         predict_s: float, n_users: int, status: str, used: bool, seed: int) -> dict[str, Any]:
    ndcg = bootstrap_mean(metrics["ndcg"], seed=seed)
    return {"model": name, "learner": learner, "score": ndcg.value, "ci_low": ndcg.low, "ci_high": ndcg.high,
            "recall@10": float(metrics["recall"].mean()), "map@10": float(metrics["map"].mean()),
            "mrr": float(metrics["mrr"].mean()), "coverage@10": cov.value, "coverage_low": cov.low,
            "coverage_high": cov.high, "popularity_bias": bias, "fit_s": fit_s,
            "predict_s_per_1k": predict_s / max(n_users, 1) * 1000, "status": status, "used": used}


def leaderboard_frame(trials: list[Trial], blend: list[tuple[str, float]], blend_metrics: dict[str, np.ndarray],
                      problem: Validation, *, seed: int) -> pd.DataFrame:
    """Every trial on validation NDCG@10 (with its interval over users), the blend on top when it was kept."""
    n_items, n_users = problem.interactions.shape[1], len(problem.users)
    rows = []
    used = {name for name, _ in blend}
    single = len(blend) == 1
    bests: dict[str, float] = {}
    for t in trials:
        if t.status == "ok":
            bests[t.learner] = max(bests.get(t.learner, -1.0), t.ndcg)
    for t in trials:
        if t.status != "ok":
            rows.append({"model": t.label, "learner": t.learner, "score": math.nan, "ci_low": math.nan,
                         "ci_high": math.nan, "fit_s": t.fit_s, "predict_s_per_1k": 0.0, "status": t.status,
                         "used": False})
            continue
        cov = Estimate(t.coverage, math.nan, math.nan)
        is_used = single and t.learner in used and t.ndcg == bests[t.learner]
        rows.append(_row(t.label, t.learner, t.metrics, cov=cov, bias=t.popularity_bias, fit_s=t.fit_s,
                         predict_s=t.predict_s, n_users=n_users, status="ok", used=is_used, seed=seed))
    if not single:
        index = blend_metrics["_index"]
        label = "blend(" + ", ".join(f"{n} {w:.2f}" for n, w in blend) + ")"
        bias = float(np.nanmean(popularity_bias(index, problem.percentiles, K)))
        rows.append(_row(label, "blend", blend_metrics, cov=bootstrap_coverage(index, n_items, seed=seed), bias=bias,
                         fit_s=0.0, predict_s=0.0, n_users=n_users, status="ok", used=True, seed=seed))
    frame = pd.DataFrame(rows)
    frame = frame.sort_values("score", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame


def _manifest(model: RecommenderModel, problem: Validation, trials: list[Trial], best: dict[str, Trial],
              blend: list[tuple[str, float]], blend_metrics: dict[str, np.ndarray], tests: list[dict[str, Any]], *,
              split: str, seed: int, seconds: float, time_limit: float, source: str, options: dict[str, Any],
              features: np.ndarray | None) -> dict[str, Any]:
    interactions = problem.interactions
    index = blend_metrics["_index"]
    popular = best.get("most_popular")
    validation = {
        "users": len(problem.users), "k": K, "split": split,
        "ndcg@10": bootstrap_mean(blend_metrics["ndcg"], seed=seed).to_dict(),
        "recall@10": bootstrap_mean(blend_metrics["recall"], seed=seed).to_dict(),
        "map@10": bootstrap_mean(blend_metrics["map"], seed=seed).to_dict(),
        "mrr": bootstrap_mean(blend_metrics["mrr"], seed=seed).to_dict(),
        "coverage@10": bootstrap_coverage(index, interactions.shape[1], seed=seed).to_dict(),
        "popularity_bias": bootstrap_mean(popularity_bias(index, problem.percentiles, K), seed=seed).to_dict(),
        "most_popular_ndcg@10": popular.ndcg if popular is not None else float("nan"),
        "per_learner_best": {name: t.ndcg for name, t in best.items()},
    }
    return {
        "task": "recommend", "metric": "ndcg@10", "columns": model.columns.to_dict(),
        "data": {"source": source, "interactions": len(interactions), "users": int(interactions.shape[0]),
                 "items": int(interactions.shape[1]), "has_time": interactions.has_time,
                 "item_features": features is not None,
                 "density": float(len(interactions)) / max(interactions.shape[0] * interactions.shape[1], 1)},
        "validation": validation, "paired_tests": tests,
        # what the registry lists for every kind (kiln models show): the headline validation score
        "cv": {"metric": "ndcg_at_10", "score": validation["ndcg@10"]["value"], "ci_low": validation["ndcg@10"]["low"],
               "ci_high": validation["ndcg@10"]["high"], "model": "blend" if len(blend) > 1 else blend[0][0]},
        "components": [{"learner": c.name, "params": _jsonable(c.params), "weight": w}
                       for c, w in model.components],
        "training": {"seconds": seconds, "time_limit": time_limit, "seed": seed, "trials": len(trials),
                     "refitted_on_all": model.manifest.get("refitted", []),
                     "options": {k: v for k, v in options.items() if k != "item_features"}},
    }


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in params.items()}
