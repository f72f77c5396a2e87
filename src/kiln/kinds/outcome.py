"""What a kind's command entry point hands back to the CLI: lines to print, a JSON form, a file written."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Outcome:
    """The result of one command for a kind; the CLI prints `lines` (or `data` as JSON with --json).

    `failed` makes the command exit 1 (e.g. `kiln profile` with a check of severity "error" left), as
    the tabular commands do, so CI can gate on it.
    """

    lines: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    failed: bool = False
