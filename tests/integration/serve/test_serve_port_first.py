"""A port already in use is told before the model loads (which takes seconds, ~28 s for the demo's).

A real listening socket on 127.0.0.1 holds the port. The model named is a folder that is
not a bundle: were the model loaded first, that would be the error; the port's must come
first. With a free port the same call goes on to load the model, and lets the port go.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from kiln.cli import app
from kiln.errors import BundleError, InvalidOptionError
from kiln.serve.server import run
from kiln.serve.settings import ServeSettings


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_busy_port_is_told_before_the_model_is_loaded(busy_port: int, tmp_path) -> None:
    not_a_bundle = tmp_path / "model"
    not_a_bundle.mkdir()
    with pytest.raises(InvalidOptionError, match=f"Cannot listen on 127.0.0.1:{busy_port} .*--port"):
        run(ServeSettings(model=str(not_a_bundle)), port=busy_port)


def test_with_a_free_port_the_model_is_loaded_and_the_port_let_go(tmp_path) -> None:
    not_a_bundle = tmp_path / "model"
    not_a_bundle.mkdir()
    port = _free_port()
    with pytest.raises(BundleError):
        run(ServeSettings(model=str(not_a_bundle)), port=port)
    with socket.socket() as again:  # the early bind was closed when loading failed
        again.bind(("127.0.0.1", port))


def test_kiln_serve_on_a_busy_port_prints_one_line_and_exits_2(busy_port: int, tmp_path) -> None:
    (tmp_path / "model").mkdir()
    result = CliRunner().invoke(app, ["serve", str(tmp_path / "model"), "--port", str(busy_port)])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [
        f"error: Cannot listen on 127.0.0.1:{busy_port} (Address already in use); pick a free port with --port."]
