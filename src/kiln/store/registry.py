"""The model registry, through MLflow's: register bundles, move aliases, resolve addresses.

    register(bundle, name)        a tracked run + a new model version (first: champion, later: challenger)
    promote(name, version)        move `champion` (or another alias); audited
    record_decision(name, version) audit a challenger declined (the champion kept), moving nothing
    rollback(name)                champion back to the previous champion, found in the audit
    resolve("models:/NAME@ALIAS") a local, checksum-verified bundle folder (downloaded once)

The checksums inside a bundle certify only against corruption: they live in the file they
certify. So `register` records the sha256 of the bundle's kiln.json as the version's tag
`kiln.manifest_sha256` (in KILN_DB, not beside the files), and `resolve` refuses a copy
whose kiln.json differs: a bundle swapped in the artifact store does not load.

Publication is atomic: the bundle is logged inside an MLflow model, fetched back and
loaded, and only then is a model version created, so every version the registry
reports loads. A process killed midway leaves an orphan run (and perhaps an unfinished
LoggedModel) but no model version. Registry writes hold `database_lock` (a file lock
for SQLite, an advisory lock for PostgreSQL) so concurrent registrations queue instead
of failing with "database is locked" or colliding on a version number.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.errors import BundleError, InvalidOptionError, KilnError
from kiln.store import audit
from kiln.store.audit import AuditEntry
from kiln.store.database import database_url, is_sqlite
from kiln.store.locking import database_lock
from kiln.store.model_uri import check_name, check_version, is_registry_uri, parse_model_uri
from kiln.store.tracking import client, experiment_id, registry_errors, use_fluent_api

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

__all__ = ["AuditEntry", "ModelDetails", "ModelSummary", "RegisteredVersion", "ResolvedModel", "VersionInfo",
           "alias_version", "audit_history", "is_registry_uri", "list_models", "promote", "record_decision",
           "register", "resolve", "rollback", "set_alias", "show"]

CHAMPION, CHALLENGER = "champion", "challenger"
MANIFEST_TAG = "kiln.manifest_sha256"  # a version's tag: the sha256 of its bundle's kiln.json


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model address led: a local bundle folder, and the registry entry if there was one."""

    path: Path
    name: str | None
    version: str | None
    alias: str | None
    manifest_sha256: str | None = None  # what the registry recorded; pass it on to load_bundle


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class VersionInfo:
    """One version as `kiln models show` lists it: aliases, when, which run, its CV score."""

    version: str
    aliases: tuple[str, ...]
    created: datetime
    run_id: str | None
    source: str
    task: str | None
    metric: str | None
    score: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class ModelSummary:
    name: str
    versions: int
    latest: str | None
    aliases: dict[str, str]
    updated: datetime
    metric: str | None
    champion_score: float | None


@dataclass(frozen=True)
class ModelDetails:
    name: str
    aliases: dict[str, str]
    versions: list[VersionInfo]
    audit: list[AuditEntry] = field(default_factory=list)


def resolve(uri_or_path: str | Path) -> ResolvedModel:
    """A bundle folder as it is, or `models:/NAME@ALIAS` / `models:/NAME/VERSION` fetched into
    KILN_HOME/cache (once per version, atomically) and verified."""
    from kiln.bundle import verify_bundle
    from kiln.store.mlflow_bundle import fetch_bundle

    text = str(uri_or_path)
    if not is_registry_uri(text):
        verify_bundle(text)
        return ResolvedModel(Path(text), None, None, None)
    name, version, alias = parse_model_uri(text)
    mlflow_client = client()
    with _missing_as_error(mlflow_client, name, version=version, alias=alias):
        if alias:
            version = _holder(mlflow_client, name, alias)
            if version is None:
                raise _no_alias(mlflow_client, name, alias)
        expected = (mlflow_client.get_model_version(name, version).tags or {}).get(MANIFEST_TAG)
        location = mlflow_client.get_model_version_download_uri(name, version)
    if not expected:
        raise BundleError(f"Version {version} of '{name}' has no recorded manifest hash (registered by an older kiln), "
                          "so a swapped artifact could not be detected; register its bundle again.")
    return ResolvedModel(fetch_bundle(location, model_name=name, manifest_sha256=expected), name, version, alias,
                         expected)


