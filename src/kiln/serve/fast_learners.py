"""Each learner family's prediction on the calling thread alone, equal to its `predict_raw`.

On one row the libraries' thread pools cost more than the trees: LightGBM's default
OpenMP team took 8 ms on a busy two-core machine against 17 µs with one thread,
HistGradientBoosting 4 ms, the scikit-learn forests 22 ms through joblib. Here:

- lightgbm, xgboost, catboost: the native booster asked for one thread (XGBoost's
  in-place predict on a one-thread copy of the booster, CatBoost on an object matrix
  instead of a pandas-built Pool);
- random_forest, extra_trees, hist_gradient_boosting: their trees packed into flat arrays
  (`forest_arrays`), walked by numpy for small requests — all tree members together in
  one `TreeBank` — and by the library on one thread for large batches;
- knn: scikit-learn with `n_jobs=1` and a one-thread OpenMP limit;
- linear: the coefficients' product and the softmax/sigmoid, without scikit-learn's input
  validation (about 1 ms of a one-row call);
- any learner not listed: the learner's own `predict_raw`.

Each fast function replaces only the learner's `_predict`; the learner's own
`predict_raw` turns its output into probability columns (see `Finish`), so class order,
missing classes and clipping stay the learner's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from kiln.learners.base import Learner
from kiln.serve.forest_arrays import PackedTrees, pack_hist_gradient_boosting, pack_sklearn_forest

Predict = Callable[[Any], np.ndarray]


class Finish:
    """The learner's own `predict_raw` run around a faster `_predict`.

    `Learner.predict_raw` reads only these attributes, so borrowing it (rather than
    copying its body) keeps probability columns, clipping and normalising identical.
    """

    predict_raw = Learner.predict_raw

    def __init__(self, learner: Learner, predict: Predict) -> None:
        self.is_classifier = learner.is_classifier
        self.n_classes = learner.n_classes
        self.classes_seen_ = learner.classes_seen_
        self._predict = predict


@dataclass
class DirectFold:
    """A fold predicted by one call on its prep output."""

    predict: Predict  # prep output → what `learner.predict_raw` returns
    fast: bool  # False: the learner's own `predict_raw`


@dataclass
class TreeFold:
    """A fold whose trees are walked in the predictor's bank for small requests.

    Only `pack` refers to the packed trees (the predictor releases its topology once the
    bank holds a copy); the functions hold none of it.
    """

    pack: PackedTrees
    inputs: Callable[[Any], np.ndarray]  # prep output → the pack's walk inputs
    finish: Callable[[np.ndarray], np.ndarray]  # leaf values (n_rows, n_trees, k) → `predict_raw` output
    native: Predict  # prep output → `predict_raw` output, by the library on one thread


def compile_fold(learner: Any) -> DirectFold | TreeFold:
    """The fastest exact predictor this module has for `learner`."""
    own = getattr(type(learner), "predict_raw", None) is Learner.predict_raw
    builder = BUILDERS.get(getattr(learner, "key", ""))
    if builder is None or not own:
        return DirectFold(learner.predict_raw, fast=False)
    return builder(learner)


# -- boosters ----------------------------------------------------------------------------------


def _lightgbm(learner: Any) -> DirectFold:
    """`Booster.predict(X, num_iteration=..., num_threads=1)`, through one predictor made here:
    the booster builds (and frees) a fresh one at every call, deep-copying its parameters, about
    a sixth of a one-row request through 20 LightGBM folds. Should LightGBM's predictor move, the
    booster's own predict is used (and the fast path's self-check compares either with the library)."""
    booster = learner.booster_
    iterations = booster.best_iteration or None  # as LightGBMLearner._predict reads it

    def predict(X: Any) -> np.ndarray:
        return booster.predict(X, num_iteration=iterations, num_threads=1)

    try:
        from lightgbm.basic import _InnerPredictor

        predictor = _InnerPredictor.from_booster(booster, {"num_threads": 1})
        resolved = booster.best_iteration if iterations is None else iterations  # what predict does with None

        def predict_once(X: Any) -> np.ndarray:
            return predictor.predict(X, num_iteration=resolved)

        predict_once(np.zeros((1, booster.num_feature())))  # the predictor works with this version
        predict = predict_once
    except Exception:  # any failure of the private predictor: the booster's own predict stays
        pass

    return DirectFold(Finish(learner, predict).predict_raw, fast=True)


def _xgboost(learner: Any) -> DirectFold:
    booster = learner.booster_.copy()  # the model's own booster keeps its thread setting
    booster.set_param({"nthread": 1})
    iteration_range = learner._best_range()
    widen = learner.onehot_.transform  # small categorical columns reach XGBoost one-hot (kiln.learners.onehot)

    def predict(X: Any) -> np.ndarray:
        return booster.inplace_predict(widen(np.asarray(X, dtype=np.float64)), iteration_range=iteration_range)

    return DirectFold(Finish(learner, predict).predict_raw, fast=True)


def _catboost(learner: Any) -> DirectFold:
    """CatBoost reads categorical codes as integers (missing → -1), as `CatBoostLearner._pool`
    hands them over; an object matrix carries them without building a DataFrame."""
    model = learner.model_
    categorical = list(learner.categorical_)
    widen = learner.onehot_.transform  # small categorical columns reach CatBoost one-hot (kiln.learners.onehot)
    kind = "RawFormulaVal" if learner.task == "regression" else "Probability"
    binary = learner.is_classifier and len(learner.classes_seen_) == 2

    def predict(X: Any) -> np.ndarray:
        X = widen(np.asarray(X, dtype=np.float64))
        data: Any = X
        if categorical:
            data = X.astype(object)
            for i in categorical:
                column = X[:, i]
                data[:, i] = np.where(np.isnan(column), -1, column).astype(np.int64)
        out = model.predict(data, prediction_type=kind, thread_count=1)
        if binary and out.ndim == 2 and out.shape[1] == 2:
            return out[:, 1]
        return out

    return DirectFold(Finish(learner, predict).predict_raw, fast=True)


def _knn(learner: Any) -> DirectFold:
    from threadpoolctl import ThreadpoolController

    estimator = copy.copy(learner.estimator_)  # shallow: shares the fitted index
    estimator.n_jobs = 1
    controller = ThreadpoolController()
    method = estimator.predict if learner.task == "regression" else estimator.predict_proba

    def predict(X: Any) -> np.ndarray:
        with controller.limit(limits=1, user_api="openmp"):
            return method(X)

    return DirectFold(Finish(learner, predict).predict_raw, fast=True)


def _linear(learner: Any) -> DirectFold:
    """LogisticRegression's or Ridge's decision as one product: `predict_proba` validates its input
    (about 1 ms a call); this is its arithmetic (softmax, or the sigmoid for two classes)."""
    from scipy.special import expit

    from kiln.serve.fast_text import softmax

    estimator = learner.estimator_
    coef, intercept = estimator.coef_, estimator.intercept_
    regression = learner.task == "regression"

    def predict(X: Any) -> np.ndarray:
        if regression:
            return np.asarray(X @ coef.T + intercept).reshape(-1)
        decision = np.asarray(X @ coef.T) + intercept
        return expit(decision[:, 0]) if decision.shape[1] == 1 else softmax(decision)

    return DirectFold(Finish(learner, predict).predict_raw, fast=True)


# -- packed trees ------------------------------------------------------------------------------


def _forest(learner: Any) -> TreeFold:
    """Mean of the trees' leaf values: class fractions or values, as the forest's predict."""
    estimator = learner.estimator_
    pack = pack_sklearn_forest(estimator)
    n_trees = pack.n_trees
    regression = learner.task == "regression"
    one_job = copy.copy(estimator)
    one_job.n_jobs = 1

    def finish_values(values: np.ndarray) -> np.ndarray:
        mean = values.sum(axis=1) / n_trees
        return mean[:, 0] if regression else mean

    def native(X: Any) -> np.ndarray:
        return one_job.predict(X) if regression else one_job.predict_proba(X)

    return TreeFold(pack, pack.reads, Finish(learner, finish_values).predict_raw, Finish(learner, native).predict_raw)


def _hist_gradient_boosting(learner: Any) -> TreeFold:
    """Baseline plus the sum of leaf values, through the model's loss (sigmoid, softmax or identity)."""
    estimator = learner.estimator_
    pack = pack_hist_gradient_boosting(estimator)
    remap = _hgb_input(estimator)
    widen = learner.onehot_.transform  # small categorical columns reach it one-hot (kiln.learners.onehot)
    regression = learner.task == "regression"

    def link(raw: np.ndarray) -> np.ndarray:
        if regression:
            return estimator._loss.link.inverse(raw.ravel())
        return estimator._loss.predict_proba(raw)

    reads = pack.reads

    def inputs(X: Any) -> np.ndarray:
        return reads(remap(widen(X)))

    def finish_values(values: np.ndarray) -> np.ndarray:
        return link(values.sum(axis=1) + estimator._baseline_prediction)

    def native(X: Any) -> np.ndarray:
        return link(estimator._raw_predict(widen(X), n_threads=1))

    return TreeFold(pack, inputs, Finish(learner, finish_values).predict_raw, Finish(learner, native).predict_raw)


