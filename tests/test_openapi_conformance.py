"""The OpenAPI document tells the truth: schemathesis sends generated requests to every operation
of a running server and checks each answer against the document the server serves.

It runs as its command line does (``schemathesis.engine``: the examples, coverage and fuzzing
phases), with valid and invalid requests alike, a bounded and seeded number per operation, so a
run is reproducible and takes well under a minute per backend. Any 5xx, any status the operation
does not document, or any body, content type or header that does not match the document fails
the test, with a curl command that reproduces it.

(schemathesis' pytest plugin, ``schemathesis.pytest.from_fixture``, would report one subtest per
operation, but its lazy loading does not work with pytest 9.2; the engine needs no plugin.)
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from schemathesis.engine import events

from tests.conftest import Server, Tenant

# schemathesis' own strategies use `random`; nothing this project can change
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
]

# A deeper or different run: QUARRY_TEST_SCHEMATHESIS_EXAMPLES=200 QUARRY_TEST_SCHEMATHESIS_SEED=7
CONFIG: dict[str, Any] = {
    "seed": int(os.environ.get("QUARRY_TEST_SCHEMATHESIS_SEED", "20240611")),
    "generation": {
        "mode": "all",  # valid and invalid requests
        # per operation, in the fuzzing phase (the coverage phase adds its own deterministic cases)
        "max-examples": int(os.environ.get("QUARRY_TEST_SCHEMATHESIS_EXAMPLES", "15")),
        "deterministic": True,
        "no-shrink": True,
        "database": "none",
    },
    "phases": {"stateful": {"enabled": False}},  # FastAPI documents no links between operations
    "cache": {"enabled": False},  # no replay of crashes found by earlier runs: every run is the same
    "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
}


def run_schemathesis(schema: schemathesis.BaseSchema) -> tuple[set[str], list[str]]:
    """The operations tested, and every problem found (failed checks and errors), described."""
    tested: set[str] = set()
    problems: list[str] = []
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.recorder.label:
            tested.add(event.recorder.label)
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        problems.append(
                            f"{event.recorder.label}: {check.name}: {failure.title}\n{failure.message}\n"
                            f"{check.failure_info.code_sample}"
                        )
        elif isinstance(event, events.NonFatalError):
            problems.append(f"{event.label}: error: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            problems.append(f"fatal: {event.exception!r}")
    return tested, problems


def test_every_operation_answers_as_documented(server: Server, tenant: Tenant) -> None:
    config = schemathesis.Config.from_dict(CONFIG)
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json", config=config)
    schema.config.update(base_url=server.base_url, headers={"x-api-key": tenant.keys["production"]})
    operations = {f"{m.upper()} {p}" for p, item in schema.raw_schema["paths"].items() for m in item}

    tested, problems = run_schemathesis(schema)

    assert not problems, f"{len(problems)} problem(s):\n\n" + "\n\n".join(problems)
    assert operations <= tested, f"not tested: {sorted(operations - tested)}"
