"""`kiln serve` answers through the bundle's ONNX graph when `kiln export` stored one, and through
the model itself otherwise, with the same answers; and with micro-batching on (the default),
concurrent callers each get the answer for their own row: two real servers on 127.0.0.1."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import httpx
import numpy as np
import pytest
from tiny_models import cancer_frame, train_tiny

CALLERS = 12
REQUESTS_EACH = 15


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from kiln.export.onnx import export_onnx

    folder = tmp_path_factory.mktemp("onnx_serving")
    plain = train_tiny(folder / "plain")
    exported = Path(shutil.copytree(plain, folder / "exported"))
    export_onnx(exported, folder / "model.onnx")
    return plain, exported


def _concurrent_callers(url: str, records: list[dict], expected: np.ndarray) -> tuple[list, list]:
    """CALLERS threads, started together, each sending REQUESTS_EACH single rows of its own."""
    wrong: list[tuple[int, float, float]] = []
    failures: list[str] = []
    start = threading.Barrier(CALLERS)

    def caller(k: int) -> None:
        with httpx.Client(timeout=30) as client:
            start.wait()
            for j in range(REQUESTS_EACH):
                i = (k * REQUESTS_EACH + j) % len(records)
                response = client.post(f"{url}/predict", json={"rows": [records[i]]})
                if response.status_code != 200:
                    failures.append(response.text[:200])
                    continue
                got = response.json()["probabilities"][0]["1"]
                if abs(got - expected[i]) > 1e-5:
                    wrong.append((i, got, float(expected[i])))

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return failures, wrong


def test_onnx_and_fallback_answer_alike_and_batched_callers_get_their_own_rows(bundles, start_server) -> None:
    import kiln

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
        if engine == "onnxruntime":  # micro-batching: every caller its own row's answer
            frame = cancer_frame(seed=5, rows=200).drop(columns=["target"])
            frame["mean radius"] = np.linspace(5, 30, len(frame))  # every row distinct
            expected = kiln.load(plain).predict_raw(frame)[:, 1]
            failures, wrong = _concurrent_callers(server.url, frame.to_dict(orient="records"), expected)
            assert failures == [] and wrong == [], (failures[:3], wrong[:3])
            batching = httpx.get(f"{server.url}/stats", timeout=10).json()["batching"]
            predicted_before = 2 + (gap.status_code == 200)  # the requests above, when they reached the model
            assert batching["requests"] == CALLERS * REQUESTS_EACH + predicted_before
            assert batching["batches"] < batching["requests"], batching  # some requests shared a call
        server.stop()
    assert set(answers) == {"onnxruntime", "fast path"} or set(answers) == {"onnxruntime", "pandas"}
    onnx_answer, other = answers.pop("onnxruntime"), next(iter(answers.values()))
    for ours, theirs in zip(onnx_answer[:2], other[:2], strict=True):
        assert ours["predictions"] == theirs["predictions"]
        got = np.array([[p[c] for c in sorted(p)] for p in ours["probabilities"]])
        want = np.array([[p[c] for c in sorted(p)] for p in theirs["probabilities"]])
        np.testing.assert_allclose(got, want, atol=1e-5)
    assert onnx_answer[2] == other[2]
