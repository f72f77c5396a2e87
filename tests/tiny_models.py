"""Tiny real models for the registry tests: 200 rows of scikit-learn's breast-cancer table, one trial.

Run as a script, it is one of the concurrent trainers of the registry's concurrency test:
    python tiny_models.py SEED BUNDLE_DIR NAME READY_DIR N
trains, saves, waits until N trainers are ready (so they all register at once), registers,
and prints the version it got.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd


def cancer_frame(seed: int = 0, rows: int = 200) -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).frame.sample(rows, random_state=seed).reset_index(drop=True)


def train_tiny(path: Path, seed: int = 0, time_limit: float = 5) -> Path:
    """Train one configuration on `cancer_frame(seed)` (under a second alone) and save it at `path`.

    The search stops after its one trial; `time_limit` is only the ceiling.
    """
    import kiln

    model = kiln.train(cancer_frame(seed), target="target", time_limit=time_limit, max_trials=1, n_jobs=1,
                       seed=seed, quiet=True)
    return kiln.save(model, path)


def _concurrent_trainer(seed: int, bundle: Path, name: str, ready: Path, n: int) -> None:
    from kiln.store.registry import register

    train_tiny(bundle, seed, time_limit=120)  # eight trainers share two cores: a generous ceiling
    (ready / str(seed)).touch()
    deadline = time.monotonic() + 300
    while len(list(ready.iterdir())) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    print(register(bundle, name).version)


if __name__ == "__main__":
    _concurrent_trainer(int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4]), int(sys.argv[5]))
