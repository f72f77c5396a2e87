"""Interactions as kiln learns from them: integer codes for users and items, one row per pair, and the
honest validation cut (each user's last interaction, or a global time split) that never lets a user's
future into the training part."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kiln.errors import InvalidDataError, InvalidOptionError

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class Columns:
    """The table's roles: who, what, how much (optional), when (optional)."""

    user: str
    item: str
    rating: str | None = None
    time: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"user": self.user, "item": self.item, "rating": self.rating, "time": self.time}


def id_keys(values: Iterable[object] | pd.Series) -> np.ndarray:
    """Ids as the strings the id maps are keyed by: 12, 12.0 and "12" are the same user."""
    series = pd.Series(values if isinstance(values, pd.Series) else list(values), dtype=object)

    def key(value: object) -> str:
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return str(int(value))
        if isinstance(value, (bool, np.bool_)):
            return str(value)
        return str(value).strip()

    return np.array([key(v) for v in series], dtype=object)


@dataclass
class Interactions:
    """Deduplicated interactions: codes into `users`/`items` (original ids), weight, time in seconds."""

    users: np.ndarray
    items: np.ndarray
    user: np.ndarray
    item: np.ndarray
    weight: np.ndarray
    time: np.ndarray
    has_time: bool

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.users), len(self.items)

    def __len__(self) -> int:
        return len(self.user)

    def matrix(self, mask: np.ndarray | None = None) -> sp.csr_matrix:
        """The users × items matrix of the weights (the rows in `mask`)."""
        mask = np.ones(len(self), dtype=bool) if mask is None else mask
        return sp.csr_matrix((self.weight[mask].astype(np.float32), (self.user[mask], self.item[mask])),
                             shape=self.shape)

    def ages(self, mask: np.ndarray | None = None) -> sp.csr_matrix | None:
        """Days from each interaction to the newest one kept (the same sparsity as `matrix`)."""
        if not self.has_time:
            return None
        mask = np.ones(len(self), dtype=bool) if mask is None else mask
        now = float(self.time[mask].max()) if mask.any() else 0.0
        age = (now - self.time[mask]) / SECONDS_PER_DAY + 1e-9  # > 0 keeps an explicit zero in the pattern
        return sp.csr_matrix((age, (self.user[mask], self.item[mask])), shape=self.shape)


def _seconds(column: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype=np.float64)
        return values / 1000.0 if np.nanmax(np.abs(values)) > 1e11 else values  # milliseconds → seconds
    parsed = pd.to_datetime(column, errors="coerce", utc=True)
    if parsed.isna().mean() > 0.5:
        raise InvalidDataError(f"--time-column '{name}' is neither numbers nor dates; name the timestamp column.")
    return (parsed.astype("int64") / 1e9).to_numpy(dtype=np.float64)


