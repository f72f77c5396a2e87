"""Tables that break other tools: odd column names, and any small frame with a valid target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes

import kiln
from kiln.errors import KilnError

ODD_NAMES = ["Air temperature [K]", 'quote "q"', "new\nline", "température °C", "a,b;c", "<b>x</b>", "   "]


def test_columns_named_like_ai4i_or_worse_train_and_predict() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({name: rng.normal(size=120) for name in ODD_NAMES})
    signal = frame["Air temperature [K]"] + rng.normal(scale=0.3, size=120)
    frame["failure [yes/no]"] = np.where(signal > 0, "yes", "no")
    model = kiln.train(frame, target="failure [yes/no]", time_limit=20, max_trials=4, n_jobs=1, quiet=True,
                       learners=["lightgbm", "xgboost", "catboost", "linear"])
    proba = model.predict_proba(frame)
    assert list(proba.columns) == ["no", "yes"]
    assert np.mean(model.predict(frame) == frame["failure [yes/no]"].to_numpy()) > 0.8


NAMES = st.sampled_from(["a", "b c", "x[1]", 'q"', "é", "n\nl", "7", "id"])
CELLS = st.one_of(st.none(), st.integers(-5, 5), st.floats(-1e3, 1e3), st.just(float("nan")),
                  st.sampled_from(["u", "v", "w"]))


@st.composite
def tables(draw: st.DrawFn) -> pd.DataFrame:
    names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    frame = draw(data_frames([column(n, elements=CELLS, dtype=object) for n in names],
                             index=range_indexes(min_size=0, max_size=40)))
    target = draw(st.lists(st.sampled_from(["p", "q", None]), min_size=len(frame), max_size=len(frame)))
    return frame.assign(target=target).infer_objects()


# Each example trains a model (a second or two): ten in the default run, fifty under -m slow.
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_train_then_predict_succeeds_or_raises_a_kiln_error(frame: pd.DataFrame) -> None:
    _train_then_predict(frame)


@pytest.mark.slow
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_fifty_tables_train_then_predict_or_raise_a_kiln_error(frame: pd.DataFrame) -> None:
    _train_then_predict(frame)


def _train_then_predict(frame: pd.DataFrame) -> None:
    """Training and predicting either work or end in a KilnError (never another exception)."""
    try:
        model = kiln.train(frame, target="target", time_limit=5, max_trials=2, n_jobs=1, quiet=True,
                           learners=["lightgbm", "linear"])
    except KilnError:
        return
    labelled = frame[frame["target"].notna()]
    try:
        prediction = model.predict(labelled)
    except KilnError:
        return  # e.g. a gap where training had none: a contract violation, clearly reported
    assert len(prediction) == len(labelled)


def _runner_frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(size=200), "z": rng.normal(size=200)})
    frame["y"] = (frame["x"] + rng.normal(scale=0.5, size=200) > 0).astype(int)
    return frame


def _train_runner_model(n_jobs: int) -> kiln.Model:
    return kiln.train(_runner_frame(), target="y", time_limit=30, max_trials=3, n_jobs=n_jobs, quiet=True, seed=4,
                      learners=["lightgbm", "linear"])


@pytest.fixture(scope="module")
def inline_reference() -> kiln.Model:
    """The inline runner's model, trained once for both cases (each case trains its own model too)."""
    return _train_runner_model(1)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_inline_and_pool_runners_give_the_same_model(n_jobs: int, inline_reference: kiln.Model) -> None:
    frame = _runner_frame()
    model = _train_runner_model(n_jobs)
    np.testing.assert_allclose(model.predict_raw(frame), inline_reference.predict_raw(frame), rtol=1e-10)
