"""Conformance of every forecasting family: shapes, monotone quantiles, determinism, and refitting the stored
form (what the bundle keeps) giving the same forecast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kiln.forecasters import FAMILIES, family

H, M = 6, 4


def _series(seed: int = 0, n: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 50 + 0.5 * t + 5 * np.sin(2 * np.pi * t / M) + rng.normal(0, 1, n)


LOCAL = [name for name in FAMILIES if not family(name).is_global]


@pytest.mark.parametrize("name", LOCAL)
def test_a_local_family_forecasts_h_steps_with_monotone_quantiles_and_refits_its_form(name: str) -> None:
    y = _series(n=60 if name == "mstl" else 40)
    spec = {"seasons": [M]} if name == "mstl" else None
    first = family(name).forecast(y, H, M, spec)
    assert first.mean.shape == (H,) and np.isfinite(first.mean).all()
    if first.quantiles is not None:
        assert first.quantiles.shape == (H, 9) and np.isfinite(first.quantiles).all()
        assert (np.diff(first.quantiles, axis=1) >= 0).all()
    again = family(name).forecast(y, H, M, spec)
    np.testing.assert_array_equal(first.mean, again.mean)  # deterministic
    refit = family(name).forecast(y, H, M, first.spec)  # the form the bundle stores, refitted
    np.testing.assert_allclose(refit.mean, first.mean, rtol=1e-9, atol=1e-9)
    assert isinstance(first.spec, dict)


def test_the_global_lightgbm_model_round_trips_through_its_text_booster() -> None:
    lightgbm = family("lightgbm")
    panel = pd.concat([pd.DataFrame({"unique_id": sid, "ds": pd.date_range("2020-01-01", periods=48, freq="D"),
                                     "y": _series(seed, 48)}) for seed, sid in enumerate(["a", "b"])],
                      ignore_index=True)
    recipe = lightgbm.recipe(np.array([48, 48]), 7, "D", [], seed=3)
    booster = lightgbm.fit(panel, recipe)
    assert booster == lightgbm.fit(panel, recipe)  # the same seed, the same trees
    out = lightgbm.predict(recipe, booster, panel, H, None)
    assert len(out) == 2 * H and np.isfinite(out["mean"]).all()
    text = booster.encode("utf-8").decode("utf-8")  # what the bundle writes and reads
    pd.testing.assert_frame_equal(out, lightgbm.predict(recipe, text, panel, H, None))
    assert (out.groupby("unique_id")["ds"].min() == pd.Timestamp("2020-02-18")).all()


def test_intermittent_families_forecast_a_level_without_intervals() -> None:
    y = np.array([0, 0, 3, 0, 0, 0, 2, 0, 4, 0, 0, 1] * 3, dtype=float)
    for name in ("croston", "adida", "imapa"):
        out = family(name).forecast(y, H, M)
        assert out.quantiles is None and (out.mean > 0).all() and (out.mean < y.max()).all()


def test_seasonal_naive_repeats_the_last_season_with_the_suites_normal_quantiles() -> None:
    y = np.arange(12, dtype=float)
    out = family("seasonal_naive").forecast(y, 6, 4)
    np.testing.assert_array_equal(out.mean, [8, 9, 10, 11, 8, 9])
    # σ = RMS of the seasonal differences (all 4 here), widened by √⌈h/m⌉
    np.testing.assert_allclose(out.quantiles[:, -1] - out.mean, 1.2815516 * 4 * np.sqrt([1, 1, 1, 1, 2, 2]),
                               rtol=1e-6)
