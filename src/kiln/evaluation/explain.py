"""What drives the model: permutation importance (global) and SHAP contributions (per row).

Permutation importance asks how much worse the whole model scores when one original
column is shuffled, breaking its link to the target; it works for any model. SHAP
contributions split one member's raw output for a row among the original columns; they
need a tree model, where Tree SHAP is exact and fast. LightGBM, XGBoost and CatBoost
compute it themselves (shap.TreeExplainer delegates to the same functions); the
scikit-learn trees go through shap.TreeExplainer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from kiln.data.schema import category_text
from kiln.errors import InvalidDataError, InvalidOptionError
from kiln.evaluation.metrics import get_metric
from kiln.optional import require

if TYPE_CHECKING:
    from kiln.model import FoldModel, Member, Model

IMPORTANCE_COLUMNS = ["feature", "importance", "ci_low", "ci_high"]
TREE_LEARNERS = ("lightgbm", "xgboost", "catboost", "random_forest", "extra_trees", "hist_gradient_boosting")
BASE_VALUE = "base_value"


# -- permutation importance -------------------------------------------------------------------

def permutation_importance(model: Model, frame: pd.DataFrame, *, n_repeats: int = 5, seed: int = 0,
                           max_rows: int = 2000) -> pd.DataFrame:
    """How much the model's own metric worsens when each original column is shuffled
    (scikit-learn's `permutation_importance`, scored by the model's metric).

    `importance` is the mean worsening over `n_repeats` shuffles, in the metric's units:
    positive means the column helps, about zero that the model does not need it,
    negative that it hurts. The interval is a 95% t-interval over the repeats. Rows with
    a missing target are dropped and at most `max_rows` rows (a random sample) are used.
    """
    if n_repeats < 1:
        raise InvalidOptionError(f"n_repeats must be at least 1, got {n_repeats}.")
    rows, y = labelled_rows(model, frame, max_rows, seed)
    metric = get_metric(model.metric, model.task)
    names = model.schema.names
    if model.task != "regression" and len(np.unique(y)) < 2:
        return pd.DataFrame({"feature": names, "importance": np.nan, "ci_low": np.nan, "ci_high": np.nan},
                            columns=IMPORTANCE_COLUMNS)
    from sklearn.inspection import permutation_importance as shuffled_scores

    kept_report = model.last_contract_report_
    present = [name for name in names if name in rows.columns]  # an absent optional column: shuffling changes nothing
    try:
        result = shuffled_scores(_Fitted(model), rows[present], y, n_repeats=n_repeats, random_state=seed,
                                 scoring=lambda fitted, x, truth: -metric.loss(truth, fitted.model.predict_raw(x),
                                                                              model.task))
    finally:
        model.last_contract_report_ = kept_report
    worsening = dict(zip(present, result.importances, strict=True))  # (loss shuffled - loss) per repeat
    records = [(name, *_t_interval(worsening[name])) if name in worsening else (name, 0.0, 0.0, 0.0)
               for name in names]
    table = pd.DataFrame(records, columns=IMPORTANCE_COLUMNS)
    return table.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)


class _Fitted:
    """scikit-learn's permutation_importance takes an estimator; kiln's model is already fitted."""

    def __init__(self, model: Model) -> None:
        self.model = model

    def fit(self, *_args: object, **_kwargs: object) -> _Fitted:
        return self


def labelled_rows(model: Model, frame: pd.DataFrame, max_rows: int | None = None,
                  seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows of `frame` whose target is known (at most `max_rows`, a random sample), and their codes."""
    target = model.target.name
    if target not in frame.columns:
        raise InvalidDataError(
            f"Target column '{target}' is not in the table; scoring the model needs the true values, "
            f"so pass labelled rows (the table has columns {list(frame.columns)[:20]})."
        )
    rows = frame.loc[frame[target].notna()]
    if rows.empty:
        raise InvalidDataError(f"Every value of the target '{target}' is missing; pass labelled rows.")
    if max_rows is not None and len(rows) > max_rows:
        rows = rows.iloc[np.sort(np.random.default_rng(seed).choice(len(rows), max_rows, replace=False))]
    rows = rows.reset_index(drop=True)
    values = rows[target]
    if model.task != "regression":  # a 0/1 column read as 0.0/1.0 (because of blanks) keeps its classes
        values = values.map(category_text)
    return rows, model.target.encode(values)


def _t_interval(values: np.ndarray) -> tuple[float, float, float]:
    mean = float(values.mean())
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, df=len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


# -- SHAP contributions -----------------------------------------------------------------------

