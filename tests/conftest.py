"""Shared fixtures: the real reference data in ../shared/data, split as the issue asks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
AI4I = SHARED_DATA / "ai4i2020.csv"
FAILURE_MODES = ["TWF", "HDF", "PWF", "OSF", "RNF"]  # they leak the label


@pytest.fixture(scope="session")
def ai4i() -> pd.DataFrame:
    """The AI4I 2020 table without the five failure-mode columns."""
    if not AI4I.exists():
        pytest.skip(f"reference data not found at {AI4I}")
    return pd.read_csv(AI4I).drop(columns=FAILURE_MODES)


@pytest.fixture(scope="session")
def ai4i_split(ai4i: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame]:
    """A stratified 75/25 split written to CSV files (train, test, test frame)."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(ai4i, test_size=0.25, random_state=0, stratify=ai4i["Machine failure"])
    folder = tmp_path_factory.mktemp("ai4i")
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    return folder / "train.csv", folder / "test.csv", test.reset_index(drop=True)
