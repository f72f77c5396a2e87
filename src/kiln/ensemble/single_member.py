"""An ensemble that greedy selection built from one member *is* that member: leaderboards show it once.

Same predictions, same score: listing both reads as two candidates where there is one. The
stored leaderboard keeps the ensemble row (the predictor is that ensemble); the terminal
table and the training report fold it into its member's row and say why.
"""

from __future__ import annotations

import json

import pandas as pd

ENSEMBLE_LEARNER = "ensemble"


def single_member(frame: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """The leaderboard without an ensemble row whose only member is another row; the member's name."""
    if "learner" not in frame.columns or "config" not in frame.columns:
        return frame, None
    for index, row in frame.iterrows():
        if row["learner"] != ENSEMBLE_LEARNER:
            continue
        try:
            members = json.loads(row["config"]) if isinstance(row["config"], str) else {}
        except json.JSONDecodeError:
            continue
        if len(members) == 1 and next(iter(members)) in set(frame["model"]):
            member = next(iter(members))
            rest = frame.drop(index=index)
            if "rank" in rest.columns and pd.notna(row.get("rank")):  # the ranks below close the gap
                rest.loc[rest["rank"] > row["rank"], "rank"] -= 1
            if bool(row.get("used", False)):
                rest.loc[rest["model"] == member, "used"] = True
            return rest.reset_index(drop=True), member
    return frame, None
