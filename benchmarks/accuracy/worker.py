"""Child process of run.py: fit one system on one dataset and save its predictions.

Usage: ``python -P worker.py SYSTEM WORKDIR``. WORKDIR holds ``train.parquet``,
``test.parquet`` (features only) and ``job.json``; the worker writes ``pred.npy`` and
``outcome.json`` there. It is started with ``-P`` and loads ``systems.py`` by path, so
this folder never lands on ``sys.path`` (its ``datasets.py`` would shadow the
Hugging Face package of that name).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import platform
import sys
import traceback
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
LIBRARIES = ("catboost", "lightgbm", "xgboost", "xgboost-cpu", "scikit-learn", "pandas", "numpy")


def _load_systems() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_systems", HERE / "systems.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"Cannot load {HERE / 'systems.py'}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def _jsonable(value: object) -> object:
    """Make numpy scalars and other odd values JSON-friendly."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def _libraries() -> dict[str, str]:
    """Versions of the learning libraries installed in this interpreter."""
    found = {}
    for dist in LIBRARIES:
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def main(system: str, workdir: Path) -> int:
    """Run the job in ``workdir``; return the process exit code."""
    job = json.loads((workdir / "job.json").read_text())
    outcome: dict[str, object] = {"python": platform.python_version(), "libraries": _libraries()}
    try:
        systems = _load_systems()
        train = pd.read_parquet(workdir / "train.parquet")
        test = pd.read_parquet(workdir / "test.parquet")
        fit_predict = systems.SYSTEMS[system]
        pred = fit_predict(train, test, job["target"], job["task"], job["time_limit"], job["seed"])
        values = np.asarray(pred.values, dtype=float)
        if values.shape[0] != len(test) or not np.all(np.isfinite(values)):
            raise ValueError(f"Predictions have shape {values.shape} or non-finite values.")
        np.save(workdir / "pred.npy", values)
        outcome.update(
            status="ok",
            classes=_jsonable(pred.classes),
            fit_s=pred.fit_s,
            predict_s=pred.predict_s,
            version=pred.version,
            info=_jsonable(pred.info),
        )
        code = 0
    except Exception as exc:  # any failure is a result to record
        traceback.print_exc()
        outcome.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        code = 1
    (workdir / "outcome.json").write_text(json.dumps(outcome, indent=2))
    return code


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -P worker.py SYSTEM WORKDIR")
    sys.exit(main(sys.argv[1], Path(sys.argv[2])))
