"""Per-version windows on a real SQLite log: one version's traffic is judged alone, the previous
version's is shown beside it, folder bundles are told apart by content, a large window is read
as an even sample, and a database made before the new indexes gets them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kiln
from kiln.bundle import bundle_version
from kiln.monitor.alerts import AlertRules
from kiln.monitor.run import assess, monitor_version
from kiln.monitor.window import previous_version, read_window
from kiln.store.database import engine
from kiln.store.feedback import Label, record_labels
from kiln.store.prediction_log import sample_predictions
from kiln.store.tables import ensure_tables, predictions


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "kind": rng.choice(["x", "y"], n)})
    frame["y"] = np.where(rng.random(n) < 1 / (1 + np.exp(-2 * frame["a"])), "yes", "no")
    return frame


@pytest.fixture(scope="module")
def model() -> kiln.Model:
    return kiln.train(_table(600, 0), target="y", learners=["lightgbm"], max_trials=1, n_jobs=1, quiet=True,
                      time_limit=10)


def _log(url: str, model: kiln.Model, name: str, version: str, rows: pd.DataFrame, start: float,
         request: str) -> None:
    features = rows.drop(columns=["y"])
    raw = model.predict_raw(features)
    classes = [str(c) for c in model.classes_]
    records = [{"request_id": request, "row": i, "model": name, "version": version, "at": start + i,
                "inputs": record, "outputs": {"prediction": p, "probabilities": dict(zip(classes, map(float, r),
                                                                                           strict=True))}}
               for i, (record, p, r) in enumerate(zip(features.to_dict("records"), model.labels(raw).tolist(), raw,
                                                      strict=True))]
    database = engine(url)
    ensure_tables(database)
    with database.begin() as connection:
        connection.execute(predictions.insert(), records)
    record_labels(name, [Label(v, request_id=request, row=i) for i, v in enumerate(rows["y"])], url=url)


def test_a_version_is_judged_on_its_own_traffic_with_the_previous_beside_it(model, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'kiln.db'}"
    _log(url, model, "m", "1", _table(300, 1), 1_000.0, "r1")
    _log(url, model, "m", "2", _table(200, 2), 5_000.0, "r2")
    _log(url, model, "other", "2", _table(50, 3), 6_000.0, "r3")
    assert read_window("m", model.schema, url=url).rows == 500  # the name alone pools both versions
    result = monitor_version(model, name="m", version="2", since=None, rules=AlertRules(min_rows=10), url=url)
    assert (result.rows, result.labelled, result.version) == (200, 200, "2")
    assert previous_version("m", "2", url=url) == "1"
    before = result.to_dict()["previous"]
    assert (before["version"], before["rows"], before["labelled"]) == ("1", 300, 300)
    assert before["overall"]["metric"] == model.metric and before["overall"]["value"] is not None
    from kiln.report.drift import render_drift

    page = render_drift(result)  # the report shows both windows, this one judged, the other beside it
    assert "2 (judged)" in page and "1 (previous)" in page
    assert monitor_version(model, name="m", version="1", since=None, rules=AlertRules(), url=url).previous["version"] \
        == "2"


def test_folder_bundles_with_the_same_name_are_told_apart_by_content(model, tmp_path) -> None:
    first = kiln.save(model, tmp_path / "a" / "model")
    model.manifest["note"] = "another bundle in a folder of the same name"
    try:
        second = kiln.save(model, tmp_path / "b" / "model")
    finally:
        del model.manifest["note"]
    assert Path(first).name == Path(second).name and bundle_version(first) != bundle_version(second)
    url = f"sqlite:///{tmp_path / 'kiln.db'}"
    _log(url, model, "model", bundle_version(first), _table(120, 4), 1_000.0, "a")
    _log(url, model, "model", bundle_version(second), _table(80, 5), 2_000.0, "b")
    assert read_window("model", model.schema, version=bundle_version(second), url=url).rows == 80


def test_a_large_window_is_read_as_an_even_sample(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'kiln.db'}"
    ensure_tables(engine(url))
    n = 30_000
    connection = sqlite3.connect(tmp_path / "kiln.db")
    rows = [("r", i, "other" if i % 11 == 0 else "m", "1", float(i), "{}", "{}") for i in range(n)]
    connection.executemany('INSERT INTO kiln_predictions (request_id, "row", model, version, at, inputs, outputs) '
                           "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    connection.commit()
    mine = sum(1 for r in rows if r[2] == "m")
    sample = sample_predictions("m", version="1", url=url, max_rows=1_000)
    at = np.array([r["at"] for r in sample.rows])
    assert 500 <= len(sample.rows) <= 1_100 and all(r["model"] == "m" for r in sample.rows)
    assert abs(sample.total - mine) / mine < 0.05 and not sample.exact
    assert at.min() < 0.05 * n and at.max() > 0.95 * n  # spread over the whole window
    assert np.histogram(at, bins=10, range=(0, n))[0].min() > 0.6 * len(at) / 10  # evenly
    since = sample_predictions("m", version="1", since=20_000.0, url=url, max_rows=1_000)
    assert min(r["at"] for r in since.rows) >= 20_000.0
    connection.execute("DELETE FROM kiln_predictions WHERE model = 'other'")  # ids with gaps: still estimated
    connection.commit()
    assert abs(sample_predictions("m", version="1", url=url, max_rows=1_000).total - mine) / mine < 0.05
    connection.executemany('INSERT INTO kiln_predictions (request_id, "row", model, version, at, inputs, outputs) '
                           "VALUES (?, ?, ?, ?, ?, ?, ?)", [("r", i, "alone", "1", n + i, "{}", "{}")
                                                            for i in range(n)])
    connection.commit()
    alone = sample_predictions("alone", version="1", url=url, max_rows=1_000)
    assert (alone.total, alone.exact) == (n, True) and len(alone.rows) == 1_000  # every id its own: exact


def test_shap_ranks_are_computed_once_per_model(model, monkeypatch) -> None:
    import kiln.evaluation.explain as explain

    calls = []
    real = explain.shap_contributions
    monkeypatch.setattr(explain, "shap_contributions", lambda *a, **k: calls.append(1) or real(*a, **k))
    traffic = read_window("nobody", model.schema, url="sqlite://")
    for _ in range(3):
        assess(model, traffic, name="m", version="1", since=None, rules=AlertRules())
    assert len(calls) <= 1


def test_a_database_made_before_the_new_indexes_gets_them(tmp_path) -> None:
    path = tmp_path / "old.db"
    connection = sqlite3.connect(path)
    connection.executescript("""
        CREATE TABLE kiln_predictions (id INTEGER NOT NULL PRIMARY KEY, request_id VARCHAR(64) NOT NULL,
            "row" INTEGER NOT NULL, model VARCHAR(256) NOT NULL, version VARCHAR(64) NOT NULL, at FLOAT NOT NULL,
            inputs JSON NOT NULL, outputs JSON NOT NULL);
        CREATE INDEX ix_kiln_predictions_model ON kiln_predictions (model);
        CREATE INDEX ix_kiln_predictions_at ON kiln_predictions (at);
        CREATE TABLE kiln_feedback (id INTEGER NOT NULL PRIMARY KEY, model VARCHAR(256) NOT NULL,
            request_id VARCHAR(64), "row" INTEGER, id_column VARCHAR(256), "key" VARCHAR(256), label JSON NOT NULL,
            at FLOAT NOT NULL);
        INSERT INTO kiln_predictions VALUES (1, 'r', 0, 'm', '1', 10.0, '{"a": 1}', '{"prediction": 2.5}');
        INSERT INTO kiln_feedback VALUES (1, 'm', 'r', 0, NULL, NULL, '3.0', 11.0);
    """)
    connection.commit()
    url = f"sqlite:///{path}"
    ensure_tables(engine(url))
    indexes = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"ix_kiln_predictions_model_version_at", "ix_kiln_feedback_request_row"} <= indexes
    assert "ix_kiln_predictions_model" not in indexes  # the composite's prefix serves it; it only slowed inserts
    sample = sample_predictions("m", version="1", url=url, max_rows=10)
    assert [r["outputs"] for r in sample.rows] == [{"prediction": 2.5}]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path / 'kiln.db'}"


def test_the_sample_and_its_labels_read_the_same_on_sqlite_and_postgresql(database_url) -> None:
    """Plain SQL with the driver's placeholders: one sampled read and one label lookup on each database."""
    import uuid

    from kiln.store.feedback import read_labels

    name = f"m-{uuid.uuid4().hex[:8]}"  # the PostgreSQL server is shared by the session
    records = [{"request_id": f"r{i // 10}", "row": i % 10, "model": name, "version": "1", "at": float(i),
                "inputs": {"a": i}, "outputs": {"prediction": i % 2}} for i in range(3_000)]
    database = engine(database_url)
    ensure_tables(database)
    with database.begin() as connection:
        connection.execute(predictions.insert(), records)
    record_labels(name, [Label(i % 2, request_id=f"r{i // 10}", row=i % 10) for i in range(0, 3_000, 3)],
                  url=database_url)
    sample = sample_predictions(name, version="1", url=database_url, max_rows=500)
    assert 250 <= len(sample.rows) <= 500 and sample.total == 3_000
    assert all(r["outputs"] == {"prediction": r["inputs"]["a"] % 2} for r in sample.rows)
    pairs = [(r["request_id"], r["row"]) for r in sample.rows]
    labels = read_labels(name, url=database_url, predictions=pairs)
    expected = {(f"r{i // 10}", i % 10) for i in range(0, 3_000, 3)} & set(pairs)
    assert set(zip(labels["request_id"], labels["row"], strict=True)) == expected


