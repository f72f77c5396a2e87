"""The forecast kind: a long table of series (id, time, target, covariates) → H steps ahead with quantiles."""

from __future__ import annotations

from kiln.kinds.registry import Kind, register

FORECAST = register(Kind(
    name="forecast",
    tasks=("forecast",),
    description="a long table of time series; the next H steps of each with quantiles 0.1 … 0.9",
    hooks={
        "bundle": "kiln.bundle.forecast:FORMAT",
        "serve": "kiln.serve.forecast:SERVICE",
        "monitor": "kiln.monitor.forecast:MONITORING",
        "retrain": "kiln.retrain.forecast:GATE",
        "report": "kiln.report.forecast:REPORTS",
        "train": "kiln.training.forecast:TRAINER",
        "predict": "kiln.predict.forecast:PREDICTOR",
        "profile": "kiln.report.forecast:PROFILER",
        "evaluate": "kiln.report.forecast:EVALUATOR",
    },
))
