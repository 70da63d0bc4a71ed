"""The JSON API fuzzed from its own OpenAPI document (schemathesis): no 500, every answer matches its schema.

A bounded number of generated requests per operation, sent with the bearer token
of a verified account, to a stack of its own: fuzzed logins fill the per-IP login
throttle, which would refuse other tests' logins for 15 minutes. Logout is left out: it would end the token every other
request uses. Every operation is fuzzed and every failure reported together.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.helpers import bearer, register_verified

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SKIP = {("POST", "/auth/logout")}
EXAMPLES = 10


def _fuzz(operation, base_url: str, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)  # fmt: skip
    def run(case) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)

    run()


def test_every_operation_answers_within_its_schema(isolated_stack):
    stack = isolated_stack
    token = register_verified(stack.gateway_url, stack.var / "mail")[1]
    loaded = schemathesis.openapi.from_url(f"{stack.gateway_url}/api/v1/openapi.json")
    failures, fuzzed = [], 0
    for result in loaded.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        fuzzed += 1
        try:
            _fuzz(operation, f"{stack.gateway_url}/api/v1", bearer(token))
        except Exception as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert fuzzed >= 20
    assert not failures, "\n\n".join(failures)