def alias_version(name: str, alias: str) -> str | None:
    """The version `alias` points to now, or None: one indexed query, fit for polling."""
    from mlflow.exceptions import MlflowException

    mlflow_client = client()
    try:
        return _holder(mlflow_client, name, alias)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise KilnError(f"Cannot read alias '{alias}' of '{name}' from the registry: {exc.message}") from exc


def register(bundle: Path, name: str, *, actor: str | None = None) -> RegisteredVersion:
    """Track the training run of `bundle` and register it as a new version of `name`.

    The first version of a name becomes `champion`, later ones `challenger`. If the process
    dies before the version is created, MLflow keeps an orphan run; no version points to it.
    """
    from kiln.bundle import manifest_digest, verify_bundle
    from kiln.store.mlflow_bundle import log_bundle

    name = check_name(name)
    bundle = Path(bundle).resolve()
    digest = manifest_digest(bundle)
    manifest = verify_bundle(bundle, manifest_sha256=digest)  # a damaged bundle is refused before anything is written
    who = audit.actor_name(actor)
    url = database_url()
    mlflow_client = client(url)
    use_fluent_api(url)
    # SQLite takes one writer at a time: hold the lock for the whole sequence. A server
    # database only needs it where versions are numbered and aliases moved.
    with database_lock(url) if is_sqlite(url) else nullcontext(), registry_errors():
        logged = log_bundle(mlflow_client, bundle, manifest, model_name=name,
                            experiment=experiment_id(mlflow_client, name), actor=who, manifest_sha256=digest)
        with database_lock(url):
            _ensure_registered_model(mlflow_client, name)
            created = mlflow_client.create_model_version(name, source=logged.model_uri, run_id=logged.run_id,
                                                         model_id=logged.model_id,
                                                         tags={**_version_tags(manifest), MANIFEST_TAG: digest})
            version = str(created.version)
            alias = CHALLENGER if _holder(mlflow_client, name, CHAMPION) else CHAMPION
            previous = _holder(mlflow_client, name, alias)
            mlflow_client.set_registered_model_alias(name, alias, version)
            audit.record(model=name, action="register", alias=alias, from_version=previous, to_version=version,
                         actor=who, reason=f"registered {bundle}", metrics=_cv_metrics(manifest))
    return RegisteredVersion(name, version, logged.run_id, (alias,))


def promote(name: str, version: str, *, reason: str, actor: str | None = None, alias: str = CHAMPION,
            metrics: dict[str, Any] | None = None) -> AuditEntry:
    """Point `alias` (default champion) at `version`, recording who, why and the evidence.

    Promoting a version to champion also clears its challenger alias: it no longer challenges.
    """
    return _move_alias(name, version, alias=alias, action="promote", reason=reason, actor=actor,
                       metrics=metrics, refuse_same=True)


def set_alias(name: str, alias: str, version: str, *, reason: str = "", actor: str | None = None) -> AuditEntry:
    """Point any alias (e.g. challenger) at `version`; audited like a promotion."""
    return _move_alias(name, version, alias=alias, action="set_alias", reason=reason or f"set {alias}",
                       actor=actor, metrics=None, refuse_same=False)


def record_decision(name: str, declined: str, *, reason: str, actor: str | None = None,
                    metrics: dict[str, Any] | None = None) -> AuditEntry:
    """Audit a decision to keep the champion over version `declined` (e.g. a failed retrain gate).

    No alias moves; the row reads `keep champion declined → champion`, so the history shows
    every challenger that was weighed, and `rollback`'s replay of champions is unchanged.
    """
    name, declined = check_name(name), check_version(declined)
    mlflow_client = client()
    with database_lock(), _missing_as_error(mlflow_client, name, version=declined):
        mlflow_client.get_model_version(name, declined)
        current = _holder(mlflow_client, name, CHAMPION)
        if current is None:
            raise KilnError(f"Model '{name}' has no champion to keep; promote a version first: "
                            f"kiln models promote {name} VERSION.")
        return audit.record(model=name, action="keep", alias=CHAMPION, from_version=declined, to_version=current,
                            actor=actor, reason=reason, metrics=metrics)


