"""Hostile requests against a real `kiln serve` on 127.0.0.1: each gets a 4xx whose JSON body
names the field (or "body", "rows", "content-type"), and the server stays healthy after it.

Three servers per module: `tight` (4 KiB bodies, 10 rows) for the size limits, `roomy` (the
default limits, a 2 s request-head timeout) for big bodies under the limit and for the head
limits, `hasty` (a 1 ms request timeout) for parsing and predicting past the timeout.
"""

from __future__ import annotations

import os
import pickle
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_probe import HEADER, ROW, assert_healthy, assert_refused, read_until_closed, serve
from serve_probe import body as _body

TIGHT_BODY = 4096


@pytest.fixture(scope="module")
def tight(ai4i_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    yield from serve(ai4i_bundle, tmp_path_factory.mktemp("tight"), "--max-body-bytes", str(TIGHT_BODY),
                     "--max-rows", "10")


@pytest.fixture(scope="module")
def roomy(ai4i_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    yield from serve(ai4i_bundle, tmp_path_factory.mktemp("roomy"), env={"KILN_SERVE_HEADER_TIMEOUT_S": "2"})


@pytest.fixture(scope="module")
def hasty(ai4i_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    yield from serve(ai4i_bundle, tmp_path_factory.mktemp("hasty"), "--request-timeout", "0.001")


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


def test_a_hundred_thousand_keys_under_the_body_limit_are_413_on_the_field_cap(roomy) -> None:
    record = {**ROW, **{f"k{i:06d}": i for i in range(100_000)}}
    problem = assert_refused(roomy.post(_body({"rows": [record]})), 413, "columns")
    assert problem["row"] == 0 and "100,006 fields" in problem["msg"]
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

def test_a_batch_past_the_request_timeout_is_504_and_the_server_goes_on(hasty) -> None:
    batch = _body({"rows": [ROW] * 5000})
    for _ in range(3):
        assert_refused(hasty.post(batch), 504, "rows")
        assert_healthy(hasty)


def test_parsing_a_csv_batch_counts_against_the_request_timeout(hasty) -> None:
    csv = (HEADER + "\n" + "L,300,310,1500,40,100\n" * 5000).encode()
    assert_refused(hasty.post(csv, "text/csv"), 504, "rows")
    assert_healthy(hasty)


# -- CSV: sizes and shapes, checked before parsing -------------------------------------------------

@pytest.mark.parametrize("columns", [20_000, 700_000])
def test_a_very_wide_csv_header_is_413_before_it_is_parsed(roomy, columns) -> None:
    wide = ",".join(f"c{i}" for i in range(columns)) + "\n" + ",".join("1" * columns) + "\n"
    assert len(wide) < 8 * 1024 * 1024  # under the body limit: the column cap refuses it
    problem = assert_refused(roomy.post(wide.encode(), "text/csv"), 413, "columns")
    assert f"{columns:,} columns" in problem["msg"]
    assert_healthy(roomy)


def test_a_csv_batch_of_more_cells_than_the_cap_is_413(roomy) -> None:
    width = 1_000  # at the column cap; 2,100 lines of it pass the 2,000,000-cell cap
    csv = ",".join(f"c{i}" for i in range(width)) + "\n" + ("," * (width - 1) + "\n") * 2_100
    assert_refused(roomy.post(csv.encode(), "text/csv"), 413, "body")
    assert_healthy(roomy)


@pytest.mark.parametrize(("rows", "bad"), [
    (["L,300,310,1500,40,100,7", "L,300,310,1500,40,100"], 0),  # pandas read the extra cell as an index
    (["L,300,310,1500,40,100", "L,300,310,1500,40,100,7"], 1),
    (["L,300,310,1500,40,100", "L,300,310,1500,40,100", "L,300,310,1500,40,100,7,8"], 2),
], ids=["first-row", "later-row", "two-extra"])
def test_a_csv_row_with_more_cells_than_the_header_is_422_naming_the_row(roomy, rows, bad) -> None:
    csv = "\n".join([HEADER, *rows]) + "\n"
    problem = assert_refused(roomy.post(csv.encode(), "text/csv"), 422, "rows")
    assert problem["row"] == bad and f"Row {bad} has" in problem["msg"]
    assert roomy.post(f'{HEADER}\nL,300,310,1500,40,100\n"L,x",300,310,1500,40,100\n'.encode(),
                      "text/csv").status_code == 200  # a quoted comma is one cell


def test_the_event_loop_answers_health_while_a_big_csv_batch_is_parsed(roomy) -> None:
    import threading

    import httpx

    extra = [f"x{i}" for i in range(144)]  # 1.5 million cells, 6 MB: seconds of pandas work
    csv = ",".join([HEADER, *extra]) + "\n" + ("L,300,310,1500,40,100," + ",".join(["1.5"] * 144) + "\n") * 10_000
    outcome: dict = {}

    def big() -> None:
        outcome["status"] = roomy.post(csv.encode(), "text/csv").status_code

    sender = threading.Thread(target=big)
    sender.start()
    answered = 0
    with httpx.Client(timeout=30) as client:
        while sender.is_alive():
            if client.get(f"{roomy.url}/health").status_code == 200 and sender.is_alive():
                answered += 1
    sender.join()
    assert outcome["status"] == 200
    assert answered >= 3, f"only {answered} /health answers while the batch was parsed: the loop was blocked"


# -- POST /feedback ---------------------------------------------------------------------------------

def _predicted(server) -> str:
    answer = server.post(_body({"rows": [ROW]}))
    assert answer.status_code == 200
    return answer.json()["request_id"]


@pytest.mark.parametrize("row", [2**63, 2**64 - 1, -1, 10**30])
def test_a_feedback_row_outside_int64_is_422(roomy, row) -> None:
    labels = {"labels": [{"request_id": _predicted(roomy), "row": row, "label": 1}]}
    assert_refused(roomy.post(_body(labels), path="/feedback"), 422, "row")
    assert_healthy(roomy)


@pytest.mark.parametrize("label", ["2", 7, "=SUM(1+1)", 0.5, "yes"])
def test_a_feedback_label_that_is_not_one_of_the_classes_is_422(roomy, label) -> None:
    labels = {"labels": [{"request_id": _predicted(roomy), "row": 0, "label": label}]}
    problem = assert_refused(roomy.post(_body(labels), path="/feedback"), 422, "label")
    assert "classes (0, 1)" in problem["msg"]


@pytest.mark.parametrize("label", [1, "0", 1.0, True])
def test_a_feedback_label_spelling_a_class_is_recorded(roomy, label) -> None:
    labels = {"labels": [{"request_id": _predicted(roomy), "row": 2**63 - 1, "label": label}]}
    answer = roomy.post(_body(labels), path="/feedback")
    assert answer.status_code == 200, answer.text
    assert answer.json()["recorded"] == 1


# -- the request head: size and time -------------------------------------------------------------------

def _raw(server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=60)


def test_a_64_mb_header_is_431_after_the_first_64_kib(roomy) -> None:
    sent, total = 0, 64 * 2**20
    with _raw(roomy) as sock:
        try:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: ")
            while sent < total:
                sock.sendall(b"a" * 2**16)
                sent += 2**16
        except OSError:  # the server closed the connection while we were sending
            pass
        answer = read_until_closed(sock)
    assert sent < total // 16, f"the server read {sent:,} header bytes"
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b'"field":"headers"' in answer
    assert_healthy(roomy)


@pytest.mark.parametrize("head", [b"", b"GET /health HTTP/1.1\r\nHost: localhost\r\n"], ids=["nothing", "partial"])
def test_a_connection_that_never_finishes_its_head_is_closed_and_health_answers_meanwhile(roomy, head) -> None:
    with _raw(roomy) as sock:
        sock.sendall(head)
        assert_healthy(roomy)  # the open connection holds nothing up
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def test_a_kept_alive_connection_gets_the_head_timeout_for_its_next_request_too(roomy) -> None:
    with _raw(roomy) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        first = _one_response(sock)  # head and body: a loaded server may send them in two segments
        assert first.startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: loc")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def _one_response(sock) -> bytes:
    """One whole HTTP response off a kept-alive socket: its head, then Content-Length bytes of body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, data
        body += chunk
    return head + b"\r\n\r\n" + body


@pytest.mark.slow
def test_fifty_slow_senders_do_not_stop_a_normal_request(roomy) -> None:
    """50 connections sending a byte a second (25 in the head, 25 in a declared body) for 6 s."""
    import threading

    stop = threading.Event()
    closed = []

    def trickle(prefix: bytes, payload: bytes) -> None:
        with _raw(roomy) as sock:
            try:
                sock.sendall(prefix)
                for byte in payload:
                    if stop.is_set():
                        return
                    sock.sendall(bytes([byte]))
                    stop.wait(1.0)
            except OSError:
                closed.append(prefix)

    head = b"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    senders = [threading.Thread(target=trickle, args=(b"", head + b"Content-Length: 2\r\n\r\n{}")) for _ in range(25)]
    senders += [threading.Thread(target=trickle, args=(head + b"Content-Length: 1000\r\n\r\n", b"x" * 1000))
                for _ in range(25)]
    for sender in senders:
        sender.start()
    try:
        for _ in range(6):
            assert_healthy(roomy)  # a prediction and /health answered while all 50 trickle
            stop.wait(1.0)
    finally:
        stop.set()
        for sender in senders:
            sender.join(30)
    assert len([c for c in closed if c == b""]) == 25, "every slow head should have been cut at the 2 s head timeout"
