"""Train: from a table to a ranked, ensembled model.

read → target and task → schema (identifiers dropped, kinds inferred) → k folds →
search (portfolio, then Optuna) in a process pool, or as Ray tasks on a cluster (`ray`)
→ greedy ensemble over out-of-fold predictions → a `Model` whose fold models are the
ones that were scored.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kiln.data.contract import reference_distributions
from kiln.data.load import read_table, readable_kind
from kiln.data.schema import infer_schema
from kiln.data.target import Target, infer_target
from kiln.ensemble.selection import cv_loss, select_ensemble
from kiln.ensemble.temperature import calibrate_linear
from kiln.errors import InvalidDataError, InvalidOptionError, KilnError
from kiln.evaluation.metrics import Metric, get_metric
from kiln.evaluation.stats import fold_interval
from kiln.model import FoldModel, Member, Model
from kiln.search.budget import Budget, choose_folds
from kiln.search.trial import KEPT_STATUSES, TrialResult
from kiln.training.progress import Reporter
from kiln.types import TaskOption

ENSEMBLE_NAME = "ensemble"
MIN_ROWS = 10
# After the model is assembled, the train command renders the training report (bootstrap
# intervals of every metric over the out-of-fold rows, plots) and writes the bundle: the
# refits, the learning curve and a late first model leave that time (`after_seconds`).
# Measured on 2 shared cores at load 6-7 (benchmarks/speed/train_wall.py's tables, per-class
# recall vectorised): the report took 0.62 s (1,347 rows × 10 classes), 0.80 s (1,742 rows × 34
# classes), 1.7 s (4,000 rows, binary: ten metrics, four of them ranking ones); writing the
# bundle 0.4-1.5 s, skops already imported (it is, during the search); the process's exit
# 0.7-1.4 s. A margin of about 1.5× for a busier machine.
AFTER_BASE_SECONDS = 3.0
AFTER_SECONDS_PER_ROW = 6e-4  # per out-of-fold row
AFTER_MAX_SHARE = 0.2  # of --time-limit, at most
REFERENCE_ROWS = 5_000  # training rows kept in the bundle as the drift reference
RAY_WARM_UP_SHARE = 0.15  # of the search time, at most, for starting Ray workers before the first trial
# The default --max-rows: the rows one LightGBM fit (the portfolio's first config, early
# stopping on a held-out fold) gets through in a tenth of --time-limit. Measured on
# AI4I-like rows, 6 features, 2 shared cores: 0.8–1.35 M rows×features per second
# (0.15 s for 20k rows, 2.3 s for 320k); the lower figure keeps a margin.
CELLS_PER_SECOND = 800_000
SEARCH_SHARE = 0.1
MIN_SEARCH_ROWS = 10_000  # below this a subsample saves little time and costs accuracy
SHORT_TEXT_CHARS = 100  # texts shorter on average are searched with character n-grams first


@dataclass(frozen=True)
class TrainSpec:
    """One training run, validated at the CLI / API boundary."""

    target: str
    task: TaskOption = "auto"
    metric: str | None = None
    time_limit: float = 60.0
    seed: int = 0
    max_trials: int | None = None
    n_jobs: int | None = None
    learners: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    cost_fp: float | None = None  # costs of a false alarm and a missed positive (binary)
    cost_fn: float | None = None
    ray: str | None = None  # run trials on this Ray cluster: auto, local, HOST:PORT or ray://HOST:PORT
    max_rows: int | None = None  # rows the search may use (a sample); None: derived from time_limit
    text_columns: tuple[str, ...] = ()  # declared free text, whatever inference would say
    reject_below: float | str | None = None  # "auto", a confidence threshold, or None (no reject option)
    reject_precision: float = 0.9  # what "auto" aims the kept answers' precision at
    reject_label: str = "out_of_scope"
    text_embeddings: bool = True  # sentence embeddings of text columns when the kiln-ml[text] extra is installed

    def __post_init__(self) -> None:
        for name in ("cost_fp", "cost_fn"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise InvalidOptionError(f"--{name.replace('_', '-')} must be a positive number, got {value}.")
        if self.task not in ("auto", "binary", "multiclass", "regression"):
            raise InvalidOptionError(f"--task '{self.task}' is unknown; use auto, binary, multiclass or regression.")
        if self.max_trials is not None and self.max_trials < 1:
            raise InvalidOptionError(f"--max-trials must be at least 1, got {self.max_trials}.")
        if self.n_jobs is not None and self.n_jobs < 1:
            raise InvalidOptionError(f"n_jobs must be at least 1, got {self.n_jobs}.")
        if self.max_rows is not None and self.max_rows < MIN_ROWS:
            raise InvalidOptionError(f"--max-rows must be at least {MIN_ROWS}, got {self.max_rows}.")
        if self.reject_below is not None:
            from kiln.evaluation.reject import parse_reject

            object.__setattr__(self, "reject_below", parse_reject(self.reject_below))
            if not 0.0 < self.reject_precision < 1.0:
                raise InvalidOptionError(f"--reject-precision must be between 0 and 1, got {self.reject_precision}.")
            if self.task in ("regression",):
                raise InvalidOptionError("--reject-below applies to classification; drop it or choose a class target.")
        if self.ray is not None and not self.ray.strip():
            raise InvalidOptionError("--ray needs an address: auto, local, HOST:PORT or ray://HOST:PORT.")


def train_model(data: pd.DataFrame | str | Path, spec: TrainSpec, reporter: Reporter,
                started: float | None = None) -> Model:
    """Run the whole training; the budget counts from `started` (default: now)."""
    budget = Budget(float(spec.time_limit), started or time.time())
    if spec.ray is not None:  # a missing extra fails before the data is read
        from kiln.search.ray_runner import import_ray

        import_ray()
    if not isinstance(data, pd.DataFrame):
        readable_kind(Path(data))  # a path typo is told at once, before any worker starts
    pool = _warm_pool(spec)  # its workers import their libraries while the data is read
    try:
        return _train(data, spec, reporter, budget, pool)
    finally:
        if pool is not None:
            # Already closed by the search, unless training failed before it: then the workers
            # are only importing. They are let finish rather than killed, because killing a loky
            # pool with warm-up tasks queued races its manager thread into a KeyError traceback
            # printed under kiln's one-line error.
            pool.close(kill=False, wait=False)


def _warm_pool(spec: TrainSpec):
    """The local process pool, started now; None on Ray or with one job (no pool)."""
    from kiln.search.runner import LocalRunner, default_workers

    n_workers = spec.n_jobs or default_workers()
    if spec.ray is not None or n_workers == 1:
        return None
    return LocalRunner(n_workers=n_workers)


def _train(data: pd.DataFrame | str | Path, spec: TrainSpec, reporter: Reporter, budget: Budget, pool) -> Model:
    frame = read_table(data)
    target = infer_target(frame, spec.target, spec.task)
    if spec.reject_below is not None and target.task == "regression":
        raise InvalidOptionError(f"--reject-below applies to classification; '{spec.target}' is a regression target.")
    metric = get_metric(spec.metric, target.task)
    findings = _data_checks(frame, spec, reporter)
    labelled = frame[spec.target].notna()
    if not labelled.all():
        reporter.note(f"Dropped {int((~labelled).sum()):,} rows whose target '{spec.target}' is missing.")
        frame = frame.loc[labelled].reset_index(drop=True)
    if len(frame) < MIN_ROWS:
        raise InvalidDataError(
            f"The table has {len(frame)} labelled rows; cross-validation needs at least {MIN_ROWS}. Add rows."
        )
    schema = infer_schema(frame, exclude=(spec.target,), text=spec.text_columns)
    for column, reason in schema.dropped.items():
        reporter.note(f"Dropped column '{column}' ({reason}).")
    y = target.encode(frame[spec.target])
    features = schema.coerce(frame)
    n_classes = len(target.classes or [])
    smallest = int(np.bincount(y).min()) if n_classes else None
    if smallest is not None and smallest < 2:
        rare = target.classes[int(np.bincount(y).argmin())]
        raise InvalidDataError(
            f"Class {rare!r} of '{spec.target}' has a single row; cross-validation needs at least 2 "
            "rows per class. Remove that row or merge the class."
        )
    all_rows = (features, y)  # the refit sees every row; the search may see a sample
    features, y = _search_sample(features, y, target, spec, reporter)
    if smallest is not None:
        smallest = int(np.bincount(y).min())
    n_folds = choose_folds(len(y), len(schema.columns), spec.time_limit, smallest)
    folds = _make_folds(y, n_folds, target.task != "regression", spec.seed)
    reporter.note(f"{target.task} task on {len(y):,} rows × {len(schema.columns)} features; "
                  f"metric {metric.name}; {n_folds}-fold cross-validation.")
    if schema.of_kind("text") and spec.text_embeddings and not _embed(spec, schema):
        from kiln.prep.embed import missing_extra_note

        reporter.note(missing_extra_note())
    scratch = Path(tempfile.mkdtemp(prefix="kiln-search-"))
    try:
        results, lost, lost_to_workers, unsent = _search(features, y, folds, schema, target, metric, spec,
                                                         budget, reporter, scratch, pool)
        model = _assemble(frame, features, y, folds, schema, target, metric, spec, budget, results, lost, scratch,
                          lost_to_workers=lost_to_workers, all_rows=all_rows, unsent=unsent)
        _tell_refit(model, reporter)
        if budget.elapsed() > budget.total:
            reporter.note(f"The machine was too busy to finish a model within --time-limit {spec.time_limit:g}s; "
                          f"kiln waited for its first model ({budget.elapsed():.1f}s so far). Give more time or "
                          "train when the machine is less loaded.")
        model.manifest["findings"] = [f.to_dict() for f in findings]
        return model
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def after_seconds(n_rows: int, time_limit: float) -> float:
    """Seconds to keep at the end of the budget for the training report and the bundle, from
    the out-of-fold rows the report's bootstrap scores (see AFTER_SECONDS_PER_ROW)."""
    return min(AFTER_BASE_SECONDS + AFTER_SECONDS_PER_ROW * n_rows, AFTER_MAX_SHARE * time_limit)