def shap_contributions(model: Model, rows: pd.DataFrame) -> pd.DataFrame:
    """Per-row SHAP contributions of each original column to one tree member's raw output.

    The member explained is the tree model with the largest ensemble weight; its fold
    models' contributions are averaged. The output explained is the log-odds of the
    positive class (binary; a forest's probability of it), the raw score of the class
    the model predicts (multiclass), or the value (regression). Each row's contributions
    plus `base_value` equal that output. Columns a preprocessing step expands (a date
    into its parts) get the sum of their parts. `DataFrame.attrs` names the member and
    the output explained.
    """
    from kiln.data.contract import check_contract

    member = tree_member(model)
    check_contract(rows, model.schema)
    features = model.schema.coerce(rows)
    names = model.schema.names
    n = len(features)
    explained = None
    if model.task == "multiclass":
        explained = np.asarray(model.predict_raw(rows)).argmax(axis=1)
    elif model.task == "binary":
        explained = np.ones(n, dtype="int64")
    total = np.zeros((n, len(names)))
    base = np.zeros(n)
    for fold in member.folds:
        encoded = fold.prep.transform(features)
        contributions, fold_base = _fold_contributions(fold, encoded, explained)
        total += _to_original(contributions, fold.prep, names)
        base += fold_base
    out = pd.DataFrame(total / len(member.folds), columns=names, index=rows.index)
    out[BASE_VALUE] = base / len(member.folds)
    out.attrs.update({"member": member.name, "learner": member.learner, "output": _output_name(model, member)})
    if explained is not None and model.task == "multiclass":
        out.attrs["explained_class"] = [model.classes_[i] for i in explained]
    return out


def tree_member(model: Model) -> Member:
    """The explainable tree member with the largest ensemble weight (InvalidOptionError: none)."""
    trees = [m for m in model.members if m.learner in TREE_LEARNERS and _explainable(m)]
    if not trees:
        used = sorted({m.learner for m in model.members})
        raise InvalidOptionError(
            f"SHAP contributions need a tree model ({', '.join(TREE_LEARNERS)}; HistGradientBoosting only "
            f"without native categorical splits), but this model's members are {used}. "
            "Use permutation importance, or train with a tree learner."
        )
    return max(trees, key=lambda m: m.weight)


def _explainable(member: Member) -> bool:
    if member.learner != "hist_gradient_boosting":
        return True
    # Tree SHAP reads HistGradientBoosting's numeric thresholds only, not its category bitsets.
    return not any(_splits_on_categories(fold.learner.estimator_) for fold in member.folds)


def _splits_on_categories(estimator: Any) -> bool:
    flags = getattr(estimator, "is_categorical_", None)
    return flags is not None and bool(np.any(flags))


def _output_name(model: Model, member: Member) -> str:
    if model.task == "regression":
        return "predicted value"
    forest = member.learner in ("random_forest", "extra_trees")
    if model.task == "binary":
        positive = (model.classes_ or [None, None])[1]
        return f"probability of class {positive!r}" if forest else f"log-odds of class {positive!r}"
    return "probability of the predicted class" if forest else "raw score of the predicted class"


