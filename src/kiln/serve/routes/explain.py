"""POST /explain: each input column's SHAP contribution to each row's prediction."""

from __future__ import annotations

import numpy as np
import orjson
from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from kiln.serve.decode import RequestProblem
from kiln.serve.dependencies import current_model, get_settings, require_api_key
from kiln.serve.routes.predict import ERRORS, ROWS_BODY, read_rows
from kiln.serve.served import ServedModel
from kiln.serve.settings import ServeSettings

router = APIRouter(dependencies=[Depends(require_api_key)])
MAX_EXPLAIN_ROWS = 100  # SHAP costs far more than a prediction
EXPLAIN_BODY = {**ROWS_BODY, "content": {
    **ROWS_BODY["content"], "application/json": {"schema": {"$ref": "#/components/schemas/ExplainRequest"}}}}


@router.post("/explain", openapi_extra={"requestBody": EXPLAIN_BODY}, responses=ERRORS,
             summary="Explain one or a few rows")
async def explain(request: Request, served: ServedModel = Depends(current_model),
                  settings: ServeSettings = Depends(get_settings)) -> Response:
    """Contributions plus `base_value` add up to the explained output (`explains`) of each row."""
    decoded = await read_rows(request, served, settings)
    if decoded.n_rows > MAX_EXPLAIN_ROWS:
        raise RequestProblem(413, "rows", f"/explain takes at most {MAX_EXPLAIN_ROWS} rows per request; "
                             f"this one has {decoded.n_rows:,}. Split it.")
    import pandas as pd

    from kiln.evaluation.explain import BASE_VALUE, shap_contributions

    frame = await run_in_threadpool(shap_contributions, served.model, pd.DataFrame(decoded.columns))
    base = frame.pop(BASE_VALUE)
    contributions = [{k: float(v) for k, v in row.items() if np.isfinite(v)} for row in frame.to_dict("records")]
    body = {"version": served.version, "explains": frame.attrs.get("output", ""), "member": frame.attrs.get("member"),
            "base_value": base.astype(float).tolist(), "contributions": contributions}
    return Response(orjson.dumps(body), media_type="application/json", headers={"X-Model-Version": served.version})
