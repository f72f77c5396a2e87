"""The model bundle: one folder, written atomically, verified on load (folder.py).

The folder logic (manifest, checksums, atomic swap) is shared by every problem kind; the
model files inside are the kind's (tabular.py for tables), found through kiln.kinds.
"""

from kiln.bundle.folder import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    SIGNATURE,
    SIGNING_KEY_ENV,
    add_to_bundle,
    bundle_version,
    load_bundle,
    manifest_digest,
    save_bundle,
    signing_key,
    verify_bundle,
)

__all__ = ["FORMAT", "FORMAT_VERSION", "MANIFEST", "SIGNATURE", "SIGNING_KEY_ENV", "add_to_bundle", "bundle_version",
           "load_bundle", "manifest_digest", "save_bundle", "signing_key", "verify_bundle"]
