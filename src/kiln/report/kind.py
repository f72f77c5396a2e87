"""What a kind's report, profile and evaluate hooks provide (the registry names them; kiln.kinds.registry)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from kiln.kinds.outcome import Outcome


class Reports(Protocol):
    """Renders a kind's pages; the bundle stores the training page as report.html."""

    def training(self, model: Any) -> str:
        """The training report of `model`, a self-contained HTML page."""
        ...


class Profiler(Protocol):
    """`kiln profile DATA --task T` for a kind: its coded data checks and an HTML report."""

    options: frozenset[str]

    def profile(self, data: str, *, target: str | None, options: Mapping[str, Any], ignore: tuple[str, ...],
                out: Path | None) -> Outcome:
        """Check the data, write the report; `failed` when a check of severity "error" remains."""
        ...


class Evaluator(Protocol):
    """`kiln evaluate MODEL DATA` for a bundle of a kind: its metrics with intervals and an HTML report."""

    def evaluate(self, model: Any, data: str, *, out: Path | None) -> Outcome:
        """Score the model on DATA, write the report; the outcome's data is the --json form."""
        ...
