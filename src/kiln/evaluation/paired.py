"""Is the challenger better than the champion on the same rows? The gate of `kiln retrain`.

Both models predict the same recent labelled rows, so their errors pair up row by row and
a paired test sees a difference that two separate intervals would hide in their overlap.

- **DeLong** (binary tasks, metric roc_auc): the variance of the difference of two
  correlated AUCs from their structural components (DeLong, DeLong & Clarke-Pearson 1988),
  computed in O(n log n) with midranks (Sun & Xu 2014); a normal test and interval.
- **Paired bootstrap** (every other metric): the same 1,000 row resamples score both models;
  the percentile interval of the difference, and as p-value the share of resamples on the
  wrong side of the line to cross.

`difference` is always the challenger's improvement in the metric's units, whatever its
direction: challenger − champion for AUC or accuracy, champion − challenger for log loss or
RMSE. Each model is scored at the decision rule it would serve: metrics that need labels
(accuracy, balanced accuracy, F1) take a binary model's own stored threshold, not 0.5.

The rules, each a one-sided test at level `alpha` (0.05 unless set):

- **superiority**: promote iff p < alpha for "improvement ≤ 0";
- **non-inferiority** (the data shifted, so the champion's old edge no longer counts):
  promote iff p < alpha for "improvement ≤ −margin".

The decision is that p and nothing else, so the p reported is the p used. `ci_low` is the
one-sided (1 − alpha) lower confidence bound of the improvement (the test's own bound: it
clears the line exactly when p < alpha for DeLong, up to resampling for the bootstrap), and
`ci_low`–`ci_high` is the two-sided (1 − 2·alpha) interval, 90% at the default.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
from scipy import stats

from kiln.errors import InvalidDataError, InvalidOptionError
from kiln.evaluation.compare import format_p
from kiln.evaluation.metrics import get_metric
from kiln.evaluation.scores import resample_weights, stat_named
from kiln.types import Task

Rule = Literal["superiority", "non-inferiority"]
Test = Literal["delong", "bootstrap"]
N_BOOT = 1000
LABEL_METRICS = frozenset({"accuracy", "balanced_accuracy", "f1"})  # need a decision, not only probabilities


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict, its numbers and the sentence that explains it.

    `champion` and `challenger` are the metric on the gate rows with its true sign, each at
    its own threshold (`thresholds`, binary label metrics; None elsewhere); `difference`,
    `ci_low` and `ci_high` are the challenger's improvement (> 0: better), the ends of its
    two-sided (1 − 2·alpha) interval: `ci_low` is the one-sided (1 − alpha) lower bound.
    `p_value` is the one-sided p the decision compared with `alpha`.
    """

    promote: bool
    reason: str
    metric: str
    champion: float
    challenger: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    test: Test
    rule: Rule
    margin: float | None
    n_rows: int
    alpha: float = 0.05
    thresholds: tuple[float | None, float | None] = (None, None)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the audit table and JSON output."""
        return asdict(self)


def paired_gate(y: np.ndarray, champion_pred: np.ndarray, challenger_pred: np.ndarray, *, task: Task, metric: str,
                rule: Rule, margin: float | None, alpha: float = 0.05, seed: int = 0,
                rule_reason: str | None = None,
                thresholds: tuple[float | None, float | None] = (None, None)) -> GateDecision:
    """Decide whether the challenger may replace the champion, from predictions on the same rows.

    Parameters
    ----------
    y : integer class codes (classification) or values (regression).
    champion_pred, challenger_pred : probability matrices (n × classes) or predicted values.
    rule : "superiority" (the challenger must be better) or "non-inferiority" (not worse by
        more than `margin`, in the metric's units).
    alpha : the one-sided level of the test; promote iff its p-value is below it.
    rule_reason : why this rule applies, told in the decision's sentence.
    thresholds : (champion's, challenger's) binary decision thresholds, for label metrics
        (accuracy, balanced_accuracy, f1); None means 0.5.
    """
    if rule not in ("superiority", "non-inferiority"):
        raise InvalidOptionError(f"Gate rule '{rule}' is unknown; use superiority or non-inferiority.")
    if rule == "non-inferiority" and (margin is None or not margin >= 0):
        raise InvalidOptionError(f"--margin must be a number ≥ 0 for a non-inferiority gate, got {margin}.")
    if not 0 < alpha < 0.5:
        raise InvalidOptionError(f"--alpha must lie between 0 and 0.5 (a one-sided level), got {alpha}.")
    scorer = get_metric(metric, task)
    y, champion_pred, challenger_pred = _check(y, champion_pred, challenger_pred, task)
    cuts = _thresholds(task, scorer.name, thresholds)
    line = 0.0 if rule == "superiority" else -float(margin or 0.0)
    champion = served_score(y, champion_pred, task=task, metric=scorer.name, threshold=cuts[0])
    challenger = served_score(y, challenger_pred, task=task, metric=scorer.name, threshold=cuts[1])
    if task == "binary" and scorer.name == "roc_auc":
        test: Test = "delong"
        difference, ci_low, ci_high, p_value = _delong_gate(y, champion_pred[:, 1], challenger_pred[:, 1], line,
                                                            alpha)
    else:
        test = "bootstrap"
        samples = paired_bootstrap(y, champion_pred, challenger_pred, task=task, metric=scorer.name, seed=seed,
                                   thresholds=cuts)
        difference = challenger - champion if scorer.greater_is_better else champion - challenger
        ci_low, ci_high, p_value = _bootstrap_summary(samples, line, alpha)
    passed = bool(p_value < alpha)  # the p reported is the p used; a NaN p never passes
    decision = GateDecision(promote=passed, reason="", metric=scorer.name, champion=champion, challenger=challenger,
                            difference=difference, ci_low=ci_low, ci_high=ci_high, p_value=p_value, test=test,
                            rule=rule, margin=None if rule == "superiority" else float(margin or 0.0),
                            n_rows=len(y), alpha=float(alpha), thresholds=cuts)
    return replace(decision, reason=_reason(decision, alpha, rule_reason))


def paired_test(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, *, task: Task, metric: str,
                thresholds: tuple[float | None, float | None] = (None, None), confidence: float = 0.95,
                seed: int = 0) -> tuple[float, float, float, float, float, float, Test]:
    """Two-sided paired test of model a against model b on the same rows.

    Returns (value a, value b, improvement of a over b in the metric's better direction, its
    `confidence` interval, two-sided p, test). DeLong for binary AUC; otherwise the paired
    bootstrap, whose two-sided p is twice the smaller share of resamples on either side of 0.
    """
    scorer = get_metric(metric, task)
    y, pred_a, pred_b = _check(y, pred_a, pred_b, task)
    cuts = _thresholds(task, scorer.name, thresholds)
    value_a = served_score(y, pred_a, task=task, metric=scorer.name, threshold=cuts[0])
    value_b = served_score(y, pred_b, task=task, metric=scorer.name, threshold=cuts[1])
    if task == "binary" and scorer.name == "roc_auc":
        difference, low, high, p_value = delong_test(y, pred_b[:, 1], pred_a[:, 1], confidence=confidence)
        return value_a, value_b, difference, low, high, p_value, "delong"
    samples = paired_bootstrap(y, pred_b, pred_a, task=task, metric=scorer.name, seed=seed,
                               thresholds=(cuts[1], cuts[0]))
    difference = value_a - value_b if scorer.greater_is_better else value_b - value_a
    finite = samples[np.isfinite(samples)]
    if len(finite) < max(10, 0.5 * len(samples)):
        return value_a, value_b, difference, math.nan, math.nan, math.nan, "bootstrap"
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    if np.all(finite == 0):
        return value_a, value_b, difference, 0.0, 0.0, 1.0, "bootstrap"
    below, above = int(np.sum(finite <= 0)), int(np.sum(finite >= 0))
    p_value = min(1.0, 2 * (1 + min(below, above)) / (1 + len(finite)))
    return value_a, value_b, difference, float(low), float(high), float(p_value), "bootstrap"


def served_score(y: np.ndarray, prediction: np.ndarray, *, task: Task, metric: str,
                 threshold: float | None = None) -> float:
    """`metric` of one model on these rows, labels taken at `threshold` (binary label metrics)."""
    scorer = get_metric(metric, task)
    if threshold is None or task != "binary" or scorer.name not in LABEL_METRICS:
        return scorer.score(y, prediction, task)
    stat = stat_named(scorer.name, np.asarray(y).astype("int64"), np.asarray(prediction, dtype="float64"), task,
                      threshold)
    return float(stat.function(np.ones((1, len(y))))[0])


def delong_test(y: np.ndarray, score_a: np.ndarray, score_b: np.ndarray, *,
                confidence: float = 0.95) -> tuple[float, float, float, float]:
    """DeLong's paired test of AUC(b) − AUC(a) on the same rows: (difference, ci_low, ci_high, two-sided p).

    `y` holds 0/1 labels (1 positive); a higher score means more likely positive.
    """
    difference, se = _delong_difference(y, score_a, score_b)
    low, high = _normal_interval(difference, se, confidence)
    if se == 0.0:
        return difference, low, high, 1.0 if difference == 0.0 else 0.0
    return difference, low, high, float(2 * stats.norm.sf(abs(difference) / se))


def paired_bootstrap(y: np.ndarray, champion_pred: np.ndarray, challenger_pred: np.ndarray, *, task: Task,
                     metric: str, n_boot: int = N_BOOT, seed: int = 0,
                     thresholds: tuple[float | None, float | None] = (None, None)) -> np.ndarray:
    """The challenger's improvement on each of `n_boot` row resamples shared by both models.

    Resamples are drawn within each class for classification (every resample keeps both
    classes, so AUC stays defined). Resamples where the metric is undefined give NaN.
    `thresholds` (champion's, challenger's) set binary labels for label metrics.
    """
    scorer = get_metric(metric, task)
    sign = 1.0 if scorer.greater_is_better else -1.0
    strata = None if task == "regression" else [np.flatnonzero(y == k) for k in np.unique(y)]
    cuts = _thresholds(task, scorer.name, thresholds)
    try:  # the vectorised weighted form of the metric, when evaluate/scores.py has one
        stat_a = stat_named(scorer.name, y, champion_pred, task, cuts[0]).function
        stat_b = stat_named(scorer.name, y, challenger_pred, task, cuts[1]).function
    except InvalidOptionError:
        args = (task, scorer.name, n_boot, seed, strata)
        return sign * (_loop_scores(y, challenger_pred, *args) - _loop_scores(y, champion_pred, *args))
    parts = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for weights in resample_weights(len(y), n_boot, seed, strata):
            parts.append(stat_b(weights) - stat_a(weights))
    return sign * np.concatenate(parts)


def metric_intervals(y: np.ndarray, predictions: list[np.ndarray], *, task: Task, metric: str, n_boot: int = N_BOOT,
                     seed: int = 0, confidence: float = 0.95,
                     thresholds: list[float | None] | None = None) -> list[tuple[float, float]]:
    """Each model's own percentile interval of `metric` on these rows, from the same resamples.

    `thresholds` gives each prediction's binary decision threshold (label metrics).
    """
    scorer = get_metric(metric, task)
    strata = None if task == "regression" else [np.flatnonzero(y == k) for k in np.unique(y)]
    tail = (1 - confidence) / 2 * 100
    cuts = list(thresholds) if thresholds is not None else [None] * len(predictions)
    out = []
    for prediction, cut in zip(predictions, cuts, strict=True):
        cut = _thresholds(task, scorer.name, (cut, None))[0]
        try:
            function = stat_named(scorer.name, y, prediction, task, cut).function
            with np.errstate(invalid="ignore", divide="ignore"):
                samples = np.concatenate([function(w) for w in resample_weights(len(y), n_boot, seed, strata)])
        except InvalidOptionError:
            samples = _loop_scores(y, prediction, task, scorer.name, n_boot, seed, strata)
        finite = samples[np.isfinite(samples)]
        low, high = np.percentile(finite, [tail, 100 - tail]) if len(finite) else (math.nan, math.nan)
        out.append((scorer.clip(float(low)), scorer.clip(float(high))))
    return out


def _delong(y: np.ndarray, score_a: np.ndarray, score_b: np.ndarray) -> tuple[float, float, float]:
    """(AUC a, AUC b, variance of AUC b − AUC a) by the fast midrank algorithm of Sun & Xu (2014).

    With m positives and n negatives, the structural components are each positive's share
    of negatives it outranks (V10) and each negative's share of positives that outrank it
    (V01); midranks within positives, within negatives and overall give them without the
    m × n comparison matrix. Var(AUC_b − AUC_a) = c'(S10/m + S01/n)c, c = (−1, 1).
    """
    labels = np.asarray(y).astype(bool)
    scores = np.vstack([np.asarray(score_a, dtype="float64"), np.asarray(score_b, dtype="float64")])
    positives, negatives = scores[:, labels], scores[:, ~labels]
    m, n = positives.shape[1], negatives.shape[1]
    if m < 2 or n < 2:
        raise InvalidDataError(f"DeLong's test needs at least 2 positive and 2 negative rows; got {m} and {n}.")
    ranks_pos = stats.rankdata(positives, axis=1)  # midranks: ties count one half
    ranks_neg = stats.rankdata(negatives, axis=1)
    ranks_all = stats.rankdata(np.hstack([positives, negatives]), axis=1)
    aucs = (ranks_all[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n)
    v10 = (ranks_all[:, :m] - ranks_pos) / n  # per positive: share of negatives below it
    v01 = 1.0 - (ranks_all[:, m:] - ranks_neg) / m  # per negative: share of positives above it
    covariance = np.cov(v10) / m + np.cov(v01) / n
    contrast = np.array([-1.0, 1.0])
    return float(aucs[0]), float(aucs[1]), float(contrast @ covariance @ contrast)


def _delong_difference(y: np.ndarray, score_a: np.ndarray, score_b: np.ndarray) -> tuple[float, float]:
    auc_a, auc_b, variance = _delong(y, score_a, score_b)
    return auc_b - auc_a, math.sqrt(max(variance, 0.0))


def _normal_interval(difference: float, se: float, confidence: float) -> tuple[float, float]:
    half = float(stats.norm.ppf(0.5 + confidence / 2)) * se
    return max(difference - half, -1.0), min(difference + half, 1.0)


def _delong_gate(y: np.ndarray, champion: np.ndarray, challenger: np.ndarray, line: float,
                 alpha: float) -> tuple[float, float, float, float]:
    """DeLong's difference, its (1 − 2·alpha) interval, and the one-sided p of 'improvement ≤ line'.

    The interval's lower end is the one-sided (1 − alpha) bound: above `line` iff p < alpha.
    """
    difference, se = _delong_difference(y, champion, challenger)
    low, high = _normal_interval(difference, se, 1 - 2 * alpha)
    if se == 0.0:  # the same ranking of every pair: nothing left uncertain
        return difference, low, high, 0.0 if difference > line else 1.0
    return difference, low, high, float(stats.norm.sf((difference - line) / se))


def _bootstrap_summary(samples: np.ndarray, line: float, alpha: float) -> tuple[float, float, float]:
    """(1 − 2·alpha) percentile interval and one-sided p: the share of resamples at or below `line` (+1 smoothing).

    The interval's lower end is the alpha-quantile, the one-sided (1 − alpha) bound.
    """
    finite = samples[np.isfinite(samples)]
    if len(finite) < max(10, 0.5 * len(samples)):
        return math.nan, math.nan, math.nan
    low, high = np.percentile(finite, [alpha * 100, (1 - alpha) * 100])
    p_value = (1 + int(np.sum(finite <= line))) / (1 + len(finite))
    return float(low), float(high), float(p_value)


def _loop_scores(y: np.ndarray, prediction: np.ndarray, task: Task, metric: str, n_boot: int, seed: int,
                 strata: list[np.ndarray] | None) -> np.ndarray:
    """The metric on each resample, one at a time (metrics with no weighted form in scores.py).

    The same seed draws the same resamples, so two calls pair up row for row.
    """
    scorer = get_metric(metric, task)
    rng = np.random.default_rng(seed)
    groups = strata or [np.arange(len(y))]
    out = np.empty(n_boot)
    for b in range(n_boot):
        rows = np.concatenate([g[rng.integers(0, len(g), len(g))] for g in groups])
        try:
            out[b] = scorer.score(y[rows], prediction[rows], task)
        except ValueError:  # undefined on this resample
            out[b] = math.nan
    return out


def _thresholds(task: Task, metric: str,
                thresholds: tuple[float | None, float | None]) -> tuple[float | None, float | None]:
    """The thresholds that apply: binary label metrics only; each checked to be a probability."""
    if task != "binary" or metric not in LABEL_METRICS:
        return None, None
    for cut in thresholds:
        if cut is not None and not (math.isfinite(cut) and 0.0 <= cut <= 1.0):
            raise InvalidOptionError(f"A decision threshold must be a probability between 0 and 1; got {cut}.")
    return (None if thresholds[0] is None else float(thresholds[0]),
            None if thresholds[1] is None else float(thresholds[1]))


def _check(y: np.ndarray, a: np.ndarray, b: np.ndarray, task: Task) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(y).astype("float64" if task == "regression" else "int64")
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    if task == "regression":
        a, b = a.reshape(-1), b.reshape(-1)
    if not len(y) == len(a) == len(b):
        raise InvalidOptionError(f"y has {len(y)} rows, the predictions {len(a)} and {len(b)}; they must be the "
                                 "same rows.")
    if task != "regression" and (a.ndim != 2 or a.shape != b.shape):
        raise InvalidOptionError(f"Classification predictions must be probability matrices of one shape; "
                                 f"got {a.shape} and {b.shape}.")
    if task != "regression" and len(np.unique(y)) < 2:
        raise InvalidDataError(f"The gate rows hold a single class ({int(y[0])}); comparing classifiers needs "
                               "both classes among them. Give more recent labelled rows.")
    return y, a, b


def _reason(d: GateDecision, alpha: float, rule_reason: str | None) -> str:
    """One plain sentence: the verdict, the rule (and why), the numbers."""
    test = "DeLong" if d.test == "delong" else "paired bootstrap"
    level = f"{100 * (1 - alpha):g}%"
    at = ""
    if d.thresholds != (None, None):
        shown = ["0.5" if t is None else f"{t:.3g}" for t in d.thresholds]
        at = f" at each model's threshold ({shown[1]} vs {shown[0]})"
    numbers = (f"{d.metric}{at} {d.challenger:.4f} vs {d.champion:.4f} on {d.n_rows:,} recent rows, improvement "
               f"{d.difference:+.4f} (one-sided {level} lower bound {d.ci_low:+.4f}, {test} one-sided "
               f"{format_p(d.p_value) if math.isfinite(d.p_value) else 'p undefined'} against α = {alpha:g})")
    why = f" because {rule_reason}" if rule_reason else ""
    if not math.isfinite(d.p_value):
        return f"Challenger not promoted: the {d.rule} gate cannot be decided, {numbers}."
    if d.rule == "superiority":
        if d.promote:
            return f"Challenger is significantly better (superiority rule{why}): {numbers}."
        return (f"Challenger is not significantly better (superiority rule{why}; p must be below α = {alpha:g}): "
                f"{numbers}.")
    if d.promote:
        return (f"Challenger is not worse than the champion by more than the margin {d.margin:g} (non-inferiority "
                f"rule{why}): {numbers}.")
    return (f"Challenger may be worse than the champion by more than the margin {d.margin:g} (non-inferiority "
            f"rule{why}; p must be below α = {alpha:g}): {numbers}.")
