"""Reading images with Pillow, and finding them: an ImageFolder (`root/<class>/<file>`) or a table of paths.

Every image is decoded once, fully (`Image.load`), so a truncated file fails here and not later in a
worker. What is refused, each with one sentence naming the file: a zero-byte file, a file Pillow does
not recognise as an image, a truncated or corrupt one, and a decompression bomb (more pixels than
`MAX_PIXELS`, Pillow's own guard raised to an error). EXIF orientation is applied (a phone photo
stored on its side is read upright).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kiln.errors import InvalidDataError

if TYPE_CHECKING:
    from PIL import Image as PILImage

SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
MAX_PIXELS = 50_000_000  # larger than any photo a camera on a line takes; Pillow's bomb limit is 89 M


class ImageReadError(InvalidDataError):
    """One image cannot be read; the message names the file and why."""


def open_image(source: str | Path | bytes, name: str | None = None) -> PILImage.Image:
    """The decoded image (EXIF orientation applied), or an ImageReadError naming `name` (or the path)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    label = name or (str(source) if not isinstance(source, bytes) else "the upload")
    if isinstance(source, bytes):
        if not source:
            raise ImageReadError(f"{label} is empty (0 bytes); send an image file (PNG, JPEG, WebP or BMP).")
        stream: io.BytesIO | Path = io.BytesIO(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise ImageReadError(f"Image '{label}' does not exist or is not a file; check the path.")
        if path.stat().st_size == 0:
            raise ImageReadError(f"Image '{label}' is empty (0 bytes); remove it or replace it with the image.")
        stream = path
    previous = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        with warnings.catch_warnings(), (open(stream, "rb") if isinstance(stream, Path) else stream) as handle:
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(handle) as opened:
                if opened.width * opened.height > MAX_PIXELS:
                    raise Image.DecompressionBombError("too many pixels")
                opened.load()
                image = ImageOps.exif_transpose(opened)  # a new image, detached from the file
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageReadError(f"Image '{label}' has more than {MAX_PIXELS:,} pixels (a decompression bomb, or far "
                             "larger than a classifier needs); shrink it before training.") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"'{label}' is not an image Pillow can read; use PNG, JPEG, WebP or BMP, or remove "
                             "the file.") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated data, broken chunks, bad headers
        detail = " ".join(str(exc).split())[:120]
        raise ImageReadError(f"Image '{label}' is truncated or corrupt ({detail}); re-export it or remove it "
                             "(kiln train --skip-bad skips such files).") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous
    return image


@dataclass
class Listing:
    """Image paths with their labels (None when unlabelled), and the files refused with the reason."""

    root: Path
    paths: list[Path]
    labels: list[str] | None
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relative path, why)

    def relative(self) -> list[str]:
        """Each path relative to the folder given (the `path` column of predictions)."""
        return [_relative(p, self.root) for p in self.paths]


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in SUFFIXES and not path.name.startswith(".")


def list_folder(root: str | Path, *, labelled: bool) -> Listing:
    """The images under `root`: labelled, `root/<class>/<file>` (ImageFolder); unlabelled, every image below it."""
    root = Path(root)
    if not root.is_dir():
        raise InvalidDataError(f"'{root}' is not a folder; give a folder of images (<class>/<file>.png) or a "
                               "table with --path-column.")
    if not labelled:
        paths = sorted(p for p in root.rglob("*") if is_image_file(p))
        if not paths:
            raise InvalidDataError(f"Folder '{root}' holds no images ({', '.join(SUFFIXES)}).")
        return Listing(root, paths, None)
    classes = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    paths, labels = [], []
    for folder in classes:
        for path in sorted(p for p in folder.rglob("*") if is_image_file(p)):
            paths.append(path)
            labels.append(folder.name)
    if not paths:
        raise InvalidDataError(f"Folder '{root}' has no class folders with images; lay it out as "
                               f"{root}/<class>/<file>.png (the folder name is the label).")
    return Listing(root, paths, labels)


def list_table(table: str | Path, *, path_column: str, target: str | None) -> Listing:
    """The images a table names in `path_column` (relative paths are relative to the table's folder)."""
    from kiln.data.load import read_table

    frame = read_table(table)
    if path_column not in frame.columns:
        raise InvalidDataError(f"Column '{path_column}' is not in '{table}'; its columns are "
                               f"{', '.join(map(str, frame.columns[:10]))}. Fix --path-column.")
    if target is not None and target not in frame.columns:
        raise InvalidDataError(f"Column '{target}' is not in '{table}'; fix --target.")
    root = Path(table).parent
    keep = frame[path_column].notna() & (frame[target].notna() if target else True)
    frame = frame.loc[keep]
    paths = [p if p.is_absolute() else root / p for p in (Path(str(v)) for v in frame[path_column])]
    labels = [str(v) for v in frame[target]] if target else None
    return Listing(root, paths, labels)


def read_all(listing: Listing, *, skip_bad: bool) -> tuple[Listing, list[PILImage.Image]]:
    """Decode every listed image; a bad one stops with its error, or with `skip_bad` is listed in `skipped`."""
    images, paths, labels = [], [], []
    skipped = list(listing.skipped)
    for i, path in enumerate(listing.paths):
        try:
            images.append(open_image(path, _relative(path, listing.root)))
        except ImageReadError as exc:
            if not skip_bad:
                raise
            skipped.append((_relative(path, listing.root), str(exc)))
            continue
        paths.append(path)
        if listing.labels is not None:
            labels.append(listing.labels[i])
    return Listing(listing.root, paths, labels if listing.labels is not None else None, skipped), images


def iter_images(paths: Iterable[Path], root: Path) -> Iterable[PILImage.Image]:
    for path in paths:
        yield open_image(path, _relative(path, root))


def labelled_listing(data: str | Path, *, target: str | None, path_column: str | None) -> Listing:
    """A labelled set: a folder (ImageFolder) or, with `path_column`, a table of paths and `target` labels."""
    path = Path(data)
    if path_column is not None:
        if target is None:
            raise InvalidDataError("A table of image paths needs --target: the column holding each image's label.")
        return list_table(path, path_column=path_column, target=target)
    if path.is_file():
        raise InvalidDataError(f"'{data}' is a file; give a folder <class>/<file>.png, or a table with "
                               "--path-column and --target.")
    return list_folder(path, labelled=True)


def unlabelled_listing(data: str | Path, *, path_column: str | None = None) -> Listing:
    """Images to predict: every image below a folder, or those a table's `path_column` names."""
    path = Path(data)
    if path_column is not None or path.is_file():
        if path_column is None:
            raise InvalidDataError(f"'{data}' is a file; give a folder of images to predict.")
        return list_table(path, path_column=path_column, target=None)
    return list_folder(path, labelled=False)
