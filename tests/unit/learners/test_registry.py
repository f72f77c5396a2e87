"""The learner registry: built-ins in one place, and an add() that refuses what the
planner could not use."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from kiln.errors import InvalidOptionError
from kiln.learners import registry
from kiln.learners.base import Learner, LearnerTags
from kiln.learners.lightgbm import LightGBMLearner

TAGS = LearnerTags(family="Test", prep="tree", tasks=frozenset({"binary"}), handles_missing=True,
                   native_categorical=False, sample_weight=False, early_stopping=False, persistence="skops")


@pytest.fixture(autouse=True)
def private_registry(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Each test adds to a copy, so nothing it registers leaks into other tests."""
    copy = dict(registry.all_learners())
    monkeypatch.setattr(registry, "_REGISTRY", copy)
    return copy


def _learner_class(**attributes: Any) -> type[Learner]:
    namespace = {"configs": ({"a": 1},), **attributes}
    return type("CustomLearner", (Learner,), namespace)


def test_every_builtin_is_registered_under_its_key() -> None:
    learners = registry.all_learners()

    assert len(learners) == len(registry.BUILTINS)
    for spec in registry.BUILTINS:
        class_name = spec.split(":")[1]
        (key,) = [k for k, cls in learners.items() if cls.__name__ == class_name]
        assert learners[key].key == key


def test_get_returns_the_registered_class() -> None:
    assert registry.get("lightgbm") is LightGBMLearner


def test_get_unknown_key_lists_the_known_learners() -> None:
    with pytest.raises(InvalidOptionError, match=r"Unknown learner 'gbm'; known learners: \[.*'lightgbm'"):
        registry.get("gbm")


def test_add_registers_a_valid_learner(private_registry: dict) -> None:
    custom = _learner_class(key="custom", tags=TAGS)

    assert registry.add(custom) is custom
    assert registry.get("custom") is custom
    assert registry.add(custom) is custom  # adding the same class again is harmless


@pytest.mark.parametrize("thing", [int, "lightgbm", LightGBMLearner(), None])
def test_add_refuses_what_is_not_a_learner_class(thing: object) -> None:
    with pytest.raises(InvalidOptionError, match=r"is not a kiln Learner subclass"):
        registry.add(thing)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [None, "", 42])
def test_add_refuses_a_class_without_a_string_key(key: object) -> None:
    attributes = {"tags": TAGS} if key is None else {"key": key, "tags": TAGS}

    with pytest.raises(InvalidOptionError, match=r"CustomLearner must declare a string `key`"):
        registry.add(_learner_class(**attributes))


@pytest.mark.parametrize("tags", [None, {"family": "Test", "prep": "tree"}])
def test_add_refuses_a_class_without_learner_tags(tags: object) -> None:
    attributes = {"key": "untagged"} if tags is None else {"key": "untagged", "tags": tags}

    with pytest.raises(InvalidOptionError, match=r"CustomLearner must declare `tags` as a LearnerTags"):
        registry.add(_learner_class(**attributes))


def test_add_refuses_a_duplicate_key(private_registry: dict) -> None:
    impostor = _learner_class(key="lightgbm", tags=TAGS)

    with pytest.raises(InvalidOptionError, match=r"A learner with key 'lightgbm' is already registered"):
        registry.add(impostor)
    assert private_registry["lightgbm"] is LightGBMLearner


def test_add_refuses_a_learner_without_a_portfolio_for_a_declared_task() -> None:
    class NoPortfolio(Learner):
        key: ClassVar[str] = "no_portfolio"
        tags: ClassVar[LearnerTags] = TAGS

    with pytest.raises(InvalidOptionError, match=r"NoPortfolio declares no portfolio config for binary"):
        registry.add(NoPortfolio)
