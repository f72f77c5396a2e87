"""HTML reports and their plots: profile, training, evaluation, drift, retraining; the model card.

Each report is one self-contained page built from result objects (an `Evaluation`, a
`MonitorResult`, ...); plots.py draws their figures. A bundle stores the training report
already rendered: `training_report(model)` asks the model's kind (kiln.kinds) for it.
"""

from __future__ import annotations

from typing import Any


def training_report(model: Any) -> str:
    """The training report of `model`, rendered by its kind's report hook."""
    from kiln.kinds import get

    return get(model.kind).hook("report").training(model)
