"""The demo's narration tells moments as moments ("at 1:05") and durations as durations.

Its step headers used to print the seconds since the start in brackets ("Train (6 s) … for
40 s"), which read as how long the step took. A hand-driven clock makes the times exact.
"""

from __future__ import annotations

from rich.console import Console

from kiln.demo.flow import _Steps


class HandClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_steps_are_stamped_with_when_they_start_and_the_end_says_how_long_each_took() -> None:
    clock = HandClock()
    console = Console(record=True, width=120, color_system=None)
    step = _Steps(console, clock=clock)
    clock.now += 6
    step("Train", "rank, tune and ensemble within a 40 s budget")
    clock.now += 59
    step("Register", "the MLflow registry")
    clock.now += 3
    step.finish()
    text = console.export_text()
    assert " 1. Train (at 0:06) — rank" in text
    assert " 2. Register (at 1:05) — the MLflow" in text
    assert "(6 s)" not in text and "(65 s)" not in text  # no bare number of seconds beside a step's name
    assert "Done in 1:08 (minutes:seconds). Each step took: Train 59 s · Register 3 s." in text
