"""Registry addresses: `models:/NAME@ALIAS` and `models:/NAME/VERSION`, and valid model names."""

from __future__ import annotations

import re
from typing import NamedTuple

from kiln.errors import InvalidOptionError

SCHEME = "models:/"
# Letters, digits, '.', '_' and '-': safe in a URI, a folder name, an experiment name and an
# MLflow search filter, so no name ever needs quoting.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class ModelAddress(NamedTuple):
    name: str
    version: str | None
    alias: str | None


def is_registry_uri(text: object) -> bool:
    """True for `models:/...`: an address in the registry rather than a bundle folder."""
    return isinstance(text, str) and text.startswith(SCHEME)


def check_name(name: str) -> str:
    """The registered model name, or an InvalidOptionError saying which characters are allowed."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidOptionError(f"Model name {name!r} is not valid; use 1–128 letters, digits, '.', '_' or '-', "
                                 "starting with a letter or digit (e.g. machine-failure).")
    return name


def check_version(version: str | int) -> str:
    text = str(version).strip()
    if not text.isdigit() or int(text) < 1:
        raise InvalidOptionError(f"Version {version!r} is not valid; versions are whole numbers from 1 "
                                 "(kiln models show NAME lists them).")
    return str(int(text))


def parse_model_uri(uri: str) -> ModelAddress:
    """Split `models:/NAME@ALIAS` or `models:/NAME/VERSION`; anything else is an InvalidOptionError."""
    rest = uri[len(SCHEME):] if is_registry_uri(uri) else ""
    if "@" in rest and "/" not in rest:
        name, alias = rest.split("@", 1)
        if alias:
            return ModelAddress(check_name(name), None, alias)
    elif rest.count("/") == 1:
        name, version = rest.split("/")
        return ModelAddress(check_name(name), check_version(version), None)
    raise InvalidOptionError(f"'{uri}' is not a registry address; use models:/NAME@ALIAS (e.g. "
                             "models:/machine-failure@champion) or models:/NAME/VERSION.")
