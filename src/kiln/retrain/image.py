"""The image kind's retrain hook: labelled images (a folder `<class>/<file>` or a table of `path` and `label`),
the challenger trained on them with the champion's settings, the drift rule on image statistics, a usable gate
set, and both models' probabilities on the same images for the paired test.

Time order of a folder: file modification time (then path), oldest first, so the gate set is the images
written last; a table keeps its row order (sort it by time before), as tables do.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kiln.errors import InvalidDataError
from kiln.vision.read import list_folder, open_image

if TYPE_CHECKING:
    from kiln.report.retrain import ShiftEvidence
    from kiln.training.progress import Reporter

PATH, LABEL = "path", "label"
MIN_GATE_IMAGES = 20


class ImageGate:
    """What retrain asks of an image champion and challenger (kiln.retrain.kind.Gate)."""

    def read(self, data: str | Path | pd.DataFrame) -> pd.DataFrame:
        """The new labelled images as a table of `path` (absolute) and `label`, oldest first."""
        if isinstance(data, pd.DataFrame):
            return data
        from kiln.data.load import read_table

        source = Path(data)
        if source.is_file():
            frame = read_table(source)
            if PATH in frame.columns:
                frame[PATH] = [str(p if p.is_absolute() else source.parent / p)
                               for p in (Path(str(v)) for v in frame[PATH])]
            return frame
        listing = list_folder(source, labelled=True)
        order = sorted(range(len(listing.paths)), key=lambda i: (listing.paths[i].stat().st_mtime_ns,
                                                                  listing.paths[i].as_posix()))
        return pd.DataFrame({PATH: [str(listing.paths[i].resolve()) for i in order],
                             LABEL: [listing.labels[i] for i in order] if listing.labels else None})

    def task(self, champion: Any) -> str:
        """The task the paired test scores: the feature model's (binary or multiclass)."""
        return str(champion.features.task)

    def train(self, rows: pd.DataFrame, champion: Any, *, time_limit: float | None, seed: int | None,
              n_jobs: int | None, reporter: Reporter) -> Any:
        """The challenger: the image trainer on `rows` with the champion's settings (recipe chosen afresh)."""
        from kiln.training.image import TRAINER

        training = champion.manifest.get("training", {})
        network = champion.manifest.get("network") or {}
        options: dict[str, Any] = {"path_column": PATH, "network": training.get("network", True),
                                   "augment": network.get("augment", training.get("augment", "shift")),
                                   "n_jobs": n_jobs}
        for key in ("network_epochs", "max_trials", "network_min_seconds"):
            if training.get(key) is not None:
                options[key] = training[key]
        with tempfile.TemporaryDirectory(prefix="kiln-retrain-images-") as folder:
            table = Path(folder) / "images.csv"
            rows[[PATH, LABEL]].to_csv(table, index=False)
            return TRAINER.train(table, target=LABEL, task="image", options=options,
                                 time_limit=float(time_limit if time_limit is not None
                                                  else training.get("time_limit", 60.0)),
                                 seed=int(seed if seed is not None else training.get("seed", 0)),
                                 reporter=reporter, started=None)

    def shift_evidence(self, champion: Any, rows: pd.DataFrame) -> ShiftEvidence:
        """The monitor's drift rule on the image statistics (brightness, contrast, ...) of the training images
        against the champion's reference; only images outside the gate are read."""
        from kiln.monitor.alerts import AlertRules
        from kiln.monitor.statistics import drift_table
        from kiln.report.retrain import ShiftEvidence
        from kiln.vision.stats import STATISTICS, statistics_frame

        rules = AlertRules.load()
        reference = champion.reference
        if reference is None:
            return ShiftEvidence(False, len(rows), rules.psi_threshold,
                                 note="the champion keeps no reference image statistics to test drift against")
        if len(rows) < rules.min_rows:
            return ShiftEvidence(False, len(rows), rules.psi_threshold,
                                 note=f"the {len(rows):,} training images are fewer than the monitor's min_rows "
                                      f"({rules.min_rows}), too few to test drift")
        images = [open_image(p) for p in rows[PATH]]
        current = statistics_frame(images, champion.recipe.arrays(images))
        kinds = {c: "numeric" for c in STATISTICS if c in reference.columns}
        table = drift_table(reference, current, kinds)
        drifted = tuple((f.column, float(f.psi), f.test, float(f.effect), float(f.p_value)) for f in
                        sorted(table, key=lambda f: -f.psi) if f.drifted and f.psi > rules.psi_threshold)
        return ShiftEvidence(bool(drifted), len(rows), rules.psi_threshold, drifted, tested=len(table))

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
        if gate[LABEL].nunique() < 2:
            raise InvalidDataError(f"The gate set (the newest {len(gate)} images) holds one class "
                                   f"({gate[LABEL].iloc[0]}); the paired test needs at least two. Interleave the "
                                   "classes in time (a folder is ordered by file modification time) or give a "
                                   "table of path and label in time order.")

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
