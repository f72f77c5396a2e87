"""`kiln serve` answers through the bundle's ONNX graph when `kiln export` stored one, and through
the model itself otherwise, with the same answers: two real servers on 127.0.0.1."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from tiny_models import cancer_frame, train_tiny


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from kiln.export.onnx import export_onnx

    folder = tmp_path_factory.mktemp("onnx_serving")
    plain = train_tiny(folder / "plain")
    exported = Path(shutil.copytree(plain, folder / "exported"))
    export_onnx(exported, folder / "model.onnx")
    return plain, exported


def test_the_onnx_graph_and_the_fallback_answer_alike(bundles, start_server) -> None:
    plain, exported = bundles
    rows = cancer_frame(seed=3, rows=40).drop(columns=["target"]).to_dict(orient="records")
    rows[0]["mean radius"] = None  # a gap the contract accepts or refuses: the same for both servers
    answers = {}
    for bundle in (exported, plain):
        server = start_server(bundle, "--no-log-predictions")
        engine = httpx.get(f"{server.url}/metadata", timeout=10).json()["engine"]
        single = httpx.post(f"{server.url}/predict", json={"rows": rows[1:2]}, timeout=30)
        batch = httpx.post(f"{server.url}/predict", json={"rows": rows[1:]}, timeout=30)
        assert single.status_code == batch.status_code == 200, batch.text
        gap = httpx.post(f"{server.url}/predict", json={"rows": rows[:1]}, timeout=30)
        answers[engine] = (single.json(), batch.json(), gap.status_code)
        server.stop()
    assert set(answers) == {"onnxruntime", "fast path"} or set(answers) == {"onnxruntime", "pandas"}
    onnx_answer, other = answers.pop("onnxruntime"), next(iter(answers.values()))
    for ours, theirs in zip(onnx_answer[:2], other[:2], strict=True):
        assert ours["predictions"] == theirs["predictions"]
        got = np.array([[p[c] for c in sorted(p)] for p in ours["probabilities"]])
        want = np.array([[p[c] for c in sorted(p)] for p in theirs["probabilities"]])
        np.testing.assert_allclose(got, want, atol=1e-5)
    assert onnx_answer[2] == other[2]
