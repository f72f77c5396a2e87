"""Images → one feature row each, so the tabular portfolio, CV and ensemble learn from pictures.

The rule (stored in the bundle as `FeatureRecipe`, applied the same way at training and prediction):

1. convert to grey ("L") when every training image is grey, else to RGB;
2. resize to `side`×`side` pixels with Pillow's box filter (area averaging; the aspect ratio is not
   kept — a classifier of parts sees the whole frame); `side` is the training images' median longer
   edge rounded to a multiple of 8, within 16–64;
3. features: a `grid`×`grid` pixel grid (box-averaged, 0–1), HOG (scikit-image: 9 orientations,
   2×2-cell blocks, L2-Hys, cells of side/8 pixels, so 8×8 cells whatever the size) and an 8-bin
   histogram per channel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from PIL import Image as PILImage

MIN_SIDE, MAX_SIDE = 16, 64


@dataclass(frozen=True)
class FeatureRecipe:
    """How an image becomes a feature row (and a network input)."""

    side: int = 32
    mode: str = "L"  # "L" (grey) or "RGB"
    grid: int = 8
    hog_cells: int = 8  # cells per side
    orientations: int = 9
    histogram_bins: int = 8

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureRecipe:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    @property
    def channels(self) -> int:
        return 1 if self.mode == "L" else 3

    def array(self, image: PILImage.Image) -> np.ndarray:
        """The image as the model sees it: side×side×channels, float32 in [0, 1]."""
        from PIL import Image

        converted = _convert(image, self.mode)
        resized = converted.resize((self.side, self.side), Image.Resampling.BOX)
        pixels = np.asarray(resized, dtype=np.float32) / 255.0
        return pixels[:, :, None] if pixels.ndim == 2 else pixels

    def arrays(self, images: list[PILImage.Image]) -> np.ndarray:
        return np.stack([self.array(im) for im in images]) if images else np.zeros(
            (0, self.side, self.side, self.channels), np.float32)

    def row(self, pixels: np.ndarray) -> np.ndarray:
        """The feature row of one side×side×channels array."""
        from skimage.feature import hog

        grey = pixels.mean(axis=2)
        block = self.side // self.grid
        cropped = grey[: block * self.grid, : block * self.grid]
        grid = cropped.reshape(self.grid, block, self.grid, block).mean(axis=(1, 3))
        cell = max(self.side // self.hog_cells, 2)
        gradients = hog(pixels if self.channels == 3 else grey, orientations=self.orientations,
                        pixels_per_cell=(cell, cell), cells_per_block=(2, 2), block_norm="L2-Hys",
                        channel_axis=-1 if self.channels == 3 else None, feature_vector=True)
        histograms = [np.histogram(pixels[:, :, c], bins=self.histogram_bins, range=(0.0, 1.0))[0] / grey.size
                      for c in range(self.channels)]
        return np.concatenate([grid.ravel(), gradients, *histograms]).astype(np.float32)

    def names(self) -> list[str]:
        grid = [f"px_{i}" for i in range(self.grid * self.grid)]
        blocks = (self.hog_cells - 1) ** 2 * 4 * self.orientations
        hist = [f"hist_{c}_{b}" for c in range(self.channels) for b in range(self.histogram_bins)]
        return grid + [f"hog_{i}" for i in range(blocks)] + hist

    def rows(self, arrays: np.ndarray) -> np.ndarray:
        """The feature rows of a stack of arrays (n × `names()`, float32)."""
        if not len(arrays):
            return np.zeros((0, len(self.names())), np.float32)
        return np.stack([self.row(a) for a in arrays])

    def frame(self, arrays: np.ndarray) -> pd.DataFrame:
        """The feature table of a stack of arrays (one row per image)."""
        return pd.DataFrame(self.rows(arrays), columns=self.names())


def _convert(image: PILImage.Image, mode: str) -> PILImage.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        from PIL import Image

        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))  # transparency over white
        image = Image.alpha_composite(background, rgba)
    if image.mode in ("I", "I;16", "I;16B", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = values.max() or 1.0
        from PIL import Image

        image = Image.fromarray(np.clip(values / top * 255.0, 0, 255).astype(np.uint8))
    return image.convert(mode)


def is_grey(image: PILImage.Image) -> bool:
    """A grey image, or a colour one whose three channels are equal (a grey scan saved as RGB)."""
    if image.mode in ("1", "L", "LA", "I", "I;16", "I;16B", "F"):
        return True
    rgb = np.asarray(_convert(image, "RGB").resize((16, 16)), dtype=np.int16)
    return bool(np.abs(rgb[:, :, 0] - rgb[:, :, 1]).max() <= 2 and np.abs(rgb[:, :, 1] - rgb[:, :, 2]).max() <= 2)


def choose_recipe(images: list[PILImage.Image]) -> FeatureRecipe:
    """The recipe for a training set: grey or colour, and the side (see the module docstring)."""
    longer = np.median([max(im.size) for im in images]) if images else 32
    side = int(np.clip(round(longer / 8) * 8, MIN_SIDE, MAX_SIDE))
    sample = images[:: max(len(images) // 200, 1)]
    mode = "L" if all(is_grey(im) for im in sample) else "RGB"
    return FeatureRecipe(side=side, mode=mode)
