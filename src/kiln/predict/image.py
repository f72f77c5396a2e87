"""`kiln predict MODEL FOLDER --out FILE` for an image model: every image below FOLDER (or the paths a
table's --path-column names), in batches; columns `path` (relative to FOLDER), `prediction`, `proba_<class>`.

An unreadable image stops the run with its name (nothing is written); the output is written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from kiln.data.write import write_table
from kiln.kinds.outcome import Outcome
from kiln.vision.read import open_image, unlabelled_listing

BATCH = 256  # images decoded and predicted at once: bounds memory whatever the folder's size


class ImagePredictor:
    """The predict hook of the image kind (kiln.predict.kind.BatchPredictor)."""

    options = frozenset({"path_column"})

    def predict_file(self, model: Any, data: str, out: Path, options: Mapping[str, Any]) -> Outcome:
        frame = predict_folder(model, data, path_column=options.get("path_column"))
        write_table(frame, Path(out))
        return Outcome((f"{len(frame):,} predictions written to {out}",), {"rows": len(frame)})


def predict_folder(model: Any, data: str | Path, *, path_column: str | None = None) -> pd.DataFrame:
    listing = unlabelled_listing(data, path_column=path_column)
    names = listing.relative()
    parts = []
    for start in range(0, len(listing.paths), BATCH):
        images = [open_image(p, n) for p, n in zip(listing.paths[start:start + BATCH], names[start:start + BATCH],
                                                   strict=True)]
        part = model.predict_images(images)
        part.insert(0, "path", names[start:start + BATCH])
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


PREDICTOR = ImagePredictor()
