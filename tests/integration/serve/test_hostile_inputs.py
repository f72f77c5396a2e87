"""Hostile requests against a real `kiln serve` on 127.0.0.1: each gets a 4xx whose JSON body
names the field (or "body", "rows", "content-type"), and the server stays healthy after it.

Two servers per module: `tight` (4 KiB bodies, 10 rows) for the size limits, `roomy` (the
default limits, a 1 ms request timeout) for big bodies under the limit and the timeout.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROW = {"Type": "L", "Air temperature [K]": 300.1, "Process temperature [K]": 310.2, "Rotational speed [rpm]": 1500,
       "Torque [Nm]": 40.3, "Tool wear [min]": 100}
HEADER = ",".join(ROW)
TIGHT_BODY = 4096


class Running:
    """A `kiln serve` started for the whole module."""

    def __init__(self, process: subprocess.Popen, url: str, log: Path) -> None:
        self.process, self.url, self.log = process, url, log

    def post(self, content: bytes | Iterator[bytes], content_type: str | None = "application/json",
             path: str = "/predict") -> httpx.Response:
        headers = {"content-type": content_type} if content_type else {}
        return httpx.post(f"{self.url}{path}", content=content, headers=headers, timeout=60)


def _serve(model: Path, folder: Path, *args: str) -> Iterator[Running]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = folder / f"server-{port}.log"
    environment = {**os.environ, "KILN_HOME": str(folder / "home"), "KILN_DB": f"sqlite:///{folder / 'kiln.db'}"}
    with log.open("w") as output:
        process = subprocess.Popen([str(Path(sys.executable).with_name("kiln")), "serve", str(model), "--port",
                                    str(port), *args], env=environment, stdout=output, stderr=subprocess.STDOUT)
    server = Running(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"kiln serve exited with {process.returncode}: {log.read_text()}")
            try:
                if httpx.get(f"{server.url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"kiln serve was not ready within 120 s: {log.read_text()}")
            time.sleep(0.2)
        yield server
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]  # no request raised inside
    finally:
        process.terminate()
        process.wait(60)


@pytest.fixture(scope="module")
def tight(ai4i_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    yield from _serve(ai4i_bundle, tmp_path_factory.mktemp("tight"), "--max-body-bytes", str(TIGHT_BODY),
                      "--max-rows", "10")


@pytest.fixture(scope="module")
def roomy(ai4i_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    yield from _serve(ai4i_bundle, tmp_path_factory.mktemp("roomy"), "--request-timeout", "0.001")


def _body(payload: object) -> bytes:
    return json.dumps(payload).encode()


def assert_refused(response: httpx.Response, status: int, field: str) -> dict:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    problem = response.json()["detail"][0]
    assert problem["field"] == field, problem
    assert problem["msg"]
    return problem


def assert_healthy(server: Running) -> None:
    assert server.process.poll() is None, "the server died"
    assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
    answer = server.post(_body({"rows": [ROW]}))
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 1


# -- sizes --------------------------------------------------------------------------------------

def _exactly(size: int) -> bytes:
    """A valid one-row body padded with an ignored field to exactly `size` bytes."""
    start = _body({"rows": [ROW], "pad": ""})[:-2]
    return start + b"x" * (size - len(start) - 2) + b'"}'


def test_a_body_at_the_limit_is_served_and_one_byte_over_is_413(tight) -> None:
    assert tight.post(_exactly(TIGHT_BODY)).status_code == 200
    assert_refused(tight.post(_exactly(TIGHT_BODY + 1)), 413, "body")
    assert_healthy(tight)


def test_a_chunked_body_one_byte_over_is_413(tight) -> None:
    def chunks(data: bytes) -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding chunked
        for start in range(0, len(data), 1000):
            yield data[start:start + 1000]

    assert tight.post(chunks(_exactly(TIGHT_BODY))).status_code == 200
    assert_refused(tight.post(chunks(_exactly(TIGHT_BODY + 1))), 413, "body")
    assert_healthy(tight)


def test_an_endless_chunked_upload_is_refused_before_it_is_read(tight) -> None:
    total, sent = 256 * 2**20, 0

    def endless() -> Iterator[bytes]:
        nonlocal sent
        while sent < total:
            sent += 2**16
            yield b'{"rows": [' + b" " * (2**16 - 10) if sent == 2**16 else b" " * 2**16

    started = time.monotonic()
    assert_refused(tight.post(endless()), 413, "body")
    assert sent < total // 8, f"the client got to send {sent:,} bytes before the 413"
    assert time.monotonic() - started < 30
    assert_healthy(tight)


def test_rows_over_the_limit_are_413(tight) -> None:
    assert tight.post(_body({"rows": [ROW] * 10})).status_code == 200
    assert_refused(tight.post(_body({"rows": [ROW] * 11})), 413, "rows")
    assert_healthy(tight)


def test_a_million_keys_over_the_default_limit_are_413(roomy) -> None:
    record = {**ROW, **{f"k{i:07d}": 0 for i in range(1_000_000)}}
    body = _body(record)
    assert len(body) > 8 * 1024 * 1024
    assert_refused(roomy.post(body), 413, "body")
    assert_healthy(roomy)


def test_a_hundred_thousand_keys_under_the_limit_are_no_server_error(roomy) -> None:
    record = {**ROW, **{f"k{i:06d}": i for i in range(100_000)}}
    response = roomy.post(_body({"rows": [record]}))
    assert response.status_code in (200, 413, 422), response.text[:500]
    if response.status_code != 200:
        assert response.json()["detail"][0]["field"]
    assert_healthy(roomy)


# -- malformed and hostile JSON -----------------------------------------------------------------

def test_ten_thousand_deep_json_is_422(roomy) -> None:
    assert_refused(roomy.post(b"[" * 10_000 + b"]" * 10_000), 422, "body")
    nested = _body({"rows": [{**ROW, "Type": "@"}]}).replace(b'"@"', b"[" * 500 + b"]" * 500)
    assert_refused(roomy.post(nested), 422, "Type")  # under the parser's depth, over the server's
    assert_healthy(roomy)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e309", b"-1e309"])
def test_non_finite_number_literals_are_422(roomy, literal) -> None:
    body = _body({"rows": [{**ROW, "Torque [Nm]": "@"}]}).replace(b'"@"', literal)
    assert literal in body
    assert_refused(roomy.post(body), 422, "body")  # not JSON: the parser refuses them
    assert_healthy(roomy)


def test_the_string_nan_in_a_number_field_is_422(roomy) -> None:
    problem = assert_refused(roomy.post(_body({"rows": [ROW, {**ROW, "Torque [Nm]": "NaN"}]})), 422, "Torque [Nm]")
    assert problem["row"] == 1


@pytest.mark.parametrize("path", ["/predict", "/explain"])
@pytest.mark.parametrize("value", [1e300, -3.5e38])
def test_finite_numbers_beyond_float32_are_422_not_a_crash(roomy, path, value) -> None:
    problem = assert_refused(roomy.post(_body({"rows": [{**ROW, "Air temperature [K]": value}]}), path=path), 422,
                             "Air temperature [K]")
    assert problem["row"] == 0
    assert roomy.post(_body({"rows": [{**ROW, "Air temperature [K]": 3e38}]}), path=path).status_code == 200
    assert_healthy(roomy)


@pytest.mark.parametrize("cell", ["inf", "-inf", "1e309"])
def test_infinity_in_a_csv_cell_is_422(roomy, cell) -> None:
    csv = f"{HEADER}\nL,300,310,1500,40,100\nL,300,310,1500,{cell},100\n".encode()
    problem = assert_refused(roomy.post(csv, "text/csv"), 422, "Torque [Nm]")
    assert problem["row"] == 1
    assert_healthy(roomy)


@pytest.mark.parametrize("surrogate", [b'"\\ud800"', b'"L\\udfff"', b'"\xed\xa0\x80"'],
                         ids=["escaped-high", "escaped-low", "raw-cesu8"])
def test_a_lone_surrogate_is_422(roomy, surrogate) -> None:
    body = _body({"rows": [{**ROW, "Type": "@"}]}).replace(b'"@"', surrogate)
    assert_refused(roomy.post(body), 422, "body")
    assert_healthy(roomy)


def test_nul_in_a_csv_cell_is_422(roomy) -> None:
    csv = f"{HEADER}\nL\x00,300,310,1500,40,100\n".encode()
    assert_refused(roomy.post(csv, "text/csv"), 422, "Type")
    assert_healthy(roomy)


def test_a_megabyte_string_in_a_categorical_field_is_422(roomy) -> None:
    problem = assert_refused(roomy.post(_body({"rows": [{**ROW, "Type": "L" * 1_000_000}]})), 422, "Type")
    assert len(problem["msg"]) < 1000  # the refusal does not echo the value back
    assert_healthy(roomy)


# -- content types and empty or odd bodies -----------------------------------------------------

class _Canary:
    """Unpickling this creates a folder: proof the server unpickled the body."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.mkdir, (str(self.marker),))


