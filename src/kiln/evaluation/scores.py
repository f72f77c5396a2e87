"""Every metric of a task, with a 95% bootstrap interval and a trivial baseline beside it.

The bootstrap resamples rows. A metric that is an average over the rows of one class at a
time (ROC AUC, recall, balanced accuracy) is resampled within each class, so every resample
has both classes and the interval is the usual stratified one. Every other metric (log loss,
Brier, accuracy, F1, precision, PR AUC, RMSE, ...) depends on the class mix too, and new data
draws its own mix: those are resampled over all rows at once, a plain bootstrap. Resampling
them within classes fixes the class counts and drops that part of the spread; for a weak,
imbalanced model it is most of it (issue 13: a log-loss interval 0.1272–0.1296 where the
plain bootstrap of the same out-of-fold rows gives 0.1199–0.1378, and a 95% interval that
covered the true log loss 27 times in 100). A resample is a row of counts, so each metric is written once
as a weighted statistic of per-row quantities: a matrix product over a block of
resamples instead of a Python loop over them. 1,000 resamples of 10,000 rows take well
under a second.

Point values of metrics `kiln.evaluation.metrics` defines come from there, so the numbers
here match the leaderboard's; the weighted forms are tested equal to them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from kiln.errors import InvalidOptionError
from kiln.evaluation.metrics import METRICS
from kiln.types import Task

CONFIDENCE = 0.95
LOG_CLIP = 1e-15
BLOCK_CELLS = 2_500_000  # resamples × rows held in memory at once (20 MB of float64)
MAPE_MIN_SHARE = 0.01  # MAPE is shown only when no |y| is below 1% of the median |y|

Weighted = Callable[[np.ndarray], np.ndarray]  # weights (B × n) → one value per resample


@dataclass(frozen=True)
class Score:
    """One metric's value with its 95% bootstrap interval and the trivial baseline's value."""

    metric: str
    value: float
    ci_low: float
    ci_high: float
    baseline: float | None
    greater_is_better: bool


@dataclass(frozen=True)
class _Stat:
    name: str
    greater_is_better: bool
    function: Weighted
    shared: str | None = None  # the name in kiln.evaluation.metrics, when the definition is the same
    per_class: bool = False  # an average within classes: resampled within each class (see the module docstring)


def score_table(y_true: np.ndarray, prediction: np.ndarray, task: Task, *, threshold: float | None = None,
                n_boot: int = 1000, seed: int = 0) -> list[Score]:
    """Every metric of `task` with a 95% bootstrap interval and the trivial baseline.

    Parameters
    ----------
    y_true : integer class codes (classification) or values (regression).
    prediction : the probability matrix (n × classes) or the predicted values.
    threshold : binary only: a row is labelled positive when its positive-class
        probability is at least this (default 0.5); sets accuracy, F1, precision, recall.
    n_boot : bootstrap resamples.

    The baseline predicts the class shares (probability metrics) or the majority class
    (label metrics), and the mean for regression, all taken from `y_true` itself.
    """
    y, pred = _prepare(y_true, prediction, task)
    stats = _stats(y, pred, task, threshold)
    baseline_stats = {s.name: s for s in _stats(y, _baseline_prediction(y, pred, task), task, None,
                                                 majority_labels=True)}
    values = _bootstrap(stats, y, task, n_boot, seed)
    table = []
    for stat, samples in zip(stats, values, strict=True):
        low, high = _percentiles(samples)
        baseline = baseline_stats.get(stat.name)
        table.append(Score(stat.name, _point(stat, y, pred, task), low, high,
                           None if baseline is None else _point(baseline, y, None, task),
                           stat.greater_is_better))
    return table


def metric_interval(y_true: np.ndarray, prediction: np.ndarray, task: Task, name: str, *,
                    threshold: float | None = None, n_boot: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """(value, ci_low, ci_high) of one metric; `name` is a `score_table` name or a kiln metric name."""
    value, samples = metric_bootstrap(y_true, prediction, task, name, threshold=threshold, n_boot=n_boot, seed=seed)
    low, high = _percentiles(samples)
    return value, low, high


def metric_bootstrap(y_true: np.ndarray, prediction: np.ndarray, task: Task, name: str, *,
                     threshold: float | None = None, n_boot: int = 1000, seed: int = 0) -> tuple[float, np.ndarray]:
    """(value, the metric on each of `n_boot` resamples): for intervals, standard errors and tests."""
    y, pred = _prepare(y_true, prediction, task)
    stat = stat_named(name, y, pred, task, threshold)
    return _point(stat, y, pred, task), _bootstrap([stat], y, task, n_boot, seed)[0]


def stat_named(name: str, y: np.ndarray, pred: np.ndarray, task: Task, threshold: float | None) -> _Stat:
    if task == "multiclass" and name == "f1":
        name = "macro_f1"  # kiln's f1 is macro-averaged for multiclass
    for stat in _stats(y, pred, task, threshold):
        if stat.name == name:
            return stat
    known = [s.name for s in _stats(y, pred, task, threshold)]
    raise InvalidOptionError(f"Metric '{name}' is not scored for {task} tasks; use one of {known}.")


def greater_is_better(name: str) -> bool:
    """Direction of a `score_table` metric name."""
    base = name.split("[")[0]
    return base not in ("log_loss", "brier", "rmse", "mae", "mape")


# -- the statistics -------------------------------------------------------------------------

def _prepare(y_true: np.ndarray, prediction: np.ndarray, task: Task) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    pred = np.asarray(prediction, dtype="float64")
    if task == "regression":
        y = y.astype("float64")
        pred = pred.reshape(-1)
    else:
        y = y.astype("int64")
        if pred.ndim != 2:
            raise InvalidOptionError(f"A {task} prediction must be a probability matrix; got shape {pred.shape}.")
    if len(y) != len(pred):
        raise InvalidOptionError(f"y_true has {len(y)} rows but the prediction has {len(pred)}.")
    if len(y) == 0:
        raise InvalidOptionError("No rows to score.")
    if task == "binary":  # rows in score order: the ranking metrics then need no per-resample sort
        order = np.argsort(pred[:, 1], kind="stable")
        y, pred = y[order], pred[order]
    return y, pred


def _stats(y: np.ndarray, pred: np.ndarray, task: Task, threshold: float | None,
           majority_labels: bool = False) -> list[_Stat]:
    if task == "binary":
        return _binary_stats(y, pred, threshold, majority_labels)
    if task == "multiclass":
        return _multiclass_stats(y, pred, majority_labels)
    return _regression_stats(y, pred)


def _baseline_prediction(y: np.ndarray, pred: np.ndarray, task: Task) -> np.ndarray:
    if task == "regression":
        return np.full(len(y), y.mean())
    shares = np.bincount(y, minlength=pred.shape[1]) / len(y)
    return np.tile(shares, (len(y), 1))


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray, empty: float = 0.0) -> np.ndarray:
    out = np.full(np.broadcast(numerator, denominator).shape, empty, dtype="float64")
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _binary_stats(y: np.ndarray, pred: np.ndarray, threshold: float | None, majority_labels: bool) -> list[_Stat]:
    positive = pred[:, 1]
    is_pos = y == 1
    if majority_labels:
        labels = np.full(len(y), is_pos.mean() > 0.5)
    else:
        labels = positive >= (0.5 if threshold is None else threshold)
    per_row_log = -np.log(np.clip(np.where(is_pos, positive, pred[:, 0]), LOG_CLIP, 1.0))
    brier = (positive - is_pos) ** 2

    cells = np.column_stack([labels & is_pos, labels & ~is_pos, ~labels & is_pos, ~labels & ~is_pos]).astype(float)

    @_per_block
    def counts(w: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple((w @ cells).T)  # TP, FP, FN, TN of each resample

    def accuracy(w):
        tp, _, _, tn = counts(w)
        return (tp + tn) / w.sum(axis=1)

    def balanced(w):
        tp, fp, fn, tn = counts(w)
        return (_safe_divide(tp, tp + fn) + _safe_divide(tn, tn + fp)) / 2

    def f1(w):
        tp, fp, fn, _ = counts(w)
        return _safe_divide(2 * tp, 2 * tp + fp + fn)

    def precision(w):
        tp, fp, _, _ = counts(w)
        return _safe_divide(tp, tp + fp)

    def recall(w):
        tp, _, fn, _ = counts(w)
        return _safe_divide(tp, tp + fn)

    roc_auc, pr_auc = _ranking_stats(positive, is_pos)
    return [
        _Stat("roc_auc", True, roc_auc, "roc_auc", per_class=True),
        _Stat("pr_auc", True, pr_auc),
        _Stat("log_loss", False, lambda w: w @ per_row_log / w.sum(axis=1), "log_loss"),
        _Stat("brier", False, lambda w: w @ brier / w.sum(axis=1)),
        _Stat("accuracy", True, accuracy),
        _Stat("balanced_accuracy", True, balanced, per_class=True),
        _Stat("f1", True, f1),
        _Stat("precision", True, precision),
        _Stat("recall", True, recall, per_class=True),
    ]


def _ranking_stats(score: np.ndarray, is_pos: np.ndarray) -> tuple[Weighted, Weighted]:
    """Weighted ROC AUC and average precision; tied scores are grouped as scikit-learn does."""
    order = np.argsort(score, kind="stable")
    in_order = bool(np.all(order == np.arange(len(order))))
    sorted_score, pos = score[order], is_pos[order].astype(float)
    starts = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
    ties = len(starts) < len(score)

    @_per_block
    def grouped(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ws = w if in_order else w[:, order]
        pos_g, all_g = ws * pos, ws
        if ties:
            pos_g, all_g = np.add.reduceat(pos_g, starts, axis=1), np.add.reduceat(ws, starts, axis=1)
        return pos_g, all_g - pos_g

    def roc_auc(w: np.ndarray) -> np.ndarray:
        pos_g, neg_g = grouped(w)
        below = np.cumsum(neg_g, axis=1) - neg_g
        n_pos, n_neg = pos_g.sum(axis=1), neg_g.sum(axis=1)
        pairs = (pos_g * (below + 0.5 * neg_g)).sum(axis=1)
        return _safe_divide(pairs, n_pos * n_neg, empty=np.nan)

    def pr_auc(w: np.ndarray) -> np.ndarray:
        pos_g, neg_g = grouped(w)
        pos_g, neg_g = pos_g[:, ::-1], neg_g[:, ::-1]  # from the highest score down
        tp, fp = np.cumsum(pos_g, axis=1), np.cumsum(neg_g, axis=1)
        precision = _safe_divide(tp, tp + fp)
        return _safe_divide((pos_g * precision).sum(axis=1), tp[:, -1], empty=np.nan)

    return roc_auc, pr_auc


def _per_block(function: Callable[[np.ndarray], Any]) -> Callable[[np.ndarray], Any]:
    """Compute once per block of resamples what several metrics share (confusion counts, ranks)."""
    last: list[Any] = [None, None]

    def cached(w: np.ndarray) -> Any:
        if last[0] is not w:
            last[0], last[1] = w, function(w)
        return last[1]

    return cached


def _multiclass_stats(y: np.ndarray, pred: np.ndarray, majority_labels: bool) -> list[_Stat]:
    n_classes = pred.shape[1]
    truth = np.eye(n_classes)[y]
    predicted = np.argmax(pred, axis=1)
    if majority_labels:
        predicted = np.full(len(y), np.bincount(y, minlength=n_classes).argmax())
    labels = np.eye(n_classes)[predicted]
    hits = truth * labels
    per_row_log = -np.log(np.clip(pred[np.arange(len(y)), y], LOG_CLIP, 1.0))

    def macro_f1(w):
        tp, actual, said = w @ hits, w @ truth, w @ labels
        present = (actual + said) > 0  # scikit-learn averages over classes seen in truth or prediction
        f1 = _safe_divide(2 * tp, actual + said)
        return (f1 * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)

    # Every class's recall from one product per block of resamples: recall_of(k) used to take
    # two matrix-vector products per class over the block (34 classes: 0.76 of a 2.0 s report).
    recalls = _per_block(lambda w: _safe_divide(w @ hits, w @ truth, empty=np.nan))

    def recall_of(k: int) -> Weighted:
        return lambda w: recalls(w)[:, k]

    return [
        _Stat("log_loss", False, lambda w: w @ per_row_log / w.sum(axis=1), "log_loss"),
        _Stat("accuracy", True, lambda w: w @ hits.sum(axis=1) / w.sum(axis=1), "accuracy"),
        _Stat("macro_f1", True, macro_f1, "f1"),
        *[_Stat(f"recall[{k}]", True, recall_of(k), per_class=True) for k in range(n_classes)],
    ]


def _regression_stats(y: np.ndarray, pred: np.ndarray) -> list[_Stat]:
    error = y - pred
    squared, absolute = error**2, np.abs(error)

    centred = y - y.mean()  # a shift keeps the weighted variance below free of cancellation

    def r2(w):
        total = w @ centred**2 - (w @ centred) ** 2 / w.sum(axis=1)
        total = np.where(total > 1e-12 * (w @ centred**2), total, 0.0)
        return np.where(total > 0, 1.0 - _safe_divide(w @ squared, total), 0.0)

    stats = [
        _Stat("rmse", False, lambda w: np.sqrt(w @ squared / w.sum(axis=1)), "rmse"),
        _Stat("mae", False, lambda w: w @ absolute / w.sum(axis=1), "mae"),
        _Stat("r2", True, r2, "r2"),
    ]
    if mape_is_meaningful(y):
        relative = absolute / np.abs(y)
        stats.append(_Stat("mape", False, lambda w: w @ relative / w.sum(axis=1)))
    return stats


def mape_is_meaningful(y: np.ndarray) -> bool:
    """MAPE divides by |y|: only shown when y keeps one sign and no value is near zero."""
    magnitude = np.abs(y)
    if not (np.all(y > 0) or np.all(y < 0)):
        return False
    return bool(magnitude.min() >= MAPE_MIN_SHARE * np.median(magnitude))


def _point(stat: _Stat, y: np.ndarray, pred: np.ndarray | None, task: Task) -> float:
    """The full-sample value: kiln's own metric where it is the same statistic."""
    if stat.shared and pred is not None and (task == "regression" or len(np.unique(y)) > 1):
        return METRICS[stat.shared].score(y, pred, task)
    return float(stat.function(np.ones((1, len(y))))[0])


