"""`kiln demo --data-only`: the three files the README's quick start runs on, generated here.

The quick start names `machines.csv` (to profile and train on), `labelled_machines.csv` (new
rows with the true label, to evaluate on) and `new_machines.csv` (rows to predict, no label).
They come from the demo's AI4I 2020 generator, from one plant, in three disjoint stretches.
The five failure-mode columns (TWF, HDF, PWF, OSF, RNF) record the failure itself, so they
are left out, as the full `kiln demo` drops them after its profile flags them as leaks:
otherwise `kiln train` would stop on DQ004.
"""

from __future__ import annotations

from pathlib import Path

from kiln.demo.generate import FAILURE_MODES, generate
from kiln.errors import InvalidOptionError

TARGET = "Machine failure"
FILES = {"machines.csv": 10_000, "labelled_machines.csv": 2_000, "new_machines.csv": 1_000}


def write_quickstart_data(folder: Path, *, rows: int | None = None, seed: int = 0) -> list[Path]:
    """Write the quick start's three tables into `folder`; refuses to overwrite any of them."""
    from kiln.data.write import write_table

    sizes = dict(FILES)
    if rows is not None:
        if rows < 100:
            raise InvalidOptionError(f"--rows must be at least 100 for the quick start's data, got {rows}.")
        sizes["machines.csv"] = rows
    paths = [folder / name for name in sizes]
    existing = [str(p) for p in paths if p.exists()]
    if existing:
        raise InvalidOptionError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
                                 "remove them or pass --out with another folder.")
    whole = generate(sum(sizes.values()), seed=seed).drop(columns=list(FAILURE_MODES))
    whole = whole.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # one plant, the same days
    start = 0
    for path, size in zip(paths, sizes.values(), strict=True):
        part = whole.iloc[start:start + size]
        start += size
        write_table(part.drop(columns=[TARGET]) if path.name == "new_machines.csv" else part, path)
    return paths