def test_a_one_row_window_gets_no_estimate_and_the_report_says_why(model, tmp_path) -> None:
    # issue 13, item 6: a 1-row window showed a CBPE ROC AUC of 0.5 (one row's expected AUC, whatever the row)
    url = f"sqlite:///{tmp_path / 'kiln.db'}"
    _log(url, model, "m", "1", _table(1, 4), 1_000.0, "r1")

    result = monitor_version(model, name="m", version="1", since=None, rules=AlertRules(min_rows=1), url=url)

    assert result.overall.rows == 1 and result.overall.estimated is None and result.overall.value is None
    assert result.overall.estimate_note == "too few rows (1 < 30)"
    assert not [a for a in result.alerts if a.rule == "estimated_below_cv"]
    from kiln.report.drift import render_drift

    page = render_drift(result)
    assert "— (too few rows (1 &lt; 30))" in page and "— (too few labelled rows (1 &lt; 30))" in page


def test_a_regression_window_says_cbpe_is_for_classification(tmp_path) -> None:
    from kiln.report.drift import render_drift

    frame = _table(200, 5).assign(y=lambda f: 3 * f["a"] + f["b"])
    regressor = kiln.train(frame, target="y", learners=["linear"], max_trials=1, n_jobs=1, quiet=True, time_limit=10)
    url = f"sqlite:///{tmp_path / 'kiln.db'}"
    rows = _table(60, 6).assign(y=lambda f: 3 * f["a"] + f["b"])
    database = engine(url)
    ensure_tables(database)
    with database.begin() as connection:
        connection.execute(predictions.insert(), [
            {"request_id": "r", "row": i, "model": "reg", "version": "1", "at": 1_000.0 + i, "inputs": record,
             "outputs": {"prediction": float(p)}}
            for i, (record, p) in enumerate(zip(rows.drop(columns=["y"]).to_dict("records"),
                                                regressor.predict(rows.drop(columns=["y"])), strict=True))])

    result = monitor_version(regressor, name="reg", version="1", since=None, rules=AlertRules(min_rows=1), url=url)

    assert result.overall.estimated is None
    assert result.overall.estimate_note == "CBPE estimates classification metrics only (it needs class probabilities)"
    assert "— (CBPE estimates classification metrics only" in render_drift(result)