def default_max_rows(time_limit: float, n_features: int) -> int:
    """Rows the search uses by default: what one LightGBM fit gets through in a tenth of
    the budget (CELLS_PER_SECOND rows×features per second), at least MIN_SEARCH_ROWS."""
    return max(MIN_SEARCH_ROWS, int(CELLS_PER_SECOND * SEARCH_SHARE * time_limit / max(n_features, 1)))


def _search_sample(features: pd.DataFrame, y: np.ndarray, target: Target, spec: TrainSpec,
                   reporter: Reporter) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows the search runs on: all of them, or a sample (stratified by class) of
    `max_rows` when the table is larger; rows keep their order."""
    limit = spec.max_rows or default_max_rows(spec.time_limit, features.shape[1])
    if len(y) <= limit:
        return features, y
    rng = np.random.default_rng(spec.seed)
    if target.task == "regression":
        rows = rng.choice(len(y), size=limit, replace=False)
    else:  # each class in proportion, and at least 5 rows of each (5 folds) when it has them
        rows = np.concatenate([
            rng.choice(members, size=min(len(members), max(5, round(limit * len(members) / len(y)))), replace=False)
            for members in (np.flatnonzero(y == code) for code in np.unique(y))])
    rows = np.sort(rows)
    why = (f"--max-rows {spec.max_rows:,}" if spec.max_rows else
           f"the default for --time-limit {spec.time_limit:g}s: one LightGBM fit on {limit:,} rows × "
           f"{features.shape[1]} features takes about a tenth of it; set --max-rows to change")
    kind = "a random" if target.task == "regression" else "a stratified"
    reporter.note(f"Searching on {len(rows):,} of {len(y):,} rows ({kind} sample; {why}); the chosen models "
                  f"are then refit on all {len(y):,} rows.")
    return features.iloc[rows].reset_index(drop=True), y[rows]


def _tell_refit(model: Model, reporter: Reporter) -> None:
    """Say so when a sampled search's models could not be refit on all rows in time."""
    training = model.manifest["training"]
    kept = [name for name, on in model.manifest["final_models"].items() if on != "all_rows"]
    if training["search_rows"] < training["rows"] and kept:
        reporter.note(f"No time left to refit {', '.join(kept)} on all {training['rows']:,} rows; they keep "
                      f"their fold models, trained on the {training['search_rows']:,} sampled rows. Give more "
                      "--time-limit or a smaller --max-rows.")


