"""The tabular kind (binary, multiclass, regression on a table): the registry's first entry."""

from __future__ import annotations

from kiln.kinds.registry import Kind, register

TABULAR = register(Kind(
    name="tabular",
    tasks=("binary", "multiclass", "regression"),
    description="a table and a target column; a value or class probabilities per row",
    hooks={
        "bundle": "kiln.bundle.tabular:FORMAT",
        "serve": "kiln.serve.tabular:SERVICE",
        "monitor": "kiln.monitor.tabular:MONITORING",
        "retrain": "kiln.retrain.tabular:GATE",
        "report": "kiln.report.tabular:REPORTS",
    },
))
