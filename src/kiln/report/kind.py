"""What a kind's report hook provides (the registry names it; kiln.kinds.registry)."""

from __future__ import annotations

from typing import Any, Protocol


class Reports(Protocol):
    """Renders a kind's pages; the bundle stores the training page as report.html."""

    def training(self, model: Any) -> str:
        """The training report of `model`, a self-contained HTML page."""
        ...
