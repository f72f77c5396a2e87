"""The tests run on any fresh clone: no test names a path outside the repository, and the
data they read ships in tests/data with its licence.

A fresh clone has no `../shared` beside it and no `/work`; a test that read from there
skipped silently (55 of them once did). This reads every string in every test module
(docstrings aside) and every `Path(__file__).parents[N]` that climbs above the repository.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pandas as pd
from resources import AI4I, DATA

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# Absolute paths of one machine, and the folder that sits beside the repository on it.
OUTSIDE = re.compile(r"^/(?:work|root|home|tmp|Users|mnt)(?:/|$)|(?:^|/)\.\./shared\b|^shared(?:/|$)")
# Each allowed literal, with why it is not a path the test depends on.
ALLOWED = {
    ("integration/test_ray.py", "/tmp"): "Ray's socket paths must fit in 107 bytes; /tmp is on every POSIX host",
    ("unit/store/test_registry_uri.py", "/tmp/models/x"): "an input to the URI parser, never opened",
}


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def outside_paths(path: Path, root: Path = ROOT) -> list[tuple[str, int, str]]:
    """(literal, line, what), by line, for each string or `parents[N]` in a test module that leaves the repository."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = _docstrings(tree)
    depth = len(path.relative_to(root).parts) - 1  # parents[depth] is the repository root
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if OUTSIDE.search(node.value):
                found.append((node.value, node.lineno, "a path outside the repository"))
        elif (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
              and node.value.attr == "parents" and isinstance(node.slice, ast.Constant)
              and isinstance(node.slice.value, int) and node.slice.value > depth):
            found.append((f"parents[{node.slice.value}]", node.lineno, "climbs above the repository root"))
    return sorted(found, key=lambda item: (item[1], item[0]))


def test_no_test_reads_a_path_outside_the_repository() -> None:
    offences, used = [], set()
    for path in sorted(TESTS.rglob("*.py")):
        if path == Path(__file__).resolve():
            continue  # this module's own examples of what it catches
        relative = path.relative_to(TESTS).as_posix()
        for literal, line, what in outside_paths(path):
            if (relative, literal) in ALLOWED:
                used.add((relative, literal))
            else:
                offences.append(f"tests/{relative}:{line}: {literal!r} is {what}")
    assert not offences, "tests must run on a fresh clone; ship data in tests/data:\n" + "\n".join(offences)
    assert used == set(ALLOWED), f"stale entries in ALLOWED: {set(ALLOWED) - used}"


def test_the_check_catches_the_paths_that_once_skipped(tmp_path: Path) -> None:
    probe = tmp_path / "tests" / "unit" / "test_probe.py"  # as deep as tests/unit/*: parents[2] is the root
    probe.parent.mkdir(parents=True)
    probe_text = ('"""A docstring may say ../shared/data."""\nfrom pathlib import Path\n'
                  'A = Path("/work/shared/data/ai4i2020.csv")\n'
                  'B = Path(__file__).resolve().parents[3] / "shared" / "data"\n'
                  'C = "../shared/data/x.csv"\nD = Path(__file__).resolve().parents[1] / "data"\n')
    probe.write_text(probe_text)
    found = outside_paths(probe, root=tmp_path)
    assert [(literal, line) for literal, line, _ in found] == [
        ("/work/shared/data/ai4i2020.csv", 3), ("parents[3]", 4), ("shared", 4), ("../shared/data/x.csv", 5)]
    assert outside_paths(TESTS / "conftest.py") == []  # parents[1] of tests/* is the root: allowed


# A skip that is not about a missing service (which tests/resources.py turns into a failure under CI).
ALLOWED_SKIPS = {("unit/learners/test_hist_gradient_boosting.py", "skipif"): "hardware: needs two cores"}
SKIPS = {"skip", "skipif", "importorskip"}


def skips(path: Path) -> list[tuple[str, int]]:
    """(name, line) of each pytest.skip / pytest.importorskip / pytest.mark.skip(if) in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        target = node.func if isinstance(node, ast.Call) else node
        if isinstance(target, ast.Attribute) and target.attr in SKIPS:
            owner = target.value
            if (isinstance(owner, ast.Name) and owner.id == "pytest") or (
                    isinstance(owner, ast.Attribute) and owner.attr == "mark"):
                found.append((target.attr, node.lineno))
    return sorted(set(found), key=lambda item: item[1])


def test_tests_skip_only_through_resources_missing() -> None:
    """Data ships with the tests; a missing service skips through `resources.missing`,
    which fails under CI=true. Any other skip would hide a test on a fresh clone."""
    offences, used = [], set()
    for path in sorted(TESTS.rglob("*.py")):
        relative = path.relative_to(TESTS).as_posix()
        if relative in {"resources.py", "test_hygiene.py"}:
            continue
        for name, line in skips(path):
            if (relative, name) in ALLOWED_SKIPS:
                used.add((relative, name))
            else:
                offences.append(f"tests/{relative}:{line}: {name}")
    assert not offences, "use resources.missing / resources.need_module, or ship the data:\n" + "\n".join(offences)
    assert used == set(ALLOWED_SKIPS), f"stale entries in ALLOWED_SKIPS: {set(ALLOWED_SKIPS) - used}"


def test_the_skip_check_sees_every_form(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text('import pytest\n@pytest.mark.skipif(True, reason="x")\ndef test_a():\n    pytest.skip("no data")\n'
                     'def test_b():\n    pytest.importorskip("nothing")\n@pytest.mark.skip\ndef test_c():\n    pass\n')
    assert skips(probe) == [("skipif", 2), ("skip", 4), ("importorskip", 6), ("skip", 7)]


def test_shipped_data_is_the_real_ai4i_file_and_carries_its_licence() -> None:
    table = pd.read_csv(AI4I)
    assert table.shape == (10_000, 14)
    assert table["Machine failure"].sum() == 339
    readme = (DATA / "README.md").read_text()
    assert "CC BY 4.0" in readme and "Matzka" in readme and "UCI Machine Learning Repository" in readme
    for shipped in DATA.iterdir():
        assert shipped.name == "README.md" or f"## {shipped.name}" in readme, f"{shipped.name} has no attribution"


def test_no_two_test_modules_share_a_name() -> None:
    # pytest imports test files by their base name (rootdir, no packages): a second tests/**/test_x.py shadows
    # the first and a whole folder fails to import on a full run, though each folder passes alone.
    seen: dict[str, Path] = {}
    clashes = []
    for path in sorted(TESTS.rglob("*.py")):
        if path.name == "conftest.py" or "__pycache__" in path.parts:
            continue
        if path.name in seen:
            clashes.append(f"{seen[path.name].relative_to(TESTS)} and {path.relative_to(TESTS)}")
        seen.setdefault(path.name, path)
    assert not clashes, "rename one of each: " + "; ".join(clashes)