def _data_checks(frame: pd.DataFrame, spec: TrainSpec, reporter: Reporter) -> list:
    """The profile's coded checks, first: errors stop training with their advice,
    warnings are told and kept in the bundle."""
    from kiln.data.checks import run_checks

    findings = run_checks(frame, target=spec.target, ignore=spec.ignore)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        first = errors[0]
        columns = [f.column for f in errors if f.code == first.code and f.column]
        where = f" in column(s) {columns}" if columns else ""
        raise InvalidDataError(f"{first.code} {first.title}{where}: {first.detail} {first.advice}")
    for finding in findings:
        if finding.severity == "warning":
            reporter.note(f"{finding.code} {finding.title}: {finding.detail}")
    return findings


def _make_folds(y: np.ndarray, n_folds: int, stratified: bool, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = (StratifiedKFold if stratified else KFold)(n_splits=n_folds, shuffle=True, random_state=seed)
    return [(train, val) for train, val in splitter.split(np.zeros(len(y)), y)]


def _search(features, y, folds, schema, target: Target, metric: Metric, spec: TrainSpec, budget: Budget,
            reporter: Reporter, scratch: Path, pool=None) -> tuple[list[TrialResult], int, int, int]:
    from kiln.search.engine import Search
    from kiln.search.plan import SearchPlan
    from kiln.search.runner import LocalRunner, ThreadRunner
    from kiln.search.worker import WorkerData

    data = WorkerData(features, y, folds, schema, target.task, len(target.classes or []), spec.seed, str(scratch),
                      _embed(spec, schema))
    runner = pool.attach(data) if pool is not None else _runner(data, spec, budget)
    try:  # Optuna generations as wide as the workers, so a cluster and a pool of its size agree
        plan = SearchPlan(target.task, metric, seed=spec.seed, n_rows=len(y), max_trials=spec.max_trials,
                          learners=list(spec.learners) if spec.learners else None,
                          generation_size=runner.n_workers, text=bool(schema.of_kind("text")),
                          short_text=_short_text(features, schema))
    except BaseException:
        runner.close(kill=True)
        raise
    best = [float("nan")]

    def on_trial(result: TrialResult, results: list[TrialResult]) -> None:
        if math.isfinite(result.score) and (math.isnan(best[0]) or metric.better(result.score, best[0])):
            best[0] = result.score
        reporter.trial(result, results, best[0])

    reporter.start(budget=spec.time_limit, started=budget.start, metric=metric.name, n_folds=len(folds))
    # With a local pool, the first model is fitted in this process, which has its libraries
    # loaded, while the pool's workers are still starting (seconds; far more when busy).
    first_runner = ThreadRunner(data) if isinstance(runner, LocalRunner) else None
    search = Search(runner, plan, budget, y=y, folds=folds, task=target.task, metric=metric,
                    n_classes=len(target.classes or []), on_trial=on_trial, first_runner=first_runner,
                    on_running=reporter.running, claims=str(scratch / "claims"),
                    first_model_end=budget.end - after_seconds(len(y), spec.time_limit))
    _preload_bundle_writer()
    try:
        results = search.run()
    finally:
        reporter.stop()
    if search.lost_to_workers:
        reporter.note(f"{search.lost_to_workers} trial(s) lost: their worker died and so did the retry; "
                      f"the model uses the {len(results) - search.lost_to_workers} that finished.")
    return results, search.lost_trials, search.lost_to_workers, search.unsent


def _preload_bundle_writer() -> None:
    """Import skops.io in a background thread while the search runs: it walks every
    scikit-learn module, 3-7 s on a busy machine that would otherwise come after the budget's
    accounting, when the bundle is written. `safe_load.skops_io` keeps torch out of that walk on
    its own thread only; a failure is left for the bundle writer to raise with its own error."""
    import sys
    import threading

    if "skops.io" not in sys.modules:
        threading.Thread(target=_import_skops, name="kiln-preload", daemon=True).start()


def _import_skops() -> None:
    import contextlib

    from kiln.learners.safe_load import skops_io

    with contextlib.suppress(Exception):
        skops_io()


def _embed(spec: TrainSpec, schema) -> bool:
    """Whether text columns get sentence embeddings: the table has text, the option is on, the extra is installed."""
    from kiln.prep.embed import embeddings_available

    return bool(schema.of_kind("text")) and spec.text_embeddings and embeddings_available()


def _short_text(features: pd.DataFrame, schema) -> bool:
    """True when the text columns hold short texts (under SHORT_TEXT_CHARS on average)."""
    names = schema.of_kind("text")
    if not names:
        return False
    lengths = [features[name].dropna().astype(str).str.len().mean() for name in names]
    return float(np.nanmean(lengths)) < SHORT_TEXT_CHARS


def _runner(data, spec: TrainSpec, budget: Budget):
    """Ray tasks with `ray`; else a process pool, or this process alone for one job."""
    from kiln.search.runner import InlineRunner, LocalRunner, default_workers

    if spec.ray is not None:
        from kiln.search.ray_runner import RayRunner

        return RayRunner(data, spec.ray, warm_up_s=RAY_WARM_UP_SHARE * budget.remaining_search())
    n_workers = spec.n_jobs or default_workers()
    return InlineRunner(data) if n_workers == 1 else LocalRunner(data, n_workers)


def _assemble(frame, features, y, folds, schema, target: Target, metric: Metric, spec: TrainSpec,
              budget: Budget, results: list[TrialResult], lost: int, scratch: Path, *,
              lost_to_workers: int = 0, all_rows: tuple[pd.DataFrame, np.ndarray] | None = None,
              unsent: int = 0) -> Model:
    results = sorted(results, key=lambda r: r.spec.trial_id)  # completion order varies with timing
    # Linear classifiers at the temperature their out-of-fold predictions call for (ensemble/temperature.py)
    results = calibrate_linear(results, y, [val for _, val in folds], metric, target.task)
    # Only trials that learned are kept: a fold the deadline stopped after one round, or
    # no better than the baseline, is on the leaderboard (status "unlearned") but never
    # ensembled, refit or served.
    usable = [r for r in results if r.kept and np.all(np.isfinite(r.oof))]
    if not usable:
        failures = "; ".join(f"{r.spec.name}: {r.error}" for r in results if r.error)[:300]
        raise KilnError(
            f"No model finished learning within --time-limit {spec.time_limit:g}s"
            + (f" ({failures})" if failures else "")
            + "; give more time or check the data."
        )
    # One score everywhere: the mean of the folds' scores ranks the leaderboard, picks
    # the best single model and chooses the ensemble (and whether to use it).
    val_rows = [val for _, val in folds]
    ensemble = select_ensemble([r.oof for r in usable], y, metric, target.task, folds=val_rows)
    single_losses = [cv_loss(metric, y, r.oof, target.task, val_rows) for r in usable]
    best_single = int(np.argmin(single_losses))
    use_ensemble = len(ensemble.weights) > 1 and ensemble.loss < single_losses[best_single] - 1e-12
    weights = ensemble.weights if use_ensemble else {best_single: 1.0}
    ensemble_scores = [metric.score(y[val], ensemble.prediction[val], target.task) for _, val in folds]
    leaderboard = _leaderboard(results, metric, ensemble_scores, ensemble.weights, usable, weights, use_ensemble,
                               embed=_embed(spec, schema))
    members = [_load_member(usable[i], w) for i, w in weights.items()]
    refit_features, refit_y = all_rows or (features, y)
    fitted_on = _refit(members, usable, weights, refit_features, refit_y, schema, target, spec, budget, len(folds),
                       scale=len(refit_y) / len(y))
    curve = _learning_curve(usable[best_single], features, y, folds, schema, target, metric, spec, budget, scratch)
    chosen = ENSEMBLE_NAME if use_ensemble else usable[best_single].spec.name
    chosen_row = leaderboard.loc[leaderboard["model"] == chosen].iloc[0]
    manifest = {
        "cv": {"model": chosen, "metric": metric.name, "greater_is_better": metric.greater_is_better,
               "score": float(chosen_row["score"]), "ci_low": float(chosen_row["ci_low"]),
               "ci_high": float(chosen_row["ci_high"]), "n_folds": len(folds),
               "aggregate": "mean of the folds' scores (leaderboard and ensemble choice alike)",
               "interval": "95% corrected resampled t (Nadeau & Bengio) across folds"},
        "final_models": fitted_on,
        "training": {"rows": len(frame), "columns": int(frame.shape[1]), "data_sha256": _fingerprint(frame),
                     "seed": spec.seed, "time_limit": spec.time_limit,
                     "seconds": round(budget.elapsed(), 2), "trials": len(results),
                     "trials_lost_at_deadline": lost, "trials_lost_to_workers": lost_to_workers,
                     "trials_unlearned": sum(r.status == "unlearned" for r in results),
                     "trials_skipped": sum(r.status == "skipped" for r in results),
                     "trials_not_sent": unsent,  # their family's folds took longer than the time left
                     "max_trials": spec.max_trials, "search_rows": len(y),
                     "max_rows": spec.max_rows or default_max_rows(spec.time_limit, len(schema.columns))},
        "kiln_version": _version("kiln-ml"),
        "libraries": {name: _version(name) for name in
                      ("numpy", "pandas", "scikit-learn", "lightgbm", "xgboost-cpu", "catboost", "optuna", "skops")},
        "created": pd.Timestamp.now(tz="UTC").isoformat(),
    }
    manifest["reference"] = reference_distributions(features, schema)
    if _embed(spec, schema):
        from kiln.prep.build import EMBED_DIMS
        from kiln.prep.embed import embedding_record

        manifest["text_embedding"] = embedding_record(EMBED_DIMS)
    if curve is not None:
        manifest["learning_curve"] = curve
    final_oof = ensemble.prediction if use_ensemble else usable[best_single].oof
    if target.task == "binary":
        manifest["decision"] = _decision(y, final_oof[:, 1], spec)
    if spec.reject_below is not None:
        from kiln.evaluation.reject import choose_reject

        if target.task == "regression":
            raise InvalidOptionError("--reject-below applies to classification; this target is a regression.")
        manifest["reject"] = choose_reject(final_oof, y, list(target.classes or []), setting=spec.reject_below,
                                           label=spec.reject_label,
                                           target_precision=spec.reject_precision).to_dict()
    oof = _oof_frame(usable, weights, ensemble.prediction if use_ensemble else usable[best_single].oof,
                     y, folds, target)
    reference = _reference_sample(features, oof, spec.seed)
    return Model(target, schema, metric.name, members, leaderboard, manifest, oof, reference)


def _reference_sample(features: pd.DataFrame, oof: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Up to REFERENCE_ROWS training rows, with target and out-of-fold outputs, for drift and CBPE.

    Raw rows, not bins, so that monitoring can run exact two-sample tests (KS) and
    calibrate performance estimates; the sample is stored in the bundle.
    """
    rng = np.random.default_rng(seed)
    n = len(features)
    rows = np.sort(rng.choice(n, size=min(REFERENCE_ROWS, n), replace=False))
    outputs = oof.iloc[rows][[c for c in oof.columns if c == "target" or c.startswith("final__")]]
    sample = features.iloc[rows].reset_index(drop=True)
    return pd.concat([sample, outputs.reset_index(drop=True).add_prefix("__")], axis=1)


def _decision(y: np.ndarray, positive: np.ndarray, spec: TrainSpec) -> dict[str, Any]:
    """The binary decision threshold, chosen on out-of-fold predictions: F1 by default,
    or the least expected cost when a cost is given (see evaluate/threshold.py)."""
    from kiln.evaluation.threshold import choose_threshold

    if spec.cost_fp is None and spec.cost_fn is None:
        return choose_threshold(y, positive, objective="f1").to_dict()
    return choose_threshold(y, positive, objective="cost", cost_fp=spec.cost_fp or 1.0,
                            cost_fn=spec.cost_fn or 1.0).to_dict()


def _learning_curve(best: TrialResult, features, y, folds, schema, target: Target, metric: Metric,
                    spec: TrainSpec, budget: Budget, scratch: Path) -> dict | None:
    """Score vs training rows for the best single configuration, from leftover time."""
    from kiln.training.learning_curve import learning_curve

    return learning_curve(features, y, folds, schema, target.task, len(target.classes or []), spec=best.spec,
                          full_scores=best.fold_scores, metric=metric, seed=spec.seed,
                          deadline=budget.end - after_seconds(len(y), spec.time_limit),
                          scratch=scratch, fit_seconds=max(best.fit_seconds, best.wall_seconds),
                          embed=_embed(spec, schema))


def _refit(members: list[Member], usable: list[TrialResult], weights: dict[int, float], features, y, schema,
           target: Target, spec: TrainSpec, budget: Budget, n_folds: int, scale: float = 1.0) -> dict[str, str]:
    """Refit the kept members on all rows within the budget (see search/refit.py).

    `scale`: rows refitted on / rows searched on; a fit's time grows with it.
    """
    from kiln.search.refit import refit_members
    from kiln.search.runner import default_workers

    seconds = {usable[i].spec.name: _task_seconds(usable[i]) * scale for i in weights}
    deadline = budget.end - after_seconds(round(len(y) / scale), spec.time_limit)
    return refit_members(members, seconds, features, y, schema, target.task, len(target.classes or []),
                         seed=spec.seed, n_folds=n_folds, deadline=deadline,
                         n_threads=spec.n_jobs or default_workers(), embed=_embed(spec, schema))


def _fitted_config(config: dict, embed: bool) -> dict:
    """The config as fitted: `embed` is off when the run computed no embeddings."""
    return {**config, "embed": False} if not embed and config.get("embed") else config


def _task_seconds(result: TrialResult) -> float:
    """What refitting a trial costs, its preparation (TF-IDF, embeddings) included: a refit
    prepares its rows afresh (fine_foods: 1.5 s of a 7 s fold). The learning curve, which is
    optional, is estimated from the folds' wall time instead, the more cautious figure.
    CPU time where it was measured: in the search a fold shared the cores with the other
    workers, a refit has them to itself (digits: LightGBM folds of 11-13 s wall, its refit 2 s);
    the refit's estimate keeps its safety factor, and a booster stops at the deadline anyway."""
    if result.cpu_seconds > 0:
        return result.cpu_seconds
    return max(result.fit_seconds, result.wall_seconds)


def _leaderboard(results, metric: Metric, ensemble_scores, ensemble_weights, usable, used_weights,
                 use_ensemble: bool, embed: bool = True) -> pd.DataFrame:
    """`embed`: whether this run computed embeddings; without them a config's `embed: true` had no
    effect, so the leaderboard shows what was fitted."""
    rows = []
    used_ids = {usable[i].spec.trial_id for i in used_weights}
    for r in results:
        rows.append({"model": r.spec.name, "learner": r.spec.learner, "origin": r.spec.origin,
                     "score": r.score, "ci_low": r.ci_low, "ci_high": r.ci_high,
                     "fit_s": round(r.fit_seconds, 3), "predict_s_per_1k": round(r.predict_seconds_per_1k, 5),
                     "fold_scores": json.dumps([round(s, 10) for s in r.fold_scores]),
                     "status": r.status, "used": (not use_ensemble) and r.spec.trial_id in used_ids,
                     "config": json.dumps(_fitted_config(r.spec.config, embed), sort_keys=True, default=str),
                     "error": r.error or ""})
    mean, low, high = fold_interval(ensemble_scores, bounds=metric.bounds)
    members = {usable[i].spec.name: round(w, 4) for i, w in ensemble_weights.items()}
    member_results = [usable[i] for i in ensemble_weights]
    rows.append({"model": ENSEMBLE_NAME, "learner": ENSEMBLE_NAME, "origin": "ensemble_selection",
                 "score": mean, "ci_low": low, "ci_high": high,
                 "fit_s": round(sum(r.fit_seconds for r in member_results), 3),
                 "predict_s_per_1k": round(sum(r.predict_seconds_per_1k for r in member_results), 5),
                 "fold_scores": json.dumps([round(s, 10) for s in ensemble_scores]),
                 "status": "ok", "used": use_ensemble, "config": json.dumps(members, sort_keys=True),
                 "error": ""})
    frame = pd.DataFrame(rows)
    key = frame["score"] if metric.greater_is_better else -frame["score"]
    # Kept trials and the ensemble rank by score; trials never kept (unlearned, skipped,
    # failed) follow them, whatever their score.
    kept = frame["status"].isin(KEPT_STATUSES)
    frame = frame.assign(_kept=kept, _key=key.fillna(-np.inf))
    frame = frame.sort_values(["_kept", "_key"], ascending=False, kind="stable")
    frame = frame.drop(columns=["_kept", "_key"]).reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    frame.insert(4, "metric", metric.name)
    return frame


def _load_member(result: TrialResult, weight: float) -> Member:
    folds = []
    for path in result.model_paths:
        with open(path, "rb") as handle:  # written by this run's own workers
            prep, categorical, learner = pickle.load(handle)
        folds.append(FoldModel(prep, categorical, learner))
    return Member(result.spec.name, result.spec.learner, result.spec.config, float(weight), folds)


def _oof_frame(usable, weights, final, y, folds, target: Target) -> pd.DataFrame:
    fold_of = np.empty(len(y), dtype="int64")
    for k, (_, val) in enumerate(folds):
        fold_of[val] = k
    columns: dict[str, Any] = {"fold": fold_of}
    columns["target"] = y if target.task == "regression" else target.decode(y).astype(str)

    named = [("final", final)] + [(usable[i].spec.name, usable[i].oof) for i in weights]
    for name, prediction in named:
        if target.task == "regression":
            columns[f"{name}__prediction"] = prediction
        else:
            for i, label in enumerate(target.classes or []):
                columns[f"{name}__proba_{label}"] = prediction[:, i]
    return pd.DataFrame(columns)


def _fingerprint(frame: pd.DataFrame) -> str:
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def _version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None
