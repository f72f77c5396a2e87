"""What a kind's monitor hook provides (the registry names it; kiln.kinds.registry)."""

from __future__ import annotations

from typing import Any, Protocol

from kiln.monitor.alerts import AlertRules


class Monitoring(Protocol):
    """Reads a kind's served traffic and judges it against the model's reference."""

    def traffic(self, name: str, model: Any, *, version: str | None = None, since: float | None = None,
                url: str | None = None, max_rows: int | None = None) -> Any:
        """The logged requests (and their feedback labels) of `name` (one `version`, or all) since `since`,
        at most `max_rows` of them."""
        ...

    def assess(self, model: Any, traffic: Any, *, name: str, version: str, since: float | None,
               rules: AlertRules, windows: int = 6) -> Any:
        """The monitoring result (drift, live performance, alerts) of `traffic`."""
        ...
