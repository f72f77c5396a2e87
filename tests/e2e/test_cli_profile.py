"""`kiln profile` and the checks `kiln train` runs first, on the real AI4I 2020 file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from resources import AI4I

KILN = [sys.executable, "-m", "kiln.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KILN, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def profile_json(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, subprocess.CompletedProcess, Path]:
    report = tmp_path_factory.mktemp("profile") / "report.html"
    result = run("profile", str(AI4I), "--target", "Machine failure", "--json", "--out", str(report))
    return json.loads(result.stdout), result, report


def test_profile_flags_the_failure_modes_as_leaks_and_exits_1(profile_json) -> None:
    found, result, _ = profile_json
    assert result.returncode == 1  # errors remain: CI can gate on it
    by_code: dict[str, set[str]] = {}
    for finding in found["findings"]:
        by_code.setdefault(finding["code"], set()).add(finding["column"])
    assert by_code["DQ004"] == {"TWF", "HDF", "PWF", "OSF"}
    assert by_code["DQ005"] == {"RNF"}
    assert by_code["DQ006"] == {"UDI", "Product ID"}


def test_profile_writes_a_self_contained_report(profile_json) -> None:
    _, _, report = profile_json
    page = report.read_text()
    assert "<script src=" not in page and "<link" not in page
    assert "DQ004" in page and "Air temperature [K]" in page


def test_profile_roles_name_target_and_identifiers(profile_json) -> None:
    roles = {c["name"]: c["role"] for c in profile_json[0]["column_profiles"]}
    assert roles["Machine failure"] == "target"
    assert roles["UDI"] == roles["Product ID"] == "identifier"
    assert roles["Torque [Nm]"] == "feature"


def test_ignore_silences_a_code(tmp_path: Path) -> None:
    result = run("profile", str(AI4I), "--target", "Machine failure", "--json", "--ignore", "DQ004",
                 "--ignore", "dq005", "--out", str(tmp_path / "r.html"))
    codes = {f["code"] for f in json.loads(result.stdout)["findings"]}
    assert "DQ004" not in codes and "DQ005" not in codes
    assert result.returncode == 0


def test_train_stops_on_leaking_columns_and_names_them(tmp_path: Path) -> None:
    result = run("train", str(AI4I), "--target", "Machine failure", "--time-limit", "10", "--out",
                 str(tmp_path / "m"), "--quiet")
    assert result.returncode == 2
    assert "DQ004" in result.stderr and "TWF" in result.stderr and "--ignore DQ004" in result.stderr
    assert not (tmp_path / "m").exists()


def test_unknown_ignore_code_is_a_clear_error(tmp_path: Path) -> None:
    result = run("profile", str(AI4I), "--ignore", "DQ999", "--out", str(tmp_path / "r.html"))
    assert result.returncode == 2 and "DQ999" in result.stderr and "Traceback" not in result.stderr
