"""The REST API against a real `kiln serve` on 127.0.0.1: predictions equal the bundle's own,
the data contract answers 422 naming field and row, and the service endpoints say what they should."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from serve_probe import Running, serve

import kiln

TARGET = "Machine failure"


@pytest.fixture(scope="module")
def rows(ai4i: pd.DataFrame) -> pd.DataFrame:
    return ai4i.drop(columns=[TARGET]).sample(200, random_state=1).reset_index(drop=True)


@pytest.fixture(scope="module")
def server(ai4i_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One server for the tests whose requests leave nothing another test counts (a start-up each
    cost seconds); the test of exact request counts starts its own."""
    yield from serve(ai4i_bundle, tmp_path_factory.mktemp("predict-api"))


def _records(frame: pd.DataFrame) -> list[dict]:
    return frame.to_dict("records")


def test_one_row_prediction_equals_the_bundle_and_names_its_version(server, ai4i_bundle, rows) -> None:
    model = kiln.load(ai4i_bundle)
    response = httpx.post(f"{server.url}/predict", json={"rows": _records(rows.head(1))})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == response.headers["x-model-version"]
    assert body["request_id"] == response.headers["x-request-id"]
    expected = model.predict_proba(rows.head(1))
    for label in model.classes_:
        assert body["probabilities"][0][str(label)] == pytest.approx(expected[label].iloc[0], rel=1e-6, abs=1e-9)
    assert body["predictions"] == model.predict(rows.head(1)).tolist()


def test_batch_as_list_single_record_and_csv_give_the_same_predictions(server, ai4i_bundle, rows) -> None:
    model = kiln.load(ai4i_bundle)
    expected = model.predictions_frame(rows)
    as_list = httpx.post(f"{server.url}/predict", json=_records(rows)).json()
    as_csv = httpx.post(f"{server.url}/predict", content=rows.to_csv(index=False).encode(),
                        headers={"content-type": "text/csv"}).json()
    single = httpx.post(f"{server.url}/predict", json=_records(rows.head(1))[0]).json()
    for body in (as_list, as_csv):
        assert body["predictions"] == expected["prediction"].tolist()
        served = [p["1"] for p in body["probabilities"]]
        assert served == pytest.approx(expected["proba_1"].tolist(), rel=1e-6, abs=1e-9)
    assert single["predictions"] == expected["prediction"].tolist()[:1]


@pytest.mark.parametrize(("change", "field", "words"), [
    (lambda r: r.pop("Torque [Nm]"), "Torque [Nm]", "required"),
    (lambda r: r.update({"Torque [Nm]": None}), "Torque [Nm]", "required"),
    (lambda r: r.update({"Torque [Nm]": "40"}), "Torque [Nm]", "must be a number"),
    (lambda r: r.update({"Torque [Nm]": True}), "Torque [Nm]", "must be a number"),
    (lambda r: r.update({"Type": {"nested": 1}}), "Type", "single value"),
    (lambda r: r.update({"Type": "L\x00"}), "Type", "NUL"),
])
def test_contract_violations_are_422_naming_field_and_row(server, rows, change, field, words) -> None:
    records = _records(rows.head(3))
    change(records[2])
    response = httpx.post(f"{server.url}/predict", json={"rows": records})
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["field"] == field and problem["row"] == 2
    assert words in problem["msg"]


def test_unseen_categories_and_out_of_range_numbers_are_accepted_and_counted(server, rows) -> None:
    records = _records(rows.head(4))
    records[0]["Type"] = "XL"
    records[1]["Torque [Nm]"] = 1e6
    records[2]["Torque [Nm]"] = -5
    response = httpx.post(f"{server.url}/predict", json={"rows": records})
    assert response.status_code == 200
    assert response.json()["counts"] == {"unseen_categories": {"Type": 1}, "out_of_range": {"Torque [Nm]": 2}}
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'kiln_unseen_categories_total{column="Type"} 1.0' in metrics


def test_metadata_health_ready_metrics_and_stats(start_server, ai4i_bundle) -> None:
    server = start_server(ai4i_bundle)  # its own: the counts below are exact
    model = kiln.load(ai4i_bundle)
    meta = httpx.get(f"{server.url}/metadata").json()
    assert meta["task"] == "binary" and meta["target"] == TARGET
    assert [f["name"] for f in meta["features"]] == model.schema.names
    assert meta["cv"]["low"] <= meta["cv"]["score"] <= meta["cv"]["high"]
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/ready").json()["version"] == meta["version"]
    httpx.post(f"{server.url}/predict", json={"rows": [{"Type": "L"}]})  # a 422
    metrics = httpx.get(f"{server.url}/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'kiln_requests_total{route="/predict",status="422"} 1.0' in metrics.text
    assert "kiln_request_seconds_bucket" in metrics.text
    stats = httpx.get(f"{server.url}/stats").json()
    assert stats["errors"] >= 1 and stats["requests"] >= 4
    assert stats["latency_ms"]["p50"] is not None and not math.isnan(stats["latency_ms"]["p50"])


def test_api_key_guards_all_but_the_page_and_health(start_server, ai4i_bundle, rows) -> None:
    server = start_server(ai4i_bundle, "--api-key", "s3cret")
    record = {"rows": _records(rows.head(1))}
    assert httpx.post(f"{server.url}/predict", json=record).status_code == 401
    assert httpx.post(f"{server.url}/predict", json=record, headers={"X-API-Key": "wrong"}).status_code == 401
    assert httpx.get(f"{server.url}/metadata").status_code == 401
    assert httpx.get(f"{server.url}/metrics").status_code == 401
    assert httpx.get(f"{server.url}/openapi.json").status_code == 401  # it names every feature and its range
    assert httpx.get(f"{server.url}/ready").status_code == 401  # and the version
    assert httpx.post(f"{server.url}/predict", json=record, headers={"X-API-Key": "s3cret"}).status_code == 200
    assert httpx.post(f"{server.url}/predict", json=record,
                      headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert httpx.get(f"{server.url}/health").status_code == 200
    assert httpx.get(f"{server.url}/").status_code == 200


def test_serving_a_missing_bundle_or_busy_port_is_one_line_and_exit_2(tmp_path, ai4i_bundle, server) -> None:
    import subprocess
    import sys
    from pathlib import Path

    kiln_command = str(Path(sys.executable).with_name("kiln"))
    missing = subprocess.run([kiln_command, "serve", str(tmp_path / "nope")], capture_output=True, text=True,
                             timeout=60)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.strip().count("\n") == 0 and "not a kiln bundle" in missing.stderr
    port = str(server.port)  # the module's server holds it
    busy = subprocess.run([kiln_command, "serve", str(ai4i_bundle), "--port", port], capture_output=True, text=True,
                          timeout=120, env={**__import__("os").environ, "KILN_HOME": str(tmp_path / "h")})
    assert busy.returncode == 2 and "Traceback" not in busy.stderr
    assert "--port" in busy.stderr.strip().splitlines()[-1]


def test_two_worker_processes_serve_one_port_and_add_up_their_metrics(start_server, ai4i_bundle, rows) -> None:
    server = start_server(ai4i_bundle, "--workers", "2")
    for _ in range(6):  # fresh connections, so both workers answer some
        assert httpx.post(f"{server.url}/predict", json={"rows": _records(rows.head(1))}).status_code == 200
    metrics = httpx.get(f"{server.url}/metrics").text  # one worker answers, with both workers' counts
    assert 'kiln_requests_total{route="/predict",status="200"} 6.0' in metrics
    assert server.stop() == 0
