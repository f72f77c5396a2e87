"""Serving an image model on a real `kiln serve` (uvicorn on 127.0.0.1): multipart and base64 uploads, the
limits (body size and pixel count → 413, not an image → 422), the drop-an-image page, and the routes of the
served kind only (a table's rows on /predict are refused)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from serve_probe import Running, assert_refused, body, serve
from tiny_images import CLASSES, shape, shared_bundle

import kiln


@pytest.fixture(scope="module")
def bundle() -> Path:
    return shared_bundle()[0]  # trained once per session for every image test


@pytest.fixture(scope="module")
def server(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    yield from serve(bundle, tmp_path_factory.mktemp("image-server"), "--max-body-bytes", "100000",
                     env={"KILN_SERVE_MAX_IMAGE_PIXELS": "10000"})


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_multipart_and_base64_give_the_models_answer(server: Running, bundle: Path) -> None:
    image = shape("ring", np.random.default_rng(5))
    data = png(image)
    expected = kiln.load(bundle).predict_proba([image]).iloc[0]
    upload = httpx.post(f"{server.url}/predict", files={"file": ("ring.png", data, "image/png")}, timeout=60)
    assert upload.status_code == 200, upload.text
    answer = upload.json()
    assert answer["predictions"][0] in CLASSES and answer["names"] == ["ring.png"]
    assert upload.headers["x-model-version"] == answer["version"]
    np.testing.assert_allclose([answer["probabilities"][0][c] for c in expected.index], expected.to_numpy(),
                               rtol=1e-6)
    encoded = server.post(body({"images": [base64.b64encode(data).decode(), base64.b64encode(data).decode()]}))
    assert encoded.status_code == 200, encoded.text
    batch = encoded.json()["probabilities"]
    assert len(batch) == 2 and batch[0] == batch[1]
    # atol: a batch of two sums in another order; the log-linear pool's exponents carry that rounding into
    # probabilities near 1e-8 (2e-16 apart)
    np.testing.assert_allclose([batch[0][c] for c in CLASSES], [answer["probabilities"][0][c] for c in CLASSES],
                               rtol=1e-9, atol=1e-12)


def test_limits_and_bad_uploads_are_refused_naming_the_problem(server: Running) -> None:
    big = Image.new("L", (200, 200), 128)  # 40,000 pixels over the server's 10,000
    assert_refused(httpx.post(f"{server.url}/predict", files={"file": ("big.png", png(big), "image/png")},
                              timeout=60), 413, "big.png")
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (180, 180, 3), dtype=np.uint8))
    too_long = httpx.post(f"{server.url}/predict", files={"file": ("noise.png", png(noise), "image/png")},
                          timeout=60)  # ~97 kB of pixels plus the form: over --max-body-bytes 100000
    assert too_long.status_code == 413, too_long.text
    text = httpx.post(f"{server.url}/predict", files={"file": ("notes.png", b"hello, not an image", "image/png")},
                      timeout=60)
    assert "not an image" in assert_refused(text, 422, "notes.png")["msg"]
    assert_refused(server.post(body({"images": ["%%%not base64"]})), 422, "images[0]")
    assert_refused(server.post(body({"rows": [{"x": 1}]})), 422, "images")  # a table's body: not for this model
    assert_refused(server.post(b"a,b\n1,2\n", content_type="text/csv"), 415, "content-type")


def test_the_page_and_metadata_are_the_image_models(server: Running) -> None:
    page = server.get("/")
    assert page.status_code == 200 and "Drop an image here" in page.text
    meta = server.get("/metadata").json()
    assert meta["kind"] == "image" and meta["classes"] == sorted(CLASSES) and meta["recipe"]["side"] == 16
    assert server.get("/explain").status_code in (404, 405)  # the table's routes are not mounted
