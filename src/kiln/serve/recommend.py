"""The recommend kind's serve hook: POST /recommend, GET /similar, POST /feedback,
GET /recommend/history and a small page at GET /recommender.

Validation is strict and says what to fix: ids are JSON strings (an id map is keyed by text;
send 12 as "12"), k is a whole number from 1 to 1000; an unknown user is not an error but gets
the cold-start (most-popular) list, flagged. Every served list goes to the prediction log and
clicks come back through POST /feedback (the server mounts only the served kind's routes, so this is the
recommender's own /feedback, not the table models'), which `kiln monitor` joins.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from kiln.serve.decode import RequestProblem
from kiln.serve.dependencies import current_model, get_log, get_settings, require_api_key
from kiln.serve.routes.predict import ERRORS, read_body
from kiln.serve.served import ServedModel
from kiln.serve.settings import ServeSettings
from kiln.store.prediction_log import Entry, PredictionLog

MAX_K = 1000
MAX_LIST = 10_000  # items in an exclude or candidates list
MAX_ID = 256
LOGGED = ("user", "k", "cold_start")

router = APIRouter(dependencies=[Depends(require_api_key)])

RECOMMEND_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["user"], "additionalProperties": False, "properties": {
        "user": {"type": "string", "maxLength": MAX_ID},
        "k": {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 10},
        "exclude": {"type": "array", "maxItems": MAX_LIST, "items": {"type": "string"}},
        "candidates": {"type": "array", "maxItems": MAX_LIST, "items": {"type": "string"}},
        "include_seen": {"type": "boolean", "default": False}}}}}}
FEEDBACK_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["user", "item"], "properties": {
        "user": {"type": "string", "maxLength": MAX_ID}, "item": {"type": "string", "maxLength": MAX_ID},
        "request_id": {"type": "string"}}}}}}


def _recommender(served: ServedModel) -> Any:
    model = served.model
    if getattr(model, "kind", None) != "recommend":
        raise RequestProblem(409, "model", f"This server serves a {getattr(model, 'kind', 'tabular')} model; "
                             "/recommend and /similar need a recommender (kiln train --task recommend).")
    return model


def _id(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise RequestProblem(422, field, f"'{field}' must be an id as a JSON string (send 12 as \"12\"); got "
                             f"{type(value).__name__ if value is not None else 'null'}.")
    if not value.strip() or len(value) > MAX_ID or "\x00" in value:
        raise RequestProblem(422, field, f"'{field}' must be a non-empty id of at most {MAX_ID} characters.")
    return value


def _k(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestProblem(422, "k", f"'k' must be a whole number from 1 to {MAX_K}; got {str(value)[:30]!r}.")
    if not 1 <= value <= MAX_K:
        raise RequestProblem(422, "k", f"'k' must be from 1 to {MAX_K}; got {value}.")
    return value


def _ids(value: Any, field: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise RequestProblem(422, field, f"'{field}' must be a list of at most {MAX_LIST:,} item ids (strings).")
    return [_id(v, field) for v in value]


def parse_recommend(body: bytes) -> dict[str, Any]:
    """The checked request: user, k, exclude, candidates, include_seen."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestProblem(422, "body", f"The body is not valid JSON ({exc}).") from None
    if not isinstance(payload, dict):
        raise RequestProblem(422, "body", 'Send {"user": "42", "k": 10}.')
    unknown = sorted(set(payload) - {"user", "k", "exclude", "candidates", "include_seen"})
    if unknown:
        raise RequestProblem(422, unknown[0], f"'{unknown[0]}' is not a field of /recommend; the fields are user, k, "
                             "exclude, candidates, include_seen.")
    include_seen = payload.get("include_seen", False)
    if not isinstance(include_seen, bool):
        raise RequestProblem(422, "include_seen", "'include_seen' must be true or false.")
    return {"user": _id(payload.get("user"), "user"), "k": _k(payload.get("k", 10)),
            "exclude": _ids(payload.get("exclude"), "exclude"), "candidates": _ids(payload.get("candidates"),
                                                                                     "candidates"),
            "include_seen": include_seen}


