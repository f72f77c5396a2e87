"""Every bad input ends in one sentence naming the problem and the fix: exit code 2,
no traceback, nothing written. The README's troubleshooting section lists these cases."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

Builder = Callable[[Path], Path]


def _csv(text: str, name: str = "data.csv") -> Builder:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_text(text)
        return path
    return build


def _frame(frame: pd.DataFrame) -> Builder:
    def build(folder: Path) -> Path:
        path = folder / "data.csv"
        frame.to_csv(path, index=False)
        return path
    return build


def _binary(folder: Path) -> Path:
    path = folder / "picture.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    return path


def _directory(folder: Path) -> Path:
    (folder / "a_folder.csv").mkdir()
    return folder / "a_folder.csv"


def _wide(folder: Path) -> Path:
    path = folder / "wide.csv"
    columns = [f"c{i}" for i in range(10_001)] + ["y"]
    pd.DataFrame(np.zeros((3, len(columns)), dtype=int), columns=columns).to_csv(path, index=False)
    return path


def _big(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    path = folder / "big.csv"
    pd.DataFrame({"x": rng.normal(size=20_000), "y": rng.integers(0, 2, 20_000)}).to_csv(path, index=False)
    return path


rng = np.random.default_rng(1)
GOOD = pd.DataFrame({"x": rng.normal(size=40), "y": rng.integers(0, 2, 40)})

CASES: dict[str, tuple[Builder, str, str, dict[str, str]]] = {
    # name: (builder, target, expected words in the message, environment)
    "file not found": (lambda folder: folder / "missing.csv", "y", "does not exist", {}),
    "a directory": (_directory, "y", "is a folder", {}),
    "an empty file": (_csv(""), "y", "is empty", {}),
    "a header with no rows": (_csv("x,y\n"), "y", "no rows", {}),
    "a binary file": (_binary, "y", "is binary", {}),
    "a wrong delimiter": (_csv("x:y\n1:0\n2:1\n3:0\n"), "y", "delimiter may be ':'", {}),
    "duplicated column names": (_csv("x,x,y\n1,2,0\n3,4,1\n"), "y", "appear more than once", {}),
    "a target that does not exist": (_frame(GOOD), "Y_", "Did you mean 'y'", {}),
    "a target with a single class": (_frame(GOOD.assign(y=1)), "y", "single value (1)", {}),
    "a target that is all missing": (_frame(GOOD.assign(y=np.nan)), "y", "has no values", {}),
    "a class of one row": (_frame(GOOD.assign(y=["a"] * 20 + ["b"] * 19 + ["c"])), "y", "has a single row", {}),
    "fewer rows than folds": (_frame(GOOD.head(5).assign(y=[0, 1, 0, 1, 0])), "y", "needs at least 10", {}),
    "a table wider than 10,000 columns": (_wide, "y", "at most 10,000", {}),
    "a file too big for memory": (_big, "y", "would need about", {"KILN_MEMORY_LIMIT": "200000"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_training_input_gives_one_clear_line_and_exit_2(case: str, tmp_path: Path) -> None:
    build, target, expected, env = CASES[case]
    data = build(tmp_path)
    out = tmp_path / "bundle"
    result = subprocess.run(
        [sys.executable, "-m", "kiln.cli", "train", str(data), "--target", target, "--time-limit", "10",
         "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=120, env={**os.environ, **env},
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".bundle.tmp-*"))


def test_debug_flag_shows_the_traceback(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "kiln.cli", "--debug", "train", str(tmp_path / "none.csv"),
                             "--target", "y"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "InvalidDataError" in result.stderr
