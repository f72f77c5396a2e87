"""A path typo is answered with the nearest existing path (issue 13, item 17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.bundle import verify_bundle
from kiln.data.load import read_table
from kiln.data.paths import did_you_mean, nearest_path
from kiln.errors import BundleError, InvalidDataError


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "kiln.json").write_text("{}")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "machines.csv").write_text("a,b\n1,2\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_each_missing_component_is_matched_and_spelled_as_given(folder: Path) -> None:
    assert nearest_path("modle") == Path("model")
    assert nearest_path("dta/machnes.csv") == Path("data/machines.csv")
    assert nearest_path(folder / "data" / "Machines.CSV") == folder / "data" / "machines.csv"
    assert did_you_mean("modle/") == " Did you mean 'model/'?"


def test_no_suggestion_when_nothing_is_close_or_the_match_is_not_what_is_wanted(folder: Path) -> None:
    assert nearest_path("completely-different") is None
    assert nearest_path("model") is None  # it exists: nothing to suggest
    assert did_you_mean("dat", accept=lambda found: found.is_file()) == ""  # 'data' is a folder, not a file


def test_a_missing_data_file_and_a_missing_bundle_name_the_nearest_path(folder: Path) -> None:
    with pytest.raises(InvalidDataError, match=r"does not exist; check the path\. Did you mean 'data/machines\.csv'\?"):
        read_table("data/machnes.csv")
    with pytest.raises(BundleError, match=r"'modle' is not a kiln bundle \(no kiln\.json\) and does not exist; .*"
                                          r"Did you mean 'model'\?"):
        verify_bundle("modle")
