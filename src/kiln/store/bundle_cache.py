"""Local copies of registered bundles under KILN_HOME/cache/models, downloaded once.

A copy appears whole or not at all: it is downloaded into a temporary sibling, loaded
(every checksum and every model file), and only then renamed into place. Processes
racing for the same copy each download; the first rename wins, the others use it.
A copy found later is checked against its checksums (and, for a registry version, the
manifest hash the registry recorded) before each use; a damaged one is set aside and
fetched again. A download that fails the manifest hash is refused, never cached.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from kiln.settings import kiln_home


def cache_root() -> Path:
    return kiln_home() / "cache" / "models"


def cached_bundle(key: str, download: Callable[[Path], Path], *, manifest_sha256: str | None = None) -> Path:
    """The verified local bundle for `key`; `download(folder)` fetches it into `folder` and returns its path.

    With `manifest_sha256`, a copy whose kiln.json has another sha256 is refused (cached) or
    set aside (found in the cache): the artifact store held something else than was registered.
    """
    from kiln.bundle import MANIFEST, load_bundle
    from kiln.errors import BundleError

    final = cache_root() / key
    if (final / MANIFEST).is_file():
        try:
            _verify(final, manifest_sha256)
            return final
        except BundleError:
            _set_aside(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        staging.mkdir()
        fetched = download(staging)
        load_bundle(fetched, manifest_sha256=manifest_sha256)  # a copy that does not load never enters the cache
        try:
            os.replace(fetched, final)
        except OSError:  # another process put a complete copy there first
            if not (final / MANIFEST).is_file():
                raise
            _verify(final, manifest_sha256)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _verify(path: Path, manifest_sha256: str | None) -> None:
    from kiln.bundle import verify_bundle

    verify_bundle(path, manifest_sha256=manifest_sha256)


def _set_aside(path: Path) -> None:
    retired = path.parent / f".{path.name}.bad-{uuid.uuid4().hex[:8]}"
    try:
        os.replace(path, retired)
    except OSError:
        return
    shutil.rmtree(retired, ignore_errors=True)
