"""What a person sees while a model trains: the reporter interface and its Rich progress display.

The training loop and the retrain gate call a `Reporter`; the silent one is the default for
the Python API with `quiet=True`, `RichReporter` draws elapsed / budget, the trials done,
the best score and the trials in progress.

The clock and the bar are computed each time the display refreshes (ten times a second),
not when a trial ends: a fold that fits for a minute no longer freezes the line, so a
long fit does not look hung, and the line under the bar names the trials being fitted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from kiln.search.trial import TrialProgress


class Reporter:
    """Silent reporter: the interface the training loop calls."""

    def note(self, message: str) -> None:
        """A one-line fact worth telling (a dropped column, the folds chosen)."""

    def start(self, *, budget: float, started: float, metric: str, n_folds: int) -> None:
        """The search begins."""

    def trial(self, result: Any, results: list[Any], best: float) -> None:
        """A trial finished."""

    def running(self, trials: list[TrialProgress]) -> None:
        """The trials in progress changed (sent, not finished; their folds done so far)."""

    def stop(self) -> None:
        """The search ended."""


def running_line(trials: Iterable[TrialProgress]) -> str:
    """`fitting (2): lightgbm_0 3/5 folds, catboost_1 0/5 folds` — or nothing when none is."""
    trials = list(trials)
    if not trials:
        return ""
    names = ", ".join(f"{t.name} {t.folds_done}/{t.folds} folds" for t in trials)
    return f"fitting ({len(trials)}): {names}"


class RichReporter(Reporter):
    """Elapsed / budget, trials done, the best score so far and the trials being fitted, on stderr."""

    def __init__(self, console: Console | None = None, clock: Callable[[], float] = time.time) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self.clock = clock  # the same clock as the budget's start (time.time)
        self._progress: Any = None
        self._done, self._best = 0, float("nan")
        self._running: list[TrialProgress] = []

    def note(self, message: str) -> None:
        self.console.print(f"[dim]·[/dim] {message}", highlight=False)

    def start(self, *, budget: float, started: float, metric: str, n_folds: int) -> None:
        from rich.progress import BarColumn, Progress, TextColumn
        from rich.text import Text

        reporter = self
        self._metric, self._budget, self._started = metric, budget, started

        class _LiveProgress(Progress):
            """Rich's progress, its clock read at each refresh and the trials in progress under it."""

            def get_renderables(self) -> Iterable[RenderableType]:
                if self.tasks:  # Rich draws once while the display is built, before its task exists
                    reporter._refresh(self)
                yield self.make_tasks_table(self.tasks)
                line = running_line(reporter._running)
                if line:
                    yield Text(f"  {line}", style="dim", no_wrap=True, overflow="ellipsis")

        self._progress = _LiveProgress(TextColumn("[bold]training[/bold]"), BarColumn(),
                                       TextColumn("{task.fields[clock]}"), TextColumn("{task.fields[status]}"),
                                       console=self.console, transient=False)
        self._task = self._progress.add_task("search", total=budget, clock="", status="starting workers")
        self._refresh(self._progress)
        self._progress.start()

    def _refresh(self, progress: Any) -> None:
        """Bring the task's clock, bar and status up to now."""
        elapsed = self.clock() - self._started
        best = "—" if math.isnan(self._best) else f"{self._best:.4f}"
        started = self._done or self._running
        status = f"trials {self._done} · best {self._metric} {best}" if started else "starting workers"
        progress.update(self._task, completed=min(max(elapsed, 0.0), self._budget),
                              clock=f"{elapsed:5.1f}s / {self._budget:g}s", status=status)

    def render(self) -> RenderableType:
        """What the display shows now (what each refresh draws)."""
        return self._progress.get_renderable()

    def trial(self, result: Any, results: list[Any], best: float) -> None:
        self._done, self._best = len(results), best

    def running(self, trials: list[TrialProgress]) -> None:
        self._running = list(trials)

    def stop(self) -> None:
        if self._progress is not None:
            self._running = []  # the last frame stays on screen: no trial is running any more
            self._progress.stop()
            self._progress = None