def rollback(name: str, *, reason: str, actor: str | None = None) -> AuditEntry:
    """Give `champion` back to the version that held it before the current one (from the audit)."""
    name = check_name(name)
    mlflow_client = client()
    with database_lock(), _missing_as_error(mlflow_client, name):
        current = _holder(mlflow_client, name, CHAMPION)
        if current is None:
            raise KilnError(f"Model '{name}' has no champion to roll back; promote a version first: "
                            f"kiln models promote {name} VERSION.")
        target = audit.previous_holder(audit.history(name), current)
        if target is None:
            raise KilnError(f"Model '{name}' has no earlier champion than version {current} in its audit history; "
                            "there is nothing to roll back to.")
        target_version = mlflow_client.get_model_version(name, target)
        mlflow_client.set_registered_model_alias(name, CHAMPION, target)
        return audit.record(model=name, action="rollback", alias=CHAMPION, from_version=current,
                            to_version=target, actor=actor, reason=reason,
                            metrics=_tag_metrics(target_version.tags))


def list_models() -> list[ModelSummary]:
    """Every registered model with its version count, aliases and champion's CV score."""
    mlflow_client = client()
    summaries = []
    with registry_errors():
        for model in _all_pages(lambda token: mlflow_client.search_registered_models(max_results=200,
                                                                                     page_token=token)):
            aliases = {alias: str(v) for alias, v in (model.aliases or {}).items()}
            versions = _versions(mlflow_client, model.name, aliases)
            champion = next((v for v in versions if v.version == aliases.get(CHAMPION)), None)
            summaries.append(ModelSummary(
                name=model.name, versions=len(versions), latest=versions[0].version if versions else None,
                aliases=aliases, updated=_time(model.last_updated_timestamp),
                metric=champion.metric if champion else None,
                champion_score=champion.score if champion else None))
    return sorted(summaries, key=lambda s: s.name)


def show(name: str) -> ModelDetails:
    """One model: its versions (newest first) with aliases and CV scores, and its audit history."""
    name = check_name(name)
    mlflow_client = client()
    with _missing_as_error(mlflow_client, name):
        model = mlflow_client.get_registered_model(name)
        aliases = {alias: str(v) for alias, v in (model.aliases or {}).items()}
        versions = _versions(mlflow_client, name, aliases)
    return ModelDetails(name, aliases, versions, audit.history(name))


def audit_history(name: str) -> list[AuditEntry]:
    """Every register, promotion, alias change and rollback of `name`, oldest first."""
    return audit.history(check_name(name))


def _move_alias(name: str, version: str, *, alias: str, action: str, reason: str, actor: str | None,
                metrics: dict[str, Any] | None, refuse_same: bool) -> AuditEntry:
    name, version = check_name(name), check_version(version)
    mlflow_client = client()
    with database_lock(), _missing_as_error(mlflow_client, name, version=version):
        target = mlflow_client.get_model_version(name, version)
        current = _holder(mlflow_client, name, alias)
        if refuse_same and current == version:
            raise InvalidOptionError(f"Version {version} of '{name}' is already the {alias}; nothing to promote.")
        mlflow_client.set_registered_model_alias(name, alias, version)
        if alias == CHAMPION and _holder(mlflow_client, name, CHALLENGER) == version:
            mlflow_client.delete_registered_model_alias(name, CHALLENGER)
        return audit.record(model=name, action=action, alias=alias, from_version=current, to_version=version,
                            actor=actor, reason=reason, metrics={**_tag_metrics(target.tags), **(metrics or {})})


def _no_model(mlflow_client: MlflowClient, name: str) -> KilnError:
    """No model `name`: say where kiln looked, the closest registered name, and a registry nearby."""
    import difflib

    from kiln.store.location import describe, hint

    try:
        names = [m.name for m in _all_pages(lambda token: mlflow_client.search_registered_models(
            max_results=200, page_token=token))]
    except Exception:  # the registry cannot be listed: the sentence still says where kiln looked
        names = []
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    known = f"did you mean '{close[0]}'?" if close else "`kiln models list` shows the names."
    return KilnError(f"No registered model named '{name}' in {describe()}; {known}{hint()}")


def _holder(mlflow_client: MlflowClient, name: str, alias: str) -> str | None:
    """The version holding `alias`, None if no version does; MLflow's not-found if `name` is unknown.

    Read from the registered model's alias map: MLflow reports a missing alias as an invalid
    parameter, indistinguishable from a real error, so `get_model_version_by_alias` is not used.
    """
    version = (mlflow_client.get_registered_model(name).aliases or {}).get(alias)
    return None if version is None else str(version)


