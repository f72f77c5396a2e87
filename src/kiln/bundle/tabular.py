"""The tabular kind's model folder: per member and fold, prep.skops and the learner in its safe format.

    model/<member>/fold_<k>/prep.skops   the fitted ColumnTransformer (skops, allow-listed types)
    model/<member>/fold_<k>/...          the learner (LightGBM text, XGBoost JSON, CatBoost cbm, skops)
    leaderboard.csv, oof.parquet, reference.parquet

`FORMAT` is the hook the kind registry names for the bundle layer (kiln.bundle.kind.ModelFormat).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from kiln.data.schema import Schema
from kiln.data.target import Target
from kiln.errors import BundleError
from kiln.model import FoldModel, Member, Model

LIGHTGBM_MODEL = "booster.txt"  # learners/lightgbm.py's file name


class TabularFormat:
    """Writes and reads a tabular `Model` inside a bundle folder."""

    def write(self, model: Model, root: Path) -> dict[str, Any]:
        """Write the model's files under `root`; return the manifest fields that describe them."""
        members = [_write_member(member, root) for member in model.members]
        model.leaderboard_frame.to_csv(root / "leaderboard.csv", index=False)
        if model.oof is not None:
            model.oof.to_parquet(root / "oof.parquet", index=False)
        if model.reference is not None:
            model.reference.to_parquet(root / "reference.parquet", index=False)
        return {"task": model.task, "target": model.target.name, "classes": model.target.classes,
                "metric": model.metric, "schema": model.schema.to_dict(), "members": members}

    def confine(self, root: Path, manifest: dict[str, Any], *, confine: Callable[[object], Path]) -> None:
        """Check every member folder the manifest names with `confine`, and that the files read are listed."""
        files = manifest["files"]
        members = manifest.get("members")
        if not isinstance(members, list) or not members:
            raise BundleError(f"Bundle '{root}' lists no ensemble members; the bundle is damaged, retrain.")
        for member in members:
            folds = member.get("folds") if isinstance(member, dict) else None
            if not isinstance(folds, list) or not folds:
                raise BundleError(f"Bundle '{root}' has a member without fold models; the bundle is damaged, retrain.")
            for fold in folds:
                folder = fold.get("path") if isinstance(fold, dict) else None
                confine(folder)
                if f"{PurePosixPath(str(folder)).as_posix()}/prep.skops" not in files:
                    raise BundleError(f"Bundle '{root}' does not list the checksum of '{folder}/prep.skops'; the "
                                      "bundle is damaged, retrain.")
        if "leaderboard.csv" not in files:
            raise BundleError(f"Bundle '{root}' does not list the checksum of 'leaderboard.csv'; the bundle is "
                              "damaged, retrain.")

    def read(self, root: Path, manifest: dict[str, Any]) -> Model:
        """The model a verified bundle folder holds."""
        from kiln.prep.embed import check_embedding

        check_embedding(manifest.get("text_embedding"), str(root))  # before any prep.skops: the missing extra is named
        target = Target(manifest["target"], manifest["task"], manifest["classes"])
        members = [_read_member(root, m) for m in manifest["members"]]
        text_columns = {"error": str, "config": str, "fold_scores": str}
        leaderboard = pd.read_csv(root / "leaderboard.csv", dtype=text_columns).fillna({"error": ""})
        files = manifest["files"]  # only checksummed files are read
        oof = pd.read_parquet(root / "oof.parquet") if "oof.parquet" in files else None
        reference = pd.read_parquet(root / "reference.parquet") if "reference.parquet" in files else None
        return Model(target, Schema.from_dict(manifest["schema"]), manifest["metric"], members,
                     leaderboard, manifest, oof, reference)


FORMAT = TabularFormat()


def _write_member(member: Member, root: Path) -> dict[str, Any]:
    from kiln.learners.safe_load import skops_io

    sio = skops_io()

    folds = []
    for k, fold in enumerate(member.folds):
        relative = Path("model") / member.name / f"fold_{k}"
        folder = root / relative
        folder.mkdir(parents=True)
        sio.dump(fold.prep, folder / "prep.skops")
        fold.learner.save(folder)
        folds.append({"path": relative.as_posix(), "categorical": list(fold.categorical)})
    return {"name": member.name, "learner": member.learner, "config": member.config,
            "weight": member.weight, "folds": folds}


def _read_member(root: Path, entry: dict[str, Any]) -> Member:
    from sklearn.compose import ColumnTransformer

    from kiln.bundle.folder import _confine
    from kiln.learners.registry import get
    from kiln.learners.safe_load import check_lightgbm_model, load_skops

    learner_class = get(entry["learner"])
    folds = []
    for fold in entry["folds"]:
        folder = _confine(root, fold["path"])
        prep = load_skops(folder / "prep.skops")
        if not isinstance(prep, ColumnTransformer):
            raise BundleError(f"'{folder / 'prep.skops'}' holds a {type(prep).__name__}, not kiln's preprocessing; "
                              "the bundle is damaged or was not written by kiln.")
        if (folder / LIGHTGBM_MODEL).is_file():  # LightGBM's parser aborts the process on a malformed file
            check_lightgbm_model(folder / LIGHTGBM_MODEL)
        folds.append(FoldModel(prep, tuple(fold["categorical"]), learner_class.load(folder, [])))
    return Member(entry["name"], entry["learner"], entry["config"], entry["weight"], folds)
