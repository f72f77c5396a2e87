"""The demos `kiln demo [NAME]` runs: one loop per problem, each in its own module.

A demo is named by what a user wants to see ("text" is a tabular model on a text column, so
demos are not kinds); each entry is "module:function", imported only when chosen, and the
function takes (folder, time_limit or None for its own default, keep_serving).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from kiln.errors import InvalidOptionError

DEFAULT = "tabular"
DEMOS: dict[str, str] = {
    "tabular": "kiln.demo.flow:run_default",
    "image": "kiln.demo.image:run",
    "recommend": "kiln.demo.recommend:run",
    "forecast": "kiln.demo.forecast:run",
    "text": "kiln.demo.text:run",
}


def run(name: str, folder: Path, *, time_limit: float | None, keep_serving: bool, rows: int | None = None) -> None:
    """Run demo `name` in `folder`; an unknown name gets the list."""
    if name not in DEMOS:
        raise InvalidOptionError(f"There is no demo {name!r}; choose one of {', '.join(DEMOS)}.")
    module, _, function = DEMOS[name].partition(":")
    getattr(importlib.import_module(module), function)(folder, time_limit=time_limit, keep_serving=keep_serving,
                                                       rows=rows)
