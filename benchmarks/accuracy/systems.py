"""One ``fit_predict`` per benchmarked system, and the shared scoring.

Every adapter takes ``(train_df, test_df, target, task, time_limit, seed)``, where
``test_df`` holds the features only, and returns a :class:`Prediction` aligned to
:func:`class_order`: for binary tasks the probability of the *second* sorted class
label (the positive class for ROC AUC), for multiclass tasks a probability matrix
whose columns follow the sorted labels, for regression the predicted values.

Each system's library is imported inside its adapter, so this module imports in the
bench venv and in kiln's own venv alike (it needs only numpy, pandas, scikit-learn).
"""

from __future__ import annotations

import importlib.metadata
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score, root_mean_squared_error

Task = Literal["binary", "multiclass", "regression"]


@dataclass(frozen=True)
class Metric:
    """A metric's name and direction."""

    name: str
    greater_is_better: bool


METRICS: dict[str, Metric] = {
    "binary": Metric("roc_auc", greater_is_better=True),
    "multiclass": Metric("log_loss", greater_is_better=False),
    "regression": Metric("rmse", greater_is_better=False),
}


@dataclass
class Prediction:
    """What an adapter hands back: predictions in :func:`class_order`, and timings."""

    values: np.ndarray
    classes: list[Any] | None
    fit_s: float
    predict_s: float
    version: str
    info: dict[str, Any] = field(default_factory=dict)


FitPredict = Callable[[pd.DataFrame, pd.DataFrame, str, Task, float, int], Prediction]


def class_order(y: pd.Series) -> list[Any]:
    """Sorted class labels; the second one is the positive class of a binary task."""
    return sorted(pd.unique(y.dropna()).tolist())


def align_proba(proba: np.ndarray, columns: Sequence[Any], classes: Sequence[Any], task: Task) -> np.ndarray:
    """Reorder ``proba`` (columns labelled ``columns``) to ``classes``; binary keeps P(positive).

    Labels are matched by their string form, since a class may come back as ``'yes'``
    from one library and ``np.str_('yes')`` from another.
    """
    proba = np.asarray(proba, dtype=float)
    index = {str(col): i for i, col in enumerate(columns)}
    missing = [c for c in classes if str(c) not in index]
    if missing or proba.ndim != 2 or proba.shape[1] != len(columns):
        raise ValueError(
            f"Probability columns {list(columns)} (shape {proba.shape}) do not cover classes {list(classes)}."
        )
    ordered = proba[:, [index[str(c)] for c in classes]]
    return ordered[:, 1] if task == "binary" else ordered


def score(task: Task, y_true: pd.Series, values: np.ndarray, classes: Sequence[Any] | None) -> float:
    """ROC AUC (binary, positive = ``classes[1]``), log loss (multiclass), RMSE (regression)."""
    if task == "regression":
        return float(root_mean_squared_error(np.asarray(y_true, dtype=float), values))
    if classes is None:
        raise ValueError("A classification score needs the class order.")
    if task == "binary":
        positive = np.asarray(y_true.astype(str) == str(classes[1]), dtype=int)
        return float(roc_auc_score(positive, values))
    labels = [str(c) for c in classes]
    sums = values.sum(axis=1, keepdims=True)
    if np.allclose(sums, 1.0, atol=1e-4):
        # float32 round-off (AutoGluon) only; a real normalisation bug still warns.
        values = values / sums
    return float(log_loss(y_true.astype(str).to_numpy(), values, labels=labels))


def _split(train_df: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.Series]:
    return train_df.drop(columns=[target]), train_df[target]


def _is_categorical(column: pd.Series) -> bool:
    return not (
        pd.api.types.is_numeric_dtype(column)
        or pd.api.types.is_bool_dtype(column)
        or pd.api.types.is_datetime64_any_dtype(column)
    )


def _as_text(column: pd.Series) -> pd.Series:
    values = column.astype(object)
    return values.where(values.isna(), values.astype(str))


