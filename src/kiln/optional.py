"""The one place kiln imports a library a user may not have, naming the pip command."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from kiln.errors import MissingDependencyError


def require(module: str, *, purpose: str, package: str | None = None) -> Any:
    """Import `module`, or raise MissingDependencyError saying what needs it and how to install it.

    Import-time warnings of the library itself (e.g. shap touching deprecated matplotlib
    APIs) are silenced: they are not the user's to act on.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(module)
    except ImportError as exc:
        name = package or module.split(".")[0]
        raise MissingDependencyError(f"{purpose} need the '{name}' package; install it with: pip install {name}") \
            from exc
