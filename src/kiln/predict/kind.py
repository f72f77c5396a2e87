"""What a kind's predict hook provides (the registry names it; kiln.kinds.registry).

Tabular predicts through `kiln.predict.stream.predict_file`; another kind registers an object
of this shape, which `kiln predict MODEL DATA --out FILE` calls for a bundle of that kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from kiln.kinds.outcome import Outcome


class BatchPredictor(Protocol):
    """Writes a kind's predictions for DATA (a table or a folder) to a file."""

    options: frozenset[str]
    """The kind-specific options it takes (e.g. future, top_k); any other given option is refused."""

    def predict_file(self, model: Any, data: str, out: Path, options: Mapping[str, Any]) -> Outcome:
        """Write the predictions atomically to `out`; the outcome's lines say what was written."""
        ...