def recommend_one(model: Any, request: dict[str, Any]) -> dict[str, Any]:
    """The top k for one user (in process: one matrix–vector product per component and argpartition; no
    DataFrame on the request path)."""
    ids, scores, cold = model.recommend_user(request["user"], request["k"], include_seen=request["include_seen"],
                                             exclude=request["exclude"] or None, candidates=request["candidates"])
    items = [{"item": i, "score": s, "rank": r} for r, (i, s) in enumerate(zip(ids, scores, strict=True), 1)]
    return {"user": request["user"], "cold_start": cold, "items": items}


@router.post("/recommend", openapi_extra={"requestBody": RECOMMEND_BODY}, responses=ERRORS,
             response_model=dict[str, Any], summary="Top-k items for a user (an unknown user gets the cold-start list)")
async def post_recommend(request: Request, served: ServedModel = Depends(current_model),
                         settings: ServeSettings = Depends(get_settings),
                         log: PredictionLog | None = Depends(get_log)) -> Response:
    model = _recommender(served)
    checked = parse_recommend(await read_body(request, settings))
    answer = recommend_one(model, checked)
    request_id = uuid.uuid4().hex
    if log is not None:
        log.append(Entry(request_id=request_id, model=served.name, version=served.version, at=time.time(),
                         columns=LOGGED, records=[{"user": checked["user"], "k": checked["k"],
                                                   "cold_start": answer["cold_start"]}],
                         predictions=[[item["item"] for item in answer["items"]]]))
    body = {**answer, "request_id": request_id, "model": served.name, "version": served.version}
    return Response(orjson.dumps(body), media_type="application/json")  # orjson, not FastAPI's encoder


@router.get("/similar", responses=ERRORS, summary="Items most often chosen by the same users as ITEM")
async def get_similar(item: Any = Query(None, description="The item id."),
                      k: Any = Query("10", description="How many (1 to 1000)."),
                      served: ServedModel = Depends(current_model)) -> dict[str, Any]:
    model = _recommender(served)
    item_id = _id(item, "item")
    try:
        count = _k(int(k)) if isinstance(k, str) and k.strip().lstrip("-").isdigit() else _k(k)
    except ValueError:
        raise RequestProblem(422, "k", f"'k' must be a whole number from 1 to {MAX_K}.") from None
    if model.item_codes([item_id])[0] < 0:
        raise RequestProblem(404, "item", f"Item {item_id[:60]!r} is not in the model's catalogue.")
    frame = model.similar(item_id, count)
    return {"item": item_id, "similar": [{"item": str(i), "score": float(s), "rank": int(r)} for i, s, r in
                                         zip(frame[model.columns.item], frame["score"], frame["rank"], strict=False)]}


@router.get("/recommend/history", responses=ERRORS, summary="The items a user had in training")
async def get_history(user: Any = Query(None), served: ServedModel = Depends(current_model)) -> dict[str, Any]:
    model = _recommender(served)
    user_id = _id(user, "user")
    code = int(model.user_codes([user_id])[0])
    items = [] if code < 0 else [str(model.items[i]) for i in model.history(code)[:200]]
    return {"user": user_id, "known": code >= 0, "items": items}


@router.get("/recommend/users", responses=ERRORS, summary="Some users the model knows (for the page)")
async def get_users(limit: int = Query(50, ge=1, le=1000),
                    served: ServedModel = Depends(current_model)) -> dict[str, Any]:
    model = _recommender(served)
    return {"users": [str(u) for u in model.users[:limit]], "total": len(model.users)}


@router.post("/feedback", openapi_extra={"requestBody": FEEDBACK_BODY}, responses=ERRORS,
             summary="A user clicked or bought an item (live hit rate and NDCG)")
