"""What a kind's monitor hook provides (the registry names it; kiln.kinds.registry)."""

from __future__ import annotations

from typing import Any, Protocol

from kiln.monitor.alerts import AlertRules


class Monitoring(Protocol):
    """Reads a kind's served traffic and judges it against the model's reference."""

    def traffic(self, name: str, model: Any, *, since: float | None, url: str | None) -> Any:
        """The logged requests (and their feedback labels) of `name` since `since`."""
        ...

    def assess(self, model: Any, traffic: Any, *, name: str, version: str, since: float | None,
               rules: AlertRules, windows: int = 6) -> Any:
        """The monitoring result (drift, live performance, alerts) of `traffic`."""
        ...
