"""The retrain gate's type-I error and power, by simulation on gate rows from a known model.

Each case draws fresh gate rows from the known model of `kiln.evaluation.gate_simulation`
(binary: calibrated outputs of two correlated Gaussian scorers, AUC Φ(μ/√2); regression:
correlated normal errors, RMSE σ) and runs `paired_gate` exactly as `kiln retrain` does,
one-sided at α = 0.05. Under the null (the same quality; or, for non-inferiority, worse by
exactly the margin) the promoted share is the type-I error, which should be at most α; with
a real edge it is the power.

    python benchmarks/gate_error_rates.py            # 2,000 null / 500 power trials per case, writes RESULTS.md
    python benchmarks/gate_error_rates.py --trials 200 --power-trials 100 --no-write
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sections import write_section

from kiln.evaluation.gate_simulation import GateScenario, simulate_gate

NULL = [
    ("binary, ROC AUC 0.856 both (DeLong), superiority", GateScenario("binary", "roc_auc", 0.0)),
    ("binary, F1 0.674 both at each one's threshold (bootstrap), superiority", GateScenario("binary", "f1", 0.0)),
    ("regression, RMSE 1.0 both (bootstrap), superiority", GateScenario("regression", "rmse", 0.0)),
    ("binary, ROC AUC worse by exactly the margin 0.02 (DeLong), non-inferiority",
     GateScenario("binary", "roc_auc", -0.02, rule="non-inferiority", margin=0.02)),
]
POWER = [
    ("binary, ROC AUC +0.02 (0.856 → 0.876), superiority", GateScenario("binary", "roc_auc", 0.02)),
    ("binary, ROC AUC +0.05 (0.856 → 0.906), superiority", GateScenario("binary", "roc_auc", 0.05)),
    ("binary, ROC AUC +0.02, 1,600 gate rows, superiority", GateScenario("binary", "roc_auc", 0.02, n_rows=1600)),
    ("binary, F1 +0.05 (0.674 → 0.724) at each one's threshold, superiority", GateScenario("binary", "f1", 0.05)),
    ("regression, RMSE 1.0 → 0.9, superiority", GateScenario("regression", "rmse", 0.1)),
    ("binary, ROC AUC the same, non-inferiority with margin 0.02",
     GateScenario("binary", "roc_auc", 0.0, rule="non-inferiority", margin=0.02)),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000, help="trials per null case")
    parser.add_argument("--power-trials", type=int, default=500, help="trials per power case")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    started = time.perf_counter()
    null_rows, power_rows = [], []
    all_exact = True
    for label, scenario in NULL:
        result = simulate_gate(scenario, trials=args.trials, seed=args.seed)
        all_exact &= result.decisions_match_p
        low, high = result.interval()
        null_rows.append(f"| {label} | {scenario.n_rows:,} | {result.trials:,} | {result.promoted} "
                         f"({100 * result.rate:.1f}%) | {100 * low:.1f}% – {100 * high:.1f}% |")
        print(null_rows[-1], flush=True)
    for label, scenario in POWER:
        result = simulate_gate(scenario, trials=args.power_trials, seed=args.seed + 1)
        all_exact &= result.decisions_match_p
        low, high = result.interval()
        power_rows.append(f"| {label} | {scenario.n_rows:,} | {result.trials:,} | {result.promoted} "
                          f"({100 * result.rate:.1f}%) | {100 * low:.1f}% – {100 * high:.1f}% |")
        print(power_rows[-1], flush=True)
    seconds = time.perf_counter() - started
    header = "| case | gate rows | trials | promoted | 95% interval of the rate |\n|---|---:|---:|---:|---:|"
    body = f"""## Retrain gate: type-I error and power

`python benchmarks/gate_error_rates.py --trials {args.trials} --power-trials {args.power_trials} --seed {args.seed}`
({seconds:.0f} s). Gate rows are drawn from a known model (`kiln.evaluation.gate_simulation`), so "the same quality"
and "better by Δ" are population facts; each trial runs `paired_gate` as `kiln retrain` does, one-sided at
α = 0.05, promoting iff p < α. Binary: prevalence 0.3, the two models' errors correlated 0.5; label metrics at
each model's population-optimal threshold. Intervals are Clopper–Pearson.
{"Every verdict was exactly p < α." if all_exact else "Some verdict differed from p < α: a bug."}

### The same quality (every promotion is a type-I error; should be at most α = 5%)

{header}
{chr(10).join(null_rows)}

### Really better (every promotion is a catch: the power)

{header}
{chr(10).join(power_rows)}
"""
    print(body)
    if not args.no_write:
        write_section("retrain-gate", body)


if __name__ == "__main__":
    main()
