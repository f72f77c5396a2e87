"""Load a model from a bundle folder or a registry address: what `kiln.load` does, below the public API."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiln.model import Model


def load_model(path: str | Path) -> Model:
    """A bundle folder, or `models:/NAME@ALIAS` / `models:/NAME/VERSION` fetched into KILN_HOME's cache once
    and checked against the manifest hash recorded at registration; the checksums are verified either way."""
    from kiln.bundle import load_bundle
    from kiln.store.model_uri import is_registry_uri

    if is_registry_uri(str(path)):
        from kiln.store.registry import resolve

        resolved = resolve(str(path))
        return load_bundle(resolved.path, manifest_sha256=resolved.manifest_sha256)
    return load_bundle(path)
