"""What a hostile web page or client can do to a real `kiln serve` on 127.0.0.1.

- With --api-key, every route of the app (enumerated from `create_app`'s router, so a route
  added later is checked too) answers 401 without the key, except GET /health and the page.
- No cross-site writes: a body must be application/json or text/csv (a browser's "simple"
  cross-site request can only send text/plain or form types), the Host header must be one of
  the server's names (DNS rebinding), and no CORS headers are sent unless --cors-origin.
- An empty API key is refused at start-up.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_probe import ROW, assert_refused, body, serve

KEY = "s3cret-key"
OPEN = {("GET", "/health"), ("HEAD", "/health"), ("GET", "/"), ("HEAD", "/")}


@pytest.fixture(scope="module")
def plain(ai4i_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """The defaults: no key, no extra host names, no CORS."""
    yield from serve(ai4i_bundle, tmp_path_factory.mktemp("plain"))


@pytest.fixture(scope="module")
def guarded(ai4i_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    yield from serve(ai4i_bundle, tmp_path_factory.mktemp("guarded"), "--api-key", KEY, "--allowed-hosts",
                     "kiln.example", "--allowed-hosts", "*.models.example", "--cors-origin", "https://app.example",
                     headers={"X-API-Key": KEY})


def app_routes(bundle: Path) -> list[tuple[str, str]]:
    """Every (method, path) the app serves, from its router (building the app loads no model)."""
    from kiln.serve.app import create_app
    from kiln.serve.settings import ServeSettings

    app = create_app(ServeSettings(model=str(bundle), api_key=KEY))
    return sorted(set(_walk(app.routes)))


def _walk(routes: list, prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        methods = getattr(route, "methods", None)
        if methods and hasattr(route, "path"):
            for method in methods:
                yield method, prefix + route.path.replace("{", "").replace("}", "")
        elif hasattr(route, "original_router"):  # FastAPI >= 0.16x keeps an included router whole
            yield from _walk(route.original_router.routes, prefix + getattr(route.original_router, "prefix", ""))
        elif hasattr(route, "routes"):  # a Mount
            yield from _walk(route.routes, prefix + getattr(route, "path", ""))


def test_the_route_list_is_the_whole_app(ai4i_bundle) -> None:
    routes = set(app_routes(ai4i_bundle))
    for expected in [("GET", "/openapi.json"), ("GET", "/ready"), ("GET", "/metrics"), ("GET", "/stats"),
                     ("GET", "/metadata"), ("GET", "/monitor"), ("POST", "/predict"), ("POST", "/explain"),
                     ("POST", "/feedback"), ("GET", "/health"), ("GET", "/")]:
        assert expected in routes  # the enumeration below is not vacuous
    from kiln.serve.app import create_app
    from kiln.serve.settings import ServeSettings

    documented = create_app(ServeSettings(model=str(ai4i_bundle))).openapi()["paths"]
    assert {(method.upper(), path) for path, item in documented.items() for method in item} <= routes


def test_without_the_key_every_route_but_health_and_the_page_is_401(guarded, ai4i_bundle) -> None:
    checked = 0
    for method, path in [*app_routes(ai4i_bundle), ("GET", "/docs"), ("GET", "/redoc"), ("GET", "/no-such-route"),
                         ("OPTIONS", "/predict"), ("DELETE", "/predict")]:
        answer = httpx.request(method, f"{guarded.url}{path}", content=body({"rows": [ROW]}) if method == "POST"
                               else None, headers={"content-type": "application/json"}, timeout=60)
        if (method, path) in OPEN:
            assert answer.status_code == 200, (method, path, answer.status_code)
        else:
            assert answer.status_code == 401, (method, path, answer.status_code, answer.text[:200])
            assert "Torque" not in answer.text and "version" not in answer.text  # nothing disclosed
            if method != "HEAD":
                assert answer.json()["detail"][0]["field"] == "x-api-key"
            checked += 1
        wrong = httpx.request(method, f"{guarded.url}{path}", headers={"X-API-Key": KEY + "x"}, timeout=60)
        assert wrong.status_code == (200 if (method, path) in OPEN else 401), (method, path)
    assert checked >= 12


def test_with_the_key_every_route_answers(guarded, ai4i_bundle) -> None:
    for method, path in app_routes(ai4i_bundle):
        answer = httpx.request(method, f"{guarded.url}{path}", content=body({"rows": [ROW]}) if method == "POST"
                               else None, headers={"X-API-Key": KEY, "content-type": "application/json"}, timeout=60)
        assert answer.status_code not in (401, 403, 404, 405), (method, path, answer.text[:200])
        assert answer.status_code < 500, (method, path, answer.text[:200])
    document = httpx.get(f"{guarded.url}/openapi.json", headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
    assert document.status_code == 200 and "Torque [Nm]" in document.text


@pytest.mark.parametrize("how", ["flag", "variable", "blank"])
def test_an_empty_api_key_is_refused_at_start_up(ai4i_bundle, tmp_path, how) -> None:
    command = [str(Path(sys.executable).with_name("kiln")), "serve", str(ai4i_bundle), "--port", "0"]
    environment = {**os.environ, "KILN_HOME": str(tmp_path)}
    if how == "flag":
        command += ["--api-key", ""]
    elif how == "blank":
        command += ["--api-key", "   "]
    else:
        environment["KILN_API_KEY"] = ""
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "--api-key" in result.stderr and "empty" in result.stderr


# -- no cross-site writes ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/predict", "/explain", "/feedback"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/csv", None],
                         ids=["text-plain", "form", "multipart", "application-csv", "missing"])
def test_a_body_that_is_not_json_or_csv_is_415(plain, path, content_type) -> None:
    payload = body({"rows": [ROW]}) if path != "/feedback" else body(
        {"labels": [{"request_id": "forged", "row": 0, "label": 1}]})
    problem = assert_refused(plain.post(payload, content_type, path=path), 415, "content-type")
    assert "application/json" in problem["msg"]


def test_feedback_takes_json_only_and_json_with_a_charset_is_json(plain) -> None:
    csv = b"request_id,row,label\nforged,0,1\n"
    assert_refused(plain.post(csv, "text/csv", path="/feedback"), 415, "content-type")
    assert plain.post(body({"rows": [ROW]}), "application/json; charset=utf-8").status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhost.evil",
                                  "kiln.example"])
def test_a_host_header_that_is_not_the_servers_name_is_400(plain, host) -> None:
    answer = httpx.get(f"{plain.url}/ready", headers={"Host": host}, timeout=60)
    assert_refused(answer, 400, "host")
    assert "--allowed-hosts" in answer.json()["detail"][0]["msg"]
    forged = plain.post(body({"rows": [ROW]}), headers={"Host": host})  # a rebound page's write
    assert_refused(forged, 400, "host")


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "127.0.0.1", "[::1]:{port}"])
def test_the_bind_address_and_localhost_are_the_servers_names(plain, host) -> None:
    answer = httpx.get(f"{plain.url}/ready", headers={"Host": host.format(port=plain.port)}, timeout=60)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(("host", "status"), [("kiln.example", 200), ("kiln.example:443", 200),
                                              ("a.models.example", 200), ("models.example.evil", 400),
                                              ("evil.example", 400)])
def test_allowed_hosts_adds_names_and_wildcard_subdomains(guarded, host, status) -> None:
    assert guarded.get("/ready", headers={"Host": host}).status_code == status


def test_no_cors_headers_without_cors_origin(plain) -> None:
    origin = {"Origin": "https://evil.example"}
    simple = plain.post(body({"rows": [ROW]}), headers=origin)
    assert simple.status_code == 200
    preflight = httpx.options(f"{plain.url}/predict", headers={**origin, "Access-Control-Request-Method": "POST",
                                                               "Access-Control-Request-Headers": "content-type"})
    for answer in (simple, preflight, plain.get("/metadata", headers=origin)):
        assert not any(name.lower().startswith("access-control-") for name in answer.headers), answer.headers
    assert preflight.status_code >= 400


def test_cors_origin_lets_only_that_origin_in(guarded) -> None:
    def preflight(origin: str) -> httpx.Response:
        return httpx.options(f"{guarded.url}/predict", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-api-key"}, timeout=60)

    allowed = preflight("https://app.example")
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-api-key" in allowed.headers["access-control-allow-headers"].lower()
    refused = preflight("https://evil.example")
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    served = guarded.post(body({"rows": [ROW]}), headers={"Origin": "https://app.example"})
    assert served.status_code == 200 and served.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-model-version" in served.headers["access-control-expose-headers"].lower()
    other = guarded.post(body({"rows": [ROW]}), headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
