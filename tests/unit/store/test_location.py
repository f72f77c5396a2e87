"""Every "nothing found" names the registry kiln searched, and a registry nearby (issue 13, item 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.store.location import describe, hint, nearby


def test_the_place_follows_kiln_db_then_kiln_home_then_the_current_folder(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KILN_DB", raising=False)
    monkeypatch.delenv("KILN_HOME", raising=False)
    assert describe() == (f"the registry in {tmp_path.resolve() / '.kiln' / 'kiln.db'} "
                          "(KILN_HOME unset: ./.kiln of the folder kiln runs in)")
    monkeypatch.setenv("KILN_HOME", "elsewhere")
    assert describe() == f"the registry in {tmp_path.resolve() / 'elsewhere' / 'kiln.db'} (KILN_HOME=elsewhere)"
    monkeypatch.setenv("KILN_DB", "postgresql+psycopg://kiln:secret@db.example.com/kiln")
    assert describe() == "the registry at KILN_DB=postgresql+psycopg://kiln:***@db.example.com/kiln"


def test_a_registry_in_a_subfolder_or_above_is_pointed_at_only_under_the_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / ".kiln").mkdir(parents=True)
    (project / ".kiln" / "kiln.db").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    monkeypatch.delenv("KILN_DB", raising=False)
    monkeypatch.delenv("KILN_HOME", raising=False)

    monkeypatch.chdir(tmp_path)
    assert nearby() == [Path("project/.kiln")]
    assert hint() == (" A registry also exists in project/.kiln: run kiln from the folder that holds it, "
                      "or set KILN_HOME=project/.kiln.")
    monkeypatch.chdir(project / ".kiln")  # inside: the registry is in a folder above
    assert nearby() == [project / ".kiln"]
    monkeypatch.setenv("KILN_HOME", str(tmp_path / "empty"))  # a place the user chose: no guessing
    assert nearby() == [] and hint() == ""
