"""Where things live. Read from the environment once, when first asked."""

from __future__ import annotations

import os
from pathlib import Path


def kiln_home() -> Path:
    """KILN_HOME (default `./.kiln`): bundles, reports and the embedded store."""
    return Path(os.environ.get("KILN_HOME", ".kiln")).resolve()


def default_report_path(data_name: str, kind: str) -> Path:
    """Where a report goes when no --out is given: KILN_HOME/reports/<data>-<kind>.html."""
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in data_name) or "data"
    return kiln_home() / "reports" / f"{stem}-{kind}.html"


def default_bundle_path(data_name: str) -> Path:
    """Where `kiln train` writes when no --out is given: KILN_HOME/bundles/<data>-<time>."""
    import time

    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in data_name) or "model"
    return kiln_home() / "bundles" / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
