"""Schemathesis over the OpenAPI document: generated valid and invalid requests never get a server error,
and every answer matches the document (status codes, content types, response schemas).

Each operation's strategy is driven with Hypothesis directly: schemathesis's pytest plugin does not
work with pytest 9.2 (it reads a private node attribute that pytest removed)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from engine import services
from engine.services import accounts
from engine.services.tokens import SCOPES
from tests.webclient import PPM_START

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 10}


@pytest.fixture
def token(app, rt):
    """A token for an account that may do nearly anything, and data to find: cases, steps, a subscription."""
    accounts.add_user(rt, "api.fuzz", None, ["admin", "head_of_service", "iro", "social_worker", "team_manager"],
                      ["north", "south"], "API fuzzing account", "test")  # fmt: skip
    services.add_subscription(rt, "https://lcs.example.gov.uk/hooks", ["task.created"], "test")
    for n in range(3):
        services.start_case(rt, "ppm_to_adm", f"CH-600{n}", PPM_START, "sw.alice", team="north")
    return services.create_token(rt, "fuzz", "api.fuzz", list(SCOPES), "test")


def test_generated_requests_never_get_a_server_error(app, token):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    headers = {"Authorization": f"Bearer {token}"}
    for operation in operations:
        for mode, examples in EXAMPLES.items():

            @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            call()
