"""MLflow, pointed at kiln's store: KILN_DB for tracking and registry, KILN_HOME/artifacts for files.

Also what a training run records: a bundle's manifest turned into MLflow parameters,
metrics and tags, so `mlflow ui --backend-store-uri <KILN_DB>` shows kiln's runs.
MLflow is imported inside functions only: `kiln --help` must not pay for it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kiln.errors import KilnError
from kiln.settings import kiln_home
from kiln.store.database import _redact, database_url, engine
from kiln.store.locking import database_lock

if TYPE_CHECKING:
    from mlflow import MlflowClient

_CLIENTS: dict[str, MlflowClient] = {}
_LOCK = threading.Lock()


def silence_mlflow_output() -> None:
    """For the CLI: no MLflow INFO logs, progress bars or library warnings in kiln's output.

    Set through MLflow's environment variables before it is imported, so it costs nothing.
    """
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    warnings.filterwarnings("ignore", module=r"mlflow(\.|$)")
    warnings.filterwarnings("ignore", module=r"alembic(\.|$)")


def client(url: str | None = None) -> MlflowClient:
    """An MlflowClient on `url` (default: KILN_DB), made once per process and database.

    The first call checks that the database answers (a clear error instead of MLflow's
    100 s of retries) and creates MLflow's schema under the registry lock, so processes
    starting together do not race in its migrations.
    """
    url = url or database_url()
    with _LOCK:
        if url in _CLIENTS:
            return _CLIENTS[url]
    # kiln's downloads are a few small files: no progress bars, unless the user asked for them.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    _check_reachable(url)
    _import_mlflow_quietly()
    from mlflow import MlflowClient

    with database_lock(url), registry_errors():
        made = MlflowClient(tracking_uri=url, registry_uri=url)  # builds the tracking store (schema)
        made.search_registered_models(max_results=1)  # and the registry store
    with _LOCK:
        return _CLIENTS.setdefault(url, made)


def use_fluent_api(url: str | None = None) -> None:
    """Point MLflow's module-level API (start_run, log_model, pyfunc.load_model) at KILN_DB."""
    import mlflow

    url = url or database_url()
    mlflow.set_tracking_uri(url)
    mlflow.set_registry_uri(url)


def experiment_id(mlflow_client: MlflowClient, model_name: str) -> str:
    """The experiment `kiln/<name>`, created with its artifacts under KILN_HOME/artifacts."""
    from mlflow.exceptions import MlflowException

    name = f"kiln/{model_name}"
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return mlflow_client.create_experiment(name, artifact_location=artifact_location(model_name),
                                               tags={"kiln.model": model_name})
    except MlflowException:  # another process created it first (PostgreSQL writers do not queue)
        found = mlflow_client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def artifact_location(model_name: str) -> str:
    """KILN_HOME/artifacts/<name>, as a file URI; a hash keeps sanitised names apart."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", model_name)
    if safe != model_name:
        safe += "-" + hashlib.sha256(model_name.encode()).hexdigest()[:8]
    folder = kiln_home() / "artifacts" / safe
    return folder.as_uri()


@contextmanager
def quiet_logger(name: str, level: int = logging.ERROR) -> Iterator[None]:
    """Raise one MLflow logger's level while a block runs, for a message kiln expects and handles."""
    logger = logging.getLogger(name)
    before = logger.level
    logger.setLevel(max(level, before))
    try:
        yield
    finally:
        logger.setLevel(before)


