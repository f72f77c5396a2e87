"""The image kind's retrain hook: labelled images (a table of `path` and `label`), a usable gate set, and
both models' probabilities on the same images for the paired test."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kiln.errors import InvalidDataError
from kiln.vision.read import open_image

PATH, LABEL = "path", "label"
MIN_GATE_IMAGES = 20


class ImageGate:
    """What retrain asks of an image champion and challenger (kiln.retrain.kind.Gate)."""

    def labelled(self, frame: pd.DataFrame, champion: Any) -> pd.DataFrame:
        missing = [c for c in (PATH, LABEL) if c not in frame.columns]
        if missing:
            raise InvalidDataError(f"The new data lacks column(s) {missing}; retraining an image model takes a table "
                                   f"of '{PATH}' (the image file) and '{LABEL}'.")
        frame = frame.loc[frame[LABEL].notna()].reset_index(drop=True)
        unknown = sorted({str(v) for v in frame[LABEL]} - set(champion.classes_))
        if unknown:
            raise InvalidDataError(f"Labels {unknown[:5]} are not among the champion's classes {champion.classes_}; "
                                   "a paired comparison needs the same classes. Train a new model instead.")
        return frame

    def check_gate(self, gate: pd.DataFrame, champion: Any) -> None:
        if len(gate) < MIN_GATE_IMAGES:
            raise InvalidDataError(f"The gate set holds {len(gate)} labelled images; the paired test needs at least "
                                   f"{MIN_GATE_IMAGES}. Give more recent labelled images or a larger --holdout.")

    def predictions(self, champion: Any, challenger: Any, rows: pd.DataFrame) -> tuple[np.ndarray, ...]:
        images = [open_image(p) for p in rows[PATH]]
        y = np.array([champion.classes_.index(str(v)) for v in rows[LABEL]])
        champion_pred = champion.predict_proba(images).to_numpy(dtype="float64")
        challenger_frame = challenger.predict_proba(images)
        aligned = np.zeros_like(champion_pred)  # a class the challenger never saw gets probability 0
        for i, label in enumerate(champion.classes_):
            if label in challenger_frame.columns:
                aligned[:, i] = challenger_frame[label].to_numpy(dtype="float64")
        return y, champion_pred, aligned


GATE = ImageGate()
