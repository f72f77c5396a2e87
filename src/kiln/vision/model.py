"""A trained image classifier: the feature recipe, the tabular model on feature rows, and the network.

Prediction: each image → the recipe's array → (a) its feature row → the tabular model's blended
probabilities, (b) the pixel SVC's on the row's pixel grid (`vision.pixels`) and (c) the network's;
they are pooled log-linearly, p ∝ features^feature_weight · pixels^pixel_weight · network^network_weight
(exponents chosen on out-of-fold predictions; 0 for a member that is absent or did not help). A bundle
written before the pool (no `feature_weight`) mixes features and network linearly, as it was trained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from kiln.model import Model
from kiln.vision.features import FeatureRecipe
from kiln.vision.network import Network
from kiln.vision.pixels import PixelSVC
from kiln.vision.read import list_folder, open_image

if TYPE_CHECKING:
    from PIL import Image as PILImage


@dataclass
class ImageModel:
    """What `kiln.train(folder, task="image")` returns and `kiln.load` reads back."""

    kind: ClassVar[str] = "image"
    recipe: FeatureRecipe
    features: Model
    network: Network | None
    network_weight: float
    leaderboard_frame: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    reference: pd.DataFrame | None = None  # training images' statistics with their out-of-fold outputs
    # A compiled predictor of `features` over decoded columns (`predict_raw(columns, n)`, equal to
    # `features.predict_raw`): the server sets its numpy fast path here; None: through pandas.
    feature_predictor: Any = field(default=None, repr=False, compare=False)
    pixels: PixelSVC | None = None  # the RBF SVC on the pixel grid, when it has a share of the blend
    pixel_weight: float = 0.0
    feature_weight: float | None = None  # None: the earlier linear mix, (1 - network_weight) features

    @property
    def task(self) -> str:
        return "image"

    @property
    def metric(self) -> str:
        return self.features.metric

    @property
    def classes_(self) -> list[str]:
        return [str(c) for c in self.features.classes_ or []]

    def leaderboard(self) -> pd.DataFrame:
        """Every trial (feature models and the network) with its cross-validated score, best first."""
        return self.leaderboard_frame.copy()

    def proba_arrays(self, arrays: np.ndarray) -> np.ndarray:
        """Probabilities (n × classes) of arrays made by the recipe."""
        rows = self.recipe.rows(arrays)
        network = self.network_weight if self.network is not None else 0.0
        raw = self.feature_proba(rows)
        if self.feature_weight is None:  # a bundle from before the log-linear pool
            if network > 0:
                raw = (1 - network) * raw + network * self.network.predict_proba(arrays)
            return raw
        members = [(self.feature_weight, raw)]
        if self.pixels is not None and self.pixel_weight > 0:
            members.append((self.pixel_weight, self.pixels.predict_proba(rows)))
        if network > 0:
            members.append((network, self.network.predict_proba(arrays)))
        return raw if len(members) == 1 and self.feature_weight == 1.0 else log_linear(members)

    def feature_proba(self, rows: np.ndarray) -> np.ndarray:
        """The feature model's blended probabilities of feature rows (`recipe.rows`).

        The rows go to the learners' preprocessing as one float64 block in the schema's order, which is
        what `Schema.coerce` of the recipe's frame gives for these all-numeric columns, without its
        column-by-column conversion (1.2 s for one image's 1,700 columns on two busy cores). With
        `feature_predictor` set (the server's numpy fast path) no DataFrame is built at all.
        """
        names, index, numeric = self._feature_columns
        block = rows[:, index].astype(np.float64)
        if self.feature_predictor is not None:
            return np.asarray(self.feature_predictor.predict_raw(dict(zip(names, block.T, strict=True)), len(block)),
                              dtype=np.float64)
        frame = pd.DataFrame(block, columns=names)
        if not numeric:  # not the recipe's own columns: the schema says how to read them
            frame = self.features.schema.coerce(frame)
        raw = sum(member.weight * member.predict_raw(frame) for member in self.features.members)
        return np.asarray(raw, dtype=np.float64)

    @cached_property
    def _feature_columns(self) -> tuple[list[str], np.ndarray, bool]:
        """The feature model's columns, where each sits in the recipe's rows, and whether all are numbers."""
        schema = self.features.schema
        position = {name: i for i, name in enumerate(self.recipe.names())}
        index = np.array([position[name] for name in schema.names], dtype=np.intp)
        return schema.names, index, all(column.kind in ("numeric", "boolean") for column in schema.columns)

    def labels(self, proba: np.ndarray) -> np.ndarray:
        pooled = self.feature_weight not in (None, 1.0)
        if self.network_weight > 0 or self.pixel_weight > 0 or pooled or self.features.task != "binary":
            return np.asarray(self.classes_, dtype=object)[proba.argmax(axis=1)]
        return np.asarray(self.features.labels(proba), dtype=str).astype(object)

    def predict_images(self, images: list[PILImage.Image]) -> pd.DataFrame:
        """`prediction` and `proba_<class>` for each image, in order."""
        proba = self.proba_arrays(self.recipe.arrays(images))
        return self.frame_of(proba)

    def frame_of(self, proba: np.ndarray) -> pd.DataFrame:
        out: dict[str, Any] = {"prediction": self.labels(proba)}
        for i, label in enumerate(self.classes_):
            out[f"proba_{label}"] = proba[:, i]
        return pd.DataFrame(out)

    def predict_proba(self, data: str | Path | list) -> pd.DataFrame:
        """One column per class for a folder of images, a list of paths or a list of Pillow images."""
        images = _images(data)
        return pd.DataFrame(self.proba_arrays(self.recipe.arrays(images)), columns=self.classes_)

    def predict(self, data: str | Path | list) -> np.ndarray:
        images = _images(data)
        return self.labels(self.proba_arrays(self.recipe.arrays(images)))

    def warm_up(self) -> None:
        """One prediction on a mid-grey image of the model's size (the server's check before serving)."""
        recipe = self.recipe
        self.proba_arrays(np.full((1, recipe.side, recipe.side, recipe.channels), 0.5, dtype=np.float32))

    def __repr__(self) -> str:
        cv = self.manifest.get("cv", {})
        return (f"<kiln.ImageModel classes={len(self.classes_)} side={self.recipe.side} {self.metric}="
                f"{cv.get('score', float('nan')):.4f} network={'yes' if self.network_weight > 0 else 'no'} "
                f"pixel_svc={'yes' if self.pixel_weight > 0 else 'no'}>")


def log_linear(members: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """Probabilities ∝ Π p ** weight over (weight, probabilities) pairs (clipped at 1e-15 before the log)."""
    from scipy.special import softmax

    return softmax(sum(weight * np.log(np.clip(proba, 1e-15, 1.0)) for weight, proba in members), axis=1)


def _images(data: str | Path | list) -> list:
    if isinstance(data, (str, Path)):
        listing = list_folder(data, labelled=False)
        return [open_image(p, r) for p, r in zip(listing.paths, listing.relative(), strict=True)]
    return [item if hasattr(item, "mode") else open_image(item) for item in data]
