"""Handing calls to the engine: a batch is enqueued in one statement; enqueuing again runs nothing twice."""

from __future__ import annotations

import json

from quarry.calls import service
from quarry.calls.jobs import CALL_JOB
from quarry.calls.schemas import CallsCreate
from quarry.calls.submission import submit_calls
from quarry.tenancy.service import authenticate
from tests.calls_client import b64, create_workflow, events_of, get_call, shaping, submit, wait_for
from tests.conftest import Server, Tenant
from tests.helpers import create_function


def _stored_not_enqueued(server: Server, tenant: Tenant, bodies: list[dict[str, object]]) -> list[str]:
    """Calls recorded as ``POST /v2/calls`` records them, never handed to the engine (as when the
    process that recorded them died before it could)."""
    with server.db.read() as session:
        principal = authenticate(session, tenant.keys["production"])
        assert principal is not None
        items = CallsCreate.model_validate({"calls": bodies}).calls
        new_calls = service.prepare_calls(session, principal.environment_id, items, server.settings.max_input_bytes)
    created, _ = submit_calls(principal, new_calls, server.engine.blobs, server.db.write, lambda ids: None)
    return [call.id for call, _ in created]


def test_a_batch_of_finished_and_new_calls_runs_only_the_new_ones_once(server: Server, tenant: Tenant) -> None:
    api = tenant.production
    create_function(api, shaping("double", "{doubled: n}"))
    create_workflow(api, "doubling", "double")

    def body(n: int) -> dict[str, object]:
        return {
            "workflowName": "doubling",
            "callReferenceID": f"n-{n}",
            "input": {"singleFile": {"inputType": "json", "inputContent": b64(json.dumps({"n": n}).encode())}},
        }

    finished = [call["callID"] for call in submit(api, *(body(n) for n in range(3)))]
    for call_id in finished:
        assert wait_for(api, call_id)["status"] == "completed"
    waiting = _stored_not_enqueued(server, tenant, [body(n) for n in range(3, 6)])
    assert {get_call(api, call_id)["status"] for call_id in waiting} == {"pending"}

    # the new ones among rows DBOS already has: those are skipped, the new ones inserted and run
    server.engine.enqueue(CALL_JOB, [*finished, *waiting, *waiting[:1]])

    for n, call_id in enumerate(waiting, start=3):
        call = wait_for(api, call_id)
        assert call["status"] == "completed", call
        assert call["callReferenceID"] == f"n-{n}"
    for call_id in [*finished, *waiting]:
        assert len(events_of(api, call_id)) == 1, call_id
