"""The demo's and benchmark's data writer: load_digits as the image suite's PNG folders, and the drifted stream."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

from kiln.demo.digits import suite_split, write_digits
from kiln.vision.features import FeatureRecipe
from kiln.vision.stats import image_statistics


def test_digits_are_written_as_the_suite_says(tmp_path: Path) -> None:
    digits = load_digits()
    written = write_digits(tmp_path / "train", [0, 7, 1796])
    assert [p.relative_to(tmp_path / "train").as_posix() for p in written] == [
        f"{digits.target[n]}/{n:04d}.png" for n in (0, 7, 1796)]
    image = Image.open(written[1])
    assert image.mode == "L" and image.size == (32, 32)
    pixels = np.asarray(image)
    expected = np.round(digits.data[7].reshape(8, 8) * 255 / 16).astype(np.uint8)
    np.testing.assert_array_equal(pixels, np.kron(expected, np.ones((4, 4), dtype=np.uint8)))  # 4×4 blocks
    unlabelled = write_digits(tmp_path / "test", [3], labelled=False)
    assert unlabelled == [tmp_path / "test" / "0003.png"]
    train, test = suite_split()
    assert len(train) == 1347 and len(test) == 450 and not set(train) & set(test)


def test_the_drifted_stream_is_dimmer_and_blurred(tmp_path: Path) -> None:
    recipe = FeatureRecipe(side=32)
    plain = [Image.open(p) for p in write_digits(tmp_path / "plain", range(20), labelled=False)]
    drifted = [Image.open(p) for p in write_digits(tmp_path / "drift", range(20), labelled=False, drift=True)]
    for before, after in zip(plain, drifted, strict=True):
        a, b = image_statistics(before, recipe.array(before)), image_statistics(after, recipe.array(after))
        assert b["brightness"] < 0.75 * a["brightness"] and b["sharpness"] < 0.5 * a["sharpness"]
