"""kiln: from a table to a deployed, monitored model.

    import kiln
    model = kiln.train(df, target="Machine failure", time_limit=60)
    model.leaderboard(); model.predict(new_df); model.predict_proba(new_df)
    kiln.evaluate(model, labelled_df); kiln.explain(model, new_df.head(3))
    kiln.save(model, "model/"); kiln.load("model/")

A `Model` only predicts; saving, evaluating and explaining are these functions, which
take a model (as scikit-learn estimators know nothing of joblib), so the package's
imports point one way (README, "Design notes").

Heavy libraries are imported only when a function needs them, so `import kiln` and
`kiln --help` stay fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.errors import BundleError, InvalidDataError, InvalidOptionError, KilnError, MissingDependencyError

if TYPE_CHECKING:
    import pandas as pd

    from kiln.evaluation.result import Evaluation
    from kiln.model import Model

__version__ = "0.1.0"
__all__ = [
    "BundleError",
    "InvalidDataError",
    "InvalidOptionError",
    "KilnError",
    "MissingDependencyError",
    "Model",
    "__version__",
    "evaluate",
    "explain",
    "load",
    "save",
    "train",
]


def train(data: pd.DataFrame | str | Path, *, target: str | None = None, task: str = "auto",
          metric: str | None = None, time_limit: float = 60.0, seed: int = 0, max_trials: int | None = None,
          n_jobs: int | None = None, learners: list[str] | None = None, ignore: list[str] | None = None,
          cost_fp: float | None = None, cost_fn: float | None = None, ray: str | None = None,
          max_rows: int | None = None, quiet: bool = False, text_columns: list[str] | None = None,
          reject_below: float | str | None = None, reject_precision: float = 0.9,
          reject_label: str = "out_of_scope", text_embeddings: bool = True, **options: Any) -> Model:
    """Train a ranked, ensembled model on `data` (a DataFrame or a file path).

    Parameters
    ----------
    target : the column to predict.
    task : "auto" (inferred from the target), "binary", "multiclass" or "regression".
    metric : the selection metric (default: roc_auc, log_loss or rmse by task).
    time_limit : seconds for the whole call, ensembling included.
    seed : makes the same data give the same leaderboard and predictions.
    max_trials : stop after this many configurations (default: until the time is spent).
    n_jobs : worker processes (default: one per core); with `ray`, the threads of the final refit.
    learners : restrict the search to these learner keys.
    ignore : data-check codes to silence (e.g. ["DQ004"]); see `kiln profile`.
    cost_fp, cost_fn : binary tasks: the costs of a false alarm and of a missed positive; the
        decision threshold then minimises expected cost on out-of-fold predictions (default: best F1).
    ray : run the trials as tasks on a Ray cluster: "auto" (the cluster this machine is in),
        "local" (start Ray here), "HOST:PORT" of a head node or "ray://HOST:10001". Needs
        `pip install -e '.[ray]'` in the kiln checkout; the same seed gives the same leaderboard as without it.
    max_rows : search on a sample of this many rows (stratified by class), then refit the chosen
        models on all rows (default: the rows one LightGBM fit gets through in a tenth of `time_limit`).
    quiet : no progress display.
    text_columns : columns to treat as free text whatever inference says.
    reject_below : "auto" or a confidence in (0, 1): rows below it are answered `reject_label`
        ("out_of_scope"); "auto" chooses it on out-of-fold predictions so the kept answers
        reach `reject_precision` (at the low end of a 95% interval).
    text_embeddings : give text columns sentence-embedding features for every learner, when the
        `kiln-ml[text]` extra is installed (False: TF-IDF and stacked scores only).
    options : the options of the other kinds, as `kiln train --help` lists them (task="forecast":
        time_column, id_column, horizon, frequency, quantiles, known_future; task="recommend":
        user_column, item_column, rating_column, time_column, item_features, min_rating, split;
        task="image": path_column, skip_bad); the model returned is that kind's.
    """
    from kiln.kinds import for_task
    from kiln.training.progress import Reporter, RichReporter
    from kiln.training.train import TrainSpec, train_model

    kind = for_task(task)
    if "train" in kind.hooks:  # every kind but tabular trains through its hook
        trainer = kind.hook("train")
        if ray is not None:  # a kind whose trainer takes it partitions its work; another refuses it below
            options = {**options, "ray": ray}
        unknown = sorted(set(options) - trainer.options)
        if unknown:
            raise InvalidOptionError(f"{', '.join(unknown)}: not an option of task {task!r}; "
                                     f"it takes {', '.join(sorted(trainer.options))}.")
        return trainer.train(data, target=target, task=task, options=options, time_limit=time_limit,  # type: ignore[no-any-return]
                             seed=seed, reporter=Reporter() if quiet else RichReporter(), started=None)
    if options:
        raise InvalidOptionError(f"{', '.join(sorted(options))}: not an option of a table model; "
                                 "choose the task it belongs to (forecast, recommend, image).")
    if target is None:
        raise InvalidOptionError("target is missing: name the column to predict, e.g. target='price'.")

    spec = TrainSpec(target=target, task=task, metric=metric, time_limit=time_limit, seed=seed,  # type: ignore[arg-type]
                     max_trials=max_trials, n_jobs=n_jobs, learners=tuple(learners) if learners else None,
                     ignore=tuple(ignore or ()), cost_fp=cost_fp, cost_fn=cost_fn, ray=ray, max_rows=max_rows,
                     text_columns=tuple(text_columns or ()), reject_below=reject_below,
                     reject_precision=reject_precision, reject_label=reject_label, text_embeddings=text_embeddings)
    return train_model(data, spec, Reporter() if quiet else RichReporter())


def load(path: str | Path) -> Model:
    """Load a model bundle, verifying its checksums; a tampered bundle is refused.

    `path` is a bundle folder or a registry address, `models:/NAME@ALIAS` (e.g. `@champion`)
    or `models:/NAME/VERSION`, fetched from the registry into KILN_HOME's cache once and
    checked against the manifest hash recorded at registration. With KILN_SIGNING_KEY set,
    an unsigned or wrongly signed bundle is refused.
    """
    from kiln.store.loading import load_model

    return load_model(path)


def save(model: Model, path: str | Path) -> Path:
    """Write `model` as a bundle folder (atomically), with its training report; returns its path."""
    from kiln.bundle import save_bundle
    from kiln.report import training_report

    return save_bundle(model, Path(path), report=training_report(model))


def evaluate(model: Model, data: pd.DataFrame | str | Path, *, threshold: float | None = None) -> Evaluation:
    """Score `model` on labelled `data` (it must hold the target column).

    Every metric of the task with a 95% bootstrap interval beside a trivial baseline,
    the decision threshold (binary: `threshold`, else the stored one, else 0.5)
    measured on these rows, metrics per categorical level, permutation importance,
    and the paired comparison of the top candidates. Tables: `.frame()`,
    `.slices_frame()`, `.importance_frame()`, `.comparisons_frame()`.
    """
    from kiln.evaluation.result import evaluate_model

    return evaluate_model(model, data, threshold=threshold)


def explain(model: Model, rows: pd.DataFrame | str | Path) -> pd.DataFrame:
    """SHAP contributions of each input column for each row, plus `base_value`.

    Explains the tree member with the largest weight: the log-odds of the positive
    class (binary), the raw score of the predicted class (multiclass) or the value
    (regression); contributions plus `base_value` add up to that output.
    """
    from kiln.data.load import read_table
    from kiln.evaluation.explain import shap_contributions

    return shap_contributions(model, read_table(rows))


def __getattr__(name: str) -> object:
    if name == "Model":
        from kiln.model import Model

        return Model
    raise AttributeError(f"module 'kiln' has no attribute {name!r}")
