"""What a kind's train hook provides (the registry names it; kiln.kinds.registry).

Tabular trains through `kiln.training.train.train_model`; every other kind (forecast,
recommend, image) registers an object of this shape, which `kiln train --task T` and
`kiln.train(..., task=T)` call.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from kiln.training.progress import Reporter


class Trainer(Protocol):
    """Trains a kind's model from a table, a file or a folder."""

    options: frozenset[str]
    """The kind-specific options it takes (e.g. horizon, id_column); any other given option is refused."""

    def train(self, data: pd.DataFrame | str | Path, *, target: str | None, task: str, options: Mapping[str, Any],
              time_limit: float, seed: int, reporter: Reporter, started: float | None) -> Any:
        """The trained model (it carries `kind`, `manifest` and `leaderboard()`; the bundle hook saves it)."""
        ...

    def summary(self, model: Any) -> list[str]:
        """The lines `kiln train` prints after training (the score with its interval, the model kept)."""
        ...
