"""Generated interactions with a known structure, for the recommend tests (no download, a few ms).

Items fall into `groups`; each user likes one group and interacts mostly with its items, in time
order, so a learner that finds the structure recommends the user's group.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def interactions(n_users: int = 60, n_items: int = 40, *, groups: int = 4, per_user: int = 8, noise: float = 0.1,
                 seed: int = 0) -> pd.DataFrame:
    """user, item, rating (1–5), ts (seconds): users' ids are "u<i>", items' are integers."""
    rng = np.random.default_rng(seed)
    group_of_item = np.arange(n_items) % groups
    rows = []
    for user in range(n_users):
        liked = user % groups
        own = np.flatnonzero(group_of_item == liked)
        others = np.flatnonzero(group_of_item != liked)
        n_own = min(per_user, len(own))
        picks = list(rng.choice(own, n_own, replace=False))
        picks += [int(i) for i in rng.choice(others, max(1, int(noise * per_user)), replace=False)]
        start = 1_600_000_000 + int(rng.integers(0, 10_000))
        for step, item in enumerate(rng.permutation(picks)):
            rows.append({"user": f"u{user}", "item": int(item), "rating": int(rng.integers(3, 6)),
                         "ts": start + 3600 * step})
    return pd.DataFrame(rows)


def write(folder: Path, **kwargs: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ratings.csv"
    interactions(**kwargs).to_csv(path, index=False)  # type: ignore[arg-type]
    return path