def build(frame: pd.DataFrame, columns: Columns, *, min_rating: float | None = None,
          catalogue: Iterable[object] = ()) -> Interactions:
    """Interactions from a table: missing ids dropped, one row per pair (the earliest), ratings below
    `min_rating` not positives; `catalogue` adds items (from --item-features) nobody has interacted with."""
    for role, name in columns.to_dict().items():
        if name is not None and name not in frame.columns:
            raise InvalidOptionError(f"--{role}-column '{name}' is not a column of the data; "
                                     f"the columns are {', '.join(map(str, frame.columns[:12]))}.")
    table = frame[[c for c in columns.to_dict().values() if c is not None]].dropna(subset=[columns.user,
                                                                                        columns.item])
    if table.empty:
        raise InvalidDataError("The data has no interactions with both a user and an item; check the columns.")
    weight = np.ones(len(table), dtype=np.float64)
    if columns.rating is not None:
        rating = pd.to_numeric(table[columns.rating], errors="coerce")
        if rating.isna().all():
            raise InvalidDataError(f"--rating-column '{columns.rating}' holds no numbers; drop it or name the "
                                   "rating column.")
        weight = rating.fillna(rating.median()).to_numpy(dtype=np.float64)
        if min_rating is not None:
            keep = weight >= min_rating
            if not keep.any():
                raise InvalidDataError(f"No rating reaches --min-rating {min_rating:g}; lower it.")
            table, weight = table[keep], weight[keep]
        if (weight <= 0).any():
            weight = weight - weight.min() + 1.0  # confidences must be positive
    elif min_rating is not None:
        raise InvalidOptionError("--min-rating needs --rating-column; name the rating column.")
    has_time = columns.time is not None
    seconds = _seconds(table[columns.time], columns.time) if has_time else np.arange(len(table), dtype=np.float64)
    seconds = np.where(np.isnan(seconds), np.nanmin(seconds) if np.isfinite(seconds).any() else 0.0, seconds)
    user_keys, item_keys = id_keys(table[columns.user]), id_keys(table[columns.item])
    order = np.lexsort((np.arange(len(table)), seconds))  # time order, file order among ties
    pairs = pd.DataFrame({"u": user_keys[order], "i": item_keys[order]})
    first = ~pairs.duplicated(["u", "i"], keep="first").to_numpy()
    kept = order[first]
    user_codes, users = pd.factorize(user_keys[kept], sort=False)
    known = set(item_keys[kept])
    extra = list(dict.fromkeys(k for k in id_keys(list(catalogue)) if k not in known))
    item_values = np.concatenate([item_keys[kept], np.array(extra, dtype=object)])
    item_codes, items = pd.factorize(item_values, sort=False)
    return Interactions(users=np.asarray(users, dtype=object), items=np.asarray(items, dtype=object),
                        user=user_codes.astype(np.int64), item=item_codes[:len(kept)].astype(np.int64),
                        weight=weight[kept], time=seconds[kept], has_time=has_time)


def leave_last_out(data: Interactions, *, seed: int = 0, holdout: np.ndarray | None = None) -> np.ndarray:
    """A mask of the validation rows: each user's last interaction (ties in a seeded random order), for
    users with at least two, kept only when the item also occurs in the rest (no one can rank an unseen item).

    `holdout` restricts which rows may be chosen (None: all)."""
    rng = np.random.default_rng(seed)
    tie = rng.random(len(data))
    order = np.lexsort((tie, data.time, data.user))  # by user, then time, then the seeded tie-break
    users = data.user[order]
    last = np.r_[users[1:] != users[:-1], True]
    counts = np.bincount(data.user, minlength=data.shape[0])
    chosen = order[last & (counts[users] >= 2)]
    mask = np.zeros(len(data), dtype=bool)
    mask[chosen] = True
    if holdout is not None:
        mask &= holdout
    return _drop_unlearnable(data, mask)


def time_split(data: Interactions, *, share: float = 0.1) -> np.ndarray:
    """A mask of the validation rows: every interaction after a global time cut (the newest `share`)."""
    if not data.has_time:
        raise InvalidOptionError("--split time needs --time-column; name the timestamp column or use --split last.")
    cut = np.quantile(data.time, 1.0 - share)
    mask = data.time > cut
    counts = np.bincount(data.user[~mask], minlength=data.shape[0])
    mask &= counts[data.user] > 0  # a user with no past before the cut cannot be judged
    return _drop_unlearnable(data, mask)


def _drop_unlearnable(data: Interactions, mask: np.ndarray) -> np.ndarray:
    seen = np.bincount(data.item[~mask], minlength=data.shape[1]) > 0
    return mask & seen[data.item]


def relevant_lists(data: Interactions, mask: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The users with rows in `mask` and, for each, the items of those rows."""
    users = data.user[mask]
    items = data.item[mask]
    order = np.argsort(users, kind="stable")
    users, items = users[order], items[order]
    unique, starts = np.unique(users, return_index=True)
    return unique, np.split(items, starts[1:])
