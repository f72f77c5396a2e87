"""The tabular kind's monitor hook: per-feature drift, prediction drift, quality and live performance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kiln.monitor.alerts import AlertRules
from kiln.monitor.run import MonitorResult, assess
from kiln.monitor.window import TrafficWindow, read_window

if TYPE_CHECKING:
    from kiln.model import Model


class TabularMonitoring:
    """Traffic rows are the model's input columns; the reference is its training sample."""

    def traffic(self, name: str, model: Model, *, version: str | None = None, since: float | None = None,
                url: str | None = None, max_rows: int | None = None) -> TrafficWindow:
        return read_window(name, model.schema, version=version, since=since, url=url, max_rows=max_rows)

    def assess(self, model: Model, traffic: TrafficWindow, *, name: str, version: str, since: float | None,
               rules: AlertRules, windows: int = 6, **options: Any) -> MonitorResult:
        return assess(model, traffic, name=name, version=version, since=since, rules=rules, windows=windows,
                      **options)


MONITORING = TabularMonitoring()
