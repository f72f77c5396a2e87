"""Confidence intervals across cross-validation folds."""

from __future__ import annotations

import numpy as np
from scipy import stats


def fold_interval(scores: list[float] | np.ndarray, confidence: float = 0.95,
                  bounds: tuple[float, float] = (-np.inf, np.inf)) -> tuple[float, float, float]:
    """Mean and a confidence interval of per-fold scores.

    Folds share training rows, so the naive t-interval is too narrow; we use the
    Nadeau & Bengio (2003) corrected variance, σ²·(1/k + n_test/n_train), with
    n_test/n_train = 1/(k-1) for k-fold cross-validation. The interval is clipped to
    `bounds`, the values the metric can take.
    """
    values = np.asarray(scores, dtype="float64")
    k = len(values)
    mean = float(values.mean())
    if k < 2:
        return mean, float("nan"), float("nan")
    variance = values.var(ddof=1) * (1.0 / k + 1.0 / (k - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, df=k - 1) * np.sqrt(variance))
    low, high = max(mean - half, bounds[0]), min(mean + half, bounds[1])
    return mean, float(low), float(high)
