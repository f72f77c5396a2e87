"""kiln: from a table to a deployed, monitored model.

    import kiln
    model = kiln.train(df, target="Machine failure", time_limit=60)
    model.leaderboard(); model.predict(new_df); model.predict_proba(new_df)
    model.save("model/"); kiln.load("model/")

Heavy libraries are imported only when a function needs them, so `import kiln` and
`kiln --help` stay fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kiln.errors import BundleError, InvalidDataError, InvalidOptionError, KilnError, MissingDependencyError

if TYPE_CHECKING:
    import pandas as pd

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
    "load",
    "train",
]


def train(data: pd.DataFrame | str | Path, *, target: str, task: str = "auto", metric: str | None = None,
          time_limit: float = 60.0, seed: int = 0, max_trials: int | None = None, n_jobs: int | None = None,
          learners: list[str] | None = None, ignore: list[str] | None = None, cost_fp: float | None = None,
          cost_fn: float | None = None, ray: str | None = None, max_rows: int | None = None,
          quiet: bool = False) -> Model:
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
    """
    from kiln.console import Reporter, RichReporter
    from kiln.training import TrainSpec, train_model

    spec = TrainSpec(target=target, task=task, metric=metric, time_limit=time_limit, seed=seed,  # type: ignore[arg-type]
                     max_trials=max_trials, n_jobs=n_jobs, learners=tuple(learners) if learners else None,
                     ignore=tuple(ignore or ()), cost_fp=cost_fp, cost_fn=cost_fn, ray=ray, max_rows=max_rows)
    return train_model(data, spec, Reporter() if quiet else RichReporter())


def load(path: str | Path) -> Model:
    """Load a model bundle, verifying its checksums; a tampered bundle is refused.

    `path` is a bundle folder or a registry address, `models:/NAME@ALIAS` (e.g. `@champion`)
    or `models:/NAME/VERSION`, fetched from the registry into KILN_HOME's cache once and
    checked against the manifest hash recorded at registration. With KILN_SIGNING_KEY set,
    an unsigned or wrongly signed bundle is refused.
    """
    from kiln.bundle import load_bundle
    from kiln.store.model_uri import is_registry_uri

    if is_registry_uri(str(path)):
        from kiln.store.registry import resolve

        resolved = resolve(str(path))
        return load_bundle(resolved.path, manifest_sha256=resolved.manifest_sha256)
    return load_bundle(path)


def __getattr__(name: str) -> object:
    if name == "Model":
        from kiln.model import Model

        return Model
    raise AttributeError(f"module 'kiln' has no attribute {name!r}")
