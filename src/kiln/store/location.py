"""Where kiln looked: the registry's place in words, for every "nothing found" message.

KILN_DB (an SQLAlchemy URL) names the database; without it, the SQLite file
KILN_HOME/kiln.db; without KILN_HOME, `./.kiln` of the folder kiln runs in. That default
is per project (as git's `.git` and MLflow's `./mlruns`), so a command run from another
folder sees another, usually empty, registry: each "nothing found" message names the
place, and points at a registry nearby (in a subfolder or a folder above) when there is one.
"""

from __future__ import annotations

import os
from pathlib import Path

from kiln.settings import kiln_home

DB_FILE = "kiln.db"


def describe() -> str:
    """"the registry in /abs/.kiln/kiln.db (KILN_HOME unset: ./.kiln of this folder)", or the KILN_DB URL."""
    url = os.environ.get("KILN_DB", "").strip()
    if url:
        return f"the registry at KILN_DB={_safe_url(url)}"
    home = os.environ.get("KILN_HOME", "").strip()
    where = f"KILN_HOME={home}" if home else "KILN_HOME unset: ./.kiln of the folder kiln runs in"
    return f"the registry in {kiln_home() / DB_FILE} ({where})"


def nearby() -> list[Path]:
    """Other default registries a newcomer may mean: `.kiln/kiln.db` one folder down, or in a folder above.

    Only when neither KILN_DB nor KILN_HOME is set (then the user chose the place)."""
    if os.environ.get("KILN_DB", "").strip() or os.environ.get("KILN_HOME", "").strip():
        return []
    here = Path.cwd()
    found: list[Path] = []
    try:
        with os.scandir(here) as entries:
            for _, entry in zip(range(500), entries, strict=False):
                hidden = entry.name.startswith(".")
                if not hidden and entry.is_dir() and (Path(entry.path) / ".kiln" / DB_FILE).is_file():
                    found.append(Path(entry.name) / ".kiln")
    except OSError:
        pass
    for parent in here.parents:
        if (parent / ".kiln" / DB_FILE).is_file():
            found.append(parent / ".kiln")
            break
    return sorted(found)[:3]


def hint() -> str:
    """" A registry also exists in sub/.kiln: run kiln there, or set KILN_HOME=sub/.kiln." or ""."""
    others = nearby()
    if not others:
        return ""
    shown = ", ".join(str(p) for p in others)
    return (f" A registry also exists in {shown}: run kiln from the folder that holds it, or set "
            f"KILN_HOME={others[0]}.")


def _safe_url(url: str) -> str:
    """The URL without its password."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: the database layer reports that itself
        return url.split("@", 1)[-1] if "@" in url else url
