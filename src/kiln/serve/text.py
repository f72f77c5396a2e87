"""Serving a model with a text column: text validation, the answer a chatbot needs, its page.

- `check_texts`: every text field of a request is a string of at most `MAX_TEXT_CHARS`
  characters (longer: 422 naming the field and row; a whole body over the limit is already
  413), with no NUL or other control character but tab and newlines (422). Invalid UTF-8
  never gets this far: the JSON and CSV readers refuse it.
- `answers`: per row the label (or the reject label), its confidence, the top-3 alternatives
  and whether the row was rejected as out of scope.
- `GET /text`: a message box that posts to `POST /text/answer` and shows the answer, its
  confidence and the words that drove it (each word's weight is how much the answer's
  probability falls when that word is left out: model-agnostic, exact for the served model).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from kiln.data.text_checks import MAX_TEXT_CHARS
from kiln.serve.decode import Decoded, RequestProblem, decode_records
from kiln.serve.dependencies import current_model, require_api_key
from kiln.serve.served import ServedModel

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
TOP = 3
MAX_WORDS_EXPLAINED = 60

router = APIRouter(dependencies=[Depends(require_api_key)])


def text_columns(served: ServedModel) -> list[str]:
    return served.model.schema.of_kind("text")


def check_texts(decoded: Decoded, names: list[str]) -> None:
    """Refuse a text field that is too long or holds control characters (422, field and row named)."""
    for name in names:
        for row, value in enumerate(decoded.columns.get(name, ())):
            if value is None:
                continue
            if not isinstance(value, str):
                raise RequestProblem(422, name, f"Field '{name}' must be text.", row)
            if len(value) > MAX_TEXT_CHARS:
                raise RequestProblem(422, name, f"Field '{name}' has {len(value):,} characters; the limit is "
                                     f"{MAX_TEXT_CHARS:,}. Shorten or split the text.", row)
            found = CONTROL.search(value)
            if found:
                raise RequestProblem(422, name, f"Field '{name}' holds the control character "
                                     f"U+{ord(found.group()):04X} at position {found.start()}; remove it "
                                     "(tabs and newlines are fine).", row)


def answers(served: ServedModel, raw: np.ndarray) -> list[dict[str, Any]]:
    """Label, confidence, top-3 alternatives and out_of_scope for each row of `raw`."""
    model = served.model
    classes = [str(c) for c in model.classes_ or []]
    labels = model.labels(raw)
    kept = model.answered(raw)
    rule = model.reject
    out = []
    for row, probabilities in enumerate(raw):
        order = np.argsort(-probabilities, kind="stable")[:TOP]
        out.append({"label": str(labels[row]), "confidence": float(probabilities[order[0]]),
                    "alternatives": [{"label": classes[i], "probability": float(probabilities[i])} for i in order],
                    "out_of_scope": bool(rule is not None and not kept[row])})
    return out


def word_weights(served: ServedModel, record: dict[str, Any], column: str, label_index: int) -> list[dict[str, Any]]:
    """Each word's weight: the fall in the answer's probability when it is left out."""
    text = record[column]
    words = text.split()[:MAX_WORDS_EXPLAINED]
    if len(words) < 2:
        return [{"word": w, "weight": 0.0} for w in words]
    variants = [dict(record, **{column: " ".join(words[:i] + words[i + 1:])}) for i in range(len(words))]
    raw = served.predict_raw(decode_records([record, *variants], served.model.schema))
    base = raw[0, label_index]
    return [{"word": word, "weight": round(float(base - raw[i + 1, label_index]), 6)} for i, word in enumerate(words)]


_PROBLEM = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
ANSWER_ERRORS = {
    400: {"description": "The body is not JSON."},
    401: {"description": "Missing or wrong API key."},
    413: {"description": "Body over the server's limit."},
    415: {"description": "A content type other than application/json."},
    422: {"description": "No string field 'text', a text the contract refuses, or a model without a text "
                         "column; the body names the field.", "content": _PROBLEM},
    503: {"description": "No model loaded yet."},
}


@router.post("/text/answer", summary="Answer one message (a text model), with the words that drove it",
             responses=ANSWER_ERRORS)
async def answer(request: Request, served: ServedModel = Depends(current_model)) -> JSONResponse:
    names = text_columns(served)
    if not names or served.model.task == "regression":  # the route exists for every table model; this one can't
        raise RequestProblem(422, "text", "This model has no text column to answer a message with; send its "
                             "rows to POST /predict.")
    try:
        payload = await request.json()
    except ValueError:
        raise RequestProblem(400, "body", "Send JSON: {\"text\": \"your message\"}.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("text"), str):
        raise RequestProblem(422, "text", "Send JSON with a string field 'text'.")
    record = {names[0]: payload["text"]}
    for column in served.model.schema.columns:  # other columns as sent, or missing
        if column.name != names[0] and column.name in payload:
            record[column.name] = payload[column.name]
    decoded = decode_records([record], served.model.schema)
    check_texts(decoded, names)
    raw = served.predict_raw(decoded)
    body = answers(served, raw)[0]
    body["words"] = word_weights(served, record, names[0], int(np.argmax(raw[0])))
    return JSONResponse(body)


@router.get("/text", response_class=HTMLResponse, summary="The text model's page: a message box",
            responses={307: {"description": "A model without a text column: its page is at /."},
                       401: {"description": "Missing or wrong API key."}, 503: {"description": "No model loaded yet."}})
async def page(served: ServedModel = Depends(current_model)) -> Response:
    if not text_columns(served):
        return RedirectResponse("/", status_code=307)
    return HTMLResponse(PAGE)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kiln: ask the model</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
textarea{width:100%;height:5rem;font-size:1rem}#answer{margin-top:1rem}.label{font-size:1.4rem;font-weight:600}
.oos{color:#a33}.w{padding:0 .1rem;border-radius:.2rem}</style></head>
<body><h1>Ask the model</h1>
<form id="f"><textarea id="m" maxlength="10000" placeholder="Type a message"></textarea>
<button type="submit">Send</button></form>
<div id="answer"></div>
<script>
const f = document.getElementById('f'), out = document.getElementById('answer');
f.addEventListener('submit', async (e) => {
  e.preventDefault();
  out.textContent = '…';
  const r = await fetch('text/answer', {method: 'POST', headers: {'content-type': 'application/json'},
                                        body: JSON.stringify({text: document.getElementById('m').value})});
  const a = await r.json();
  out.textContent = '';
  if (!r.ok) { out.textContent = JSON.stringify(a.detail || a); return; }
  const l = document.createElement('div'); l.className = 'label' + (a.out_of_scope ? ' oos' : '');
  l.textContent = (a.out_of_scope ? 'Out of scope (' + a.alternatives[0].label + '?)' : a.label) +
                  ' · ' + (100 * a.confidence).toFixed(1) + '%';
  out.appendChild(l);
  const p = document.createElement('p');
  const top = Math.max(1e-9, ...a.words.map(w => Math.abs(w.weight)));
  for (const w of a.words) {
    const s = document.createElement('span'); s.className = 'w'; s.textContent = w.word;
    const x = Math.abs(w.weight) / top;
    s.style.background = w.weight > 0 ? `rgba(40,160,80,${x})` : `rgba(200,60,60,${x})`;
    s.title = w.weight.toFixed(4); p.appendChild(s); p.appendChild(document.createTextNode(' '));
  }
  out.appendChild(p);
  const alt = document.createElement('ol');
  for (const x of a.alternatives) { const i = document.createElement('li');
    i.textContent = x.label + ' ' + (100 * x.probability).toFixed(1) + '%'; alt.appendChild(i); }
  out.appendChild(alt);
});
</script></body></html>
"""