async def post_feedback(request: Request, served: ServedModel = Depends(current_model),
                        settings: ServeSettings = Depends(get_settings)) -> dict[str, Any]:
    from kiln.store.feedback import Label, record_labels

    _recommender(served)
    try:
        payload = orjson.loads(await read_body(request, settings))
    except orjson.JSONDecodeError as exc:
        raise RequestProblem(422, "body", f"The body is not valid JSON ({exc}).") from None
    if not isinstance(payload, dict):
        raise RequestProblem(422, "body", 'Send {"user": "42", "item": "7"}.')
    user, item = _id(payload.get("user"), "user"), _id(payload.get("item"), "item")
    label = Label({"item": item, "at": time.time()}, id_column="__user__", key=user)
    recorded = await run_in_threadpool(record_labels, served.name, [label])
    return {"recorded": recorded, "model": served.name}


PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>kiln recommender</title>
<style>body{font:15px system-ui,sans-serif;max-width:900px;margin:2em auto}ol{padding-left:1.4em}
.cols{display:flex;gap:2em}.cols>div{flex:1}button.link{background:none;border:0;color:#06c;cursor:pointer;padding:0}
</style></head><body><h1>Recommender</h1>
<p><label>User <select id="user"></select></label> <label>k <input id="k" type="number" value="10" min="1"
max="1000"></label> <button id="go">Recommend</button></p>
<div class="cols"><div><h2>History</h2><ol id="history"></ol></div><div><h2>Recommendations</h2>
<p id="cold"></p><ol id="recs"></ol></div><div><h2>Similar to <span id="sim-item">…</span></h2><ol id="similar"></ol>
</div></div><script>
const $ = (id) => document.getElementById(id);
function item(list, id, score) { const li = document.createElement("li"); const b = document.createElement("button");
  b.className = "link"; b.textContent = id + (score === undefined ? "" : " (" + score.toFixed(3) + ")");
  b.onclick = () => similar(id); li.appendChild(b); list.appendChild(li); }
async function similar(id) { $("sim-item").textContent = id; $("similar").replaceChildren();
  const r = await fetch("similar?item=" + encodeURIComponent(id) + "&k=10"); const j = await r.json();
  (j.similar || []).forEach((s) => item($("similar"), s.item, s.score)); }
async function go() { const user = $("user").value; $("history").replaceChildren(); $("recs").replaceChildren();
  const h = await (await fetch("recommend/history?user=" + encodeURIComponent(user))).json();
  (h.items || []).forEach((i) => item($("history"), i));
  const r = await fetch("recommend", {method: "POST", headers: {"content-type": "application/json"},
    body: JSON.stringify({user: user, k: parseInt($("k").value, 10)})}); const j = await r.json();
  $("cold").textContent = j.cold_start ? "unknown user: the cold-start list"
    : (j.detail ? JSON.stringify(j.detail) : "");
  (j.items || []).forEach((i) => item($("recs"), i.item, i.score)); }
(async () => { const u = await (await fetch("recommend/users?limit=200")).json();
  (u.users || []).forEach((id) => { const o = document.createElement("option"); o.textContent = id;
    $("user").appendChild(o); });
  $("go").onclick = go; })();
</script></body></html>"""


@router.get("/recommender", response_class=HTMLResponse, include_in_schema=False)
async def page(served: ServedModel = Depends(current_model)) -> HTMLResponse:
    _recommender(served)
    return HTMLResponse(PAGE)


class RecommendService:
    """The recommend kind's routes (kiln.serve.kind.Service)."""

    routers: tuple[APIRouter, ...] = (router,)

    def request_schemas(self, model: Any, max_rows: int) -> dict[str, Any]:
        return {"RecommendRequest": RECOMMEND_BODY["content"]["application/json"]["schema"],
                "RecommendFeedback": FEEDBACK_BODY["content"]["application/json"]["schema"]}


SERVICE = RecommendService()
