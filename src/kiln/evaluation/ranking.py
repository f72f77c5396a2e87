"""Full-catalogue ranking metrics per user, their bootstrap intervals over users, and the paired test.

Per user u with relevant set R_u and top-k list L_u (seen items already excluded):
  NDCG@k = Σ_{i ∈ L_u ∩ R_u} 1/log2(rank_i + 1) / Σ_{r=1..min(k,|R_u|)} 1/log2(r + 1)
  Recall@k = |L_u ∩ R_u| / min(k, |R_u|)        (with one relevant item: the hit rate)
  MAP@k = Σ_{i ∈ L_u ∩ R_u} precision@rank_i / min(k, |R_u|)   (one relevant item: 1/rank)
  MRR = 1 / rank of the first relevant item in the list (0 if none in the top k)
A user without recommendations scores 0. Coverage@k: distinct recommended items / catalogue.
Popularity bias: the mean popularity percentile (0 = least, 1 = most popular) of what is recommended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

N_BOOT = 1000


def per_user_metrics(recommended: np.ndarray, relevant: Sequence[np.ndarray], k: int = 10) -> dict[str, np.ndarray]:
    """NDCG@k, Recall@k, MAP@k and MRR per user; `recommended` is users × ≥k item codes (-1: none)."""
    n = len(relevant)
    top = recommended[:n, :k]
    k = top.shape[1] if n else k
    sizes = np.array([len(r) for r in relevant], dtype=np.int64)
    width = max(int(sizes.max()) if n else 1, 1)
    padded = np.full((n, width), -2, dtype=np.int64)  # -2 never matches a code or the -1 padding
    for u, items in enumerate(relevant):
        padded[u, :len(items)] = items
    hits = (top[:, :, None] == padded[:, None, :]).any(axis=2) & (top >= 0)  # users × k
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal_counts = np.minimum(sizes, k)
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])[ideal_counts]
    safe = np.where(ideal_counts > 0, ideal_counts, 1)
    ndcg = np.where(ideal_counts > 0, (hits * discounts).sum(axis=1) / np.where(ideal > 0, ideal, 1.0), 0.0)
    recall = np.where(ideal_counts > 0, hits.sum(axis=1) / safe, 0.0)
    precision_at_hit = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    average_precision = np.where(ideal_counts > 0, (precision_at_hit * hits).sum(axis=1) / safe, 0.0)
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)
    mrr = np.where(first > 0, 1.0 / np.maximum(first, 1), 0.0)
    return {"ndcg": ndcg, "recall": recall, "map": average_precision, "mrr": mrr}


def coverage(recommended: np.ndarray, n_items: int, k: int = 10) -> float:
    top = recommended[:, :k]
    return float(len(np.unique(top[top >= 0]))) / max(n_items, 1)


def popularity_percentiles(popularity: np.ndarray) -> np.ndarray:
    """Each item's popularity percentile in the catalogue (ties share their mean rank)."""
    return (stats.rankdata(popularity) - 1) / max(len(popularity) - 1, 1)


def popularity_bias(recommended: np.ndarray, percentiles: np.ndarray, k: int = 10) -> np.ndarray:
    """Per user, the mean popularity percentile of their top k (nan without recommendations)."""
    top = recommended[:, :k]
    values = np.where(top >= 0, percentiles[np.clip(top, 0, None)], np.nan)
    with np.errstate(invalid="ignore"):
        counts = (top >= 0).sum(axis=1)
        return np.where(counts > 0, np.nansum(values, axis=1) / np.maximum(counts, 1), np.nan)


@dataclass(frozen=True)
class Estimate:
    """A mean over users with its 95% bootstrap interval."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}


def bootstrap_mean(values: np.ndarray, *, seed: int = 0, n_boot: int = N_BOOT, confidence: float = 0.95) -> Estimate:
    """The mean of per-user values and the percentile bootstrap interval over users."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return Estimate(float("nan"), float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(values), size=(n_boot, len(values)))
    means = values[draws].mean(axis=1)
    alpha = (1.0 - confidence) / 2
    return Estimate(float(values.mean()), float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)))


def bootstrap_coverage(recommended: np.ndarray, n_items: int, *, k: int = 10, seed: int = 0,
                       n_boot: int = 200) -> Estimate:
    """Coverage@k with its interval over resampled users."""
    rng = np.random.default_rng(seed)
    n = len(recommended)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"))
    draws = [coverage(recommended[rng.integers(0, n, n)], n_items, k) for _ in range(n_boot)]
    return Estimate(coverage(recommended, n_items, k), float(np.quantile(draws, 0.025)),
                    float(np.quantile(draws, 0.975)))


@dataclass(frozen=True)
class PairedResult:
    """A − B on per-user values: mean difference with its bootstrap interval, Wilcoxon's two-sided p."""

    a: str
    b: str
    difference: float
    low: float
    high: float
    p_value: float
    users: int

    @property
    def verdict(self) -> str:
        if self.p_value < 0.05 and self.low > 0:
            return f"{self.a} is better"
        if self.p_value < 0.05 and self.high < 0:
            return f"{self.b} is better"
        return "no significant difference"

    def to_dict(self) -> dict[str, object]:
        return {"a": self.a, "b": self.b, "difference": self.difference, "low": self.low, "high": self.high,
                "p_value": self.p_value, "users": self.users, "verdict": self.verdict}


def paired_test(a: np.ndarray, b: np.ndarray, *, names: tuple[str, str] = ("a", "b"), seed: int = 0,
                n_boot: int = N_BOOT) -> PairedResult:
    """Compare two recommenders on the same users' values (e.g. NDCG@10): paired bootstrap + Wilcoxon."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError("paired_test needs the same users for both")
    diff = a - b
    estimate = bootstrap_mean(diff, seed=seed, n_boot=n_boot)
    p = 1.0 if not np.any(diff != 0) else float(stats.wilcoxon(a, b, zero_method="wilcox").pvalue)
    return PairedResult(names[0], names[1], estimate.value, estimate.low, estimate.high, p, len(diff))


def one_sided_p(a: np.ndarray, b: np.ndarray) -> float:
    """Wilcoxon's one-sided p that a's per-user values are greater than b's (1.0 when they never differ)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if not np.any(a != b):
        return 1.0
    return float(stats.wilcoxon(a, b, zero_method="wilcox", alternative="greater").pvalue)
