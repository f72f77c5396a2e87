"""POST /recommend and GET /similar against a real `kiln serve` (uvicorn on 127.0.0.1), hostile inputs included;
the served lists and clicks then give live hit rate through the monitor hook."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import httpx
import pandas as pd
import pytest

import kiln


def test_recommend_similar_feedback_and_hostile_inputs(trained: tuple[Path, str], ratings: Path,
                                                       start_server: Callable[..., object], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    bundle, _ = trained
    database = f"sqlite:///{tmp_path / 'kiln.db'}"
    server = start_server(bundle, env={"KILN_DB": database})
    url = server.url  # type: ignore[attr-defined]
    seen = pd.read_csv(ratings).groupby("user")["item"].apply(lambda s: {str(i) for i in s})

    answer = httpx.post(f"{url}/recommend", json={"user": "u3", "k": 5}, timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    items = [entry["item"] for entry in body["items"]]
    assert body["cold_start"] is False and len(items) == 5 and not set(items) & seen["u3"]
    assert [entry["rank"] for entry in body["items"]] == [1, 2, 3, 4, 5]
    assert body["items"] == sorted(body["items"], key=lambda e: -e["score"])
    model = kiln.load(bundle)  # in process, the same list
    assert [str(i) for i in model.recommend(["u3"], 5)["item"]] == items

    excluded = httpx.post(f"{url}/recommend", json={"user": "u3", "k": 5, "exclude": items[:2]}, timeout=30).json()
    assert not {e["item"] for e in excluded["items"]} & set(items[:2])
    candidates = ["0", "1", "2", "3"]
    within = httpx.post(f"{url}/recommend", json={"user": "u3", "k": 10, "candidates": candidates}, timeout=30).json()
    assert {e["item"] for e in within["items"]} <= set(candidates) - seen["u3"]

    stranger = httpx.post(f"{url}/recommend", json={"user": "never-seen", "k": 3}, timeout=30).json()
    assert stranger["cold_start"] is True and len(stranger["items"]) == 3

    for hostile, field in [({"user": "u3", "k": 0}, "k"), ({"user": "u3", "k": 10**9}, "k"),
                           ({"user": 3, "k": 5}, "user"), ({"user": None}, "user"), ({"user": ["u3"]}, "user"),
                           ({"user": "u3", "k": "5"}, "k"), ({"user": "u3", "k": True}, "k"),
                           ({"user": "u3", "exclude": [1, 2]}, "exclude"), ({"user": "u3", "colour": "red"}, "colour")]:
        refused = httpx.post(f"{url}/recommend", json=hostile, timeout=30)
        assert refused.status_code == 422, (hostile, refused.text)
        assert field in refused.text, (hostile, refused.text)
    assert httpx.post(f"{url}/recommend", content=b"{not json", timeout=30,
                      headers={"content-type": "application/json"}).status_code == 422

    similar = httpx.get(f"{url}/similar", params={"item": items[0], "k": 4}, timeout=30)
    assert similar.status_code == 200 and 0 < len(similar.json()["similar"]) <= 4
    assert items[0] not in {e["item"] for e in similar.json()["similar"]}
    assert httpx.get(f"{url}/similar", params={"item": "no-such-item"}, timeout=30).status_code == 404
    assert httpx.get(f"{url}/similar", params={"item": items[0], "k": 0}, timeout=30).status_code == 422
    assert httpx.get(f"{url}/similar", params={"item": items[0], "k": "lots"}, timeout=30).status_code == 422
    assert "Recommendations" in httpx.get(f"{url}/recommender", timeout=30).text

    fresh = [e["item"] for e in httpx.post(f"{url}/recommend", json={"user": "u3", "k": 5}, timeout=30).json()["items"]]
    clicked = httpx.post(f"{url}/feedback", json={"user": "u3", "item": fresh[1]}, timeout=30)
    assert clicked.status_code == 200 and clicked.json()["recorded"] == 1
    missed = httpx.post(f"{url}/feedback", json={"user": "never-seen", "item": "no-such-item"}, timeout=30)
    assert missed.status_code == 200
    assert httpx.post(f"{url}/feedback", json={"user": 3, "item": "1"}, timeout=30).status_code == 422
    table_style = httpx.post(f"{url}/feedback", json={"labels": [{"id": "1", "label": 1}]}, timeout=30)
    assert table_style.status_code == 422 and "user" in table_style.text  # this server's /feedback is the recommender's
    server.stop()  # type: ignore[attr-defined]  # a clean shutdown writes the prediction log

    from kiln.monitor.alerts import AlertRules
    from kiln.monitor.recommend import MONITORING

    name = Path(bundle).resolve().name
    traffic = MONITORING.traffic(name, model, url=database)
    assert len(traffic.served) >= 4 and len(traffic.clicks) == 2
    result = MONITORING.assess(model, traffic, name=name, version="1", since=None, rules=AlertRules(min_rows=1))
    overall = result.to_dict()["overall"]
    # u3 clicked rank 2 of the list served last to them; the stranger clicked an item no list held
    assert overall["clicks"] == 2 and overall["hit_rate"]["value"] == 0.5
    assert overall["ndcg"]["value"] == pytest.approx(0.5 / math.log2(3))
    assert result.drift["new_item_share"] == 0.5 and any(a.rule == "new_items" for a in result.alerts)

    # kiln monitor on the bundle reads the same log and exits 1 on the alert
    from typer.testing import CliRunner

    from kiln.cli.app import app

    monkeypatch.setenv("KILN_DB", database)
    done = CliRunner().invoke(app, ["monitor", str(bundle), "--since", "all", "--min-rows", "1",
                                    "--out", str(tmp_path / "monitor.html")])
    assert done.exit_code == 1, done.output
    assert "live hit rate 0.500" in done.output and "ALERT new_items" in done.output
    assert "Per window" in (tmp_path / "monitor.html").read_text()
