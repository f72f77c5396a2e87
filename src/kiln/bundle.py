"""Save and load the model bundle: one folder, written atomically, checked on load.

    kiln.json        manifest (task, target, classes, schema, metric, CV scores with
                     intervals, ensemble members and weights, data fingerprint, seed,
                     library versions, sha256 of every other file)
    model/           per member and fold: prep.skops + the learner in a safe format
                     (LightGBM text, XGBoost JSON, CatBoost cbm, skops for scikit-learn)
    leaderboard.csv  every trial
    oof.parquet      out-of-fold predictions of the kept models
    reference.parquet  up to 5,000 training rows with their out-of-fold outputs: the
                     reference that drift monitoring and performance estimation compare with
    report.html      the training report (leaderboard, data checks, data contract)

The folder is written next to its destination under a temporary name and renamed
into place, so a killed run leaves the old bundle (or nothing), never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from kiln.data.schema import Schema
from kiln.data.target import Target
from kiln.errors import BundleError
from kiln.model import FoldModel, Member, Model
from kiln.report.training import render_training

FORMAT = "kiln-bundle"
FORMAT_VERSION = 1
MANIFEST = "kiln.json"


def save_bundle(model: Model, path: Path) -> Path:
    """Write `model` to the folder `path`, replacing an earlier bundle there."""
    path = path.resolve()
    if path.exists() and not path.is_dir():
        raise BundleError(f"'{path}' is a file; give --out a folder path for the bundle.")
    if path.exists() and not (path / MANIFEST).exists() and any(path.iterdir()):
        raise BundleError(f"'{path}' exists and is not a kiln bundle; choose another --out folder.")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        staging.mkdir()
        members = [_write_member(member, staging) for member in model.members]
        model.leaderboard_frame.to_csv(staging / "leaderboard.csv", index=False)
        if model.oof is not None:
            model.oof.to_parquet(staging / "oof.parquet", index=False)
        if model.reference is not None:
            model.reference.to_parquet(staging / "reference.parquet", index=False)
        (staging / "report.html").write_text(render_training(model), encoding="utf-8")
        manifest = {**model.manifest, "format": FORMAT, "format_version": FORMAT_VERSION,
                    "task": model.task, "target": model.target.name, "classes": model.target.classes,
                    "metric": model.metric, "schema": model.schema.to_dict(), "members": members,
                    "files": _checksums(staging)}
        _write_text(staging / MANIFEST, json.dumps(manifest, indent=2, default=str))
        _fsync_dir(staging)
        _swap_into_place(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def load_bundle(path: str | Path) -> Model:
    """Read a bundle folder, verifying every file against the manifest's checksums."""
    path = Path(path)
    manifest = verify_bundle(path)
    target = Target(manifest["target"], manifest["task"], manifest["classes"])
    members = [_read_member(path, m) for m in manifest["members"]]
    text_columns = {"error": str, "config": str, "fold_scores": str}
    leaderboard = pd.read_csv(path / "leaderboard.csv", dtype=text_columns).fillna({"error": ""})
    oof = pd.read_parquet(path / "oof.parquet") if (path / "oof.parquet").exists() else None
    reference = pd.read_parquet(path / "reference.parquet") if (path / "reference.parquet").exists() else None
    return Model(target, Schema.from_dict(manifest["schema"]), manifest["metric"], members,
                 leaderboard, manifest, oof, reference)


def verify_bundle(path: str | Path) -> dict[str, Any]:
    """Check a bundle folder against its manifest's checksums, without loading models; return the manifest.

    Cheap enough to run on every use of a cached copy (e.g. a registry download).
    """
    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise BundleError(f"'{path}' is not a kiln bundle (no {MANIFEST}); pass the folder `kiln train --out` wrote.")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        raise BundleError(f"'{manifest_path}' is not valid JSON ({exc.msg}); the bundle is damaged, retrain.") from exc
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"'{path}' has format {manifest.get('format')} v{manifest.get('format_version')}; "
                          f"this kiln reads {FORMAT} v{FORMAT_VERSION}.")
    _verify(path, manifest.get("files", {}))
    return manifest


def _write_member(member: Member, root: Path) -> dict[str, Any]:
    import skops.io as sio

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

    from kiln.learners.registry import get
    from kiln.safe_load import load_skops

    learner_class = get(entry["learner"])
    folds = []
    for fold in entry["folds"]:
        folder = root / fold["path"]
        prep = load_skops(folder / "prep.skops")
        if not isinstance(prep, ColumnTransformer):
            raise BundleError(f"'{folder / 'prep.skops'}' holds a {type(prep).__name__}, not kiln's preprocessing; "
                              "the bundle is damaged or was not written by kiln.")
        folds.append(FoldModel(prep, tuple(fold["categorical"]), learner_class.load(folder, [])))
    return Member(entry["name"], entry["learner"], entry["config"], entry["weight"], folds)


def _checksums(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): _sha256(p)
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != MANIFEST}


def _verify(root: Path, expected: dict[str, str]) -> None:
    if not expected:
        raise BundleError(f"'{root}' lists no file checksums; the bundle is damaged, retrain.")
    for relative, digest in expected.items():
        file = root / relative
        if not file.is_file():
            raise BundleError(f"Bundle '{root}' is missing '{relative}'; it is incomplete, retrain or restore it.")
        if _sha256(file) != digest:
            raise BundleError(
                f"Bundle '{root}' file '{relative}' does not match its checksum; it was modified "
                "after training. Refusing to load it: retrain or restore the original."
            )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_text(path: Path, text: str) -> None:
    with path.open("w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    for file in path.rglob("*"):
        if file.is_file():
            with file.open("rb") as handle:
                os.fsync(handle.fileno())


def _swap_into_place(staging: Path, path: Path) -> None:
    """Rename the finished bundle into place; an older bundle is moved aside first."""
    if not path.exists():
        os.replace(staging, path)
        return
    retired = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(path, retired)
    os.replace(staging, path)
    shutil.rmtree(retired, ignore_errors=True)
