"""GET /monitor: drift, data quality and live performance of this server's logged traffic (JSON)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from kiln.serve.decode import RequestProblem
from kiln.serve.dependencies import current_model, require_api_key
from kiln.serve.served import ServedModel

router = APIRouter(dependencies=[Depends(require_api_key)])
# what the document promises (parse_since also takes e.g. "1.5h" or "ALL"): a valid value is never refused
SINCE_PATTERN = r"^(all|[1-9][0-9]{0,8}[smhd])$"


@router.get("/monitor", summary="Drift and live performance of logged traffic against the training reference",
            responses={401: {"description": "Missing or wrong API key."},
                       422: {"description": "A bad `since`."}, 503: {"description": "Not loaded."}})
async def monitor(served: ServedModel = Depends(current_model),
                  since: str = Query("24h", max_length=16, description="90s, 30m, 24h, 7d or all",
                                     json_schema_extra={"pattern": SINCE_PATTERN})) -> dict[str, Any]:
    from kiln.errors import KilnError
    from kiln.kinds import get
    from kiln.monitor.alerts import AlertRules
    from kiln.monitor.window import parse_since

    try:
        start = parse_since(since, now=time.time())
    except KilnError as exc:
        raise RequestProblem(422, "since", str(exc)) from None

    def run() -> dict[str, Any]:
        monitoring = get(served.model.kind).hook("monitor")  # the served model's kind judges its traffic
        traffic = monitoring.traffic(served.name, served.model, since=start, url=None)
        result = monitoring.assess(served.model, traffic, name=served.name, version=served.version, since=start,
                                   rules=AlertRules.load())
        return result.to_dict()

    return await run_in_threadpool(run)