@pytest.mark.parametrize("content_type", ["application/octet-stream", "application/python-pickle"])
def test_a_pickle_is_415_and_never_unpickled(roomy, tmp_path, content_type) -> None:
    marker = tmp_path / "unpickled"
    body = pickle.dumps({"rows": [ROW], "canary": _Canary(marker)})
    assert_refused(roomy.post(body, content_type), 415, "content-type")
    assert not marker.exists()
    assert_healthy(roomy)


@pytest.mark.parametrize(("body", "field"), [
    (b"", "body"),
    (b"42", "body"),
    (b'"rows"', "body"),
    (b"null", "body"),
    (b"true", "body"),
    (b'{"rows": []}', "rows"),
    (b"[]", "rows"),
    (b'{"rows": [1, 2]}', "rows"),
], ids=["empty", "number", "string", "null", "true", "no-rows", "empty-list", "rows-of-numbers"])
def test_empty_scalar_and_rowless_bodies_are_422(roomy, body, field) -> None:
    assert_refused(roomy.post(body), 422, field)
    assert_healthy(roomy)


def test_an_empty_csv_body_is_422(roomy) -> None:
    assert_refused(roomy.post(b"", "text/csv"), 422, "body")


# -- time --------------------------------------------------------------------------------------

def test_a_batch_past_the_request_timeout_is_504_and_the_server_goes_on(roomy) -> None:
    batch = _body({"rows": [ROW] * 5000})
    for _ in range(3):
        assert_refused(roomy.post(batch), 504, "rows")
        assert_healthy(roomy)
