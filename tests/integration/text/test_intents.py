"""The help-desk intent set trains into a text model with the reject option; the bundle
round-trips; the CLI predicts unicode messages and reports the reject rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split
from typer.testing import CliRunner

import kiln
from kiln.demo.intents import OUT_OF_SCOPE, PER_INTENT, PHRASINGS, load_intents

ODD = ["the press is overheating again", "Ünïcödé 🚀 pressé surchauffe", "пресс перегрелся", "مضخة تسرب الزيت",
       "e\u0301\u0301 combining marks", "leak " * 400, "漢字のテキスト、ポンプが漏れている"]


@pytest.fixture(scope="module")
def intents(tmp_path_factory) -> tuple:
    frame = load_intents()
    train, test = train_test_split(frame, test_size=0.3, random_state=0, stratify=frame["intent"])
    model = kiln.train(train, target="intent", time_limit=10, max_trials=1, n_jobs=1, text_columns=["utterance"],
                       reject_below="auto", quiet=True)
    folder = kiln.save(model, tmp_path_factory.mktemp("bot") / "bot")
    return model, Path(folder), test


def test_the_demo_set_has_its_intents_and_out_of_scope_messages() -> None:
    frame = load_intents()
    counts = frame["intent"].value_counts()
    assert set(counts.index) == set(PHRASINGS) | {OUT_OF_SCOPE}
    assert (counts.drop(OUT_OF_SCOPE) == PER_INTENT).all() and counts[OUT_OF_SCOPE] >= 30
    assert frame.equals(load_intents())  # the same table every time
    assert not frame["utterance"].duplicated().any()


def test_reject_threshold_reaches_its_precision_on_held_out_rows(intents) -> None:
    model, _, test = intents
    rule = model.reject
    assert rule["mode"] == "auto" and rule["target_precision"] == 0.9 and rule["out_of_scope_rows"] > 0
    predicted = model.predict(test[["utterance"]])
    kept = predicted != OUT_OF_SCOPE
    truth = test["intent"].to_numpy()
    assert 0.5 < kept.mean() < 1.0
    assert (predicted[kept] == truth[kept]).mean() >= 0.9
    assert (~kept[truth == OUT_OF_SCOPE]).mean() > 0.5  # most out-of-scope messages are refused


def test_the_bundle_predicts_the_same_after_loading(intents) -> None:
    model, folder, test = intents
    loaded = kiln.load(folder)
    np.testing.assert_allclose(loaded.predict_raw(test[["utterance"]]), model.predict_raw(test[["utterance"]]))
    assert loaded.reject == model.reject


def test_cli_predicts_unicode_messages_and_reports_the_reject_rate(intents, tmp_path) -> None:
    from kiln.cli.app import app

    _, folder, _ = intents
    source = tmp_path / "messages.csv"
    pd.DataFrame({"utterance": ODD}).to_csv(source, index=False, encoding="utf-8")
    out = tmp_path / "answers.csv"
    result = CliRunner().invoke(app, ["predict", str(folder), str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "reject rate:" in result.output
    answers = pd.read_csv(out, keep_default_na=False)
    assert len(answers) == len(ODD)
    assert answers["prediction"].iloc[0] == "overheating"
    assert set(answers["prediction"]) <= set(PHRASINGS) | {OUT_OF_SCOPE}
    proba = answers[[c for c in answers.columns if c.startswith("proba_")]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)


def test_cli_refuses_an_empty_message_naming_the_column_and_line(intents, tmp_path) -> None:
    from kiln.cli.app import app

    _, folder, _ = intents
    source = tmp_path / "messages.csv"
    source.write_text("utterance\nthe lathe is jammed\n\"\"\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["predict", str(folder), str(source), "--out", str(tmp_path / "a.csv")])
    assert result.exit_code == 2
    assert "'utterance'" in result.output and "Traceback" not in result.output


def test_cli_predicts_whitespace_only_lines_in_order_and_names_an_empty_one(intents, tmp_path) -> None:
    from kiln.cli.app import app

    _, folder, _ = intents
    source = tmp_path / "messages.csv"  # every line a message; the empty lines ending the file are none
    source.write_text("utterance\nthe lathe is jammed\n   \noil leaking under the press\n\t\n"
                      "the press is overheating again\n\n\n", encoding="utf-8")
    out = tmp_path / "answers.csv"
    result = CliRunner().invoke(app, ["predict", str(folder), str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    answers = pd.read_csv(out, keep_default_na=False)["prediction"].tolist()
    assert len(answers) == 5 and answers[0] == "jam" and answers[2] == "leak" and answers[4] == "overheating"
    source.write_text("utterance\nthe lathe is jammed\n\noil leaking\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["predict", str(folder), str(source), "--out", str(out)])
    assert result.exit_code == 2 and "'utterance'" in result.output and "line 3" in result.output


def test_the_server_answers_messages_and_refuses_bad_text(intents, start_server) -> None:
    import httpx

    _, folder, _ = intents
    server = start_server(folder, "--max-body-bytes", "30000", "--drain", "0", "--no-log-predictions")
    messages = ["the press is overheating again", "Ünïcödé 🚀 пресс перегрелся", "what is the meaning of life"]
    response = httpx.post(f"{server.url}/predict", json={"rows": [{"utterance": m} for m in messages]}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    first = body["answers"][0]
    assert first["label"] == "overheating" and not first["out_of_scope"]
    assert len(first["alternatives"]) == 3 and first["alternatives"][0]["label"] == "overheating"
    assert first["confidence"] == pytest.approx(body["probabilities"][0]["overheating"])
    for prediction, answer in zip(body["predictions"], body["answers"], strict=True):
        assert (prediction == OUT_OF_SCOPE) == answer["out_of_scope"]

    def refused(text: str) -> httpx.Response:
        return httpx.post(f"{server.url}/predict", json={"rows": [{"utterance": text}]}, timeout=30)

    for bad in ("press\x00 4 leaks", "bell \x07 here", "x" * 10_001):
        answer = refused(bad)
        assert answer.status_code == 422, answer.text
        assert "utterance" in answer.text
    assert refused("y" * 40_000).status_code == 413  # the body is over --max-body-bytes
    broken = httpx.post(f"{server.url}/predict", content=b'{"rows": [{"utterance": "caf\xe9"}]}',
                        headers={"content-type": "application/json"}, timeout=30)
    assert 400 <= broken.status_code < 500  # not UTF-8
    assert refused("tab\tand\nnewline are fine").status_code == 200

    page = httpx.get(f"{server.url}/text", timeout=30)
    assert page.status_code == 200 and "<textarea" in page.text
    explained = httpx.post(f"{server.url}/text/answer", json={"text": "oil leaking under the press"}, timeout=30)
    assert explained.status_code == 200, explained.text
    words = {w["word"]: w["weight"] for w in explained.json()["words"]}
    assert explained.json()["label"] in PHRASINGS or explained.json()["out_of_scope"]
    assert max(words, key=words.__getitem__) in ("oil", "leaking")  # the words that carry the intent


def test_evaluation_adds_per_class_scores_confused_pairs_coverage_and_ngrams(intents) -> None:
    model, _, test = intents
    text = kiln.evaluate(model, test).text
    assert text is not None
    assert set(text.per_class["class"]) == set(PHRASINGS) | {OUT_OF_SCOPE}
    assert text.per_class["support"].sum() == len(test)
    assert text.per_class["precision"].between(0, 1).all() and text.per_class["recall"].mean() > 0.6
    assert (text.confused["true"] != text.confused["predicted"]).all()
    assert all(len(examples) >= 1 for examples in text.confused["examples"])
    assert text.coverage["coverage"].is_monotonic_decreasing and text.coverage["coverage"].iloc[0] <= 1.0
    assert set(text.ngrams["class"]) == set(PHRASINGS) | {OUT_OF_SCOPE}
    leak = text.ngrams[text.ngrams["class"] == "leak"]
    assert "leak" in set(leak[leak["kind"] == "word"]["ngram"])  # the intent's own word drives it
    assert "overheating" in set(text.ngrams[text.ngrams["class"] == "overheating"]["ngram"])
    assert text.reject is not None and 0.5 < text.reject["coverage"] < 1.0


def test_text_drift_sees_new_words_longer_messages_and_more_rejections(intents) -> None:
    from kiln.monitor.text import new_frequent_words, text_drift

    model, _, test = intents
    reference = model.reference
    same = test[["utterance"]].reset_index(drop=True)
    calm = {d.column: d for d in text_drift(model, reference, same, model.predict_raw(same))}
    assert not calm["utterance: out-of-vocabulary share"].drifted
    shifted = pd.DataFrame({"utterance": [f"kubernetes pod {i} crashloop restart quota exceeded again and again"
                                          for i in range(80)]})
    moved = {d.column: d for d in text_drift(model, reference, shifted, model.predict_raw(shifted))}
    assert moved["utterance: out-of-vocabulary share"].drifted
    assert moved["utterance: length"].drifted
    assert "answers: rejected as out of scope" in moved
    words = dict(new_frequent_words(model, reference, shifted)["utterance"])
    assert words["kubernetes"] == 80 and "the" not in words


def _traffic(model, messages: pd.DataFrame):
    from kiln.monitor.window import TrafficWindow

    raw = np.asarray(model.predict_raw(messages))
    classes = [str(c) for c in model.classes_]
    outputs = [{"prediction": p, "probabilities": dict(zip(classes, map(float, r), strict=True))}
               for p, r in zip(model.labels(raw).tolist(), raw, strict=True)]
    log = pd.DataFrame({"at": 1_000.0 + np.arange(len(messages)), "outputs": outputs,
                        "label": pd.Series([None] * len(messages), dtype=object)})
    return TrafficWindow(messages.reset_index(drop=True), log)


def test_monitoring_lists_new_ngrams_and_alerts_on_a_new_topic(intents) -> None:
    from kiln.monitor.alerts import AlertRules
    from kiln.monitor.run import assess
    from kiln.report.drift import render_drift

    model, _, test = intents
    rules = AlertRules(min_rows=50)
    calm = assess(model, _traffic(model, test[["utterance"]]), name="bot", version="1", since=None, rules=rules)
    assert not [a for a in calm.alerts if a.rule.startswith("text_")], calm.alerts
    assert all(g["share"] < 0.1 for g in calm.new_ngrams["utterance"])
    topic = pd.DataFrame({"utterance": [f"kubernetes pod {i} crashloop on the press" for i in range(40)]})
    shifted = pd.concat([test[["utterance"]], topic], ignore_index=True)
    moved = assess(model, _traffic(model, shifted), name="bot", version="1", since=None, rules=rules)
    grams = {g["ngram"]: g["messages"] for g in moved.new_ngrams["utterance"]}
    assert grams["kubernetes"] == 40 and grams["crashloop"] == 40 and "the" not in grams
    assert "kubernetes pod" not in grams  # nothing beyond its new words
    assert any(a.rule == "text_new_ngrams" and ("'crashloop'" in a.message or "'kubernetes'" in a.message)
               for a in moved.alerts), moved.alerts
    from kiln.cli.console import print_monitor

    print_monitor(moved)
    assert moved.to_dict()["new_ngrams"]["utterance"][0]["messages"] == 40
    page = render_drift(moved)
    assert "<h2>New n-grams in text</h2>" in page and "kubernetes" in page
