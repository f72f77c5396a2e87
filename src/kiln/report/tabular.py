"""The tabular kind's reports: the hook the kind registry names for the report layer."""

from __future__ import annotations

from typing import Any


class TabularReports:
    """Pages of a tabular model."""

    def training(self, model: Any) -> str:
        from kiln.report.training import render_training

        return render_training(model)


REPORTS = TabularReports()
