"""Reading images: every format and mode the kind takes, the stated resize rule, EXIF orientation, and each
bad file refused with its name (or skipped and listed with --skip-bad)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiln.errors import InvalidDataError
from kiln.vision import read
from kiln.vision.features import FeatureRecipe, choose_recipe
from kiln.vision.read import ImageReadError, list_folder, list_table, open_image, read_all


def _gradient(size: tuple[int, int], mode: str = "L") -> Image.Image:
    w, h = size
    values = (np.add.outer(np.arange(h), np.arange(w)) * 255 // max(w + h - 2, 1)).astype(np.uint8)
    image = Image.fromarray(values, mode="L")
    return image.convert(mode)


@pytest.mark.parametrize(("suffix", "mode"), [(".png", "L"), (".png", "RGBA"), (".jpg", "RGB"), (".webp", "RGB"),
                                              (".bmp", "RGB"), (".png", "P"), (".png", "I;16")])
def test_every_format_and_mode_reads_to_the_recipes_array(tmp_path: Path, suffix: str, mode: str) -> None:
    path = tmp_path / f"x{suffix}"
    _gradient((40, 20), mode).save(path)
    image = open_image(path)
    for recipe in (FeatureRecipe(side=16, mode="L"), FeatureRecipe(side=16, mode="RGB")):
        array = recipe.array(image)
        assert array.shape == (16, 16, recipe.channels) and array.dtype == np.float32
        assert array.min() >= 0.0 and array.max() <= 1.0
        assert array[:, -1].mean() > array[:, 0].mean()  # the gradient survives the resize (left dark, right bright)
        assert len(recipe.row(array)) == len(recipe.names())


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    image = Image.new("L", (30, 10), 0)
    image.paste(255, (0, 0, 10, 10))  # a bright left third
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    image.save(tmp_path / "side.jpg", exif=exif.tobytes())
    upright = open_image(tmp_path / "side.jpg")
    assert upright.size == (10, 30)
    assert np.asarray(upright)[:10].mean() > 200  # the bright part is now on top


def test_the_recipe_is_grey_for_grey_sets_and_sized_by_the_median(tmp_path: Path) -> None:
    greys = [_gradient((48, 40)) for _ in range(3)]
    assert choose_recipe(greys) == FeatureRecipe(side=48, mode="L")
    colour = Image.new("RGB", (200, 150), (200, 30, 30))
    assert choose_recipe([*greys, colour, colour, colour, colour]).mode == "RGB"
    assert choose_recipe([Image.new("L", (500, 500))]).side == 64  # capped
    assert choose_recipe([Image.new("L", (4, 4))]).side == 16


def _bad_files(folder: Path) -> dict[str, str]:
    """One file of each kind the reader must refuse, and the words its error must hold."""
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_text("not an image at all")
    good = folder / "good.png"
    noise = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    Image.fromarray(noise, mode="L").save(good)  # noise does not compress: half the file is half the pixels
    (folder / "truncated.png").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    Image.new("L", (1, 1)).save(folder / "bomb.png")
    return {"empty.png": "empty (0 bytes)", "text.png": "not an image", "truncated.png": "truncated or corrupt",
            "bomb.png": "decompression bomb"}


def test_each_bad_file_is_one_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _bad_files(tmp_path)
    for name, words in expected.items():
        if name == "bomb.png":  # the 1×1 file stands for a bomb: over a limit of 0 pixels
            monkeypatch.setattr(read, "MAX_PIXELS", 0)
        with pytest.raises(ImageReadError, match=re.escape(words)) as caught:
            open_image(tmp_path / name, name)
        assert name in str(caught.value) and "\n" not in str(caught.value)


def test_a_real_decompression_bomb_header_is_refused(tmp_path: Path) -> None:
    """A PNG whose header claims 10,000 × 10,000 pixels (100 M, over the 50 M limit) is refused unread."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 10_000, 10_000, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * 10_001 * 16)  # a few rows; the header is what counts
    (tmp_path / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
                                        + chunk(b"IEND", b""))
    with pytest.raises(ImageReadError, match=r"bomb\.png.*decompression bomb"):
        open_image(tmp_path / "bomb.png", "bomb.png")


def test_skip_bad_lists_the_bad_files_and_keeps_the_good(tmp_path: Path) -> None:
    folder = tmp_path / "parts" / "ok"
    folder.mkdir(parents=True)
    _bad_files(folder)
    listing = list_folder(tmp_path / "parts", labelled=True)
    with pytest.raises(ImageReadError, match="empty"):
        read_all(listing, skip_bad=False)
    kept, images = read_all(listing, skip_bad=True)
    assert [p.name for p in kept.paths] == ["bomb.png", "good.png"] and len(images) == 2
    assert sorted(name for name, _ in kept.skipped) == ["ok/empty.png", "ok/text.png", "ok/truncated.png"]
    assert kept.labels == ["ok", "ok"]


def test_a_table_of_paths_and_folder_errors(tmp_path: Path) -> None:
    _gradient((20, 20)).save(tmp_path / "a.png")
    _gradient((20, 20)).save(tmp_path / "b.png")
    (tmp_path / "labels.csv").write_text("file,label\na.png,x\nb.png,y\n")
    listing = list_table(tmp_path / "labels.csv", path_column="file", target="label")
    assert listing.labels == ["x", "y"] and listing.relative() == ["a.png", "b.png"]
    with pytest.raises(InvalidDataError, match="Column 'path' is not in"):
        list_table(tmp_path / "labels.csv", path_column="path", target="label")
    with pytest.raises(InvalidDataError, match="no class folders"):
        list_folder(tmp_path, labelled=True)
    with pytest.raises(InvalidDataError, match="is not a folder"):
        list_folder(tmp_path / "nowhere", labelled=True)
