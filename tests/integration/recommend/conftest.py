"""One recommender trained through the CLI on generated interactions, shared by the recommend tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from recommend_data import write


@pytest.fixture(scope="session")
def ratings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("ratings"), n_users=60, n_items=40, seed=0)


@pytest.fixture(scope="session")
def trained(ratings: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(bundle, the training command's output): `kiln train --task recommend` at a 12-second limit."""
    from typer.testing import CliRunner

    from kiln.cli.app import app

    bundle = tmp_path_factory.mktemp("recommend") / "model"
    result = CliRunner().invoke(app, ["train", str(ratings), "--task", "recommend", "--user-column", "user",
                                      "--item-column", "item", "--rating-column", "rating", "--time-column", "ts",
                                      "--time-limit", "12", "--out", str(bundle), "--quiet"])
    assert result.exit_code == 0, result.output
    return bundle, result.output
