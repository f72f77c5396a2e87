"""The recommend kind end to end through the CLI: train, leaderboard, predict, evaluate, profile, bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
from recommend_data import interactions
from typer.testing import CliRunner

import kiln
from kiln.cli.app import app


def test_train_writes_a_safe_bundle_that_beats_most_popular_on_validation(trained: tuple[Path, str]) -> None:
    bundle, output = trained
    assert "validation NDCG@10" in output and "bundle:" in output
    manifest = json.loads((bundle / "kiln.json").read_text())
    assert manifest["kind"] == "recommend" and manifest["metric"] == "ndcg@10"
    suffixes = {Path(name).suffix for name in manifest["files"]}
    assert suffixes <= {".npy", ".npz", ".parquet", ".csv", ".html"}, suffixes  # no pickle anywhere
    validation = manifest["validation"]
    # the generated users each like one group of items: structure a learner must find
    assert validation["ndcg@10"]["value"] > validation["most_popular_ndcg@10"]
    assert validation["ndcg@10"]["low"] <= validation["ndcg@10"]["value"] <= validation["ndcg@10"]["high"]


def test_saved_and_loaded_models_recommend_the_same(trained: tuple[Path, str], tmp_path: Path) -> None:
    bundle, _ = trained
    model = kiln.load(bundle)
    again = kiln.load(kiln.save(model, tmp_path / "copy"))
    users = [f"u{i}" for i in range(60)] + ["stranger"]
    pd.testing.assert_frame_equal(model.recommend(users, 5), again.recommend(users, 5))


def test_predict_follows_the_contract(trained: tuple[Path, str], ratings: Path, tmp_path: Path) -> None:
    bundle, _ = trained
    pd.DataFrame({"user": ["u1", "u2", "nobody"]}).to_csv(tmp_path / "users.csv", index=False)
    out = tmp_path / "recs.csv"
    result = CliRunner().invoke(app, ["predict", str(bundle), str(tmp_path / "users.csv"), "--top-k", "5",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    recs = pd.read_csv(out)
    assert list(recs.columns) == ["user", "item", "score", "rank", "cold_start"]
    assert recs.groupby("user")["rank"].apply(list).to_dict() == {u: [1, 2, 3, 4, 5] for u in ["u1", "u2", "nobody"]}
    table = pd.read_csv(ratings)
    seen = set(zip(table["user"], table["item"], strict=True))
    assert not any((u, i) in seen for u, i in zip(recs["user"], recs["item"], strict=True))
    assert recs.loc[recs["user"] == "nobody", "cold_start"].all() and not recs.loc[recs["user"] == "u1",
                                                                                   "cold_start"].any()
    assert (recs.groupby("user")["score"].apply(lambda s: bool(np.all(np.diff(s.to_numpy()) <= 0)))).all()
    result = CliRunner().invoke(app, ["predict", str(bundle), str(tmp_path / "users.csv"), "--top-k", "40",
                                      "--include-seen", "--out", str(tmp_path / "all.csv")])
    assert result.exit_code == 0
    everything = pd.read_csv(tmp_path / "all.csv")
    assert any((u, i) in seen for u, i in zip(everything["user"], everything["item"], strict=True))
    result = CliRunner().invoke(app, ["predict", str(bundle), str(tmp_path / "users.csv"), "--top-k", "0",
                                      "--out", str(out)])
    assert result.exit_code == 2 and "--top-k must be a whole number from 1" in result.output


def test_leaderboard_evaluate_and_profile(trained: tuple[Path, str], tmp_path: Path) -> None:
    bundle, _ = trained
    runner = CliRunner()
    board = runner.invoke(app, ["leaderboard", str(bundle), "--csv"])
    assert board.exit_code == 0
    learners = set(pd.read_csv(io.StringIO(board.output))["learner"])
    assert "most_popular" in learners and len(learners) >= 2  # the baseline and what beat it
    newer = interactions(n_users=60, n_items=40, seed=9)  # other draws of the same users' tastes
    newer.to_csv(tmp_path / "newer.csv", index=False)
    result = runner.invoke(app, ["evaluate", str(bundle), str(tmp_path / "newer.csv"), "--json",
                                 "--out", str(tmp_path / "eval.html")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["model"]["ndcg@10"]["value"] > report["most_popular"]["ndcg@10"]["value"]
    assert (tmp_path / "eval.html").read_text().count("NDCG") >= 1
    doubled = pd.concat([newer, newer.head(5)])
    doubled.to_csv(tmp_path / "doubled.csv", index=False)
    profiled = runner.invoke(app, ["profile", str(tmp_path / "doubled.csv"), "--task", "recommend", "--user-column",
                                   "user", "--item-column", "item", "--time-column", "ts", "--json",
                                   "--out", str(tmp_path / "p.html")])
    assert profiled.exit_code == 0, profiled.output
    assert "RC001" in {f["code"] for f in json.loads(profiled.output)["findings"]}
    an_id = runner.invoke(app, ["profile", str(tmp_path / "doubled.csv"), "--task", "recommend", "--user-column",
                                "user", "--item-column", "item", "--rating-column", "ts", "--json",
                                "--out", str(tmp_path / "p2.html")])
    assert an_id.exit_code == 1  # a check of severity error: the "rating" column is really a timestamp
    assert "RC007" in {f["code"] for f in json.loads(an_id.output)["findings"]}


def test_bad_input_is_one_sentence_and_exit_2(ratings: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["train", str(ratings), "--task", "recommend", "--item-column", "item"])
    assert result.exit_code == 2 and "--user-column is required for --task recommend" in result.output
    result = runner.invoke(app, ["train", str(ratings), "--task", "recommend", "--user-column", "who",
                                 "--item-column", "item"])
    assert result.exit_code == 2 and "'who' is not a column" in result.output
    lonely = pd.DataFrame({"user": [f"u{i}" for i in range(30)], "item": [i % 5 for i in range(30)]})
    lonely.to_csv(tmp_path / "lonely.csv", index=False)
    result = runner.invoke(app, ["train", str(tmp_path / "lonely.csv"), "--task", "recommend", "--user-column",
                                 "user", "--item-column", "item", "--time-limit", "3"])
    assert result.exit_code == 2 and "too sparse" in result.output and "Traceback" not in result.output