def _no_alias(mlflow_client: MlflowClient, name: str, alias: str) -> KilnError:
    known = ", ".join(v.version for v in reversed(_versions(mlflow_client, name))) or "none"
    return KilnError(f"Model '{name}' has no alias '{alias}' (versions: {known}); set it with "
                     f"kiln models promote {name} VERSION.")


def _ensure_registered_model(mlflow_client: MlflowClient, name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        mlflow_client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        mlflow_client.create_registered_model(name, tags={"kiln": "true"},
                                              description="Registered by kiln; each version holds a kiln bundle.")


def _versions(mlflow_client: MlflowClient, name: str, aliases: dict[str, str] | None = None) -> list[VersionInfo]:
    """Every version, newest first; aliases from the model's alias map (searches leave them out)."""
    found = _all_pages(lambda token: mlflow_client.search_model_versions(f"name = '{name}'", max_results=200,
                                                                         page_token=token))
    by_version: dict[str, list[str]] = {}
    for alias, version in (aliases or {}).items():
        by_version.setdefault(str(version), []).append(alias)
    return sorted((_version_info(v, by_version.get(str(v.version), [])) for v in found),
                  key=lambda v: int(v.version), reverse=True)


def _version_info(version: ModelVersion, aliases: list[str]) -> VersionInfo:
    tags = version.tags or {}
    numbers = _tag_metrics(tags)
    return VersionInfo(version=str(version.version), aliases=tuple(sorted(aliases)),
                       created=_time(version.creation_timestamp), run_id=version.run_id or None,
                       source=version.source, task=tags.get("kiln.task"),
                       metric=tags.get("kiln.metric"), score=numbers.get("cv_score"),
                       ci_low=numbers.get("cv_ci_low"), ci_high=numbers.get("cv_ci_high"))


def _version_tags(manifest: dict[str, Any]) -> dict[str, str]:
    """What `show` lists without opening runs: task, metric, CV score and interval, data hash."""
    cv = manifest.get("cv", {})
    training = manifest.get("training", {})
    tags = {"kiln.task": manifest.get("task"), "kiln.target": manifest.get("target"),
            "kiln.metric": cv.get("metric") or manifest.get("metric"), "kiln.cv_score": cv.get("score"),
            "kiln.cv_ci_low": cv.get("ci_low"), "kiln.cv_ci_high": cv.get("ci_high"),
            "kiln.data_sha256": training.get("data_sha256"), "kiln.version": manifest.get("kiln_version")}
    return {key: str(value) for key, value in tags.items() if value is not None}


def _cv_metrics(manifest: dict[str, Any]) -> dict[str, Any]:
    cv = manifest.get("cv", {})
    return {"metric": cv.get("metric"), "cv_score": cv.get("score"), "cv_ci_low": cv.get("ci_low"),
            "cv_ci_high": cv.get("ci_high")}


def _tag_metrics(tags: dict[str, str] | None) -> dict[str, Any]:
    tags = tags or {}
    out: dict[str, Any] = {"metric": tags.get("kiln.metric")} if tags.get("kiln.metric") else {}
    for key in ("cv_score", "cv_ci_low", "cv_ci_high"):
        try:
            out[key] = float(tags[f"kiln.{key}"])
        except (KeyError, ValueError):
            continue
    return out


def _all_pages(fetch: Any) -> list[Any]:
    items, token = [], None
    while True:
        page = fetch(token)
        items.extend(page)
        token = page.token
        if not token:
            return items


def _time(milliseconds: int | None) -> datetime:
    return datetime.fromtimestamp((milliseconds or 0) / 1000, tz=timezone.utc)


@contextmanager
def _missing_as_error(mlflow_client: MlflowClient, name: str, *, version: str | None = None,
                      alias: str | None = None) -> Iterator[None]:
    """'Not found' from MLflow as one sentence that says which part is missing and what exists."""
    from mlflow.exceptions import MlflowException

    try:
        with registry_errors():
            yield
    except KilnError as exc:
        cause = exc.__cause__
        if not (isinstance(cause, MlflowException) and cause.error_code == "RESOURCE_DOES_NOT_EXIST"):
            raise
        try:
            mlflow_client.get_registered_model(name)
        except MlflowException:
            raise _no_model(mlflow_client, name) from None
        if alias:
            raise _no_alias(mlflow_client, name, alias) from None
        if version is None:
            raise
        known = ", ".join(v.version for v in reversed(_versions(mlflow_client, name))) or "none"
        raise KilnError(f"Model '{name}' has no version {version} (versions: {known}).") from None
