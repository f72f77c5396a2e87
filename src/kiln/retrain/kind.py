"""What a kind's retrain hook provides (the registry names it; kiln.kinds.registry)."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd


class Gate(Protocol):
    """The kind-specific parts of the gated retrain; the split, the paired test and the promotion are shared."""

    def labelled(self, frame: pd.DataFrame, champion: Any) -> pd.DataFrame:
        """The rows that can judge the champion (a label it knows), or a sentence saying why none can."""
        ...

    def check_gate(self, gate: pd.DataFrame, champion: Any) -> None:
        """Refuse a gate set too small for the paired test, naming the fix."""
        ...

    def predictions(self, champion: Any, challenger: Any, rows: pd.DataFrame) -> tuple[np.ndarray, ...]:
        """(labels, champion's output, challenger's output) on the same rows, aligned for the paired test."""
        ...
