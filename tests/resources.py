"""What the tests read or need from outside their own code, in one place.

Data ships in tests/data/ (see its README for the licence), so no test reads a path
outside the repository. A service a test needs (PostgreSQL's binaries, Chromium, a
package) skips the test on a developer's machine but fails it under `CI=true`: .ci/run
installs them, so a skip there would hide a test that never ran.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

DATA = Path(__file__).resolve().parent / "data"
AI4I = DATA / "ai4i2020.csv"  # the real AI4I 2020 file, CC BY 4.0
FAILURE_MODES = ["TWF", "HDF", "PWF", "OSF", "RNF"]  # they leak the label


def in_ci() -> bool:
    """True where the environment says CI (`CI=true`, as .ci/run and most CI services set)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing(reason: str) -> NoReturn:
    """Skip for a missing service on a developer's machine; fail under CI=true."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: .ci/run must install it, so the test fails instead of skipping)",
                    pytrace=False)
    pytest.skip(reason)


def need_module(name: str, install: str) -> ModuleType:
    """`pytest.importorskip`, but a failure under CI=true."""
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(f"{name} is not installed: {install}")
