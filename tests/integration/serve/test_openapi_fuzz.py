"""Schemathesis against a real `kiln serve`'s /openapi.json: thousands of generated requests,
valid and invalid, and not one 5xx, undocumented status or 4xx body that does not name a field.

The request schema comes from the model's data contract (`kiln.serve.openapi`), so a body
that fits it must be served: for /predict and /explain a valid JSON body that is refused is
a failure too (the document would be lying). CSV bodies are strings to the document, so for
them only the other checks apply. Generation is derandomized: the same cases every run.

The default run sends a third of the cases (every operation, both generation modes, every
check, several hundred requests); the full volume, thousands of cases, runs under -m slow.
"""

from __future__ import annotations

import collections
import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

BUDGET = {"POST /predict": 700, "POST /explain": 300,  # generated cases per generation mode
          "GET /monitor": 5}  # a full drift assessment of the log each time: about a second
OTHER_WITH_INPUT = 40  # any other operation with a body or parameters, per mode
NO_INPUT = 3  # operations without inputs have a single distinct request
MIN_CASES = 2000
# The default run's share of each budget (at least 3 cases an operation and mode) and its floor.
DEFAULT_SHARE, DEFAULT_MIN_CASES = 1 / 3, 650
CONTRACT_BOUND = {"POST /predict", "POST /explain"}  # their JSON body schema is the model's data contract
# where a request the document calls valid must be served: /feedback's rule "a request_id, or an id
# with a top-level id_column" is not in its document, so there only the other checks apply
ACCEPTANCE_CHECKED = {*CONTRACT_BOUND, "GET /monitor"}


@schemathesis.check
def problem_names_a_field(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                          case: schemathesis.Case) -> bool | None:
    """Every 4xx is JSON whose first problem names the field to fix (or body/rows/content-type)."""
    if not 400 <= response.status_code < 500:
        return None
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), \
        f"a {response.status_code} that is not JSON"
    detail = response.json().get("detail")
    assert isinstance(detail, list) and detail, f"a {response.status_code} without a detail list: {response.text}"
    field = detail[0].get("field")
    assert isinstance(field, str) and field, f"a {response.status_code} whose detail names no field: {response.text}"
    return True


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          problem_names_a_field]


def _has_inputs(operation: schemathesis.APIOperation) -> bool:
    return bool(operation.body) or any(True for _ in operation.iter_parameters())


def test_generated_requests_get_no_5xx_only_documented_statuses_and_named_fields(start_server, ai4i_bundle) -> None:
    _run_fuzz(start_server, ai4i_bundle, DEFAULT_SHARE, DEFAULT_MIN_CASES)


@pytest.mark.slow
def test_thousands_of_generated_requests_get_no_5xx_only_documented_statuses_and_named_fields(
        start_server, ai4i_bundle) -> None:
    _run_fuzz(start_server, ai4i_bundle, 1.0, MIN_CASES)


def _run_fuzz(start_server, ai4i_bundle, share: float, min_cases: int) -> None:
    """Fuzz every operation of the served document with `share` of its budget; check every answer."""
    server = start_server(ai4i_bundle)
    # an explicit default Config: no schemathesis.toml lying around changes what runs
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", config=schemathesis.Config())
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {operation.label for operation in operations}
    assert labels >= CONTRACT_BOUND, labels

    session = requests.Session()
    sent: collections.Counter[tuple[str, str, int]] = collections.Counter()
    failures: dict[tuple[str, str, int, str], str] = {}
    started = time.monotonic()
    for operation in operations:
        modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if _has_inputs(operation) else \
            [GenerationMode.POSITIVE]
        for mode in modes:
            _fuzz(operation, mode, server.url, session, sent, failures, share)
    elapsed = time.monotonic() - started

    report = "\n".join(f"{label} {mode} -> {status}: {title}\n  {detail}"
                       for (label, mode, status, title), detail in list(failures.items())[:12])
    assert not failures, f"{len(failures)} distinct failures:\n{report}"
    total = sum(sent.values())
    assert total >= min_cases, f"only {total} cases: {dict(sent)}"
    for label in CONTRACT_BOUND:  # both kinds of data reached both operations, and valid rows were served
        assert sent[(label, "positive", 200)] > 0 and any(
            count for (lab, mode, status), count in sent.items() if lab == label and mode == "negative"), dict(sent)
    assert not any(status >= 500 for _, _, status in sent), dict(sent)
    print(f"{total} generated requests in {elapsed:.0f} s: {dict(sorted(sent.items()))}")
    assert "Traceback" not in server.log.read_text(), server.log.read_text()[-3000:]


def _fuzz(operation: schemathesis.APIOperation, mode: GenerationMode, url: str, session: requests.Session,
          sent: collections.Counter, failures: dict, share: float) -> None:
    """Send the operation's generated cases of one mode; count statuses, collect distinct failures."""
    budget = BUDGET.get(operation.label, OTHER_WITH_INPUT if _has_inputs(operation) else NO_INPUT)
    examples = max(min(budget, 3), round(budget * share))
    checks = list(CHECKS)
    if mode.is_positive and operation.label in ACCEPTANCE_CHECKED:
        checks.append(positive_data_acceptance)

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck), print_blob=False)
    @given(case=operation.as_strategy(generation_mode=mode))
    def exchange(case: schemathesis.Case) -> None:
        try:
            response = case.call(base_url=url, session=session, timeout=60)
        except requests.RequestException as exc:  # a hang, a reset, a closed connection
            failures.setdefault((operation.label, mode.value, 0, type(exc).__name__), repr(exc)[:500])
            return
        sent[(operation.label, mode.value, response.status_code)] += 1
        try:  # a CSV body is any string to the document: only JSON ones must be accepted when valid
            case.validate_response(response, checks=checks if case.media_type != "text/csv" else CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                key = (operation.label, mode.value, response.status_code, failure.title)
                failures.setdefault(key, f"{failure.message[:300]}\n    {case.as_curl_command()[:700]}")

    exchange()
