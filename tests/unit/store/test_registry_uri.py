"""Registry addresses and model names: what `models:/...` means, and what is refused."""

from __future__ import annotations

import pytest

from kiln.errors import InvalidOptionError
from kiln.store.model_uri import check_name, check_version, is_registry_uri, parse_model_uri


@pytest.mark.parametrize(("text", "expected"), [
    ("models:/machine-failure@champion", True), ("models:/m/3", True), ("./model", False),
    ("/tmp/models/x", False), ("model:/x@champion", False),
])
def test_is_registry_uri(text: str, expected: bool) -> None:
    assert is_registry_uri(text) is expected


def test_parse_alias_and_version_addresses() -> None:
    assert parse_model_uri("models:/machine-failure@champion") == ("machine-failure", None, "champion")
    assert parse_model_uri("models:/m.v2/12") == ("m.v2", "12", None)


@pytest.mark.parametrize("uri", ["models:/", "models:/name", "models:/a/b/c", "models:/name@", "models:/a/b@c",
                                 "models:/name/zero", "models:/name/0"])
def test_malformed_addresses_say_which_forms_work(uri: str) -> None:
    with pytest.raises(InvalidOptionError, match=r"not (a registry address|valid)"):
        parse_model_uri(uri)


@pytest.mark.parametrize("name", ["bad name", "", "-leading", "quote'd", "slash/ed", "x" * 129, "at@sign"])
def test_names_outside_the_safe_alphabet_are_refused(name: str) -> None:
    with pytest.raises(InvalidOptionError, match="letters, digits"):
        check_name(name)


def test_versions_are_whole_numbers_from_one() -> None:
    assert check_version(3) == "3" and check_version(" 07 ") == "7"
    with pytest.raises(InvalidOptionError, match="whole numbers"):
        check_version("latest")
