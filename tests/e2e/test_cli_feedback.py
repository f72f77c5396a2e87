"""`kiln feedback` says how many labels it stored and in which registry, as the other commands do."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kiln.cli.app import app


def test_feedback_names_the_registry_it_wrote_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KILN_DB", raising=False)
    labels = tmp_path / "labels.csv"
    labels.write_text("request_id,row,label\nr1,0,1\nr1,1,0\n")

    result = CliRunner().invoke(app, ["feedback", "ai4i", str(labels)])

    assert result.exit_code == 0, result.output
    assert "recorded 2 labels for ai4i in the registry" in result.output
    assert f"KILN_HOME={tmp_path / 'home'}" in " ".join(result.output.split())
