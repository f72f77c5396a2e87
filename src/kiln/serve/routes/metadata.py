"""GET /metadata: what the served model is, expects and scored (the page's model card)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from kiln.serve.dependencies import current_model, require_api_key
from kiln.serve.served import ServedModel

router = APIRouter(dependencies=[Depends(require_api_key)])


@router.get("/metadata", summary="Schema, classes, metrics and version of the served model",
            responses={401: {"description": "Missing or wrong API key."}, 503: {"description": "Not loaded."}})
async def metadata(served: ServedModel = Depends(current_model)) -> dict[str, Any]:
    return describe(served)


def describe(served: ServedModel) -> dict[str, Any]:
    model = served.model
    cv = model.manifest.get("cv", {})
    features = [{"name": c.name, "kind": c.kind, "required": c.required, "discrete": c.discrete,
                 "minimum": c.minimum, "maximum": c.maximum, "categories": c.categories}
                for c in model.schema.columns]
    return {
        "name": served.name, "version": served.version, "source": served.source, "task": model.task,
        "target": model.target.name, "classes": [str(c) for c in model.classes_] if model.classes_ else None,
        "metric": model.metric, "cv": {"score": cv.get("score"), "low": cv.get("ci_low"), "high": cv.get("ci_high")},
        "threshold": model.threshold, "features": features,
        "members": [{"name": m.name, "learner": m.learner, "weight": m.weight} for m in model.members],
        "rows": model.manifest.get("training", {}).get("rows"), "created": model.manifest.get("created"),
        "fast_path": served.predictor is not None, "engine": served.engine,
    }
