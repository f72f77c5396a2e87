"""How often does the retrain gate promote? Its error rates, measured on predictions from a known model.

The gate (`paired.paired_gate`) is a statistical test, so its promises are rates: a challenger
no better than the champion must be promoted in at most α of trials (type-I error), and one
really better by a stated amount should be promoted often (power). Both are measured here by
drawing gate rows from a model whose population metric is known exactly, so "the same quality"
and "better by Δ" are facts, not estimates:

- **binary**: y ~ Bernoulli(prevalence); each model sees x_k = μ_k·y + ε_k, the ε's standard
  normal with correlation `correlation` (two models of one signal err together), and outputs
  the calibrated probability P(y = 1 | x_k). Its AUC is Φ(μ_k/√2). For label metrics (F1,
  accuracy) each model serves its own population-optimal threshold, the one training would
  store; the F1 there is the ratio of expected counts.
- **regression**: ŷ_k = y + e_k, the e's normal with standard deviations σ_k and correlation
  `correlation`; RMSE is σ_k.

`improvement` is the challenger's population advantage in the metric's units (0: the same
quality; −margin: worse by exactly the margin, the boundary of non-inferiority).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from kiln.errors import InvalidOptionError
from kiln.evaluation.paired import Rule, paired_gate
from kiln.types import Task

SUPPORTED = {("binary", "roc_auc"), ("binary", "f1"), ("binary", "accuracy"), ("regression", "rmse")}


@dataclass(frozen=True)
class GateScenario:
    """One known world: the task and metric, the champion's quality, and the challenger's edge."""

    task: Task
    metric: str
    improvement: float  # challenger − champion in the metric's units (better: > 0, whatever the direction)
    rule: Rule = "superiority"
    margin: float | None = None
    alpha: float = 0.05
    n_rows: int = 400
    prevalence: float = 0.3  # binary
    champion_separation: float = 1.5  # binary: μ of the champion (AUC Φ(1.5/√2) ≈ 0.856)
    champion_sd: float = 1.0  # regression: the champion's RMSE
    correlation: float = 0.5


@dataclass(frozen=True)
class GateSimulation:
    """How many of `trials` gates promoted, with a 95% Clopper–Pearson interval of the rate."""

    scenario: GateScenario
    trials: int
    promoted: int
    decisions_match_p: bool  # every promotion was exactly p < alpha
    champion_value: float
    challenger_value: float

    @property
    def rate(self) -> float:
        return self.promoted / self.trials

    def interval(self) -> tuple[float, float]:
        result = stats.binomtest(self.promoted, self.trials).proportion_ci(confidence_level=0.95, method="exact")
        return float(result.low), float(result.high)


def simulate_gate(scenario: GateScenario, *, trials: int = 200, seed: int = 0) -> GateSimulation:
    """Run the gate `trials` times on fresh rows from `scenario`'s known model."""
    if (scenario.task, scenario.metric) not in SUPPORTED:
        raise InvalidOptionError(f"No known model for {scenario.task} / {scenario.metric}; use one of "
                                 f"{sorted(SUPPORTED)}.")
    rng = np.random.default_rng(seed)
    world = _World(scenario)
    promoted, matches = 0, True
    for trial in range(trials):
        y, champion, challenger = world.draw(rng)
        decision = paired_gate(y, champion, challenger, task=scenario.task, metric=scenario.metric,
                               rule=scenario.rule, margin=scenario.margin, alpha=scenario.alpha, seed=trial,
                               thresholds=world.thresholds)
        promoted += decision.promote
        matches &= decision.promote == bool(decision.p_value < scenario.alpha)
    return GateSimulation(scenario, trials, promoted, matches, world.values[0], world.values[1])


class _World:
    """The known model of a scenario: its parameters, population values and thresholds."""

    def __init__(self, s: GateScenario) -> None:
        self.s = s
        self.thresholds: tuple[float | None, float | None] = (None, None)
        if s.task == "regression":
            sd_b = s.champion_sd - s.improvement
            if not sd_b > 0:
                raise InvalidOptionError(f"An improvement of {s.improvement} leaves the challenger no error at all.")
            self.sd = (s.champion_sd, sd_b)
            self.values = self.sd
            return
        mu_a = s.champion_separation
        value_a = _binary_value(mu_a, s.prevalence, s.metric)
        target = value_a + s.improvement
        mu_b = optimize.brentq(lambda mu: _binary_value(mu, s.prevalence, s.metric) - target, 1e-3, 8.0)
        self.mu = (mu_a, float(mu_b))
        self.values = (value_a, target)
        if s.metric != "roc_auc":
            self.thresholds = tuple(_probability(_best_cut(mu, s.prevalence, s.metric), mu, s.prevalence)
                                    for mu in self.mu)  # type: ignore[assignment]

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s, n = self.s, self.s.n_rows
        first, second = rng.standard_normal(n), rng.standard_normal(n)
        noise = np.column_stack([first, s.correlation * first + math.sqrt(1 - s.correlation**2) * second])
        if s.task == "regression":
            y = rng.normal(0.0, 3.0, n)
            return y, y + self.sd[0] * noise[:, 0], y + self.sd[1] * noise[:, 1]
        y = (rng.random(n) < s.prevalence).astype("int64")
        outputs = []
        for k, mu in enumerate(self.mu):
            p = _probability(mu * y + noise[:, k], mu, s.prevalence)
            outputs.append(np.column_stack([1 - p, p]))
        return y, outputs[0], outputs[1]


def _probability(x: np.ndarray | float, mu: float, prevalence: float) -> np.ndarray:
    """P(y = 1 | x) when x ~ N(μ·y, 1): the calibrated output of the known model."""
    logit = math.log(prevalence / (1 - prevalence)) + mu * np.asarray(x, dtype="float64") - mu * mu / 2
    return 1.0 / (1.0 + np.exp(-logit))


def _binary_value(mu: float, prevalence: float, metric: str) -> float:
    """The population metric of separation μ: AUC, or F1 / accuracy at the best threshold."""
    if metric == "roc_auc":
        return float(stats.norm.cdf(mu / math.sqrt(2)))
    return _at_cut(_best_cut(mu, prevalence, metric), mu, prevalence, metric)


def _at_cut(cut: float, mu: float, prevalence: float, metric: str) -> float:
    recall = stats.norm.sf(cut - mu)
    false_alarm = stats.norm.sf(cut)
    tp, fp, fn = prevalence * recall, (1 - prevalence) * false_alarm, prevalence * (1 - recall)
    if metric == "accuracy":
        return float(tp + (1 - prevalence) * (1 - false_alarm))
    return float(2 * tp / (2 * tp + fp + fn))


def _best_cut(mu: float, prevalence: float, metric: str) -> float:
    """The cut on x that maximises the population metric: the threshold training would store."""
    result = optimize.minimize_scalar(lambda c: -_at_cut(c, mu, prevalence, metric), bounds=(-4.0, mu + 4.0),
                                      method="bounded", options={"xatol": 1e-9})
    return float(result.x)
