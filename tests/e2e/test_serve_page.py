"""The page `kiln serve` shows at `/`, driven in headless Chromium against a real server.

A small model is trained on AI4I (one column renamed to hostile markup, to show that names
reach the page as text, never as HTML), `kiln serve` runs it as a subprocess, and Playwright
drives Debian's `chromium` (no browser download): the model card, one prediction from the
generated form, the live request counter, a refused value shown next to its field, and the
API-key prompt. Any console error, failed request or request leaving the server fails a test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path

import pandas as pd
import pytest
from resources import missing, need_module

import kiln

TARGET = "Machine failure"
HOSTILE = "Tool wear <img src=x onerror=alert(1)>"
KEY = "s3cret-key"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]
SHOWN = "Number(document.getElementById('stats-{}').textContent.replaceAll(',', '') || NaN)"
REQUESTS, ROWS = SHOWN.format("requests"), SHOWN.format("rows")
# Page scripts are functions, not expressions: the page's CSP forbids eval().
# Chromium reports every HTTP error answer as a console error; these are the ones a test provokes.
REFUSED = "Failed to load resource: the server responded with a status of {status}"


@pytest.fixture(scope="module")
def bundle(ai4i: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serve-page") / "model"
    table = ai4i.rename(columns={"Tool wear [min]": HOSTILE})
    kiln.save(kiln.train(table, target=TARGET, time_limit=10, max_trials=3, n_jobs=1, quiet=True), folder)
    return folder


@pytest.fixture(scope="module")
def browser():
    sync_api = need_module("playwright.sync_api", "pip install -e '.[test]' for playwright")
    chromium = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if not chromium:
        missing("Debian's chromium is not installed: apt-get install -y chromium")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        yield launched
        launched.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, key: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {}


@contextmanager
def _server(bundle: Path, log: Path, *flags: str, key: str | None = None) -> Iterator[str]:
    """`kiln serve BUNDLE` on a free port until /ready answers 200; SIGTERM when done."""
    port = _free_port()
    env = {**os.environ, "KILN_DB": f"sqlite:///{log.parent / 'kiln.db'}"}  # the prediction log stays in tmp
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "kiln.cli", "serve", str(bundle), "--host", "127.0.0.1",
                                    "--port", str(port), *flags], stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, f"kiln serve exited {process.returncode}: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"kiln serve was not ready in 120 s: {log.read_text()[-3000:]}"
            try:
                if _get(base + "ready", key)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class _Watch:
    """Everything a page did wrong: console errors, exceptions, failed or off-server requests, dialogs."""

    def __init__(self, page, base: str) -> None:
        self.errors: list[str] = []
        self.problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.problems.append(f"exception: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        page.on("request", lambda r: r.url.startswith(base) or self.problems.append(f"off-server: {r.url}"))
        page.on("dialog", lambda d: self.problems.append(f"dialog: {d.message}") or d.dismiss())


def test_page_is_one_self_contained_file_with_relative_requests() -> None:
    text = (files("kiln") / "serve" / "page" / "index.html").read_text(encoding="utf-8")

    assert "http://" not in text and "https://" not in text and "innerHTML" not in text
    assert not re.search(r'\b(?:src|href)\s*=\s*"(?!data:)', text), "no resource outside the page"
    assert all(not path.startswith("/") for path in re.findall(r'api\("([^"]+)"', text)), "behind a prefix too"


def test_page_predicts_from_the_generated_form_in_chromium(bundle, browser, tmp_path_factory) -> None:
    artefacts = tmp_path_factory.mktemp("serve-page-artefacts")
    with _server(bundle, artefacts / "server.log") as base:
        _, metadata = _get(base + "metadata")
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        watch = _Watch(page, base)
        page.goto(base)

        page.locator("#card-version").wait_for()
        assert page.locator("#card-version").inner_text() == str(metadata["version"])
        assert page.locator("#card-target").inner_text() == TARGET
        assert page.locator("#card-members .label").count() == len(metadata["members"]) >= 1
        # the hostile column name is a label's text, and no <img> was made from it
        assert page.get_by_label(HOSTILE).count() == 1 and page.locator("#fields img").count() == 0
        page.wait_for_function(f"() => {REQUESTS} >= 0")
        before = page.evaluate(f"() => [{REQUESTS}, {ROWS}]")

        page.get_by_label("Torque [Nm]").fill("61.5")
        page.get_by_label("Type").select_option("L")
        page.locator("#predict-submit").click()
        page.locator("#result-contributions .label").first.wait_for()

        assert page.locator("#result-prediction").inner_text() in metadata["classes"]
        shown = page.locator("#result-probabilities .value").all_inner_texts()
        assert len(shown) == 2 and abs(sum(float(p) for p in shown) - 1) < 0.01
        assert 1 <= page.locator("#result-contributions .label").count() <= 5
        # the panel polls every 2 s; /stats counts itself too, but only /predict adds rows
        page.wait_for_function(f"() => {REQUESTS} > {before[0]} && {ROWS} > {before[1]}", timeout=10_000)
        # the drift panel asked GET /monitor: a few rows give no verdict yet, but an answer
        page.wait_for_function("() => ['ok', 'alert', 'no data'].includes("
                               "document.getElementById('drift-status').textContent)", timeout=30_000)
        page.screenshot(path=artefacts / "serve-page.png", full_page=True)

        page.get_by_label("Air temperature [K]").fill("")
        page.locator("#predict-submit").click()
        message = page.locator(".field.invalid .error")
        message.wait_for()

        assert page.locator(".field.invalid").get_attribute("data-field") == "Air temperature [K]"
        assert message.inner_text().strip() and page.locator("#result").is_hidden()
        page.screenshot(path=artefacts / "serve-page-refused.png", full_page=True)
        assert watch.problems == []
        assert [e for e in watch.errors if not e.startswith(REFUSED.format(status=422))] == []
        assert len(watch.errors) == 1, watch.errors
        page.close()
    assert (artefacts / "serve-page.png").stat().st_size > 20_000
    print(f"screenshots: {artefacts / 'serve-page.png'} {artefacts / 'serve-page-refused.png'}")


def test_page_asks_for_the_api_key_then_works(bundle, browser, tmp_path_factory) -> None:
    artefacts = tmp_path_factory.mktemp("serve-page-key")
    with _server(bundle, artefacts / "server.log", "--api-key", KEY, key=KEY) as base:
        page = browser.new_page()
        watch = _Watch(page, base)
        page.goto(base)

        page.locator("#auth").wait_for()
        assert page.locator("#card-version").count() == 0
        page.locator("#api-key").fill("wrong")
        page.locator("#auth-submit").click()
        page.wait_for_function("() => document.getElementById('auth-message').textContent.includes('refused')")
        page.locator("#api-key").fill(KEY)
        page.locator("#auth-submit").click()
        page.locator("#card-version").wait_for()

        assert page.locator("#auth").is_hidden()
        assert page.evaluate("() => sessionStorage.getItem('kiln-api-key')") == KEY
        page.locator("#predict-submit").click()
        page.locator("#result-contributions .label").first.wait_for()
        assert page.locator("#result-prediction").inner_text() in ("0", "1")
        page.screenshot(path=artefacts / "serve-page-key.png", full_page=True)
        assert watch.problems == []
        assert [e for e in watch.errors if not e.startswith(REFUSED.format(status=401))] == []
        page.close()
