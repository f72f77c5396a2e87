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
        raise MissingDependencyError(f"{purpose} need the '{name}' package; install it with: {install_command(name)}") \
            from exc


def install_command(name: str) -> str:
    """The pip command for `name`; kiln's own extras come from the checkout, since `kiln-ml` is not
    published on PyPI and a bare `pip install kiln-ml[...]` would install whatever anyone uploaded."""
    if name.startswith("kiln-ml["):
        extra = name[len("kiln-ml"):]
        return f"pip install -e '.{extra}' in the kiln checkout (the extra {name}; kiln-ml is not on PyPI)"
    return f"pip install {name}"
