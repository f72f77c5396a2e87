"""The request guards' pure parts: Host names, the key comparison, media types."""

from __future__ import annotations

import pytest

from kiln.serve.guards import HostGuard, host_name, key_matches, media_type


@pytest.mark.parametrize(("header", "name"), [("Example.COM:8000", "example.com"), ("[::1]:8000", "::1"),
                                               ("[::1]", "::1"), ("::1", "::1"), ("localhost", "localhost")])
def test_host_name_drops_the_port_and_case(header: str, name: str) -> None:
    assert host_name(header) == name


def test_a_loopback_bind_answers_to_its_names_only() -> None:
    guard = HostGuard(None, bind="127.0.0.1", allowed=["kiln.example", "*.models.example"])
    for host in ("127.0.0.1:8000", "localhost", "[::1]:1", "kiln.example", "a.models.example"):
        assert guard.allows(host), host
    for host in ("evil.example", "10.0.0.5", "models.example.evil", "kiln.example.evil", "xmodels.example"):
        assert not guard.allows(host), host


def test_a_wildcard_bind_also_answers_to_any_ip_literal_but_not_to_names() -> None:
    guard = HostGuard(None, bind="0.0.0.0")
    assert guard.allows("10.0.0.5:8000") and guard.allows("[fe80::1]:8000")
    assert not guard.allows("evil.example") and not guard.allows("10.0.0.5.evil.example")
    assert HostGuard(None, bind="127.0.0.1", allowed=["*"]).allows("anything.example")


def test_the_key_comes_from_x_api_key_or_a_bearer_token_and_must_match_exactly() -> None:
    assert key_matches("k3y", [(b"x-api-key", b"k3y")])
    assert key_matches("k3y", [(b"authorization", b"Bearer k3y")])
    assert not key_matches("k3y", [(b"x-api-key", b"")])
    assert not key_matches("k3y", [(b"x-api-key", b"k3y ")])
    assert not key_matches("k3y", [(b"authorization", b"Basic k3y")])
    assert not key_matches("k3y", [])


def test_media_type_ignores_parameters_and_case() -> None:
    assert media_type({"headers": [(b"content-type", b"Application/JSON; charset=utf-8")]}) == "application/json"
    assert media_type({"headers": []}) == ""
