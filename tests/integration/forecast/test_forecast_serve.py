"""POST /forecast, POST /feedback and the page against a real `kiln serve` (uvicorn on 127.0.0.1), hostile
inputs included: each refusal is a 4xx naming the series and the field, never a 500."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
from conftest import HORIZON


def test_the_forecast_server_answers_and_refuses_precisely(forecaster: tuple[Path, str], start_server) -> None:
    bundle, _ = forecaster
    server = start_server(bundle, "--workers", "1")
    url = server.url
    with httpx.Client(base_url=url, timeout=60) as client:
        # from the stored context, both series, a shorter h
        answer = client.post("/forecast", json={"ids": ["A", "B"], "h": 6})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert [f["id"] for f in body["forecasts"]] == ["A", "B"] and body["h"] == 6
        first = body["forecasts"][0]
        assert first["time"][0].startswith("1960-01-01") and len(first["prediction"]) == 6
        q = np.array([first["quantiles"][f"0.{k}"] for k in range(1, 10)])
        assert (np.diff(q, axis=0) >= 0).all() and np.isfinite(q).all()
        # a new series sent with its recent history
        history = [{"time": f"2000-{m:02d}-01", "value": 100.0 + 10 * (m % 4) + m} for m in range(1, 13)]
        history += [{"time": f"2001-{m:02d}-01", "value": 115.0 + 10 * (m % 4) + m} for m in range(1, 13)]
        fresh = client.post("/forecast", json={"series": [{"id": "new", "history": history}]})
        assert fresh.status_code == 200, fresh.text
        assert fresh.json()["forecasts"][0]["time"][0].startswith("2002-01-01")
        assert len(fresh.json()["forecasts"][0]["prediction"]) == HORIZON

        hostile = [
            ({"ids": ["nowhere"]}, "ids", "nowhere"),
            ({"ids": ["A"], "h": HORIZON + 1}, "h", "horizon"),
            ({"ids": ["A"], "h": True}, "h", "integer"),
            ({"ids": ["A"], "h": "3"}, "h", "integer"),
            ({"ids": ["A"], "series": []}, "ids", "not both"),
            ({}, "ids", "either"),
            ({"ids": []}, "ids", "non-empty"),
            ({"ids": ["A"], "extra": 1}, "extra", "Unknown field"),
            ({"series": [{"id": "x", "history": history[:2]}]}, "series[0].history", "'x'"),
            ({"series": [{"id": "x", "history": [*history[:5], {"time": "2000-06-01", "value": "NaN"}]}]},
             "series[0].history[5].value", "finite number"),
            ({"series": [{"id": "x", "history": [*history[:5], {"time": "not a date", "value": 1}]}]},
             "series[0].history[5].time", "timestamp"),
            ({"series": [{"id": "x", "history": [*history[:5], history[4]]}]}, "series", "repeats"),
            ({"series": [{"id": "x", "history": [*history[:5], {"time": "2000-06-17", "value": 1.0}]}]},
             "series", "grid"),
            ({"series": "x"}, "series", "list"),
            ({"series": [{"id": "x", "history": [{"time": 1e300, "value": 1}] * 3}]}, "series[0].history[0].time",
             "timestamp"),
        ]
        for payload, field, words in hostile:
            refused = client.post("/forecast", json=payload)
            assert refused.status_code == 422, (payload, refused.text)
            detail = refused.json()["detail"][0]
            assert detail["field"] == field and words in detail["msg"], (payload, detail)
        assert client.post("/forecast", content=b"{not json", headers={"content-type": "application/json"}
                           ).status_code == 422
        assert client.post("/forecast", content=b"ids=A", headers={"content-type": "text/plain"}).status_code == 415
        assert client.post("/forecast", json={"ids": ["A"] * 1001}).status_code == 413

        # actuals arrive later; the page draws the fan chart from /forecast/series and /forecast
        recorded = client.post("/feedback", json={"actuals": [{"id": "A", "time": "1960-01-01", "value": 417.0}]})
        assert recorded.status_code == 200 and recorded.json()["recorded"] == 1
        bad = client.post("/feedback", json={"actuals": [{"id": "A", "time": "1960-01-01", "value": None}]})
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "actuals[0].value"
        listing = client.get("/forecast/series").json()
        assert set(listing["series"]) == {"A", "B"} and listing["horizon"] == HORIZON
        page = client.get("/")
        assert page.status_code == 200 and "fan chart" in page.text and "forecast/series" in page.text
