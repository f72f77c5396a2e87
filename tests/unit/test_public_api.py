"""The public surface: what `kiln.__all__` promises exists, and `import kiln` stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import kiln
from kiln.errors import KilnError

HEAVY = ("lightgbm", "xgboost", "catboost", "sklearn", "pandas", "numpy", "optuna", "skops", "scipy", "pyarrow")


@pytest.mark.parametrize("name", kiln.__all__)
def test_every_name_in_all_exists(name: str) -> None:
    assert getattr(kiln, name) is not None


def test_all_lists_the_entry_points_and_errors() -> None:
    assert {"train", "load", "Model", "KilnError", "InvalidDataError", "InvalidOptionError", "BundleError",
            "MissingDependencyError", "__version__"} <= set(kiln.__all__)


def test_model_is_the_class_train_returns() -> None:
    from kiln.model import Model

    assert kiln.Model is Model


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"module 'kiln' has no attribute 'trian'"):
        _ = kiln.trian  # type: ignore[attr-defined]


@pytest.mark.parametrize(("error", "builtin"), [("InvalidDataError", ValueError), ("InvalidOptionError", ValueError),
                                                ("MissingDependencyError", ImportError)])
def test_errors_share_one_root_and_the_builtin_callers_expect(error: str, builtin: type) -> None:
    cls = getattr(kiln, error)

    assert issubclass(cls, KilnError) and issubclass(cls, builtin)
    assert issubclass(kiln.BundleError, KilnError)


def test_import_kiln_loads_no_heavy_library() -> None:
    code = ("import json, sys, kiln; "
            f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))))")

    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                               timeout=60)

    assert json.loads(completed.stdout) == []
