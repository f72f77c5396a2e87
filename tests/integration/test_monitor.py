"""Monitoring end to end on real served traffic: quiet on traffic like training, alerting on a
shifted fleet, with live performance from delayed labels; CLI exit codes and the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

TARGET = "Machine failure"


def _send(server, frame, batch: int = 250) -> list[str]:
    request_ids = []
    for start in range(0, len(frame), batch):
        part = frame.iloc[start:start + batch]
        response = httpx.post(f"{server.url}/predict", json={"rows": part.drop(columns=[TARGET]).to_dict("records")},
                              timeout=60)
        assert response.status_code == 200, response.text
        request_ids.append(response.json()["request_id"])
        labels = [{"request_id": request_ids[-1], "row": i, "label": int(v)} for i, v in enumerate(part[TARGET])]
        assert httpx.post(f"{server.url}/feedback", json={"labels": labels}).status_code == 200
    return request_ids


def _wait_until_logged(server, rows: int) -> None:
    """The log is written by a background thread within about a second; wait for it."""
    import time

    deadline = time.monotonic() + 30
    while httpx.get(f"{server.url}/stats").json()["log"]["written"] < rows and time.monotonic() < deadline:
        time.sleep(0.2)


def _monitor(home: Path, bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    kiln_command = str(Path(sys.executable).with_name("kiln"))
    return subprocess.run([kiln_command, "monitor", str(bundle), "--since", "all", "--json", *args],
                          capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "KILN_HOME": str(home)})


@pytest.fixture
def served(start_server, ai4i_bundle, tmp_path):
    return start_server(ai4i_bundle), tmp_path / "home"


def test_traffic_like_training_is_quiet_and_a_worn_hot_fleet_alerts(served, start_server, ai4i_bundle, ai4i) -> None:
    server, home = served
    normal = ai4i.sample(1500, random_state=3).reset_index(drop=True)
    _send(server, normal)
    _wait_until_logged(server, 1500)
    live = httpx.get(f"{server.url}/monitor", params={"since": "all"}, timeout=120).json()
    assert live["rows"] == 1500 and live["labelled"] == 1500 and live["status"] == "ok", live["alerts"]
    assert live["drifted"] == []
    server.stop()

    quiet = _monitor(home, ai4i_bundle)
    assert quiet.returncode == 0, quiet.stderr
    result = json.loads(quiet.stdout)
    overall = result["overall"]
    assert overall["metric"] == "roc_auc" and overall["ci_low"] <= overall["value"] <= overall["ci_high"]
    assert abs(overall["estimated"] - overall["value"]) < 0.1  # CBPE close to the real value on unshifted data
    assert Path(result["report"]).read_text().count("figure-drift-") >= 6

    shifted = ai4i.sample(1500, random_state=4).reset_index(drop=True)
    shifted["Tool wear [min]"] = shifted["Tool wear [min]"] + 80
    shifted["Air temperature [K]"] = shifted["Air temperature [K]"] + 3.0
    restarted = start_server(ai4i_bundle)  # the same KILN_HOME: one prediction log
    try:
        _send(restarted, shifted)
    finally:
        assert restarted.stop() == 0
    alerted = _monitor(home, ai4i_bundle)
    assert alerted.returncode == 1, alerted.stderr
    result = json.loads(alerted.stdout)
    assert result["status"] == "alert"
    assert {"Tool wear [min]", "Air temperature [K]"} <= set(result["drifted"])
    assert any(a["rule"] == "psi_top_feature" for a in result["alerts"])
    quality = {q["column"]: q for q in result["quality"]}
    assert quality["Tool wear [min]"]["out_of_range"] > 0


def test_a_bad_since_is_one_line_and_exit_2(ai4i_bundle, tmp_path) -> None:
    result = _monitor(tmp_path, ai4i_bundle)  # no traffic at all: no verdict, exit 0
    assert result.returncode == 0 and json.loads(result.stdout)["status"] == "no data"
    kiln_command = str(Path(sys.executable).with_name("kiln"))
    bad = subprocess.run([kiln_command, "monitor", str(ai4i_bundle), "--since", "yesterday"], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "--since" in bad.stderr and "Traceback" not in bad.stderr


def test_monitor_judges_the_served_version_alone_with_the_previous_beside_it(start_server, ai4i_bundle, ai4i,
                                                                             tmp_path) -> None:
    """Two bundles in folders of the same name (the second re-saved with other content): a server
    of the second reports its own traffic only, and the first's window beside it."""
    import shutil

    first, second = tmp_path / "a" / "fleet", tmp_path / "b" / "fleet"
    shutil.copytree(ai4i_bundle, first)
    shutil.copytree(ai4i_bundle, second)
    manifest = json.loads((second / "kiln.json").read_text())
    manifest["note"] = "re-saved: other content, same folder name"
    (second / "kiln.json").write_text(json.dumps(manifest))
    old = start_server(first)
    _send(old, ai4i.sample(300, random_state=5).reset_index(drop=True))
    assert old.stop() == 0  # a clean stop writes the whole log
    new = start_server(second)
    _send(new, ai4i.sample(200, random_state=6).reset_index(drop=True))
    _wait_until_logged(new, 200)
    live = httpx.get(f"{new.url}/monitor", params={"since": "all"}, timeout=120).json()
    assert (live["rows"], live["labelled"]) == (200, 200)
    before = live["previous"]
    assert before["version"] != live["version"] and (before["rows"], before["labelled"]) == (300, 300)
    assert before["overall"]["metric"] == live["overall"]["metric"] == live["cv"]["metric"]


def test_an_empty_window_says_which_prediction_log_was_searched(ai4i_bundle, tmp_path) -> None:
    from typer.testing import CliRunner

    from kiln.cli import app

    result = CliRunner().invoke(app, ["monitor", str(ai4i_bundle), "--since", "all", "--out", str(tmp_path / "m.html")],
                                env={"KILN_HOME": str(tmp_path), "KILN_DB": "", "COLUMNS": "300"})

    assert result.exit_code == 0, result.output
    assert (f"No served rows of {ai4i_bundle.name} in the prediction log of the registry in "
            f"{tmp_path / 'kiln.db'} (KILN_HOME={tmp_path})") in " ".join(result.output.split())
