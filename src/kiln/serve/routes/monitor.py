"""GET /monitor: drift, data quality and live performance of this server's logged traffic (JSON).

Bounded at any traffic: the window is the served version's rows (the previous version's
beside it), read as an even sample of at most MONITOR_ROWS rows chosen in SQL; SHAP
ranks and the reference's served outputs are computed once per loaded model; and a
result is reused for CACHE_S seconds per (version, since), so a dashboard polling the
page costs one computation per interval.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from kiln.serve.decode import RequestProblem
from kiln.serve.dependencies import current_model, require_api_key
from kiln.serve.served import ServedModel

router = APIRouter(dependencies=[Depends(require_api_key)])
MONITOR_ROWS = 2_000  # rows of a window the statistics are computed on (an even sample beyond that)
CACHE_S = 30.0  # a window's result is reused this long
_CACHE: dict[tuple[int, str, str], tuple[float, dict[str, Any]]] = {}
# what the document promises (parse_since also takes e.g. "1.5h" or "ALL"): a valid value is never refused
SINCE_PATTERN = r"^(all|[1-9][0-9]{0,8}[smhd])$"


@router.get("/monitor", summary="Drift and live performance of logged traffic against the training reference",
            responses={401: {"description": "Missing or wrong API key."},
                       422: {"description": "A bad `since`."}, 503: {"description": "Not loaded."}})
async def monitor(served: ServedModel = Depends(current_model),
                  since: str = Query("24h", max_length=16, description="90s, 30m, 24h, 7d or all",
                                     json_schema_extra={"pattern": SINCE_PATTERN})) -> dict[str, Any]:
    from kiln.errors import KilnError
    from kiln.monitor.alerts import AlertRules
    from kiln.monitor.run import monitor_version
    from kiln.monitor.window import parse_since

    try:
        start = parse_since(since, now=time.time())
    except KilnError as exc:
        raise RequestProblem(422, "since", str(exc)) from None

    key = (id(served), served.version, since)
    hit = _CACHE.get(key)
    if hit is not None and time.monotonic() - hit[0] < CACHE_S:
        return hit[1]

    def run() -> dict[str, Any]:
        result = monitor_version(served.model, name=served.name, version=served.version, since=start,
                                 rules=AlertRules.load(), max_rows=MONITOR_ROWS)
        return result.to_dict()

    answer = await run_in_threadpool(run)
    for old in [k for k, (at, _) in _CACHE.items() if time.monotonic() - at >= CACHE_S]:
        _CACHE.pop(old, None)
    _CACHE[key] = (time.monotonic(), answer)
    return answer
