"""The image kind: a folder of labelled pictures (ImageFolder: root/<class>/<file>) or a table of paths,
to class probabilities per image."""

from __future__ import annotations

from kiln.kinds.registry import Kind, register

IMAGE = register(Kind(
    name="image",
    tasks=("image",),
    description="a folder of labelled images (or a table of paths); class probabilities per image",
    hooks={
        "bundle": "kiln.bundle.image:FORMAT",
        "serve": "kiln.serve.image:SERVICE",
        "monitor": "kiln.monitor.image:MONITORING",
        "retrain": "kiln.retrain.image:GATE",
        "report": "kiln.report.image:REPORTS",
        "train": "kiln.training.image:TRAINER",
        "predict": "kiln.predict.image:PREDICTOR",
        "profile": "kiln.report.image:PROFILER",
        "evaluate": "kiln.report.image:EVALUATOR",
    },
))
