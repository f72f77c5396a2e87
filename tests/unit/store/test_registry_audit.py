"""The promotion audit: rows written and read back, and the rollback target found by replaying them."""

from __future__ import annotations

import getpass
import math
from datetime import datetime, timezone

import pytest

from kiln.store import audit
from kiln.store.audit import AuditEntry, previous_holder


@pytest.fixture
def db(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'kiln.db'}"
    monkeypatch.setenv("KILN_DB", url)
    return url


def entry(action: str, to: str, alias: str = "champion", source: str | None = None) -> AuditEntry:
    return AuditEntry(0, "m", action, alias, source, to, "me", datetime.now(timezone.utc), "")


def test_record_and_history_round_trip(db) -> None:
    written = audit.record(model="m", action="promote", alias="champion", from_version="1", to_version="2",
                           actor=None, reason="beats v1", metrics={"p_value": 0.01, "bad": math.nan})
    audit.record(model="other", action="register", alias="champion", from_version=None, to_version="1",
                 actor="ci", reason="first")

    history = audit.history("m")

    assert history == [written]
    assert written.actor == getpass.getuser() and written.reason == "beats v1"
    assert written.metrics == {"p_value": 0.01, "bad": None}  # NaN is not JSON (PostgreSQL refuses it)
    assert written.at.tzinfo is timezone.utc


def test_unknown_action_is_refused(db) -> None:
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record(model="m", action="delete", alias="champion", from_version=None, to_version="1",
                     actor=None, reason="")


def test_previous_champion_after_one_promotion_is_the_first() -> None:
    history = [entry("register", "1"), entry("register", "2", alias="challenger"), entry("promote", "2")]

    assert previous_holder(history, current="2") == "1"


def test_rolling_back_twice_after_one_promotion_finds_nothing() -> None:
    history = [entry("register", "1"), entry("promote", "2"), entry("rollback", "1", source="2")]

    assert previous_holder(history, current="1") is None


def test_rollbacks_walk_back_through_several_promotions() -> None:
    history = [entry("register", "1"), entry("promote", "2"), entry("promote", "3"), entry("rollback", "2", source="3")]

    assert previous_holder(history, current="2") == "1"


def test_a_champion_set_outside_kiln_rolls_back_to_the_last_recorded_one() -> None:
    history = [entry("register", "1"), entry("promote", "2")]

    assert previous_holder(history, current="5") == "2"


def test_other_aliases_do_not_count() -> None:
    history = [entry("register", "1"), entry("set_alias", "4", alias="challenger")]

    assert previous_holder(history, current="1") is None
