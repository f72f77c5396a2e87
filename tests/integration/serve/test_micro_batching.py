"""Micro-batching on a real `kiln serve` on 127.0.0.1: concurrent single-row requests are
predicted together, and each caller gets the answer for its own row (and only its row)."""

from __future__ import annotations

import threading

import httpx
import numpy as np
import pytest
from tiny_models import cancer_frame, train_tiny

CALLERS = 12
REQUESTS_EACH = 15


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory):
    return train_tiny(tmp_path_factory.mktemp("batching") / "model")


def test_concurrent_callers_each_get_their_own_rows_in_order(bundle, start_server) -> None:
    import kiln

    model = kiln.load(bundle)
    frame = cancer_frame(seed=5, rows=200).drop(columns=["target"])
    frame["mean radius"] = np.linspace(5, 30, len(frame))  # every row distinct, answers vary along it
    expected = model.predict_raw(frame)[:, 1]
    server = start_server(bundle, "--no-log-predictions", "--batch-window-ms", "1")
    records = frame.to_dict(orient="records")
    wrong: list[tuple[int, float, float]] = []
    failures: list[str] = []
    start = threading.Barrier(CALLERS)

    def caller(k: int) -> None:
        with httpx.Client(timeout=30) as client:
            start.wait()
            for j in range(REQUESTS_EACH):
                i = (k * REQUESTS_EACH + j) % len(records)
                response = client.post(f"{server.url}/predict", json={"rows": [records[i]]})
                if response.status_code != 200:
                    failures.append(response.text[:200])
                    continue
                got = response.json()["probabilities"][0]["1"]
                if abs(got - expected[i]) > 1e-6:
                    wrong.append((i, got, float(expected[i])))

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == [] and wrong == [], (failures[:3], wrong[:3])
    batching = httpx.get(f"{server.url}/stats", timeout=10).json()["batching"]
    assert batching["requests"] == CALLERS * REQUESTS_EACH  # every prediction went through the batcher
    assert batching["batches"] < batching["requests"], batching  # some requests shared a call