# -- resampling ----------------------------------------------------------------------------

def _bootstrap(stats: list[_Stat], y: np.ndarray, task: Task, n_boot: int, seed: int) -> list[np.ndarray]:
    """Each stat on `n_boot` resamples: within classes for per-class stats, over all rows for the rest."""
    classes = None if task == "regression" else [np.flatnonzero(y == k) for k in np.unique(y)]
    blocks: list[list[np.ndarray]] = [[] for _ in stats]
    for strata in (None, classes) if classes is not None else (None,):
        chosen = [i for i, stat in enumerate(stats) if stat.per_class == (strata is not None)]
        if not chosen:
            continue
        for weights in resample_weights(len(y), n_boot, seed, strata):
            with np.errstate(invalid="ignore", divide="ignore"):
                for i in chosen:
                    blocks[i].append(stats[i].function(weights))
    return [np.concatenate(parts) if parts else np.empty(0) for parts in blocks]


def resample_weights(n: int, n_boot: int, seed: int, strata: list[np.ndarray] | None = None) -> Iterator[np.ndarray]:
    """Bootstrap resamples as blocks of row counts (resamples × n), drawn within each stratum."""
    rng = np.random.default_rng(seed)
    groups = [np.asarray(rows, dtype=np.int32) for rows in (strata if strata else [np.arange(n)])]
    block = max(1, BLOCK_CELLS // max(n, 1))
    done = 0
    while done < n_boot:
        size = min(block, n_boot - done)
        # each resample's draws, as row numbers offset by resample, counted in one bincount
        draws = np.concatenate([rows[rng.integers(0, len(rows), size=(size, len(rows)), dtype=np.int32)]
                                for rows in groups], axis=1)
        draws += (np.arange(size, dtype=np.int32) * n)[:, None]
        yield np.bincount(draws.ravel(), minlength=size * n).reshape(size, n).astype("float64")
        done += size


def _percentiles(samples: np.ndarray) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if len(finite) < max(10, 0.5 * len(samples)):
        return float("nan"), float("nan")
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)
