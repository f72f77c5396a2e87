"""Backtest windows never see the future: what follows a window's cutoff changes none of its forecasts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kiln.training.forecast import _global_job, _local_job, windows

H, M = 5, 4


def _panel(values: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"unique_id": sid, "ds": pd.date_range("2021-01-04", periods=len(y), freq="D"),
                                    "y": y}) for sid, y in values.items()], ignore_index=True)


def test_windows_are_rolling_origins_of_length_h_from_the_end() -> None:
    series = {"a": np.arange(60, dtype=float), "b": np.arange(22, dtype=float)}
    bt = windows(series, H, M)
    assert bt.cuts[("a", 1)] == 55 and bt.cuts[("a", 2)] == 50 and bt.cuts[("a", 3)] == 45
    assert bt.n_windows == 3 and ("b", 3) not in bt.cuts  # b is too short for a third window
    for i, key in enumerate(bt.keys):
        cut = bt.cuts[key]
        np.testing.assert_array_equal(bt.truth[i], series[key[0]][cut:cut + H])


def test_a_signal_planted_after_the_cutoff_reaches_no_window_forecast() -> None:
    rng = np.random.default_rng(1)
    clean = {sid: 20 + np.sin(np.arange(50)) + rng.normal(0, 0.1, 50) for sid in ("a", "b")}
    bt = windows(clean, H, M)
    planted = {sid: y.copy() for sid, y in clean.items()}
    for sid in planted:
        planted[sid][bt.cuts[(sid, 1)]:] = 1e4  # only the most recent window's future carries it
    for name in ("seasonal_naive", "drift", "theta"):
        before = _local_job(name, clean, bt, H, M)["mean"]
        after = _local_job(name, planted, bt, H, M)["mean"]
        np.testing.assert_array_equal(before, after)
        assert (np.abs(after) < 100).all()
    recipe = {"freq": "D", "lags": [1, 2, 3], "rolling": [], "date_features": ["dayofweek"], "known_future": [],
              "difference": 1, "seed": 0, "params": {"n_estimators": 20, "learning_rate": 0.1, "num_leaves": 7,
                                                     "min_child_samples": 3}}
    before = _global_job(_panel(clean), bt, H, recipe)["mean"]
    after = _global_job(_panel(planted), bt, H, recipe)["mean"]
    np.testing.assert_allclose(before, after)
    assert (np.abs(after) < 100).all()
