"""What a person sees while a model trains: the reporter interface and its Rich progress display.

The training loop and the retrain gate call a `Reporter`; the silent one is the default for
the Python API with `quiet=True`, `RichReporter` draws elapsed / budget and the best score.
"""

from __future__ import annotations

import math
import time
from typing import Any


class Reporter:
    """Silent reporter: the interface the training loop calls."""

    def note(self, message: str) -> None:
        """A one-line fact worth telling (a dropped column, the folds chosen)."""

    def start(self, *, budget: float, started: float, metric: str, n_folds: int) -> None:
        """The search begins."""

    def trial(self, result: Any, results: list[Any], best: float) -> None:
        """A trial finished."""

    def stop(self) -> None:
        """The search ended."""


class RichReporter(Reporter):
    """Elapsed / budget, trials done and the best score so far, on stderr."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self._progress: Any = None

    def note(self, message: str) -> None:
        self.console.print(f"[dim]·[/dim] {message}", highlight=False)

    def start(self, *, budget: float, started: float, metric: str, n_folds: int) -> None:
        from rich.progress import BarColumn, Progress, TextColumn

        self._metric, self._budget, self._started = metric, budget, started
        self._progress = Progress(TextColumn("[bold]training[/bold]"), BarColumn(),
                                  TextColumn("{task.fields[clock]}"), TextColumn("{task.fields[status]}"),
                                  console=self.console, transient=False)
        self._task = self._progress.add_task("search", total=budget, clock="", status="starting workers")
        self._progress.start()
        self._tick(0, float("nan"))

    def _tick(self, done: int, best: float) -> None:
        elapsed = time.time() - self._started
        best_text = "—" if math.isnan(best) else f"{best:.4f}"
        self._progress.update(self._task, completed=min(elapsed, self._budget),
                              clock=f"{elapsed:5.1f}s / {self._budget:g}s",
                              status=f"trials {done} · best {self._metric} {best_text}")

    def trial(self, result: Any, results: list[Any], best: float) -> None:
        if self._progress is not None:
            self._tick(len(results), best)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