@contextmanager
def registry_errors(not_found: str | None = None) -> Iterator[None]:
    """MLflow's and the database's exceptions, as one KilnError sentence."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        if not_found and exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise KilnError(not_found) from exc
        raise KilnError(f"The model registry (KILN_DB '{_redact(database_url())}') refused the request: "
                        f"{_first_line(exc.message)}") from exc


def run_params(manifest: dict[str, Any]) -> dict[str, str]:
    """What was asked for: task, target, metric, seed, budget, data shape, the ensemble."""
    training = manifest.get("training", {})
    cv = manifest.get("cv", {})
    members = manifest.get("members", [])
    params = {
        "task": manifest.get("task"), "target": manifest.get("target"), "metric": manifest.get("metric"),
        "seed": training.get("seed"), "time_limit": training.get("time_limit"),
        "max_trials": training.get("max_trials"), "rows": training.get("rows"),
        "columns": training.get("columns"), "trials": training.get("trials"),
        "n_folds": cv.get("n_folds"), "model": cv.get("model"),
        "members": ", ".join(f"{m['name']}×{float(m.get('weight', 1.0)):.3g}" for m in members),
        "kiln_version": manifest.get("kiln_version"),
    }
    return {key: str(value)[:6000] for key, value in params.items() if value is not None and value != ""}


def run_metrics(manifest: dict[str, Any]) -> dict[str, float]:
    """What came out: the CV score and its 95% interval, the decision threshold, the time taken."""
    cv = manifest.get("cv", {})
    metric = cv.get("metric") or manifest.get("metric") or "score"
    values: dict[str, Any] = {f"cv_{metric}": cv.get("score"), f"cv_{metric}_ci_low": cv.get("ci_low"),
                              f"cv_{metric}_ci_high": cv.get("ci_high")}
    decision = manifest.get("decision") or {}
    if decision.get("threshold") is not None:
        values["decision_threshold"] = decision["threshold"]
        values[f"decision_{decision.get('objective', 'objective')}"] = decision.get("value")
    training = manifest.get("training", {})
    values["training_seconds"] = training.get("seconds")
    return {key: float(value) for key, value in values.items() if _is_number(value)}


def learning_curve(manifest: dict[str, Any]) -> list[tuple[str, float, int]]:
    """(metric key, score, rows) per learning-curve point, logged as steps of one metric."""
    curve = manifest.get("learning_curve") or {}
    key = f"learning_curve_{curve.get('metric', 'score')}"
    return [(key, float(p["score"]), int(p["rows"])) for p in curve.get("points", []) if _is_number(p.get("score"))]


def run_tags(manifest: dict[str, Any]) -> dict[str, str]:
    """The training data's fingerprint and where the bundle came from."""
    training = manifest.get("training", {})
    tags = {"kiln.data_sha256": training.get("data_sha256"), "kiln.data_rows": training.get("rows"),
            "kiln.data_columns": training.get("columns"), "kiln.created": manifest.get("created"),
            "kiln.task": manifest.get("task"), "kiln.target": manifest.get("target")}
    return {key: str(value) for key, value in tags.items() if value is not None}


def _is_number(value: Any) -> bool:
    import math

    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_reachable(url: str) -> None:
    from sqlalchemy import text

    from kiln.store.tables import ensure_tables

    try:
        db = engine(url)
        with db.connect() as connection:
            connection.execute(text("SELECT 1"))
        with database_lock(url):
            ensure_tables(db)  # kiln's tables, and SQLite's WAL mode, before MLflow opens the file
    except KilnError:
        raise
    except Exception as exc:
        raise KilnError(f"Cannot reach KILN_DB '{_redact(url)}' ({_first_line(str(exc))}); check that the database "
                        "server runs and the URL is right, or unset KILN_DB to use the local SQLite file.") from exc


def _import_mlflow_quietly() -> None:
    """Import the parts of MLflow kiln uses, without their import-time warnings.

    MLflow 3.17 maps a relationship with SQLAlchemy 2.1's deprecated `noload` strategy, and
    `mlflow.pyfunc` warns about a type hint of its own agent schemas: warnings about MLflow's
    code that no kiln user can act on.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mlflow.pyfunc
        import mlflow.store.model_registry.sqlalchemy_store
        import mlflow.store.tracking.sqlalchemy_store  # noqa: F401


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    line = lines[0] if lines else "no detail"
    return line if len(line) <= 300 else line[:297] + "..."
