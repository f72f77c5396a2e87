"""The recommend kind: user–item interactions in, ranked items per user out (kiln train --task recommend)."""

from __future__ import annotations

from kiln.kinds.registry import Kind, register

RECOMMEND = register(Kind(
    name="recommend",
    tasks=("recommend",),
    description="user–item interactions; the top k items for each user, seen items excluded",
    hooks={
        "bundle": "kiln.bundle.recommend:FORMAT",
        "serve": "kiln.serve.recommend:SERVICE",
        "monitor": "kiln.monitor.recommend:MONITORING",
        "retrain": "kiln.retrain.recommend:GATE",
        "report": "kiln.report.recommend:REPORTS",
        "train": "kiln.training.recommend:TRAINER",
        "predict": "kiln.predict.recommend:PREDICTOR",
        "profile": "kiln.report.recommend:PROFILER",
        "evaluate": "kiln.report.recommend:EVALUATOR",
    },
))
