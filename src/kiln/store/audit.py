"""The promotion audit: who moved which alias of which model, when, why, on what evidence.

One row per register, promote, rollback or alias change, in kiln's `kiln_audit` table
beside MLflow's. MLflow keeps only the current alias; this keeps the history, which
is also what `rollback` reads to find the previous champion.
"""

from __future__ import annotations

import getpass
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from kiln.store.database import engine
from kiln.store.tables import audit, ensure_tables

ACTIONS = ("register", "promote", "rollback", "set_alias", "keep")  # keep: a decision that moved no alias


@dataclass(frozen=True)
class AuditEntry:
    """One audited change of an alias: `alias` moved from `from_version` to `to_version`."""

    id: int
    model: str
    action: str
    alias: str
    from_version: str | None
    to_version: str
    actor: str
    at: datetime
    reason: str
    metrics: dict[str, Any] = field(default_factory=dict)


def actor_name(actor: str | None) -> str:
    """The given actor, else the login name (containers may have none: 'unknown')."""
    if actor:
        return actor
    try:
        return getpass.getuser()
    except Exception:  # no login name in the environment or the password database
        return "unknown"


def record(*, model: str, action: str, alias: str, from_version: str | None, to_version: str,
           actor: str | None, reason: str, metrics: dict[str, Any] | None = None,
           url: str | None = None) -> AuditEntry:
    """Append one row and return it."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; one of {ACTIONS}")
    db = engine(url)
    ensure_tables(db)
    row = {"model": model, "action": action, "alias": alias, "from_version": from_version,
           "to_version": str(to_version), "actor": actor_name(actor), "at": time.time(), "reason": reason,
           "metrics": _finite(metrics or {})}
    with db.begin() as connection:
        new_id = connection.execute(audit.insert().values(**row)).inserted_primary_key[0]
    return _entry({**row, "id": new_id})


def history(model: str, *, url: str | None = None) -> list[AuditEntry]:
    """Every row for `model`, oldest first."""
    db = engine(url)
    ensure_tables(db)
    query = audit.select().where(audit.c.model == model).order_by(audit.c.id)
    with db.connect() as connection:
        return [_entry(dict(row._mapping)) for row in connection.execute(query)]


def previous_holder(entries: list[AuditEntry], current: str | None, alias: str = "champion") -> str | None:
    """The version that held `alias` before `current`, replaying the audit as a stack.

    Register/promote/set_alias push the new holder, rollback pops; so rolling back twice
    after one promotion finds nothing, rather than flipping between two versions.
    """
    stack: list[str] = []
    for entry in entries:
        if entry.alias != alias:
            continue
        if entry.action == "rollback":
            if stack:
                stack.pop()
            if not stack or stack[-1] != entry.to_version:
                stack.append(entry.to_version)
        elif not stack or stack[-1] != entry.to_version:
            stack.append(entry.to_version)
    while stack and stack[-1] == current:
        stack.pop()
    return stack[-1] if stack else None


def _entry(row: dict[str, Any]) -> AuditEntry:
    return AuditEntry(id=int(row["id"]), model=row["model"], action=row["action"], alias=row["alias"],
                      from_version=row["from_version"], to_version=row["to_version"], actor=row["actor"],
                      at=datetime.fromtimestamp(row["at"], tz=timezone.utc), reason=row["reason"],
                      metrics=dict(row["metrics"] or {}))


def _finite(metrics: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe values: plain floats, NaN and infinities as null (PostgreSQL's JSON has no NaN)."""
    clean: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or value is None or isinstance(value, str):
            clean[str(key)] = value
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                clean[str(key)] = str(value)
                continue
            clean[str(key)] = number if math.isfinite(number) else None
    return clean
