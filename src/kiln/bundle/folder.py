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
from typing import TYPE_CHECKING, Any

from kiln.errors import BundleError
from kiln.kinds import get as get_kind
from kiln.kinds import kind_of

if TYPE_CHECKING:
    from kiln.model import Model

FORMAT = "kiln-bundle"
FORMAT_VERSION = 1
MANIFEST = "kiln.json"


def save_bundle(model: Model, path: str | Path, *, report: str | None = None) -> Path:
    """Write `model` to the folder `path`, replacing an earlier bundle there.

    `report` is the training report, already rendered (kiln.report.training_report); the
    bundle stores it as report.html and never renders anything itself.
    """
    path = Path(path).resolve()
    if path.exists() and not path.is_dir():
        raise BundleError(f"'{path}' is a file; give --out a folder path for the bundle.")
    if path.exists() and not (path / MANIFEST).exists() and any(path.iterdir()):
        raise BundleError(f"'{path}' exists and is not a kiln bundle; choose another --out folder.")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        staging.mkdir()
        kind = model.kind
        written = get_kind(kind).hook("bundle").write(model, staging)
        if report is not None:
            (staging / "report.html").write_text(report, encoding="utf-8")
        manifest = {**model.manifest, "format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind,
                    **written, "files": _checksums(staging)}
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
    return get_kind(kind_of(manifest)).hook("bundle").read(path, manifest)


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


def bundle_version(path: str | Path) -> str:
    """A plain bundle folder's version: the start of its manifest's sha256."""
    digest = hashlib.sha256((Path(path) / MANIFEST).read_bytes()).hexdigest()
    return f"bundle-{digest[:12]}"


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
