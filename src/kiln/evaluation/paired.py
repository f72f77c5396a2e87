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
RMSE. The rules, with the two-sided (1 − alpha) interval of that improvement:

- **superiority**: promote iff the one-sided p < alpha and the interval's lower end > 0;
- **non-inferiority** (the data shifted, so the champion's old edge no longer counts):
  promote iff the one-sided p < alpha and the lower end > −margin.

Requiring the lower end of the two-sided 95% interval is the one-sided 2.5% test that
non-inferiority trials use; the one-sided p is reported beside it.
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


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict, its numbers and the sentence that explains it.

    `champion` and `challenger` are the metric on the gate rows with its true sign;
    `difference`, `ci_low` and `ci_high` are the challenger's improvement (> 0: better).
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

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the audit table and JSON output."""
        return asdict(self)


def paired_gate(y: np.ndarray, champion_pred: np.ndarray, challenger_pred: np.ndarray, *, task: Task, metric: str,
                rule: Rule, margin: float | None, alpha: float = 0.05, seed: int = 0,
                rule_reason: str | None = None) -> GateDecision:
    """Decide whether the challenger may replace the champion, from predictions on the same rows.

    Parameters
    ----------
    y : integer class codes (classification) or values (regression).
    champion_pred, challenger_pred : probability matrices (n × classes) or predicted values.
    rule : "superiority" (the challenger must be better) or "non-inferiority" (not worse by
        more than `margin`, in the metric's units).
    rule_reason : why this rule applies, told in the decision's sentence.
    """
    if rule not in ("superiority", "non-inferiority"):
        raise InvalidOptionError(f"Gate rule '{rule}' is unknown; use superiority or non-inferiority.")
    if rule == "non-inferiority" and (margin is None or not margin >= 0):
        raise InvalidOptionError(f"--margin must be a number ≥ 0 for a non-inferiority gate, got {margin}.")
    if not 0 < alpha < 0.5:
        raise InvalidOptionError(f"alpha must lie between 0 and 0.5, got {alpha}.")
    scorer = get_metric(metric, task)
    y, champion_pred, challenger_pred = _check(y, champion_pred, challenger_pred, task)
    line = 0.0 if rule == "superiority" else -float(margin or 0.0)
    champion = scorer.score(y, champion_pred, task)
    challenger = scorer.score(y, challenger_pred, task)
    if task == "binary" and scorer.name == "roc_auc":
        test: Test = "delong"
        difference, ci_low, ci_high, p_value = _delong_gate(y, champion_pred[:, 1], challenger_pred[:, 1], line,
                                                            alpha)
    else:
        test = "bootstrap"
        samples = paired_bootstrap(y, champion_pred, challenger_pred, task=task, metric=scorer.name, seed=seed)
        difference = challenger - champion if scorer.greater_is_better else champion - challenger
        ci_low, ci_high, p_value = _bootstrap_summary(samples, line, alpha)
    passed = bool(p_value < alpha and ci_low > line)  # a NaN bound never passes
    decision = GateDecision(promote=passed, reason="", metric=scorer.name, champion=champion, challenger=challenger,
                            difference=difference, ci_low=ci_low, ci_high=ci_high, p_value=p_value, test=test,
                            rule=rule, margin=None if rule == "superiority" else float(margin or 0.0),
                            n_rows=len(y))
    return replace(decision, reason=_reason(decision, alpha, rule_reason))


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
                     metric: str, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """The challenger's improvement on each of `n_boot` row resamples shared by both models.

    Resamples are drawn within each class for classification (every resample keeps both
    classes, so AUC stays defined). Resamples where the metric is undefined give NaN.
    """
    scorer = get_metric(metric, task)
    sign = 1.0 if scorer.greater_is_better else -1.0
    strata = None if task == "regression" else [np.flatnonzero(y == k) for k in np.unique(y)]
    try:  # the vectorised weighted form of the metric, when evaluate/scores.py has one
        stat_a = stat_named(scorer.name, y, champion_pred, task, None).function
        stat_b = stat_named(scorer.name, y, challenger_pred, task, None).function
    except InvalidOptionError:
        args = (task, scorer.name, n_boot, seed, strata)
        return sign * (_loop_scores(y, challenger_pred, *args) - _loop_scores(y, champion_pred, *args))
    parts = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for weights in resample_weights(len(y), n_boot, seed, strata):
            parts.append(stat_b(weights) - stat_a(weights))
    return sign * np.concatenate(parts)


def metric_intervals(y: np.ndarray, predictions: list[np.ndarray], *, task: Task, metric: str, n_boot: int = N_BOOT,
                     seed: int = 0, confidence: float = 0.95) -> list[tuple[float, float]]:
    """Each model's own percentile interval of `metric` on these rows, from the same resamples."""
    scorer = get_metric(metric, task)
    strata = None if task == "regression" else [np.flatnonzero(y == k) for k in np.unique(y)]
    tail = (1 - confidence) / 2 * 100
    out = []
    for prediction in predictions:
        try:
            function = stat_named(scorer.name, y, prediction, task, None).function
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
    """DeLong's difference, its (1 − alpha) interval, and the one-sided p of 'improvement ≤ line'."""
    difference, se = _delong_difference(y, champion, challenger)
    low, high = _normal_interval(difference, se, 1 - alpha)
    if se == 0.0:  # the same ranking of every pair: nothing left uncertain
        return difference, low, high, 0.0 if difference > line else 1.0
    return difference, low, high, float(stats.norm.sf((difference - line) / se))


def _bootstrap_summary(samples: np.ndarray, line: float, alpha: float) -> tuple[float, float, float]:
    """Percentile interval and one-sided p: the share of resamples at or below `line` (+1 smoothing)."""
    finite = samples[np.isfinite(samples)]
    if len(finite) < max(10, 0.5 * len(samples)):
        return math.nan, math.nan, math.nan
    low, high = np.percentile(finite, [alpha / 2 * 100, (1 - alpha / 2) * 100])
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
    numbers = (f"{d.metric} {d.challenger:.4f} vs {d.champion:.4f} on {d.n_rows:,} recent rows, improvement "
               f"{d.difference:+.4f} ({level} CI {d.ci_low:+.4f} to {d.ci_high:+.4f}, {test} one-sided "
               f"{format_p(d.p_value) if math.isfinite(d.p_value) else 'p undefined'})")
    why = f" because {rule_reason}" if rule_reason else ""
    if math.isnan(d.ci_low):
        return f"Challenger not promoted: the {d.rule} gate cannot be decided, {numbers}."
    if d.rule == "superiority":
        if d.promote:
            return f"Challenger is significantly better (superiority rule{why}): {numbers}."
        return (f"Challenger is not significantly better (superiority rule{why}; the interval's lower end must "
                f"exceed 0): {numbers}.")
    if d.promote:
        return (f"Challenger is not worse than the champion by more than the margin {d.margin:g} (non-inferiority "
                f"rule{why}): {numbers}.")
    return (f"Challenger may be worse than the champion by more than the margin {d.margin:g} (non-inferiority "
            f"rule{why}; the interval's lower end must exceed {-(d.margin or 0.0):g}): {numbers}.")
