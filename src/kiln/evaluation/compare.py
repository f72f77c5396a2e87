"""Are the top candidates really different? Paired tests on the same cross-validation folds.

Every candidate is scored on the same k folds, so the per-fold differences pair up.
Folds share most of their training rows, which makes those differences correlated and
the plain paired t-test far too eager to call a winner; the corrected resampled t-test
of Nadeau & Bengio (2003) inflates the variance by (1/k + n_test/n_train) to account for
it. With fewer than five folds a Wilcoxon signed-rank test cannot reach p < 0.05 at all
(its smallest two-sided p with four pairs is 0.125), so the corrected t-test is used
there too and its `test` says that few folds give it little power.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from kiln.errors import InvalidOptionError

MIN_FOLDS_FOR_POWER = 5
ENSEMBLE_LEARNER = "ensemble"
# The statuses of trials training keeps (kiln.search.trial.KEPT_STATUSES, which this layer may
# not import): a `truncated` trial learned before the deadline stopped a fold, is ranked and may
# be an ensemble member, so it is compared like any other; `unlearned`, `skipped` and `failed`
# trials have no model to compare.
COMPARED_STATUSES = ("ok", "truncated")


@dataclass(frozen=True)
class Comparison:
    """The best candidate against one other, paired over the same folds."""

    model: str
    best: str
    mean_difference: float  # how much better `best` scores on average, in the metric's units (> 0: better)
    p_value: float
    test: str
    verdict: str


def corrected_ttest(a: np.ndarray | list[float], b: np.ndarray | list[float], k: int) -> tuple[float, float]:
    """Two-sided corrected resampled t-test of paired scores `a` and `b` from `k`-fold CV.

    The variance of the differences is multiplied by (1/n + 1/(k-1)), n the number of
    pairs (k for one k-fold run; r·k for r repeats) and 1/(k-1) the test/train size ratio;
    t has n-1 degrees of freedom. Returns (t, p).
    """
    diff = np.asarray(a, dtype="float64") - np.asarray(b, dtype="float64")
    n = len(diff)
    if n < 2 or k < 2:
        return float("nan"), float("nan")
    mean = float(diff.mean())
    variance = float(diff.var(ddof=1)) * (1.0 / n + 1.0 / (k - 1))
    if variance <= 0.0:  # identical differences in every fold
        if mean == 0.0:
            return 0.0, 1.0
        return math.copysign(math.inf, mean), 0.0
    t = mean / math.sqrt(variance)
    return float(t), float(2.0 * stats.t.sf(abs(t), df=n - 1))


def compare_to_best(leaderboard: pd.DataFrame, *, greater_is_better: bool, top: int = 6,
                    alpha: float = 0.05) -> list[Comparison]:
    """The best single candidate against each of the next `top - 1`, best first.

    The ensemble is left out: it is built from the others' out-of-fold predictions, so
    its fold scores are not an independent candidate's.
    """
    candidates = _candidates(leaderboard, greater_is_better)
    if len(candidates) < 2:
        return []
    best = candidates[0]
    others = [c for c in candidates[1:] if len(c.folds) == len(best.folds)][: max(top - 1, 0)]
    families = [c.family for c in [best, *others]]
    comparisons = []
    for other in others:
        k = len(best.folds)
        _, p = corrected_ttest(best.folds, other.folds, k)
        test = f"corrected resampled t-test (Nadeau & Bengio), {k} folds"
        if k < MIN_FOLDS_FOR_POWER:
            test += ": few folds give this test little power"
        difference = float(np.mean(best.folds) - np.mean(other.folds))
        if not greater_is_better:
            difference = -difference  # report how much better the best is, as a positive number
        comparisons.append(Comparison(other.model, best.model, difference, p, test,
                                      _verdict(best, other, p, alpha, families)))
    return comparisons


def why_not_compared(leaderboard: pd.DataFrame | None) -> str:
    """Why `compare_to_best` found nothing to compare, in counts a reader can check on the leaderboard."""
    if leaderboard is None or leaderboard.empty or "fold_scores" not in leaderboard.columns:
        return "the leaderboard keeps no per-fold scores (a bundle from before they were kept)"
    rows = [r for r in leaderboard.to_dict("records") if r.get("learner") != ENSEMBLE_LEARNER]
    kept = [r for r in rows if r.get("status", "ok") in COMPARED_STATUSES]
    scored = [r for r in kept if len(_fold_scores(r.get("fold_scores"))) >= 2]
    if len(scored) >= 2:
        folds = sorted({len(_fold_scores(r.get("fold_scores"))) for r in scored})
        return f"the candidates were scored on different numbers of folds ({', '.join(map(str, folds))})"
    dropped = len(rows) - len(kept)
    left = f"; {dropped} other trial(s) were unlearned, skipped or failed, so have no model to compare" \
        if dropped else ""
    if len(kept) > len(scored):
        return f"{len(scored)} candidate has fold scores and {len(kept) - len(scored)} other(s) too few{left}"
    return f"only {len(scored)} candidate learned{left}"


@dataclass(frozen=True)
class _Candidate:
    model: str
    learner: str
    family: str
    score: float
    folds: list[float]


def _candidates(leaderboard: pd.DataFrame, greater_is_better: bool) -> list[_Candidate]:
    rows = []
    for row in leaderboard.to_dict("records"):
        if row.get("learner") == ENSEMBLE_LEARNER or row.get("status", "ok") not in COMPARED_STATUSES:
            continue
        folds = _fold_scores(row.get("fold_scores"))
        score = row.get("score")
        if len(folds) < 2 or score is None or not math.isfinite(float(score)):
            continue
        rows.append(_Candidate(str(row["model"]), str(row["learner"]), _family(str(row["learner"])),
                               float(score), folds))
    return sorted(rows, key=lambda c: -c.score if greater_is_better else c.score)


def _fold_scores(value: object) -> list[float]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return []
    if not isinstance(value, list | tuple | np.ndarray):
        return []
    scores = [float(v) for v in value if v is not None]
    return scores if all(math.isfinite(s) for s in scores) else []


def _family(learner: str) -> str:
    from kiln.learners.registry import get

    try:
        return get(learner).tags.family
    except InvalidOptionError:
        return learner


def _verdict(best: _Candidate, other: _Candidate, p: float, alpha: float, families: list[str]) -> str:
    def name(candidate: _Candidate) -> str:
        # "LightGBM and CatBoost ..." reads best; the trial name is added when the family
        # alone would not say which candidate is meant.
        if families.count(candidate.family) == 1:
            return candidate.family
        return f"{candidate.family} ({candidate.model})"

    if math.isnan(p):
        return f"{name(best)} and {name(other)} cannot be compared: too few fold scores."
    if p < alpha:
        return f"{name(best)} is better than {name(other)} ({format_p(p)})."
    return f"{name(best)} and {name(other)} are not distinguishable on this data ({format_p(p)})."


def format_p(p: float) -> str:
    """p as a reader expects it: 'p = 0.41', 'p = 0.003', 'p < 0.001'."""
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"
