"""The Python API on generated tables with every column kind, for every task."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import kiln
from kiln.errors import InvalidDataError


def mixed_table(n: int, task: str, seed: int = 0) -> pd.DataFrame:
    """Numbers with gaps, a category, a date, free text, an id; target from a known rule."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.uniform(0, 10, size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, size=n), unit="D")
    words = np.array(["late delivery again", "great service thanks", "broken part replaced soon",
                      "no issue reported today"])
    note = [f"{words[i % 4]} order {i} {w}" for i, w in enumerate(rng.choice(words, size=n))]
    signal = 1.5 * x1 + 0.3 * x2 + (colour == "red") * 1.0 + rng.normal(scale=0.5, size=n)
    frame = pd.DataFrame({"order_id": np.arange(n), "x1": x1, "x2": x2, "colour": colour,
                          "day": day.strftime("%Y-%m-%d"), "note": note})
    frame.loc[rng.random(n) < 0.1, "x2"] = np.nan
    if task == "regression":
        frame["y"] = signal
    elif task == "binary":
        frame["y"] = np.where(signal > np.median(signal), "yes", "no")
    else:
        frame["y"] = pd.cut(signal, 3, labels=["low", "mid", "high"]).astype(str)
    return frame


@pytest.fixture(scope="module", params=["binary", "multiclass", "regression"])
def trained(request) -> tuple[str, pd.DataFrame, kiln.Model]:
    task = request.param
    frame = mixed_table(600, task)
    model = kiln.train(frame.iloc[:450], target="y", time_limit=20, max_trials=6, quiet=True, seed=1)
    return task, frame.iloc[450:].reset_index(drop=True), model


def test_train_infers_task_and_drops_the_id_column(trained) -> None:
    task, _, model = trained
    assert model.task == task
    assert "order_id" in model.schema.dropped
    kinds = {c.name: c.kind for c in model.schema.columns}
    assert kinds == {"x1": "numeric", "x2": "numeric", "colour": "categorical", "day": "datetime",
                     "note": "text"}


def test_model_learns_the_rule_better_than_chance(trained) -> None:
    task, test, model = trained
    if task == "regression":
        prediction = model.predict(test)
        assert np.corrcoef(prediction, test["y"])[0, 1] > 0.8
    else:
        accuracy = np.mean(model.predict(test) == test["y"].to_numpy())
        assert accuracy > (0.75 if task == "binary" else 0.6)


def test_leaderboard_ranks_by_the_score_the_ensemble_was_chosen_on(trained) -> None:
    """One score everywhere (the mean of the folds' scores): the model used ranks first and
    no single model is shown above the ensemble chosen over it; trials never kept rank last."""
    _, _, model = trained
    board = model.leaderboard()
    for _, row in board.iterrows():
        folds = json.loads(row["fold_scores"])
        if folds:
            assert row["score"] == pytest.approx(np.mean(folds), rel=1e-9), row["model"]
    kept = board[board["status"].isin(["ok", "truncated"])]
    assert kept.index.max() == len(kept) - 1  # kept rows (and the ensemble) come first
    assert bool(kept.iloc[0]["used"]), kept.head(3)
    assert model.manifest["cv"]["model"] == kept.iloc[0]["model"]


def test_predict_proba_has_one_column_per_class_summing_to_one(trained) -> None:
    task, test, model = trained
    if task == "regression":
        with pytest.raises(kiln.InvalidOptionError, match="classification"):
            model.predict_proba(test)
        return
    proba = model.predict_proba(test)
    assert list(proba.columns) == model.classes_
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)


def test_predict_keeps_row_order_and_ignores_extra_columns(trained) -> None:
    _, test, model = trained
    shuffled = test.sample(frac=1.0, random_state=3)
    shuffled["unrelated"] = "x"
    expected = model.predict_raw(test)[shuffled.index.to_numpy()]
    np.testing.assert_allclose(model.predict_raw(shuffled), expected, rtol=1e-12)


def test_predict_imputes_a_missing_optional_column_and_refuses_a_required_one(trained) -> None:
    _, test, model = trained
    assert len(model.predict(test.drop(columns=["x2"]))) == len(test)  # x2 had gaps in training
    with pytest.raises(InvalidDataError, match="x1"):
        model.predict(test.drop(columns=["x1"]))


def test_predictions_frame_matches_the_cli_contract(trained) -> None:
    task, test, model = trained
    frame = model.predictions_frame(test)
    if task == "regression":
        assert list(frame.columns) == ["prediction"]
    else:
        assert list(frame.columns) == ["prediction"] + [f"proba_{c}" for c in model.classes_]
    assert len(frame) == len(test)


def test_saved_and_loaded_model_predicts_identically(trained, tmp_path) -> None:
    _, test, model = trained
    loaded = kiln.load(kiln.save(model, tmp_path / "bundle"))
    np.testing.assert_allclose(loaded.predict_raw(test), model.predict_raw(test), rtol=1e-12)
    pd.testing.assert_frame_equal(loaded.leaderboard(), model.leaderboard(), check_dtype=False)


def test_same_seed_gives_the_same_leaderboard_and_predictions() -> None:
    frame = mixed_table(300, "binary", seed=5)
    runs = [kiln.train(frame, target="y", time_limit=30, max_trials=5, seed=7, quiet=True,
                       learners=["lightgbm", "extra_trees", "linear"]) for _ in range(2)]
    first, second = (r.leaderboard().drop(columns=["fit_s", "predict_s_per_1k"]) for r in runs)
    pd.testing.assert_frame_equal(first, second)
    # The final refit predicts with two threads; forests add their trees in the order threads
    # finish, which moves the last bit (1e-16). Anything a seed controls would be far larger.
    np.testing.assert_allclose(runs[0].predict_raw(frame), runs[1].predict_raw(frame), rtol=1e-12, atol=1e-15)


def test_optuna_phase_runs_after_the_portfolio() -> None:
    frame = mixed_table(300, "regression", seed=2)
    model = kiln.train(frame, target="y", time_limit=30, max_trials=9, quiet=True,
                       learners=["lightgbm", "linear"])
    origins = model.leaderboard().set_index("model")["origin"]
    assert (origins == "portfolio").sum() == 7  # lightgbm 4 + linear 3 configs
    assert (origins == "optuna").sum() == 2
