"""Schemathesis against the running server's own OpenAPI schema: every endpoint, zero 5xx, every answer as documented.

A real `recsys serve` (uvicorn, the tiny shop, its own event store) serves
``/openapi.json``; schemathesis generates requests for each operation from it,
valid and invalid (positive and negative modes), under a fixed Hypothesis
seed, and sends them over HTTP. Admin endpoints are called twice per
generated case: without the token (must be a 401) and with it. Every response
goes through schemathesis' checks: no 5xx, a documented status code, content
type and headers, a body that conforms to the documented schema, and invalid
input refused with a 4xx. Not checked: "valid input gets a 2xx" - a
well-formed request can rightly get a documented 404 (no such product), 409
(an experiment that is not a draft) or 422 (a ``k`` above ``serve.max_k``, a
path that holds no bundle).

(schemathesis' own pytest plugin does not run under pytest 9, so each
operation's strategy is driven by Hypothesis ``@given`` here: the same
generation and checks, one test per operation.) The last test counts the
requests: at least 1,000 in all, every operation of the schema fuzzed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode, checks

from tests.serve.conftest import TOKEN, Server

SEED = 14
EXAMPLES = 60  # per operation and mode
MIN_REQUESTS = 1000
OPERATIONS = [
    ("POST", "/recommend"), ("GET", "/users/{user_id}/recommendations"), ("GET", "/items/{item_id}/similar"),
    ("POST", "/feedback"), ("GET", "/health/live"), ("GET", "/health/ready"), ("GET", "/metrics"),
    ("POST", "/admin/reload"), ("GET", "/admin/experiments"), ("POST", "/admin/experiments"),
    ("POST", "/admin/experiments/{name}/{action}"),
]
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]
SENT: Counter[str] = Counter()


@pytest.fixture(scope="module")
def fuzz_server(shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Its own server and event store: the fuzzer creates experiments and posts feedback."""
    store = tmp_path_factory.mktemp("fuzz-store") / "events.db"
    srv = Server(shop, f"serve.events=sqlite:///{store}", "serve.log_requests=false")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_server: Server):  # noqa: ANN201
    return schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")


def _send(case: schemathesis.Case, name: str) -> None:
    if case.operation.path.startswith("/admin"):
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        response = case.call(headers=headers, timeout=30)
        SENT[name] += 1
        assert response.status_code == 401, (name, response.status_code, response.text)
        case.validate_response(response, checks=[checks.not_a_server_error])
        response = case.call(headers={**headers, "Authorization": f"Bearer {TOKEN}"}, timeout=30)
    else:
        response = case.call(timeout=30)
    SENT[name] += 1
    # a 413 (the body is over serve.max_body_bytes) refuses the request as surely as a 422
    case.validate_response(response, checks=CHECKS if response.status_code != 413 else
                           [c for c in CHECKS if c is not checks.negative_data_rejection])


NO_INPUT = {("GET", "/health/live"), ("GET", "/health/ready"), ("GET", "/metrics"), ("GET", "/admin/experiments")}
RUNS = [pytest.param(m, p, mode, id=f"{m} {p} {mode.value}") for m, p in OPERATIONS
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if not (mode == GenerationMode.NEGATIVE and (m, p) in NO_INPUT)]  # nothing to get wrong


@pytest.mark.parametrize("method,path,mode", RUNS)
def test_every_generated_request_is_answered_as_documented(api_schema, method: str, path: str,  # noqa: ANN001
                                                           mode: GenerationMode) -> None:
    operation = api_schema[path][method]
    name = f"{method} {path}"

    @hypothesis.seed(SEED)
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: schemathesis.Case) -> None:
        _send(case, name)

    fuzz()


def test_the_fuzzer_covered_every_operation_with_enough_requests(api_schema) -> None:  # noqa: ANN001
    documented = {f"{op.method.upper()} {op.path}" for op in (r.ok() for r in api_schema.get_all_operations())}
    assert documented == {f"{m} {p}" for m, p in OPERATIONS}, "the API changed: list its operations in OPERATIONS"
    assert set(SENT) == documented, f"never called: {documented - set(SENT)}"
    print(f"fuzz: {sum(SENT.values()):,} requests", dict(SENT))
    assert sum(SENT.values()) >= MIN_REQUESTS, dict(SENT)
