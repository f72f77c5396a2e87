"""scikit-learn's handwritten digits (`load_digits`, shipped in its wheel) written as image folders.

The image suite's rule (benchmarks/image): an 8-bit grey PNG per image, value round(v × 255 / 16),
upscaled ×`scale` with nearest neighbour, so each source pixel is a scale×scale block. Labelled
images go to `<out>/<digit>/<n>.png` (ImageFolder), unlabelled to `<out>/<n>.png`; n is the
image's index in load_digits, 4 digits. `drift` makes a shifted stream for the monitor: dimmer
and blurred.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def digit_image(pixels: np.ndarray, *, scale: int = 4, drift: bool = False):
    """One 8×8 digit (values 0–16) as a Pillow image, upscaled; `drift`: dimmer (×0.55) and blurred."""
    from PIL import Image, ImageFilter

    values = np.round(np.asarray(pixels, dtype=np.float64).reshape(8, 8) * 255.0 / 16.0).astype(np.uint8)
    image = Image.fromarray(values, mode="L").resize((8 * scale, 8 * scale), Image.Resampling.NEAREST)
    if drift:
        image = image.filter(ImageFilter.GaussianBlur(radius=scale * 0.6))
        image = Image.fromarray((np.asarray(image, dtype=np.float64) * 0.55).astype(np.uint8), mode="L")
    return image


def write_digits(out: str | Path, indices: Sequence[int] | None = None, *, labelled: bool = True, scale: int = 4,
                 drift: bool = False) -> list[Path]:
    """Write the digits `indices` (default: all 1,797) under `out`; returns the files in index order."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    out = Path(out)
    chosen = range(len(digits.target)) if indices is None else indices
    written = []
    for n in chosen:
        folder = out / str(int(digits.target[n])) if labelled else out
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{int(n):04d}.png"
        digit_image(digits.data[n], scale=scale, drift=drift).save(path)
        written.append(path)
    return written


def suite_split(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The image suite's split: 1,347 training and 450 test indices (stratified, random_state=0)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    target = load_digits().target
    train, test = train_test_split(np.arange(len(target)), test_size=0.25, random_state=seed, stratify=target)
    return np.sort(train), np.sort(test)
