"""`kiln predict MODEL USERS --top-k K --out FILE` for a recommender: K ranked items per user.

FILE has the user column, the item column, `score`, `rank` (1 = best) and `cold_start` (the user was
not in training and got the most-popular list); items a user had in training are left out unless
--include-seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kiln.errors import InvalidDataError, InvalidOptionError
from kiln.kinds.outcome import Outcome

DEFAULT_K = 10
MAX_K = 1000


def users_of(table: Any, user_column: str) -> list[object]:
    """The users a table names: the training user column, or its only column."""
    if user_column in table.columns:
        column = table[user_column]
    elif table.shape[1] == 1:
        column = table.iloc[:, 0]
    else:
        raise InvalidDataError(f"The users table has no column '{user_column}' (the model's user column); "
                               "rename it or give a one-column table.")
    return list(column.dropna().drop_duplicates())


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidOptionError(f"--top-k must be a whole number from 1 to {MAX_K}, got {k!r}.")
    return k


class RecommendPredictor:
    """The recommend kind's predict hook (kiln.predict.kind.BatchPredictor)."""

    options = frozenset({"top_k", "include_seen"})

    def predict_file(self, model: Any, data: str, out: Path, options: Mapping[str, Any]) -> Outcome:
        from kiln.data.load import read_table
        from kiln.data.write import write_table

        k = check_k(options.get("top_k", DEFAULT_K))
        users = users_of(read_table(data), model.columns.user)
        frame = model.recommend(users, k, include_seen=bool(options.get("include_seen", False)))
        write_table(frame, Path(out))
        cold = int(frame.drop_duplicates(model.columns.user)["cold_start"].sum()) if len(frame) else 0
        return Outcome(lines=(f"{len(frame):,} recommendations for {len(users):,} users written to {out} "
                              f"(top {k}; {cold:,} unknown users got the cold-start list)",),
                       data={"rows": len(frame), "users": len(users), "cold_start_users": cold})


PREDICTOR = RecommendPredictor()
