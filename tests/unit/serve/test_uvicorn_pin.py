"""kiln.serve.server leans on uvicorn internals; this checks, in a second, that the installed uvicorn
is the pinned one and still has every name the subclasses use. The behaviour behind the names
is checked by the drain, workers and request-head tests against a real server."""

from __future__ import annotations

import inspect
from importlib.metadata import version
from pathlib import Path

import tomllib
from packaging.requirements import Requirement


def _pin() -> Requirement:
    project = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())
    return next(Requirement(r) for r in project["project"]["dependencies"] if r.startswith("uvicorn"))


def test_the_installed_uvicorn_is_the_pinned_minor_version() -> None:
    pin = _pin()
    assert pin.specifier.contains(version("uvicorn")), f"uvicorn {version('uvicorn')} is outside {pin}"
    assert any(s.operator == "<" for s in pin.specifier), "uvicorn needs an upper bound: kiln uses its internals"


def test_the_uvicorn_names_kiln_overrides_still_exist() -> None:
    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.supervisors import multiprocess

    server = uvicorn.Server(uvicorn.Config(app=lambda scope, receive, send: None))
    for name in ("server_state", "force_exit", "_captured_signals", "config"):
        assert hasattr(server, name), f"uvicorn.Server lost {name}"
    assert "sockets" in inspect.signature(uvicorn.Server.shutdown).parameters
    for attribute in ("self.servers", "self.lifespan"):  # set at startup
        assert attribute in inspect.getsource(uvicorn.Server), f"uvicorn.Server no longer sets {attribute}"
    assert hasattr(multiprocess, "Process") and hasattr(multiprocess, "Multiprocess")
    assert "self._server" in inspect.getsource(multiprocess.Process.__init__)
    assert isinstance(inspect.getattr_static(multiprocess.Process, "server"), property)
    for method in ("connection_made", "data_received", "connection_lost", "on_message_begin", "on_headers_complete"):
        assert callable(getattr(HttpToolsProtocol, method, None)), f"HttpToolsProtocol lost {method}"
    source = inspect.getsource(HttpToolsProtocol.__init__)
    for attribute in ("self.config", "self.loop", "self.transport", "self.server_state"):
        assert attribute in source, f"HttpToolsProtocol no longer sets {attribute}"


def test_kiln_serves_with_its_head_limited_protocol() -> None:
    from kiln.serve.server import HeadLimitedProtocol, _config
    from kiln.serve.settings import ServeSettings

    config = _config(lambda scope, receive, send: None, ServeSettings(model="unused", max_header_bytes=4096,
                                                                       header_timeout_s=3))
    config.load()
    assert config.http_protocol_class is HeadLimitedProtocol
    assert (config.kiln_max_header_bytes, config.kiln_header_timeout_s) == (4096, 3)
