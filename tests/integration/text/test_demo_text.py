"""`kiln demo text` end to end (slow: trains 15 s and starts a server)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner


@pytest.mark.slow
def test_demo_text_trains_serves_and_answers(tmp_path) -> None:
    from kiln.cli.app import app

    result = CliRunner().invoke(app, ["demo", "text", "--out", str(tmp_path / "demo"), "--time-limit", "15"])
    assert result.exit_code == 0, result.output
    assert "reject option: confidence <" in result.output
    assert "→ overheating" in result.output and "→ out_of_scope" in result.output
    import kiln

    bot = kiln.load(tmp_path / "demo" / "bot")  # the saved bundle loads and keeps the reject option
    assert bot.reject is not None
