"""Coded checks of an interaction table (RC001–RC007), as `kiln profile --task recommend` reports them.

Errors stop training (one sentence, exit 2); warnings are told and training goes on.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from kiln.data.checks import Finding
from kiln.errors import InvalidDataError
from kiln.recommenders.interactions import Columns, Interactions

MIN_DENSITY_INTERACTIONS_PER_USER = 1.5  # below this on average, there is almost nothing to learn from
RATING_MAX_LEVELS = 50  # a rating scale has few levels; an id column has one per row


def check_interactions(frame: pd.DataFrame, columns: Columns, *, ignore: Iterable[str] = ()) -> list[Finding]:
    """Every finding on the raw table (before deduplication), most severe first."""
    skip = set(ignore)
    found: list[Finding] = []
    table = frame.dropna(subset=[columns.user, columns.item])
    n = len(table)
    pairs = table.duplicated([columns.user, columns.item]).sum()
    if pairs:
        found.append(Finding("RC001", "warning", "Duplicate interactions", columns.item,
                             f"{pairs:,} of {n:,} rows repeat a user–item pair; the earliest of each is kept.",
                             "Aggregate repeats into a weight column (--rating-column) if repetition matters."))
    per_user = table.groupby(columns.user, sort=False).size()
    single_users = int((per_user == 1).sum())
    if single_users:
        found.append(Finding("RC002", "warning", "Users with a single interaction", columns.user,
                             f"{single_users:,} of {len(per_user):,} users have one interaction: they cannot be "
                             "validated and get little personalisation.",
                             "Expected with new users; they are trained on but not judged."))
    per_item = table.groupby(columns.item, sort=False).size()
    single_items = int((per_item == 1).sum())
    if single_items > 0.3 * len(per_item):
        found.append(Finding("RC003", "warning", "Items with a single interaction", columns.item,
                             f"{single_items:,} of {len(per_item):,} items occur once; collaborative models "
                             "cannot learn them.", "Give --item-features so cold items are recommended by content."))
    if (len(per_user) and n / len(per_user) < MIN_DENSITY_INTERACTIONS_PER_USER) or len(per_item) < 2:
        found.append(Finding("RC004", "error", "Catalogue too sparse to learn from", None,
                             f"{n:,} interactions over {len(per_user):,} users and {len(per_item):,} items "
                             f"({n / max(len(per_user), 1):.2f} per user).",
                             "Collect more interactions per user (at least 2 for most users) or recommend by "
                             "popularity."))
    for role, name in (("user", columns.user), ("item", columns.item)):
        kinds = _id_kinds(table[name])
        if len(kinds) > 1:
            found.append(Finding("RC005", "warning", "Ids of mixed type", name,
                                 f"The {role} ids mix {' and '.join(sorted(kinds))} values; '12' and 'x12' are "
                                 "different ids, 12 and 12.0 the same.", f"Clean the {role} id column."))
    if columns.time is not None and columns.time in table.columns:
        times = table[columns.time]
        numeric = pd.to_numeric(times, errors="coerce") if pd.api.types.is_numeric_dtype(times) else \
            pd.to_datetime(times, errors="coerce", utc=True)
        if numeric.isna().mean() > 0.5:
            found.append(Finding("RC006", "error", "Timestamps unreadable", columns.time,
                                 f"{int(numeric.isna().sum()):,} of {n:,} timestamps are neither numbers nor dates.",
                                 "Name the timestamp column with --time-column or drop it."))
        else:
            backwards = _out_of_order(table[columns.user], numeric)
            if backwards:
                found.append(Finding("RC006", "info", "Timestamps out of order", columns.time,
                                     f"{backwards:,} rows come earlier in time than the row before for the same "
                                     "user; kiln orders by the timestamp, not the file.",
                                     "Nothing to do unless the file order is the truth (then drop --time-column)."))
    if columns.rating is not None and columns.rating in table.columns:
        rating = pd.to_numeric(table[columns.rating], errors="coerce")
        levels = rating.nunique()
        if rating.notna().any() and (levels > RATING_MAX_LEVELS and levels > 0.5 * rating.notna().sum()):
            found.append(Finding("RC007", "error", "The rating column looks like an id", columns.rating,
                                 f"'{columns.rating}' has {levels:,} distinct values over {n:,} rows, like an id "
                                 "or a timestamp, not a rating.",
                                 "Name the real rating column with --rating-column or drop the option."))
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted((f for f in found if f.code not in skip), key=lambda f: order[f.severity])


def _id_kinds(column: pd.Series) -> set[str]:
    if pd.api.types.is_numeric_dtype(column):
        return {"number"}
    text = column.astype(str)
    numeric = pd.to_numeric(text, errors="coerce").notna()
    return {kind for kind, present in (("number", numeric.any()), ("text", (~numeric).any())) if present}


def _out_of_order(users: pd.Series, times: pd.Series) -> int:
    frame = pd.DataFrame({"u": users.to_numpy(), "t": np.asarray(times.astype("int64") if
                                                                   hasattr(times, "dt") else times, dtype=float)})
    previous = frame.groupby("u", sort=False)["t"].shift()
    return int((frame["t"] < previous).sum())


def refuse_unusable(interactions: Interactions) -> None:
    """Stop before any fit when nothing can be learned or validated (one sentence naming the fix)."""
    users, items = interactions.shape
    if items < 2:
        raise InvalidDataError(f"The interactions name {items} item; a recommender needs at least 2 items.")
    if len(interactions) < MIN_DENSITY_INTERACTIONS_PER_USER * users:
        raise InvalidDataError(f"The catalogue is too sparse to learn from: {len(interactions):,} interactions "
                               f"for {users:,} users (below {MIN_DENSITY_INTERACTIONS_PER_USER} per user); collect "
                               "more interactions per user.")
