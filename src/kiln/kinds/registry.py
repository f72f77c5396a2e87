"""The kind registry: one `Kind` per problem kind, each naming its hook in every lifecycle layer.

A kind is a frozen, validated spec: its name, the tasks it covers, and for each layer that
dispatches on kind (`LAYERS`) the "module:attribute" of the object that layer calls. A hook
must live inside the layer that uses it (the bundle's hook in `kiln.bundle`, the server's in
`kiln.serve`, ...), so the registry, which sits at the bottom of the import graph, never
imports upward: each layer resolves only its own hook, lazily, when a model of that kind
reaches it. Adding a kind is adding its package (one module per layer) and one `register`
call listed in `BUILTIN`; no `if kind == ...` anywhere.

What each hook must provide is a Protocol next to the layer that calls it:
`kiln.bundle.kind.ModelFormat`, `kiln.serve.kind.Service`, `kiln.monitor.kind.Monitoring`,
`kiln.retrain.kind.Gate`, `kiln.report.kind.Reports`.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from kiln.errors import BundleError, InvalidOptionError

DEFAULT_KIND = "tabular"  # what a manifest written before kinds existed holds
LAYERS: Mapping[str, str] = MappingProxyType({
    "bundle": "kiln.bundle", "serve": "kiln.serve", "monitor": "kiln.monitor",
    "retrain": "kiln.retrain", "report": "kiln.report",
    # The entry points of the commands. Tabular runs the built-in path of each; another kind
    # provides these (Protocols in kiln.training.kind, kiln.predict.kind, kiln.report.kind).
    "train": "kiln.training", "predict": "kiln.predict", "profile": "kiln.report", "evaluate": "kiln.report",
})
COMMAND_LAYERS = ("train", "predict", "profile", "evaluate")  # tabular's are the built-in commands' own paths
# modules that register the built-in kinds when imported
BUILTIN = ("kiln.kinds.tabular", "kiln.kinds.image", "kiln.kinds.forecast", "kiln.kinds.recommend")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_REGISTRY: dict[str, Kind] = {}


@dataclass(frozen=True)
class Kind:
    """A problem kind: its name, its tasks, and the object each lifecycle layer calls for it."""

    name: str
    tasks: tuple[str, ...]
    hooks: Mapping[str, str]
    description: str = ""
    _resolved: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def hook(self, layer: str) -> Any:
        """The `layer`'s object for this kind (imported on first use, then kept)."""
        if layer not in self.hooks:
            raise InvalidOptionError(f"Kind '{self.name}' has no '{layer}' hook; it cannot be used there.")
        if layer not in self._resolved:
            module, _, attribute = self.hooks[layer].partition(":")
            self._resolved[layer] = getattr(importlib.import_module(module), attribute)
        return self._resolved[layer]


def register(kind: Kind) -> Kind:
    """Add `kind`, refusing a bad name, a duplicate, an unknown layer or a hook outside its layer."""
    if not _NAME.match(kind.name):
        raise InvalidOptionError(f"Kind name {kind.name!r} must be a lowercase identifier, e.g. 'forecast'.")
    if kind.name in _REGISTRY and _REGISTRY[kind.name] != kind:
        raise InvalidOptionError(f"A kind named '{kind.name}' is already registered.")
    if not kind.tasks:
        raise InvalidOptionError(f"Kind '{kind.name}' names no tasks.")
    for layer, target in kind.hooks.items():
        if layer not in LAYERS:
            raise InvalidOptionError(f"Kind '{kind.name}' has a hook for unknown layer '{layer}'; "
                                     f"the layers are {sorted(LAYERS)}.")
        module, colon, attribute = target.partition(":")
        if not colon or not attribute:
            raise InvalidOptionError(f"Kind '{kind.name}' hook {target!r} must read 'module:attribute'.")
        if module != LAYERS[layer] and not module.startswith(LAYERS[layer] + "."):
            raise InvalidOptionError(f"Kind '{kind.name}' hook for '{layer}' is {module}; it must live in "
                                     f"{LAYERS[layer]} so that dependencies keep pointing down.")
    _REGISTRY[kind.name] = kind
    return kind


def get(name: str) -> Kind:
    """The registered kind `name`; a bundle of an unknown kind gets a sentence naming the known ones."""
    _load_builtins()
    if name not in _REGISTRY:
        raise BundleError(f"Problem kind '{name}' is not known to this kiln (it knows {names()}); "
                          "upgrade kiln or install the package that provides it.")
    return _REGISTRY[name]


def for_task(task: str) -> Kind:
    """The kind that trains `task` ("auto" and the table tasks are tabular's); an unknown task gets the list."""
    _load_builtins()
    if task == "auto":
        return _REGISTRY[DEFAULT_KIND]
    for kind in _REGISTRY.values():
        if task in kind.tasks:
            return kind
    known = ["auto", *sorted(t for k in _REGISTRY.values() for t in k.tasks)]
    raise InvalidOptionError(f"--task {task!r} is not known; choose one of {', '.join(known)}.")


def kind_of(manifest: Mapping[str, Any]) -> str:
    """The kind a manifest records; bundles written before kinds existed are tabular."""
    return str(manifest.get("kind") or DEFAULT_KIND)


def names() -> list[str]:
    """Every registered kind's name, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def _load_builtins() -> None:
    for module in BUILTIN:
        importlib.import_module(module)
