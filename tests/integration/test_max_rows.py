"""A table larger than the budget can search: the search runs on a stratified sample, the
chosen models are refit on every row, and the user is told."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kiln
from kiln.demo.generate import FAILURE_MODES, generate
from kiln.errors import InvalidOptionError
from kiln.training.train import MIN_SEARCH_ROWS, default_max_rows

KILN = Path(sys.executable).with_name("kiln")
TARGET = "Machine failure"


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return generate(5_000, seed=3).drop(columns=list(FAILURE_MODES))


def test_cli_searches_500_rows_and_refits_on_all_5000(table: pd.DataFrame, tmp_path: Path) -> None:
    data = tmp_path / "plant.csv"
    table.to_csv(data, index=False)
    bundle = tmp_path / "bundle"
    process = subprocess.run([str(KILN), "train", str(data), "--target", TARGET, "--max-rows", "500",
                              "--time-limit", "30", "--max-trials", "2", "--out", str(bundle)],
                             capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert process.returncode == 0, process.stderr[-2000:]
    told = " ".join(process.stderr.split())  # the progress display wraps long lines
    assert ("Searching on 500 of 5,000 rows (a stratified sample; --max-rows 500); the chosen models are then "
            "refit on all 5,000 rows.") in told
    manifest = json.loads((bundle / "kiln.json").read_text())
    assert manifest["training"]["rows"] == 5_000
    assert manifest["training"]["search_rows"] == 500
    assert manifest["training"]["max_rows"] == 500
    assert set(manifest["final_models"].values()) == {"all_rows"}
    model = kiln.load(bundle)
    assert model.oof is not None and len(model.oof) == 500  # cross-validation saw the sample only
    shares = model.oof["target"].value_counts(normalize=True)
    assert shares["1"] == pytest.approx(table[TARGET].mean(), abs=0.005)  # stratified: the failure rate kept


def test_the_refit_sees_every_row(table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    import kiln.search.refit as refit

    seen: list[int] = []
    original = refit.refit_members

    def spy(members, fit_seconds, features, y, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(len(features))
        assert len(y) == len(features)
        return original(members, fit_seconds, features, y, *args, **kwargs)

    monkeypatch.setattr(refit, "refit_members", spy)
    model = kiln.train(table, target=TARGET, max_rows=500, time_limit=30, max_trials=1, n_jobs=1,
                       learners=["lightgbm"], quiet=True)
    assert seen == [5_000]
    assert model.manifest["final_models"] == {"lightgbm_0": "all_rows"}
    assert len(model.oof) == model.manifest["training"]["search_rows"] == 500


def test_a_table_within_the_limit_is_searched_whole(table: pd.DataFrame) -> None:
    model = kiln.train(table.iloc[:400], target=TARGET, max_rows=500, time_limit=20, max_trials=1, n_jobs=1,
                       learners=["lightgbm"], quiet=True)
    assert model.manifest["training"]["search_rows"] == model.manifest["training"]["rows"] == 400


def test_regression_is_sampled_at_random_and_rows_keep_their_order() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": np.arange(2_000.0), "noise": rng.normal(scale=0.1, size=2_000)})
    frame["y"] = 2 * frame["x"] + frame["noise"]
    model = kiln.train(frame, target="y", max_rows=300, time_limit=20, max_trials=1, n_jobs=1,
                       learners=["lightgbm"], ignore=["DQ004"], quiet=True)  # x predicts y: by design
    assert model.manifest["training"]["search_rows"] == 300
    targets = model.oof["target"].to_numpy()  # y grows with the row number, far faster than its noise
    assert np.all(np.diff(targets) > 0)


def test_the_default_limit_follows_the_budget() -> None:
    assert default_max_rows(60, 6) == 800_000  # 6 s of a LightGBM fit at 0.8 M rows×features per second
    assert default_max_rows(600, 6) == 8_000_000
    assert default_max_rows(5, 400) == MIN_SEARCH_ROWS


def test_a_max_rows_below_ten_is_refused() -> None:
    with pytest.raises(InvalidOptionError, match="--max-rows must be at least 10"):
        kiln.train(pd.DataFrame({"x": range(20), "y": [0, 1] * 10}), target="y", max_rows=5)
