"""The whole v3 journey through the official bem SDK alone, strict, as a bem user pointing existing
code at Quarry would run it: define, call (waiting and not), follow, list, trace, read outputs and
errors, subscribe, manage the secret, clean up. Expected values are the ones this test sent."""

from __future__ import annotations

import base64
import time
from typing import Any

import bem
import pytest

from tests import documents
from tests.calls_client import POLL_SECONDS

SCHEMA: dict[str, Any] = documents.SCHEMA
HOOK = "https://hooks.example.com/quarry"


def pdf(data: bytes) -> dict[str, Any]:
    return {"single_file": {"input_content": base64.b64encode(data).decode(), "input_type": "pdf"}}


def settle(sdk: bem.Bem, call_id: str) -> Any:
    deadline = time.monotonic() + POLL_SECONDS
    while (call := sdk.calls.retrieve(call_id).call).status not in ("completed", "failed"):
        assert time.monotonic() < deadline, f"call {call_id} still {call.status}"
        time.sleep(0.1)
    return call


def test_define_call_follow_subscribe_and_clean_up_with_the_sdk_alone(sdk: bem.Bem) -> None:
    sdk.functions.create(
        function_name="sorter",
        type="classify",
        description="Sorts incoming documents",
        classifications=[
            {"name": "invoice", "description": "An invoice with an invoice number and amounts due"},
            {"name": "other", "description": "Anything else", "isErrorFallback": True},
        ],
    )
    extractor = sdk.functions.create(
        function_name="invoice-fields", type="extract", output_schema=SCHEMA, output_schema_name="Invoice"
    ).function
    workflow = sdk.workflows.create(
        name="intake",
        main_node_name="sort",
        nodes=[
            {"name": "sort", "function": {"name": "sorter"}},
            {"name": "extract", "function": {"name": "invoice-fields"}},
        ],
        edges=[{"sourceNodeName": "sort", "destinationNodeName": "extract", "destinationName": "invoice"}],
    )
    assert workflow.main_node_name == "sort"

    # a PDF, waiting for the answer: the extraction is the call's one output
    answer = sdk.workflows.call("intake", input=pdf(documents.pdf()), call_reference_id="batch-1-0", wait=True)
    call = answer.call
    assert call is not None and call.status == "completed", answer
    [output] = call.outputs
    assert output.event_type == "extract" and output.function_name == "invoice-fields"
    assert output.transformed_content["invoiceNumber"] == documents.NUMBER
    assert call.errors == []

    # asynchronously, then polled; a broken PDF goes to the error fallback, which ends nowhere
    pending = [
        sdk.workflows.call("intake", input=pdf(documents.pdf()), call_reference_id=f"batch-1-{n}").call.call_id
        for n in range(1, 4)
    ]
    broken = sdk.workflows.call("intake", input=pdf(b"%PDF-1.7 broken"), call_reference_id="batch-1-bad").call
    assert broken is not None
    finished = [settle(sdk, call_id) for call_id in pending]
    assert [c.status for c in finished] == ["completed"] * 3
    settle(sdk, broken.call_id)

    # every call of the batch, page by page
    listed = [c.call_id for c in sdk.calls.list(reference_id_substring="batch-1", workflow_names=["intake"], limit=2)]
    assert sorted(listed) == sorted([call.call_id, *pending, broken.call_id])
    assert len(listed) == len(set(listed))

    trace = sdk.calls.retrieve_trace(call.call_id).trace
    assert trace is not None
    assert {(fc.function_name, fc.type) for fc in trace.function_calls} == {
        ("sorter", "classify"),
        ("invoice-fields", "extract"),
    }

    outputs = list(sdk.outputs.list(call_ids=[call.call_id]))
    assert [o.event_id for o in outputs] == [output.event_id]
    assert sdk.outputs.retrieve(output.event_id).output.event_id == output.event_id
    with_intermediate = list(sdk.outputs.list(call_ids=[call.call_id], include_intermediate=True))
    assert {o.event_type for o in with_intermediate} == {"classify", "extract"}

    # subscriptions and the secret their deliveries are signed with
    subscription = sdk.subscriptions.create(
        name="extractions", type="transform", function_name="invoice-fields", webhook_url=HOOK
    )
    assert subscription.function_id == extractor.function_id
    assert [s.subscription_id for s in sdk.subscriptions.list()] == [subscription.subscription_id]
    secret = sdk.webhook_secret.create().secret
    assert sdk.webhook_secret.retrieve().secret == secret
    sdk.subscriptions.delete(subscription.subscription_id)
    with pytest.raises(bem.NotFoundError):
        sdk.subscriptions.retrieve(subscription.subscription_id)
    sdk.webhook_secret.revoke()
    with pytest.raises(bem.NotFoundError):
        sdk.webhook_secret.retrieve()

    # clean up: the workflow first, then the functions it used
    sdk.workflows.delete("intake")
    with pytest.raises(bem.NotFoundError):
        sdk.workflows.retrieve("intake")
    sdk.functions.delete("invoice-fields")
    sdk.functions.delete("sorter")
    assert [f.function_name for f in sdk.functions.list()] == []


def test_a_failed_call_is_an_error_the_sdk_can_read(sdk: bem.Bem) -> None:
    sdk.functions.create(function_name="fields", type="extract", output_schema=SCHEMA, output_schema_name="Invoice")
    sdk.workflows.create(
        name="strict", main_node_name="fields", nodes=[{"name": "fields", "function": {"name": "fields"}}]
    )
    with pytest.raises(bem.InternalServerError) as failed:
        sdk.workflows.call("strict", input=pdf(b"%PDF-1.7 broken"), call_reference_id="bad-1", wait=True)
    body = failed.value.body
    assert isinstance(body, dict) and body["call"]["status"] == "failed"
    call_id = body["call"]["callID"]
    [error] = sdk.calls.retrieve(call_id).call.errors
    assert "PDF" in error.message
    assert [e.event_id for e in sdk.errors.list(call_ids=[call_id])] == [error.event_id]
    assert sdk.errors.retrieve(error.event_id).error.message == error.message
