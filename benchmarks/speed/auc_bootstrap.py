"""Why the bootstrap keeps its own vectorised ROC AUC: scikit-learn's, called once per resample, against
evaluation/scores.py's weighted AUC over blocks of resamples (same numbers, asserted here).

    python benchmarks/speed/auc_bootstrap.py [--rows 1000 10000] [--resamples 1000] [--no-write]

The full-sample AUC every report shows is scikit-learn's `roc_auc_score` (evaluation/metrics.py);
only the 1,000 bootstrap resamples of its interval use the vectorised form. CPU seconds are
measured (process time), which other load on the machine barely moves.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sections import write_section


def measure(rows: int, resamples: int) -> tuple[float, float, float]:
    """(vectorised CPU s, scikit-learn CPU s, largest difference) for `resamples` AUCs on `rows` rows."""
    from sklearn.metrics import roc_auc_score

    from kiln.evaluation.scores import _ranking_stats, resample_weights

    rng = np.random.default_rng(0)
    y = rng.random(rows) < 0.3
    score = np.round(rng.random(rows) + 0.3 * y, 3)  # ties, as real probabilities have
    strata = [np.flatnonzero(~y), np.flatnonzero(y)]
    blocks = list(resample_weights(rows, resamples, 0, strata))
    started = time.process_time()
    roc_auc, _ = _ranking_stats(score, y)
    fast = np.concatenate([roc_auc(w) for w in blocks])
    vectorised = time.process_time() - started
    started = time.process_time()
    slow = np.array([roc_auc_score(y, score, sample_weight=row) for w in blocks for row in w])
    library = time.process_time() - started
    return vectorised, library, float(np.max(np.abs(fast - slow)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--resamples", type=int, default=1_000)
    parser.add_argument("--no-write", action="store_true", help="print the section; leave RESULTS.md alone")
    args = parser.parse_args()
    lines = ["## Bootstrap ROC AUC: vectorised vs scikit-learn per resample", "",
             f"{args.resamples:,} stratified bootstrap resamples of a binary score with ties; CPU seconds.", "",
             "| rows | vectorised (scores.py) | roc_auc_score per resample | speed-up | largest difference |",
             "|---:|---:|---:|---:|---:|"]
    for rows in args.rows:
        fast, slow, diff = measure(rows, args.resamples)
        assert diff < 1e-9, f"the two AUCs differ by {diff}"
        lines.append(f"| {rows:,} | {fast:.2f} | {slow:.2f} | {slow / fast:.0f}× | {diff:.1e} |")
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("auc-bootstrap", body)


if __name__ == "__main__":
    main()
