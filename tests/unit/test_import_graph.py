"""The package's imports point one way: no cycle, no loose module, no layer reaching up to the public API.

import-linter (`lint-imports`, run by the test command) checks the layers and forbidden
contracts in pyproject.toml; these check what those contracts cannot say: that no cycle
exists at all, even between two modules of one package, and that the public functions
are not shadowed by a subpackage of the same name.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import grimp
import pytest

import kiln

SHARED_MODULES = {"errors", "optional", "settings", "types"}  # small modules every layer may use
TOP_LEVEL_USERS = {"kiln.cli", "kiln.demo"}  # may import the public API in kiln/__init__


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("kiln")


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm over module-level imports (lazy imports inside functions included)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = edges[node]
            if i < len(targets):
                work.append((node, i + 1))
                target = targets[i]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    components.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def test_cycle_finder_finds_a_cycle() -> None:
    """The check below could fail: a two-module cycle is found."""
    fake = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        fake.add_module(name)
    fake.add_import(importer="a.x", imported="a.y")
    fake.add_import(importer="a.y", imported="a.x")
    fake.add_import(importer="a.y", imported="a.z")
    assert strongly_connected(fake) == [["a.x", "a.y"]]


def test_no_import_cycle_among_kilns_modules(graph: grimp.ImportGraph) -> None:
    assert strongly_connected(graph) == []


def test_only_the_cli_and_the_demo_import_the_public_api(graph: grimp.ImportGraph) -> None:
    importers = graph.find_modules_that_directly_import("kiln")
    assert {m for m in importers if not any(m == u or m.startswith(u + ".") for u in TOP_LEVEL_USERS)} == set()


def test_no_loose_top_level_module_but_the_shared_ones() -> None:
    root = Path(kiln.__file__).parent
    loose = {p.stem for p in root.glob("*.py")} - {"__init__"}
    assert loose == SHARED_MODULES


def test_public_functions_survive_importing_every_module() -> None:
    """A subpackage named like a public function (`kiln.train`, `kiln.evaluate`) would replace it
    on the package once imported; every module is imported, then the functions are checked."""
    for module in pkgutil.walk_packages(kiln.__path__, "kiln."):
        if module.name in ("kiln.cli.__main__", "kiln.store.pyfunc_model"):
            continue  # runs the CLI on import / is MLflow's to load
        importlib.import_module(module.name)
    for name in ("train", "load", "save", "evaluate", "explain"):
        assert callable(getattr(kiln, name)) and not hasattr(getattr(kiln, name), "__path__"), name
