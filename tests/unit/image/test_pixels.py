"""The image model's pixel SVC and the log-linear pool of its members: the bundle keeps the SVC's exact
predictions, the pool gives a share only to a member that helps, and never trades accuracy for log loss."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tiny_images import shared_bundle

import kiln
from kiln.errors import BundleError
from kiln.evaluation.metrics import get_metric
from kiln.training.image import _blend_weights
from kiln.vision.model import log_linear
from kiln.vision.pixels import PixelSVC, cross_validate, fit_one
from kiln.vision.read import list_folder, open_image

LOG_LOSS = get_metric("log_loss", "multiclass")


def _rows(model, folder: Path) -> np.ndarray:
    listing = list_folder(folder, labelled=False)
    images = [open_image(p, r) for p, r in zip(listing.paths, listing.relative(), strict=True)]
    return model.recipe.rows(model.recipe.arrays(images))


def test_a_model_with_the_pixel_svc_round_trips_through_its_bundle(tmp_path: Path) -> None:
    bundle, new = shared_bundle()
    model = kiln.load(bundle)
    rows = _rows(model, new)
    y = np.arange(len(rows)) % 3  # any labels do: the test is the bundle's, not the fit's
    model.pixels = fit_one(rows[:, : model.recipe.grid ** 2].astype(np.float64), y, 3, 3.0, 2.0)
    model.pixel_weight, model.feature_weight = 0.7, 0.6
    model.manifest = {**model.manifest, "pixels": {"config": model.pixels.config}}
    saved = kiln.save(model, tmp_path / "with_pixels")
    manifest = json.loads((saved / "kiln.json").read_text())
    assert manifest["pixel_file"] == "pixels.skops" and manifest["pixel_weight"] == 0.7
    again = kiln.load(saved)
    assert again.pixels is not None and again.feature_weight == 0.6
    np.testing.assert_array_equal(again.predict_proba(new).to_numpy(), model.predict_proba(new).to_numpy())
    pixels = model.pixels.predict_proba(rows)
    features = model.feature_proba(rows)
    members = [(0.6, features), (0.7, pixels)]
    if model.network is not None and model.network_weight > 0:  # as the tiny training's pool chose
        arrays = model.recipe.arrays([open_image(p) for p in list_folder(new, labelled=False).paths])
        members.append((model.network_weight, model.network.predict_proba(arrays)))
    pooled = log_linear(members)
    np.testing.assert_allclose(model.predict_proba(new).to_numpy(), pooled, rtol=1e-10)


def test_a_pixel_file_holding_another_type_is_refused(tmp_path: Path) -> None:
    from sklearn.svm import SVC

    from kiln.learners.safe_load import skops_io

    skops_io().dump(SVC().fit([[0.0], [1.0]], [0, 1]), tmp_path / "pixels.skops")
    with pytest.raises(BundleError, match="not kiln's pixel SVC"):
        PixelSVC.load(tmp_path / "pixels.skops", 1, 2, {})


def test_cross_validation_gives_out_of_fold_probabilities_and_keeps_the_best_candidate() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 20)
    pixels = np.clip(rng.normal(0.2, 0.1, (60, 16)) + 0.5 * (np.arange(16) // 6 == y[:, None]), 0, 1)
    folds = np.tile([0, 1, 2], 20)
    model, oof, info = cross_validate(pixels, y, folds, 3, deadline=float("inf"),
                                      score=lambda p: -float(np.mean(np.log(p[np.arange(60), y]))))
    np.testing.assert_allclose(oof.sum(axis=1), 1.0)
    assert len(info["tried"]) == 3
    best = min(info["tried"], key=lambda t: t["oof_score"])
    assert (model.config["C"], model.config["gamma_scale"]) == (best["C"], best["gamma_scale"])
    assert float(np.mean(oof.argmax(axis=1) == y)) > 0.9


def _soft(y: np.ndarray, correct: np.ndarray, top: float) -> np.ndarray:
    """Probabilities giving `top` to the true class where `correct`, else to the next class."""
    proba = np.full((len(y), 3), (1 - top) / 2)
    proba[np.arange(len(y)), np.where(correct, y, (y + 1) % 3)] = top
    return proba


def test_the_pool_shares_with_an_accurate_member_and_keeps_its_accuracy() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 600)
    folds = np.arange(600) % 3
    features = _soft(y, rng.random(600) > 0.08, 0.9)  # sharp, 92% right
    pixels = _soft(y, rng.random(600) > 0.02, 0.5)  # soft, 98% right
    weights = _blend_weights({"features": features, "pixels": pixels}, y, folds, LOG_LOSS, "multiclass")
    assert weights["pixels"] > 0
    pooled = log_linear([(w, p) for w, p in zip(weights.values(), (features, pixels), strict=True) if w > 0])
    assert np.mean(pooled.argmax(axis=1) == y) >= np.mean(pixels.argmax(axis=1) == y)


def test_a_member_that_does_not_help_gets_no_share() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 300)
    features = _soft(y, rng.random(300) > 0.1, 0.9)  # calibrated: sharpening it would not help either
    noise = rng.dirichlet(np.ones(3), 300)
    weights = _blend_weights({"features": features, "pixels": noise}, y, np.arange(300) % 3, LOG_LOSS,
                             "multiclass")
    assert weights == {"features": 1.0, "pixels": 0.0}
