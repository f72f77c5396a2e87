"""`kiln --help` pages read like ordinary CLI help; `--version` exists; `--debug` keeps exit code 2.

In-process through Typer's runner (the same path from parsing to exit code as the `kiln`
script), at Rich's default width of 80 columns.
"""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from kiln.cli import app

PAGES = [[], ["train"], ["predict"], ["leaderboard"], ["serve"], ["retrain"], ["models"], ["models", "list"],
         ["models", "promote"]]


@pytest.mark.parametrize("words", PAGES, ids=lambda words: " ".join(words) or "kiln")
def test_help_pages_name_values_as_cli_help_does(words: list[str]) -> None:
    result = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    text = result.output
    assert not re.search(r"<(bool|str|int|float|path|list\[[a-z]+\])>", text), text  # no Python types
    assert not re.search(r"\{[a-z_]+\}", text.split("╭", 1)[0]), text  # no {data} in the usage line
    assert re.search(r"--help\s+Show this message", text), text  # a flag takes no value


def test_arguments_and_values_read_as_names_and_kinds() -> None:
    text = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "80"}).output
    assert "Usage: kiln train [OPTIONS] DATA" in text
    assert re.search(r"DATA\s+TEXT\s+Training table", text)
    assert re.search(r"--time-limit\s+FLOAT", text) and re.search(r"--out\s+PATH", text)
    assert re.search(r"--max-trials\s+INTEGER", text)
    assert re.search(r"--quiet\s+-q\s+No progress display", text)  # a plain flag: no value shown
    ignore = text.split("--ignore", 1)[1].split("--cost-fp", 1)[0]
    assert ignore.split()[0] == "TEXT" and "Repeatable." in ignore
    promote = CliRunner().invoke(app, ["models", "promote", "--help"], env={"COLUMNS": "80"}).output
    assert "Usage: kiln models promote [OPTIONS] NAME VERSION" in promote


def test_a_missing_argument_is_named_as_the_help_names_it() -> None:
    result = CliRunner().invoke(app, ["leaderboard"])
    assert result.exit_code == 2
    assert "Missing argument 'MODEL'" in result.output


def test_version_prints_the_installed_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"kiln {version('kiln-ml')}"


def test_debug_shows_the_traceback_and_still_exits_2(tmp_path) -> None:
    result = CliRunner().invoke(app, ["--debug", "train", str(tmp_path / "none.csv"), "--target", "y", "--quiet"])
    assert result.exit_code == 2, result.output
    assert "Traceback" in result.stderr and "InvalidDataError" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: File ")
    plain = CliRunner().invoke(app, ["train", str(tmp_path / "none.csv"), "--target", "y", "--quiet"])
    assert plain.exit_code == 2 and "Traceback" not in plain.stderr
