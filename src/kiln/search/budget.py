"""Time accounting for one training command.

The budget covers the whole command: reading data, the search, ensembling and saving.
A reserve at the end is kept free for ensembling and writing the bundle, so the
command as a whole ends within the limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from kiln.errors import InvalidOptionError

MIN_TIME_LIMIT = 5.0
FOLDS_DEFAULT = 5
FOLDS_WHEN_SHORT = 3


@dataclass(frozen=True)
class Budget:
    """Wall-clock limits, as absolute `time.time()` values."""

    total: float
    start: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if not self.total >= MIN_TIME_LIMIT:
            raise InvalidOptionError(
                f"--time-limit {self.total:g} is too short; give at least {MIN_TIME_LIMIT:g} seconds."
            )

    @property
    def reserve(self) -> float:
        """Seconds kept after the search for ensembling, refitting the kept members on
        all rows (search/refit.py) and saving."""
        return min(max(0.25 * self.total, 3.0), 120.0)

    @property
    def search_deadline(self) -> float:
        return self.start + self.total - self.reserve

    @property
    def end(self) -> float:
        return self.start + self.total

    def elapsed(self) -> float:
        return time.time() - self.start

    def remaining_search(self) -> float:
        return max(0.0, self.search_deadline - time.time())


def choose_folds(n_rows: int, n_columns: int, time_limit: float, smallest_class: int | None) -> int:
    """5 folds by default; 3 when the budget is short for the data's size.

    Never more folds than the rarest class has rows (each fold must see every class).
    """
    folds = FOLDS_DEFAULT
    cells = n_rows * max(n_columns, 1)
    if time_limit < 20 or (time_limit < 60 and cells > 2_000_000) or (time_limit < 180 and cells > 20_000_000):
        folds = FOLDS_WHEN_SHORT
    folds = min(folds, n_rows // 2)  # every validation fold holds at least two rows
    if smallest_class is not None:
        folds = min(folds, smallest_class)
    return max(folds, 2)