def _fold_contributions(fold: FoldModel, encoded: np.ndarray,
                        explained: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Contributions (rows × encoded columns) and base values (rows) of one fold model."""
    learner = fold.learner
    if learner.key in NATIVE_TREE_SHAP:
        values, expected = _with_bias_split(NATIVE_TREE_SHAP[learner.key](learner, encoded), encoded.shape[1])
    else:
        values, expected = _sklearn_tree_shap(learner, encoded)
    # values: rows × columns × outputs; expected: rows × outputs
    if values.shape[2] == 1 or explained is None:
        return values[:, :, 0], expected[:, 0]
    seen = np.asarray(learner.classes_seen_)
    local = np.searchsorted(seen, explained).clip(0, len(seen) - 1)
    present = seen[local] == explained  # a class this fold never saw contributes nothing
    rows = np.arange(len(encoded))
    return values[rows, :, local] * present[:, None], expected[rows, local] * present


def class_contributions(fold: FoldModel, encoded: np.ndarray, names: list[str]) -> np.ndarray:
    """Tree SHAP of one tree fold model for every output, summed onto the original columns:
    rows × `names` × outputs (one output for binary and regression, else one per class the
    fold saw, in `classes_seen_` order)."""
    learner = fold.learner
    if learner.key in NATIVE_TREE_SHAP:
        values, _ = _with_bias_split(NATIVE_TREE_SHAP[learner.key](learner, encoded), encoded.shape[1])
    else:
        values, _ = _sklearn_tree_shap(learner, encoded)
    return np.stack([_to_original(values[:, :, k], fold.prep, names) for k in range(values.shape[2])], axis=2)


# The boosters compute Tree SHAP themselves; shap.TreeExplainer would call these same
# functions, after parsing every tree into Python first (about 0.2 s per fold model).
def _lightgbm_contributions(learner: Any, encoded: np.ndarray) -> np.ndarray:
    booster = learner.booster_
    return booster.predict(encoded, pred_contrib=True, num_iteration=booster.best_iteration or None)


def _xgboost_contributions(learner: Any, encoded: np.ndarray) -> np.ndarray:
    values = learner.booster_.predict(learner._matrix(learner.onehot_.transform(encoded)), pred_contribs=True,
                                      iteration_range=learner._best_range())
    return learner.onehot_.fold_contributions(values, encoded.shape[1])


def _catboost_contributions(learner: Any, encoded: np.ndarray) -> np.ndarray:
    # the learner's own pool: categorical codes as CatBoost was trained on them (small ones one-hot,
    # whose columns' shares go back to the column they came from)
    wide = learner.onehot_.transform(encoded)
    values = learner.model_.get_feature_importance(data=learner._pool(wide), type="ShapValues")
    return learner.onehot_.fold_contributions(values, encoded.shape[1])


NATIVE_TREE_SHAP = {"lightgbm": _lightgbm_contributions, "xgboost": _xgboost_contributions,
                    "catboost": _catboost_contributions}


def _with_bias_split(raw: np.ndarray, n_columns: int) -> tuple[np.ndarray, np.ndarray]:
    """rows × (columns + 1) or rows × outputs × (columns + 1), the last being the bias."""
    raw = np.asarray(raw, dtype="float64").reshape(len(raw), -1, n_columns + 1)
    return raw[:, :, :-1].transpose(0, 2, 1), raw[:, :, -1]


def _sklearn_tree_shap(learner: Any, encoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`_shap_tree_explainer` of a scikit-learn learner; HistGradientBoosting's one-hot columns
    (`kiln.learners.onehot`) are widened for it and their shares summed back onto their column."""
    onehot = getattr(learner, "onehot_", None)
    if onehot is None or not onehot.columns:
        return _shap_tree_explainer(learner.estimator_, encoded)
    values, expected = _shap_tree_explainer(learner.estimator_, onehot.transform(encoded))
    return onehot.fold_columns(values, encoded.shape[1], axis=1), expected


def _shap_tree_explainer(estimator: Any, encoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """shap's Tree SHAP for scikit-learn's trees (forests and HistGradientBoosting)."""
    shap = _import_shap()
    explainer = shap.TreeExplainer(estimator)
    # float32 thresholds in scikit-learn trees can trip shap's additivity check on ties
    values = np.asarray(explainer.shap_values(encoded, check_additivity=False), dtype="float64")
    if values.ndim == 2:
        values = values[:, :, None]
    expected = np.atleast_1d(np.asarray(explainer.expected_value, dtype="float64"))
    return values, np.broadcast_to(expected, (len(encoded), values.shape[2])).copy()


def _to_original(contributions: np.ndarray, prep: Any, names: list[str]) -> np.ndarray:
    """Sum encoded columns back onto the original column each came from."""
    out = np.zeros((contributions.shape[0], len(names)))
    position = {name: i for i, name in enumerate(names)}
    for step, _, columns in prep.transformers_:
        if step not in prep.output_indices_:
            continue
        block = prep.output_indices_[step]
        width = block.stop - block.start
        columns = list(columns)
        if width == 0 or not columns:
            continue
        if width % len(columns):
            raise InvalidOptionError(
                f"Cannot map the {width} encoded columns of step '{step}' back onto its {len(columns)} "
                "original columns; SHAP contributions need the tree preprocessing."
            )
        per_column = width // len(columns)
        for i, column in enumerate(columns):
            start = block.start + i * per_column
            out[:, position[column]] += contributions[:, start:start + per_column].sum(axis=1)
    return out


def _import_shap() -> Any:
    return require("shap", purpose="SHAP contributions")


def sample_contributions(model: Any, frame: pd.DataFrame, max_rows: int) -> pd.DataFrame | None:
    """SHAP contributions on a seeded sample of labelled rows, for the report's summary;
    None when the model has no tree member (or shap is missing), so the report shows a note."""
    from kiln.errors import InvalidOptionError, MissingDependencyError

    try:
        return shap_contributions(model, labelled_rows(model, frame, max_rows)[0])
    except (InvalidOptionError, MissingDependencyError):
        return None