def _as_category(x_train: pd.DataFrame, x_test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give text columns pandas ``category`` dtype; test categories follow train's."""
    x_train, x_test = x_train.copy(), x_test.copy()
    for col in x_train.columns:
        if _is_categorical(x_train[col]):
            train_text, test_text = _as_text(x_train[col]), _as_text(x_test[col])
            categories = sorted(train_text.dropna().unique())
            x_train[col] = pd.Categorical(train_text, categories=categories)
            x_test[col] = pd.Categorical(test_text, categories=categories)
    return x_train, x_test


def lightgbm_fit_predict(
    train_df: pd.DataFrame,
    test_df: pd.DataFrame,
    target: str,
    task: Task,
    time_limit: float,
    seed: int,
) -> Prediction:
    """Plain LightGBM with default parameters; ``time_limit`` is not used."""
    import lightgbm

    x_train, y_train = _split(train_df, target)
    x_train, x_test = _as_category(x_train, test_df[x_train.columns])
    classes = class_order(y_train) if task != "regression" else None
    model: Any
    if task == "regression":
        model = lightgbm.LGBMRegressor(random_state=seed, verbose=-1)
    else:
        model = lightgbm.LGBMClassifier(random_state=seed, verbose=-1)
    start = time.perf_counter()
    model.fit(x_train, y_train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    if classes is None:
        values = np.asarray(model.predict(x_test), dtype=float)
    else:
        values = align_proba(model.predict_proba(x_test), model.classes_, classes, task)
    predict_s = time.perf_counter() - start
    return Prediction(values, classes, fit_s, predict_s, lightgbm.__version__)


def flaml_fit_predict(
    train_df: pd.DataFrame,
    test_df: pd.DataFrame,
    target: str,
    task: Task,
    time_limit: float,
    seed: int,
) -> Prediction:
    """FLAML AutoML with its default learners, optimising the suite's metric."""
    import flaml
    from flaml import AutoML

    x_train, y_train = _split(train_df, target)
    x_test = test_df[x_train.columns]
    classes = class_order(y_train) if task != "regression" else None
    metric = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[task]
    automl = AutoML()
    start = time.perf_counter()
    automl.fit(
        x_train,
        y_train,
        task="regression" if task == "regression" else "classification",
        time_budget=time_limit,
        metric=metric,
        seed=seed,
        verbose=0,
    )
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    if classes is None:
        values = np.asarray(automl.predict(x_test), dtype=float)
    else:
        values = align_proba(automl.predict_proba(x_test), list(automl.classes_), classes, task)
    predict_s = time.perf_counter() - start
    info = {"best_estimator": automl.best_estimator, "best_config": automl.best_config}
    return Prediction(values, classes, fit_s, predict_s, flaml.__version__, info)


def autogluon_fit_predict(
    train_df: pd.DataFrame,
    test_df: pd.DataFrame,
    target: str,
    task: Task,
    time_limit: float,
    seed: int,
) -> Prediction:
    """AutoGluon ``TabularPredictor`` with preset ``medium_quality``.

    AutoGluon takes no seed argument in ``fit``; its models use their own fixed seeds.
    """
    from autogluon.tabular import TabularPredictor

    eval_metric = {
        "binary": "roc_auc",
        "multiclass": "log_loss",
        "regression": "root_mean_squared_error",
    }
    classes = class_order(train_df[target]) if task != "regression" else None
    with tempfile.TemporaryDirectory(prefix="bench-autogluon-") as path:
        predictor = TabularPredictor(
            label=target,
            problem_type=task,
            eval_metric=eval_metric[task],
            path=path,
            verbosity=0,
        )
        start = time.perf_counter()
        predictor.fit(train_df, time_limit=time_limit, presets="medium_quality")
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        if classes is None:
            values = np.asarray(predictor.predict(test_df), dtype=float)
        else:
            proba = predictor.predict_proba(test_df, as_multiclass=True)
            values = align_proba(proba.to_numpy(), list(proba.columns), classes, task)
        predict_s = time.perf_counter() - start
        info = {"model_best": predictor.model_best, "models": sorted(predictor.model_names())}
    version = importlib.metadata.version("autogluon.tabular")
    return Prediction(values, classes, fit_s, predict_s, version, info)


def kiln_fit_predict(
    train_df: pd.DataFrame,
    test_df: pd.DataFrame,
    target: str,
    task: Task,
    time_limit: float,
    seed: int,
) -> Prediction:
    """kiln's public API; runs under kiln's own venv (``/work/main/.venv``)."""
    import kiln

    classes = class_order(train_df[target]) if task != "regression" else None
    start = time.perf_counter()
    model = kiln.train(train_df, target=target, time_limit=time_limit, seed=seed, quiet=True)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    if classes is None:
        values = np.asarray(model.predict(test_df), dtype=float).ravel()
    else:
        proba = model.predict_proba(test_df)
        values = align_proba(proba.to_numpy(), list(proba.columns), classes, task)
    predict_s = time.perf_counter() - start
    return Prediction(values, classes, fit_s, predict_s, _kiln_version(kiln))


def _kiln_version(module: Any) -> str:
    version = getattr(module, "__version__", None)
    if version:
        return str(version)
    try:
        return importlib.metadata.version("kiln-ml")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


SYSTEMS: dict[str, FitPredict] = {
    "lightgbm": lightgbm_fit_predict,
    "flaml": flaml_fit_predict,
    "autogluon": autogluon_fit_predict,
    "kiln": kiln_fit_predict,
}
