"""The kind registry: the manifest records the kind, every layer finds its hook there, and a bad kind is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tiny_models import train_tiny

import kiln
from kiln import kinds
from kiln.errors import BundleError, InvalidOptionError
from kiln.kinds import registry

# Each layer's Protocol, by the members a hook must have.
CONTRACT = {"bundle": ("write", "read", "confine"), "serve": ("routers", "request_schemas"),
            "monitor": ("traffic", "assess"), "retrain": ("labelled", "check_gate", "predictions"),
            "report": ("training",), "train": ("options", "train", "summary"),
            "predict": ("options", "predict_file"), "profile": ("options", "profile"), "evaluate": ("evaluate",)}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny(tmp_path_factory.mktemp("kinds") / "model")


def _rewrite(source: Path, folder: Path, **changes: object) -> Path:
    """A copy of the bundle with manifest keys changed (None removes one); kiln.json is not checksummed."""
    shutil.copytree(source, folder)
    manifest = json.loads((folder / "kiln.json").read_text())
    for key, value in changes.items():
        if value is None:
            manifest.pop(key, None)
        else:
            manifest[key] = value
    (folder / "kiln.json").write_text(json.dumps(manifest))
    return folder


def test_the_manifest_records_the_tabular_kind(bundle: Path) -> None:
    assert json.loads((bundle / "kiln.json").read_text())["kind"] == "tabular"
    assert kiln.load(bundle).kind == "tabular"


def test_a_bundle_from_before_kinds_reads_as_tabular(bundle: Path, tmp_path: Path) -> None:
    old = _rewrite(bundle, tmp_path / "old", kind=None)
    assert "kind" not in json.loads((old / "kiln.json").read_text())
    assert kinds.kind_of({}) == "tabular"
    model = kiln.load(old)
    assert model.kind == "tabular" and len(model.predict(model.reference.drop(columns=[
        c for c in model.reference.columns if c.startswith("__")]))) == len(model.reference)


def test_an_unknown_kind_is_refused_with_the_known_ones(bundle: Path, tmp_path: Path) -> None:
    strange = _rewrite(bundle, tmp_path / "strange", kind="sounds")
    with pytest.raises(BundleError, match=r"kind 'sounds' is not known.*'tabular'"):
        kiln.load(strange)


def test_loading_dispatches_on_the_manifests_kind(bundle: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A second kind, registered with its own name, is the one the loader asks."""
    calls: list[str] = []

    class Recording:
        def __init__(self, inner: object) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> object:
            calls.append(name)
            return getattr(self.inner, name)

    toy = kinds.Kind(name="toy", tasks=("binary",), hooks={"bundle": "kiln.bundle.tabular:FORMAT"})
    monkeypatch.setitem(registry._REGISTRY, "toy", toy)
    toy._resolved["bundle"] = Recording(toy.hook("bundle"))
    kiln.load(_rewrite(bundle, tmp_path / "toy", kind="toy"))
    assert calls == ["confine", "read"]


@pytest.mark.parametrize("name", kinds.names())
def test_every_kind_has_every_hook_with_its_layers_contract(name: str) -> None:
    kind = kinds.get(name)
    commands = set() if name == kinds.DEFAULT_KIND else set(registry.COMMAND_LAYERS)
    assert set(kind.hooks) == set(kinds.LAYERS) - set(registry.COMMAND_LAYERS) | commands
    for layer, members in CONTRACT.items():
        if layer not in kind.hooks:
            continue
        hook = kind.hook(layer)
        assert type(hook).__module__.startswith(kinds.LAYERS[layer] + ".")
        assert all(hasattr(hook, member) for member in members), (layer, members)


@pytest.mark.parametrize(("kind", "message"), [
    (kinds.Kind("Sounds", ("sounds",), {}), "lowercase identifier"),
    (kinds.Kind("sounds", (), {}), "names no tasks"),
    (kinds.Kind("sounds", ("sounds",), {"fit": "kiln.training.train:x"}), "unknown layer 'fit'"),
    (kinds.Kind("sounds", ("sounds",), {"serve": "kiln.serve.tabular"}), "module:attribute"),
    (kinds.Kind("sounds", ("sounds",), {"serve": "kiln.training.train:train_model"}), "must live in kiln.serve"),
    (kinds.Kind("tabular", ("binary",), {}), "already registered"),
])
def test_register_refuses_a_bad_kind(kind: kinds.Kind, message: str) -> None:
    with pytest.raises(InvalidOptionError, match=message):
        kinds.register(kind)
    assert "sounds" not in kinds.names() and "Sounds" not in kinds.names()


def test_a_task_finds_its_kind_and_an_unknown_task_gets_the_list() -> None:
    assert kinds.for_task("auto").name == kinds.for_task("regression").name == "tabular"
    with pytest.raises(InvalidOptionError, match=r"--task 'forcast' is not known; choose one of auto, .*binary"):
        kinds.for_task("forcast")


def test_an_option_of_another_kind_is_refused_for_a_table(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kiln.cli.app import app

    table = tmp_path / "t.csv"
    table.write_text("x,y\n1,0\n2,1\n")
    result = CliRunner().invoke(app, ["train", str(table), "--target", "y", "--horizon", "7"])
    assert result.exit_code == 2
    assert "--horizon does not apply to a tabular model" in result.output
    with pytest.raises(InvalidOptionError, match="horizon: not an option of a table model"):
        kiln.train(table, target="y", horizon=7)
    result = CliRunner().invoke(app, ["train", str(table)])
    assert result.exit_code == 2 and "Missing option --target" in result.output