def _hgb_input(estimator: Any) -> Callable[[Any], np.ndarray]:
    """HistGradientBoosting's own input step with native categoricals: an OrdinalEncoder
    re-codes the categorical columns (unknown → NaN) and moves them first."""
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

    preprocessor = getattr(estimator, "_preprocessor", None)
    if preprocessor is None:
        return lambda X: np.asarray(X, dtype=np.float64)
    steps = []
    for _, transformer, mask in preprocessor.transformers_:
        columns = np.flatnonzero(np.asarray(mask)) if np.asarray(mask).dtype == bool else np.asarray(mask)
        if (isinstance(transformer, str) and transformer == "drop") or len(columns) == 0:
            continue
        if type(transformer) is FunctionTransformer:  # check_array to float64: nothing to do
            steps.append((columns, None))
        elif (type(transformer) is OrdinalEncoder and transformer.handle_unknown == "use_encoded_value"
              and transformer.min_frequency is None and transformer.max_categories is None):
            steps.append((columns, _float_codes(transformer)))
        else:
            return lambda X: preprocessor.transform(X)

    def remap(X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        blocks = [X[:, columns] if encode is None else encode(X[:, columns]) for columns, encode in steps]
        return np.hstack(blocks)

    return remap


def _float_codes(encoder: Any) -> Callable[[np.ndarray], np.ndarray]:
    """OrdinalEncoder over float codes: a value's index among the sorted categories."""
    unknown = float(encoder.unknown_value)
    tables = []
    for categories in encoder.categories_:
        categories = np.asarray(categories, dtype=np.float64)
        known = categories[~np.isnan(categories)]
        missing = float(encoder.encoded_missing_value) if len(known) < len(categories) else unknown
        tables.append((known, missing))

    def encode(X: np.ndarray) -> np.ndarray:
        out = np.empty_like(X)
        for j, (known, missing) in enumerate(tables):
            x = X[:, j]
            position = np.clip(np.searchsorted(known, x), 0, max(len(known) - 1, 0))
            hit = known[position] == x if len(known) else np.zeros(len(x), dtype=bool)
            out[:, j] = np.where(hit, position, np.where(np.isnan(x), missing, unknown))
        return out

    return encode


BUILDERS: dict[str, Callable[[Any], DirectFold | TreeFold]] = {
    "lightgbm": _lightgbm,
    "xgboost": _xgboost,
    "catboost": _catboost,
    "hist_gradient_boosting": _hist_gradient_boosting,
    "random_forest": _forest,
    "extra_trees": _forest,
    "knn": _knn,
    "linear": _linear,
}
