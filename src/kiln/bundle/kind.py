"""What a kind's bundle hook provides (the registry names it; kiln.kinds.registry)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol


class ModelFormat(Protocol):
    """Writes a kind's model into a bundle folder and reads it back; the folder does the rest
    (manifest, checksums, atomic rename)."""

    def write(self, model: Any, root: Path) -> dict[str, Any]:
        """Write the model's files under `root`; return its manifest fields (task, target, ...)."""
        ...

    def confine(self, root: Path, manifest: dict[str, Any], *, confine: Callable[[object], Path]) -> None:
        """Before anything is read: pass every path the kind's manifest fields name through `confine`
        (which refuses one outside the folder) and refuse a manifest missing a file the kind reads."""
        ...

    def read(self, root: Path, manifest: dict[str, Any]) -> Any:
        """The model held by a bundle folder whose checksums were verified."""
        ...
