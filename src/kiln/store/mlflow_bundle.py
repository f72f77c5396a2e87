"""The kiln bundle inside an MLflow model: log it with its training run, find it, fetch it.

The bundle is stored once, as the artifact "bundle" of a pyfunc model logged from code
(`pyfunc_model.py`), so the same files serve `kiln.load("models:/...")` and
`mlflow.pyfunc.load_model("models:/...")`. In MLflow 3 `log_model(name=...)` makes a
LoggedModel linked to the run; its files live under the experiment's artifact location
(`<KILN_HOME>/artifacts/<name>/models/<model id>/artifacts`), not under the run's folder.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.store.bundle_cache import cached_bundle
from kiln.store.tracking import learning_curve, quiet_logger, run_metrics, run_params, run_tags

if TYPE_CHECKING:
    from mlflow import MlflowClient

PYFUNC_FILE = Path(__file__).with_name("pyfunc_model.py")
RUN_ARTIFACTS = ("leaderboard.csv", "report.html")
BUNDLE_ARTIFACT = "bundle"  # the same key as in pyfunc_model.py


# kiln is not published on the package index: a bare "kiln-ml" requirement would install
# whatever anyone uploads under that name. The logged model names this installation's own
# source (a direct reference, which pip never resolves through an index) or nothing.
INSTALL_NOTE = ("kiln is not on PyPI; install it from the checkout or wheel this model was trained with "
                "(pip install -e /path/to/kiln, or pip install kiln_ml-VERSION-py3-none-any.whl).")


def kiln_requirements() -> list[str]:
    """`kiln-ml @ file:///...` for an install from a local checkout or wheel (PEP 610's direct_url.json);
    no kiln requirement otherwise (INSTALL_NOTE, in the model's metadata, says what to install)."""
    import json
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        origin = json.loads(distribution("kiln-ml").read_text("direct_url.json") or "{}")
    except (PackageNotFoundError, json.JSONDecodeError):
        return []
    url = origin.get("url", "")
    return [f"kiln-ml @ {url}"] if url.startswith("file://") else []


@dataclass(frozen=True)
class LoggedBundle:
    run_id: str
    model_id: str
    model_uri: str  # models:/<model id>, the source of the registered version
    location: str  # where the MLflow model's files are
    local: Path  # the verified copy in the cache


def log_bundle(mlflow_client: MlflowClient, bundle: Path, manifest: dict[str, Any], *, model_name: str,
               experiment: str, actor: str, manifest_sha256: str) -> LoggedBundle:
    """Log a training run (parameters, metrics, data fingerprint, leaderboard, report) and the
    bundle as its MLflow model; then fetch the logged copy back and load it, checking that its
    kiln.json is the one registered (`manifest_sha256`).

    The run ends FAILED when anything here fails, and no model version exists for it.
    """
    import mlflow

    tags = {**run_tags(manifest), "mlflow.user": actor, "kiln.bundle": str(bundle),
            "kiln.manifest_sha256": manifest_sha256}
    # Nested when the caller has a run open (a notebook's own tracking), instead of refusing.
    with mlflow.start_run(experiment_id=experiment, run_name=bundle.name, tags=tags,
                          nested=mlflow.active_run() is not None) as run:
        mlflow.log_params(run_params(manifest))
        mlflow.log_metrics(run_metrics(manifest))
        for key, value, step in learning_curve(manifest):
            mlflow.log_metric(key, value, step=step)
        for name in RUN_ARTIFACTS:
            if (bundle / name).is_file():
                mlflow.log_artifact(str(bundle / name))
        # No signature on purpose: kiln's data contract checks inputs (and tolerates unseen
        # categories), so MLflow's "cannot infer a signature" warning is expected noise.
        with quiet_logger("mlflow.pyfunc"):
            info = mlflow.pyfunc.log_model(name="model", python_model=str(PYFUNC_FILE),
                                           artifacts={BUNDLE_ARTIFACT: str(bundle)},
                                           pip_requirements=kiln_requirements(),
                                           metadata={"kiln_install": INSTALL_NOTE})
        location = mlflow_client.get_logged_model(info.model_id).artifact_location
        local = fetch_bundle(location, model_name=model_name, manifest_sha256=manifest_sha256)
    return LoggedBundle(run.info.run_id, info.model_id, info.model_uri, location, local)


def fetch_bundle(location: str, *, model_name: str, manifest_sha256: str) -> Path:
    """The bundle of the MLflow model at `location`, as a verified local folder (downloaded once),
    whose kiln.json has the sha256 the registry recorded."""
    digest = hashlib.sha256(location.encode()).hexdigest()[:16]
    return cached_bundle(f"{_safe(model_name)}-{digest}", lambda folder: _download(location, folder),
                         manifest_sha256=manifest_sha256)


def _download(location: str, folder: Path) -> Path:
    import mlflow
    from mlflow.models import Model

    from kiln.errors import BundleError

    meta = mlflow.artifacts.download_artifacts(artifact_uri=f"{location}/MLmodel", dst_path=str(folder / "meta"))
    artifacts = Model.load(meta).flavors.get("python_function", {}).get("artifacts") or {}
    relative = (artifacts.get(BUNDLE_ARTIFACT) or {}).get("path")
    if not relative:
        raise BundleError(f"The MLflow model at '{location}' holds no kiln bundle; it was not registered by kiln.")
    fetched = mlflow.artifacts.download_artifacts(artifact_uri=f"{location}/{relative}",
                                                  dst_path=str(folder / "bundle"))
    return Path(fetched)


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:64] or "model"
