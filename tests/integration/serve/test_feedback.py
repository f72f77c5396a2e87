"""Delayed labels through POST /feedback, joined to the logged predictions by request id or by an id column."""

from __future__ import annotations

import httpx
import pandas as pd

from kiln.store.feedback import labelled_predictions, read_labels
from kiln.store.prediction_log import read_predictions


def test_labels_join_logged_predictions_by_request_id_and_by_id_column(start_server, ai4i_bundle, ai4i, tmp_path):
    server = start_server(ai4i_bundle)
    rows = ai4i.drop(columns=["Machine failure"]).head(3).to_dict("records")
    predicted = httpx.post(f"{server.url}/predict", json={"rows": rows}).json()
    by_request = httpx.post(f"{server.url}/feedback", json={"labels": [
        {"request_id": predicted["request_id"], "row": 0, "label": 1}]})
    by_id = httpx.post(f"{server.url}/feedback", json={"id_column": "UDI", "labels": [
        {"id": int(rows[2]["UDI"]), "label": 0}]})
    assert by_request.json()["recorded"] == 1 and by_id.json()["recorded"] == 1
    bad = httpx.post(f"{server.url}/feedback", json={"labels": [{"label": 1}]})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "request_id"
    assert server.stop() == 0  # flushes the prediction log

    url = f"sqlite:///{tmp_path / 'home' / 'kiln.db'}"
    name = ai4i_bundle.name
    logged = pd.DataFrame(read_predictions(name, url=url))
    assert len(logged) == 3 and logged["inputs"][2]["UDI"] == rows[2]["UDI"]
    joined = labelled_predictions(logged, read_labels(name, url=url)).sort_values("row")
    assert joined["label"].tolist() == [1, None, 0]
