"""An RBF support-vector classifier on the recipe's pixel grid: the image model's third member.

Why its own member and not a tabular learner: an RBF kernel on pixels wants them on their one shared
scale. The recipe's grid is already 0-1 (box-averaged grey), and gamma is a multiple of scikit-learn's
'scale' (1 / (n_pixels × the training pixels' variance)), so the kernel's width follows the images'
contrast, not each pixel's. kiln's learner preprocessing standardises every column, which on the digits
suite's grid took the SVC from accuracy 0.9933 to 0.982 (a constant border pixel gets the weight of a
stroke); the HOG columns beside the grid made it worse again (0.989 with them, 10× slower). So the image
kind fits it on the grid alone, on the feature model's folds, and the blend weighs it with the others.

Probabilities: `CalibratedClassifierCV(SVC(...), ensemble=False, method="temperature")` — one SVC on
all rows and a temperature fitted on inner 5-fold decision values (`SVC(probability=True)` is deprecated
in scikit-learn 1.9). On the digits suite's test images, C 3 and twice 'scale': accuracy 0.9933, log loss
0.043 (sigmoid calibration of the same SVC: 0.072; a temperature on 3 inner folds: 0.081).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# (C, multiple of the 'scale' gamma), tried in this order while time allows; the best out-of-fold log
# loss is kept. Measured on the digits suite (test images): (3, 2) 0.9933 / 0.043, (3, 4) 0.9956 / 0.053,
# (10, 1) 0.9933 / 0.051.
CANDIDATES: tuple[tuple[float, float], ...] = ((3.0, 2.0), (3.0, 4.0), (10.0, 1.0))
INNER_FOLDS = 5  # the calibration's folds at most (fewer when a class has fewer images; 2 at least)
TRUSTED = ["sklearn.calibration._CalibratedClassifier", "sklearn.calibration._TemperatureScaling"]
FILE = "pixels.skops"


@dataclass
class PixelSVC:
    """A fitted calibrated SVC on the first `n_pixels` columns of `FeatureRecipe.rows`."""

    n_pixels: int
    n_classes: int
    estimator: Any  # CalibratedClassifierCV over SVC
    config: dict[str, float]

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        """Probabilities (n × n_classes) of feature rows (`recipe.rows`)."""
        pixels = np.asarray(rows[:, : self.n_pixels], dtype=np.float64)
        raw = self.estimator.predict_proba(pixels)
        out = np.zeros((len(pixels), self.n_classes))
        out[:, np.asarray(self.estimator.classes_, dtype=int)] = raw
        return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12)

    def save(self, path: Path) -> None:
        from kiln.learners.safe_load import skops_io

        skops_io().dump(self.estimator, path)

    @classmethod
    def load(cls, path: Path, n_pixels: int, n_classes: int, config: dict[str, float]) -> PixelSVC:
        from kiln.learners.safe_load import load_skops

        estimator = load_skops(path, TRUSTED)
        from sklearn.calibration import CalibratedClassifierCV

        if not isinstance(estimator, CalibratedClassifierCV):
            from kiln.errors import BundleError

            raise BundleError(f"'{path}' holds a {type(estimator).__name__}, not kiln's pixel SVC; the bundle is "
                              "damaged or was not written by kiln.")
        return cls(n_pixels, n_classes, estimator, config)


def usable(y: np.ndarray, folds: np.ndarray) -> bool:
    """Whether every training fold holds two images of each of its classes (the calibration's folds)."""
    return all(_smallest(y[folds != fold]) >= 2 for fold in np.unique(folds))


def _smallest(y: np.ndarray) -> int:
    counts = np.bincount(y)
    return int(counts[counts > 0].min())


def fit_one(pixels: np.ndarray, y: np.ndarray, n_classes: int, C: float, factor: float) -> PixelSVC:
    """One calibrated SVC on `pixels` (n × n_pixels, 0-1)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC

    variance = float(pixels.var()) or 1.0
    gamma = factor / (pixels.shape[1] * variance)
    estimator = CalibratedClassifierCV(SVC(C=C, gamma=gamma, kernel="rbf"), ensemble=False, method="temperature",
                                       cv=min(INNER_FOLDS, _smallest(y)))
    estimator.fit(pixels, y)
    return PixelSVC(pixels.shape[1], n_classes, estimator, {"C": C, "gamma_scale": factor, "gamma": gamma})


def cross_validate(pixels: np.ndarray, y: np.ndarray, folds: np.ndarray, n_classes: int, *, deadline: float,
                   score: Any) -> tuple[PixelSVC, np.ndarray, dict[str, Any]]:
    """Each candidate fitted on every training fold while time allows (the first always: a few seconds on
    two busy cores for the digits); the best by `score(oof)` (lower is better) refitted on all rows."""
    k = int(folds.max()) + 1
    started = time.time()
    best: tuple[float, np.ndarray, float, float] | None = None
    tried: list[dict[str, float]] = []
    for C, factor in CANDIDATES:
        if tried and time.time() + (time.time() - started) / len(tried) > deadline:
            break  # the next candidate would likely not finish: each costs about what the first did
        oof = np.zeros((len(y), n_classes))
        for fold in range(k):
            train_rows, val_rows = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
            oof[val_rows] = fit_one(pixels[train_rows], y[train_rows], n_classes, C, factor).predict_proba(
                pixels[val_rows])
        loss = float(score(oof))
        tried.append({"C": C, "gamma_scale": factor, "oof_score": round(loss, 6)})
        if best is None or loss < best[0]:
            best = (loss, oof, C, factor)
    assert best is not None
    _, oof, C, factor = best
    final = fit_one(pixels, y, n_classes, C, factor)
    return final, oof, {"config": final.config, "tried": tried, "fit_s": round(time.time() - started, 2)}
