"""How often kiln's feature-drift rule fires by chance, and how often it catches a real shift.

    python benchmarks/drift_false_alarms.py [--trials 2000] [--no-write]

The rule (src/kiln/monitor/statistics.py) flags a feature only when p < alpha (0.01) *and*
the effect is at least small (KS D >= 0.1, Cramér's V >= 0.1). Same-distribution trials
draw the reference and the current sample from one distribution; a flag there is a false
alarm. The section "drift-tests" of benchmarks/RESULTS.md is written from this run; the
README quotes it. The unit tests (tests/unit/monitor/test_statistics.py) check the same
rates on 300 trials with a looser ceiling, so the suite stays fast.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import beta

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sections import write_section

from kiln.monitor.statistics import DEFAULT_THRESHOLDS, categorical_drift, numeric_drift

LEVELS = np.array(["a", "b", "c"])


def upper_95(hits: int, trials: int) -> float:
    """One-sided 95% Clopper-Pearson upper bound of a rate seen as hits / trials."""
    return 1.0 if hits == trials else float(beta.ppf(0.95, hits + 1, trials - hits))


def rates(results: list) -> tuple[int, int]:
    """(features flagged, p-values below alpha): the second shows the test itself is alive."""
    return (sum(r.drifted for r in results), sum(r.p_value < DEFAULT_THRESHOLDS.alpha for r in results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=2000, help="same-distribution trials per case")
    parser.add_argument("--power-trials", type=int, default=1000, help="trials per real shift")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print the section; leave RESULTS.md alone")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    n_trials, n_power = args.trials, args.power_trials

    null_cases = {
        "numeric, normal, n = 2,000 each": lambda: numeric_drift(
            "x", rng.normal(size=2000), rng.normal(size=2000)),
        "numeric, normal, n = 5,000 reference / 200 current": lambda: numeric_drift(
            "x", rng.normal(size=5000), rng.normal(size=200)),
        "categorical, shares 0.6 / 0.3 / 0.1, n = 2,000 each": lambda: categorical_drift(
            "c", rng.choice(LEVELS, p=[0.6, 0.3, 0.1], size=2000), rng.choice(LEVELS, p=[0.6, 0.3, 0.1], size=2000)),
    }
    null_rows = []
    for name, draw in null_cases.items():
        flagged, significant = rates([draw() for _ in range(n_trials)])
        null_rows.append(f"| {name} | {n_trials:,} | {flagged} ({flagged / n_trials:.2%}) | "
                         f"{upper_95(flagged, n_trials):.2%} | {significant / n_trials:.2%} |")

    power_cases = {
        "numeric, mean +0.5 sd, n = 1,000 each": lambda: numeric_drift(
            "x", rng.normal(size=1000), rng.normal(0.5, 1, size=1000)),
        "numeric, mean +0.2 sd, n = 1,000 each": lambda: numeric_drift(
            "x", rng.normal(size=1000), rng.normal(0.2, 1, size=1000)),
        "categorical, shares 0.6 / 0.3 / 0.1 → 0.5 / 0.3 / 0.2, n = 1,000 each": lambda: categorical_drift(
            "c", rng.choice(LEVELS, p=[0.6, 0.3, 0.1], size=1000), rng.choice(LEVELS, p=[0.5, 0.3, 0.2], size=1000)),
    }
    power_rows = []
    for name, draw in power_cases.items():
        flagged, _ = rates([draw() for _ in range(n_power)])
        power_rows.append(f"| {name} | {n_power:,} | {flagged} ({flagged / n_power:.1%}) |")

    tiny = numeric_drift("x", rng.normal(size=200_000), rng.normal(0.02, 1, size=200_000))
    seconds = time.perf_counter() - started
    alpha = DEFAULT_THRESHOLDS.alpha
    body = "\n".join([
        "## Drift tests: false alarms and power",
        "",
        f"`python benchmarks/drift_false_alarms.py` (seed {args.seed}, {seconds:.0f} s). The rule flags a feature when "
        f"p < {alpha:g} and KS D ≥ {DEFAULT_THRESHOLDS.ks_d:g} (numbers) or Cramér's V ≥ "
        f"{DEFAULT_THRESHOLDS.cramers_v:g} (categories).",
        "",
        "### Same distribution (every flag is a false alarm)",
        "",
        "| case | trials | flagged | 95% upper bound of the rate | p < α (test alone) |",
        "|---|---:|---:|---:|---:|",
        *null_rows,
        "",
        f"*p < α* is how often the test alone fires (about α = {alpha:g} when its p-values are uniform, as "
        "they should be on same-distribution samples); the effect-size floor is what removes those.",
        "",
        "### A real shift (every flag is a catch)",
        "",
        "| case | trials | flagged |",
        "|---|---:|---:|",
        *power_rows,
        "",
        f"A 0.02-standard-deviation shift at 200,000 rows each: p = {tiny.p_value:.1e}, KS D = {tiny.effect:.4f}, "
        f"flagged: {'yes' if tiny.drifted else 'no'} (significant, but too small to matter to a model).",
    ])
    if args.no_write:
        print(body)
    else:
        write_section("drift-tests", body)
        print(body)


if __name__ == "__main__":
    main()
