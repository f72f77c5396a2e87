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

What a load trusts, checked before any member is read:

- every path the manifest names is a relative path inside the folder (no absolute path,
  no `..`, no symlink out), refused with one message whatever lies outside, so an error
  never tells whether a file exists elsewhere;
- every file in the folder is listed with its sha256 (an unlisted file is refused, so
  nothing loads unchecked), and every listed file matches;
- the checksums live in kiln.json, so they catch corruption, not tampering. kiln.json
  itself is checked against the sha256 the registry recorded at registration (for
  `models:/...` addresses, `manifest_sha256=`), and, when KILN_SIGNING_KEY is set,
  against its HMAC-SHA256 signature in kiln.sig (written by `save_bundle` under the key).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import uuid
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from kiln.errors import BundleError, KilnError
from kiln.kinds import get as get_kind
from kiln.kinds import kind_of

if TYPE_CHECKING:
    from kiln.model import Model

FORMAT = "kiln-bundle"
FORMAT_VERSION = 1
MANIFEST = "kiln.json"
SIGNATURE = "kiln.sig"  # HMAC-SHA256 of kiln.json under KILN_SIGNING_KEY, when it was set at saving
SIGNING_KEY_ENV = "KILN_SIGNING_KEY"
_SIGNATURE_PREFIX = "hmac-sha256:"


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
        text = json.dumps(manifest, indent=2, default=str)
        _write_text(staging / MANIFEST, text)
        key = signing_key()
        if key is not None:
            _write_text(staging / SIGNATURE, _SIGNATURE_PREFIX + _signature(text.encode(), key) + "\n")
        _fsync_dir(staging)
        _swap_into_place(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def add_to_bundle(path: str | Path, files: dict[str, bytes], fields: dict[str, Any]) -> Path:
    """Add `files` (relative name → content) and manifest `fields` to a verified bundle, atomically:
    the copy is written beside it, checksummed (and signed under KILN_SIGNING_KEY), then swapped in.
    The manifest changes, so a folder's `bundle_version` does too."""
    path = Path(path).resolve()
    manifest = verify_bundle(path)
    staging = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        shutil.copytree(path, staging, symlinks=True)
        (staging / SIGNATURE).unlink(missing_ok=True)
        for relative, content in files.items():
            target = _confine(staging, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        updated = {**manifest, **fields, "files": _checksums(staging)}
        text = json.dumps(updated, indent=2, default=str)
        _write_text(staging / MANIFEST, text)
        key = signing_key()
        if key is not None:
            _write_text(staging / SIGNATURE, _SIGNATURE_PREFIX + _signature(text.encode(), key) + "\n")
        _fsync_dir(staging)
        _swap_into_place(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def load_bundle(path: str | Path, *, manifest_sha256: str | None = None) -> Model:
    """Read a bundle folder, verifying it first (`verify_bundle`); a member that cannot be read
    is a BundleError naming the bundle, never a library's traceback."""
    path = Path(path)
    manifest = verify_bundle(path, manifest_sha256=manifest_sha256)
    try:
        return get_kind(kind_of(manifest)).hook("bundle").read(path, manifest)
    except KilnError:
        raise
    except Exception as exc:  # a member that passed its checksum but does not parse
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise BundleError(f"Bundle '{path}' cannot be loaded ({type(exc).__name__}: {detail}); it is damaged or was "
                          "not written by this kiln: retrain or restore it.") from exc


def manifest_digest(path: str | Path) -> str:
    """The sha256 of a bundle's kiln.json: what the registry records at registration."""
    return hashlib.sha256(_read_manifest_bytes(Path(path))).hexdigest()


def signing_key() -> bytes | None:
    """KILN_SIGNING_KEY as bytes, None when unset; an empty key would sign nothing, so it is refused."""
    value = os.environ.get(SIGNING_KEY_ENV)
    if value is None:
        return None
    if not value.strip():
        raise BundleError(f"{SIGNING_KEY_ENV} is set but empty; set it to a long random secret, or unset it.")
    return value.encode()


def verify_bundle(path: str | Path, *, manifest_sha256: str | None = None) -> dict[str, Any]:
    """Check a bundle folder without loading models; return the manifest.

    kiln.json is checked against `manifest_sha256` (the registry's record) and the signature;
    then every path it names is confined to the folder before any member is opened; then every
    file must be listed, and every listed file must match its checksum. Cheap enough to run on every use
    of a cached copy (e.g. a registry download).
    """
    path = Path(path)
    raw = _read_manifest_bytes(path)
    if manifest_sha256 is not None and not hmac.compare_digest(hashlib.sha256(raw).hexdigest(), manifest_sha256):
        raise BundleError(f"Bundle '{path}' has a {MANIFEST} that differs from the one the registry recorded when "
                          "this version was registered; the artifact-store copy was replaced or altered. "
                          "Refusing to load it: restore the original or register the bundle again.")
    key = signing_key()
    if key is not None:
        _check_signature(path, raw, key)
    try:
        manifest = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise BundleError(f"'{path / MANIFEST}' is not valid JSON ({reason}); the bundle is damaged, "
                          "retrain.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT \
            or manifest.get("format_version") != FORMAT_VERSION:
        found = manifest if isinstance(manifest, dict) else {}
        raise BundleError(f"'{path}' has format {found.get('format')} v{found.get('format_version')}; "
                          f"this kiln reads {FORMAT} v{FORMAT_VERSION}.")
    files = manifest.get("files")
    if not files or not isinstance(files, dict):
        raise BundleError(f"'{path}' lists no file checksums; the bundle is damaged, retrain.")
    _confine_all(path, files, manifest)
    _verify(path, files)
    return manifest


def _read_manifest_bytes(path: Path) -> bytes:
    manifest_path = _confine(path, MANIFEST)  # first: a symlink out is refused whether its target exists or not
    if not manifest_path.is_file():
        from kiln.data.paths import did_you_mean

        hint = did_you_mean(path, accept=lambda found: (found / MANIFEST).is_file())
        missing = "" if path.exists() else " and does not exist"
        raise BundleError(f"'{path}' is not a kiln bundle (no {MANIFEST}){missing}; pass the folder "
                          f"`kiln train --out` wrote.{hint}")
    try:
        return manifest_path.read_bytes()
    except OSError as exc:
        raise BundleError(f"Cannot read '{manifest_path}' ({exc.strerror}); check its permissions.") from exc


def _signature(raw: bytes, key: bytes) -> str:
    return hmac.new(key, raw, hashlib.sha256).hexdigest()


def _check_signature(path: Path, raw: bytes, key: bytes) -> None:
    file = _confine(path, SIGNATURE)
    if not file.is_file():
        raise BundleError(f"Bundle '{path}' is not signed, and {SIGNING_KEY_ENV} is set; refusing to load it. Save it "
                          f"again with {SIGNING_KEY_ENV} set, or unset the key to load unsigned bundles.")
    _confine(path, SIGNATURE)
    text = file.read_text(encoding="utf-8", errors="replace").strip()
    given = text.removeprefix(_SIGNATURE_PREFIX)
    if not text.startswith(_SIGNATURE_PREFIX) or not hmac.compare_digest(given, _signature(raw, key)):
        raise BundleError(f"Bundle '{path}' is signed with another key, or its {MANIFEST} changed after signing; "
                          "refusing to load it. Restore the original, or check that "
                          f"{SIGNING_KEY_ENV} is the key it was saved with.")


def _confine(root: Path, relative: object) -> Path:
    """`root / relative`, if it is a plain relative path that stays inside `root` (symlinks resolved).

    One message for every refusal, naming only the manifest's own text: whether something
    exists outside the bundle never shows.
    """
    refused = BundleError(f"Bundle '{root}' names a member outside its folder ({str(relative)[:200]!r}); members "
                          "must be relative paths inside the bundle. Refusing to load it: it was not written by kiln "
                          "or has been altered.")
    if not isinstance(relative, str) or not relative or "\\" in relative or "\x00" in relative:
        raise refused
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise refused
    candidate = root / pure
    try:
        inside = candidate.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        inside = False
    if not inside:
        raise refused
    return candidate


def _confine_all(root: Path, files: dict[str, Any], manifest: dict[str, Any]) -> None:
    """Every path the manifest names, and every file kiln reads, checked before any is opened
    (the paths the model files hold are the kind's to name: its bundle hook's `confine`)."""
    for relative, digest in files.items():
        _confine(root, relative)
        if not isinstance(digest, str):
            raise BundleError(f"Bundle '{root}' lists '{relative}' without a sha256; the bundle is damaged, retrain.")
    get_kind(kind_of(manifest)).hook("bundle").confine(root, manifest, confine=lambda rel: _confine(root, rel))
    listed = {PurePosixPath(relative).as_posix() for relative in files}
    for found in _present_files(root):
        if found not in listed:
            raise BundleError(f"Bundle '{root}' holds '{found}', which its manifest does not list; only checksummed "
                              "files may be loaded. Remove it, or retrain.")


def _present_files(root: Path) -> list[str]:
    """Every file (and symlink) in the folder but the manifest and its signature; symlinked folders
    are not followed."""
    found = []
    for folder, _dirs, names in os.walk(root, followlinks=False):
        for name in names:
            relative = (Path(folder) / name).relative_to(root).as_posix()
            if relative not in (MANIFEST, SIGNATURE):
                found.append(relative)
    return sorted(found)


def bundle_version(path: str | Path) -> str:
    """A plain bundle folder's version: the start of its manifest's sha256."""
    return f"bundle-{manifest_digest(path)[:12]}"


def _checksums(root: Path) -> dict[str, str]:
    return {relative: _sha256(root / relative) for relative in _present_files(root)}


def _verify(root: Path, expected: dict[str, str]) -> None:
    """Every listed file against its checksum (paths already confined by `_confine_all`)."""
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
