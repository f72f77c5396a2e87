"""The validation cut never lets a user's future into the training part (planted cases)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from recommend_data import interactions

from kiln.errors import InvalidDataError, InvalidOptionError
from kiln.recommenders.interactions import Columns, build, leave_last_out, time_split

COLUMNS = Columns("user", "item", "rating", "ts")


def test_the_planted_newest_interaction_is_validation_even_when_it_comes_first_in_the_file() -> None:
    frame = interactions(n_users=20, seed=3)
    newest = frame["ts"].max() + 10_000
    planted = pd.DataFrame([{"user": "u5", "item": 0, "rating": 5, "ts": newest}])
    frame = pd.concat([planted, frame[~((frame["user"] == "u5") & (frame["item"] == 0))]], ignore_index=True)
    data = build(frame, COLUMNS)
    mask = leave_last_out(data, seed=0)
    code = list(data.users).index("u5")
    assert data.item[mask & (data.user == code)].tolist() == [list(data.items).index("0")]
    for user in np.unique(data.user[mask]):  # every training row of a judged user is older than its validation row
        assert data.time[~mask & (data.user == user)].max() <= data.time[mask & (data.user == user)].min()


def test_time_split_trains_only_on_the_past() -> None:
    data = build(interactions(n_users=30, seed=4), COLUMNS)
    mask = time_split(data, share=0.2)
    assert mask.any() and data.time[~mask].max() < data.time[mask].min()


def test_a_validation_item_the_rest_never_shows_is_dropped() -> None:
    frame = pd.DataFrame({"user": ["a", "a", "b", "b"], "item": [1, 2, 1, 3], "ts": [1, 2, 1, 2]})
    data = build(frame, Columns("user", "item", None, "ts"))
    assert not leave_last_out(data).any()  # items 2 and 3 occur only as the last interactions


def test_duplicates_keep_the_earliest_and_min_rating_filters() -> None:
    frame = pd.DataFrame({"user": ["a", "a", "a"], "item": [1, 1, 2], "rating": [2, 5, 4], "ts": [5, 1, 3]})
    data = build(frame, COLUMNS)
    assert len(data) == 2 and sorted(data.time.tolist()) == [1.0, 3.0]
    assert len(build(frame, COLUMNS, min_rating=4)) == 2  # (a, 1) at 5 stars and (a, 2)
    with pytest.raises(InvalidOptionError, match="--min-rating needs --rating-column"):
        build(frame, Columns("user", "item", None, "ts"), min_rating=3)
    with pytest.raises(InvalidOptionError, match="--user-column 'who' is not a column"):
        build(frame, Columns("who", "item"))
    with pytest.raises(InvalidDataError, match="No rating reaches"):
        build(frame, COLUMNS, min_rating=9)
