"""Per-image statistics (what the monitor compares with training) and a perceptual hash (duplicates).

Statistics, each one number per image: brightness (mean grey level, 0–1), contrast (its standard
deviation), sharpness (variance of the 4-neighbour Laplacian of the grey image at the model's
side), width, height, aspect (width / height) and colour share (the fraction of pixels whose
saturation is above 0.2). The hash is a 64-bit difference hash (dHash: each bit says whether a
pixel of the 9×8 grey thumbnail is brighter than its right neighbour), which survives rescaling
and re-encoding, so a copy of a training image saved at another size or quality hashes the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from PIL import Image as PILImage

STATISTICS = ("brightness", "contrast", "sharpness", "width", "height", "aspect", "colour_share")


def image_statistics(image: PILImage.Image, array: np.ndarray) -> dict[str, float]:
    """The statistics of one image (`array`: the model's side×side×channels view of it)."""
    grey = array.mean(axis=2)
    laplacian = (-4 * grey[1:-1, 1:-1] + grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:])
    if image.mode in ("RGB", "RGBA", "P", "CMYK", "YCbCr"):
        saturation = np.asarray(image.convert("RGB").resize((32, 32)).convert("HSV"), dtype=np.float32)[:, :, 1]
        colour = float((saturation / 255.0 > 0.2).mean())
    else:
        colour = 0.0
    width, height = image.size
    return {"brightness": float(grey.mean()), "contrast": float(grey.std()),
            "sharpness": float(laplacian.var()) if laplacian.size else 0.0,
            "width": float(width), "height": float(height), "aspect": float(width / max(height, 1)),
            "colour_share": colour}


def statistics_frame(images: list[PILImage.Image], arrays: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame([image_statistics(im, a) for im, a in zip(images, arrays, strict=True)],
                        columns=list(STATISTICS))


def dhash(image: PILImage.Image) -> int:
    """The 64-bit difference hash of `image`."""
    from PIL import Image

    grey = np.asarray(image.convert("L").resize((9, 8), Image.Resampling.LANCZOS), dtype=np.int16)
    bits = (grey[:, 1:] > grey[:, :-1]).ravel()
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))
