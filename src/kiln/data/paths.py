"""The nearest existing path to one that does not exist, for "did you mean" in error messages.

A newcomer's typo (`modle/`, `machnes.csv`) should be answered with the path they meant.
Each missing component of the path is matched, with difflib, against the names in the
folder above it (the first existing one); the suggestion is made only when every
component finds a close match and the result exists (and passes `accept`, e.g. "is a
bundle").
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from pathlib import Path

CUTOFF = 0.75  # difflib's ratio: "modle" ~ "model" 0.8, "machnes.csv" ~ "machines.csv" 0.96
MAX_ENTRIES = 2_000  # a huge folder is not worth listing for a hint


def nearest_path(path: str | Path, accept: Callable[[Path], bool] | None = None) -> Path | None:
    """The existing path closest to `path` (which does not exist), spelled as the user spelled it, or None."""
    given = Path(path)
    if given.exists():
        return None
    parts = given.parts
    current = Path(parts[0]) if given.is_absolute() else Path()
    for part in parts[1:] if given.is_absolute() else parts:
        candidate = current / part
        if part in ("..", ".") or candidate.exists():
            current = candidate
            continue
        match = _closest(current, part)
        if match is None:
            return None
        current = current / match
    if current == given or not current.exists() or (accept is not None and not accept(current)):
        return None
    return current


def did_you_mean(path: str | Path, accept: Callable[[Path], bool] | None = None) -> str:
    """" Did you mean 'model/'?" (with a leading space, to append to a sentence), or ""."""
    found = nearest_path(path, accept)
    if found is None:
        return ""
    shown = f"{found}{os.sep}" if found.is_dir() and str(path).endswith(("/", os.sep)) else str(found)
    return f" Did you mean '{shown}'?"


def _closest(folder: Path, name: str) -> str | None:
    try:
        with os.scandir(folder if str(folder) else ".") as entries:
            names = [entry.name for _, entry in zip(range(MAX_ENTRIES), entries, strict=False)]
    except OSError:
        return None
    matches = difflib.get_close_matches(name, names, n=1, cutoff=CUTOFF)
    if not matches:  # a case slip: "Machines.CSV" for "machines.csv"
        lowered = {n.lower(): n for n in names}
        return lowered.get(name.lower())
    return matches[0]
