"""A small image set and model for the image kind's tests: noisy 16×16 bars and rings, trained in seconds
(two linear fits without a process pool, a two-epoch network)."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

SIDE = 16
CLASSES = ("horizontal", "vertical", "ring")


def shape(kind: str, rng: np.random.Generator) -> Image.Image:
    """A noisy 16×16 picture of a horizontal bar, a vertical bar or a ring, placed at random."""
    pixels = rng.normal(40, 15, (SIDE, SIDE))
    at = int(rng.integers(4, 12))
    if kind == "horizontal":
        pixels[at - 1:at + 2, 2:14] = 220
    elif kind == "vertical":
        pixels[2:14, at - 1:at + 2] = 220
    else:
        yy, xx = np.mgrid[:SIDE, :SIDE]
        pixels[np.abs(np.hypot(yy - 8, xx - 8) - 5) < 1.2] = 220
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L")


def write_set(root: Path, per_class: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for kind in CLASSES:
        (root / kind).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            shape(kind, rng).save(root / kind / f"{i:03d}.png")


def train_tiny_images(parts: Path, bundle: Path, *, network: bool = True):
    """Train on the folder `parts` and save to `bundle`; returns the bundle's path."""
    import kiln
    from kiln.training.image import TRAINER
    from kiln.training.progress import Reporter

    # network_min_seconds: a two-epoch network fits in well under a second a fold (the default least is for real sets)
    options = {"network": network, "network_epochs": 2, "max_trials": 2, "n_jobs": 1, "network_min_seconds": 0.5}
    model = TRAINER.train(parts, target=None, task="image", options=options, time_limit=20, seed=0,
                          reporter=Reporter(), started=None)
    return kiln.save(model, bundle)


@functools.cache
def shared_bundle() -> tuple[Path, Path]:
    """One tiny trained bundle for every image test in the session (training is the slow part): 3 classes × 15
    images plus a resized copy of a ring and a horizontal bar filed under vertical; and a folder of new images.
    """
    folder = Path(tempfile.mkdtemp(prefix="kiln-tiny-images-"))
    atexit.register(shutil.rmtree, folder, True)
    parts = folder / "parts"
    write_set(parts, 15, seed=0)
    Image.open(parts / "ring" / "000.png").resize((32, 32)).save(parts / "ring" / "copy_of_000.png")
    Image.open(parts / "horizontal" / "001.png").save(parts / "vertical" / "mislabelled.png")
    bundle = train_tiny_images(parts, folder / "model")
    write_set(folder / "new", 4, seed=1)
    return bundle, folder / "new"
