"""v3 calls through the official bem SDK (strict): calling a workflow (waiting or not), reading
calls, their trace, outputs and errors, and paging through lists.

Functions and workflows are made with the v2 API (the v3 definitions have tests of their own);
everything else goes through the SDK as a user would. Expected values come from what the tests
sent: the invoice in the PDF, the reference IDs, the IDs of created objects.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import bem
import httpx
import pytest

from tests import documents
from tests.calls_client import POLL_SECONDS, create_workflow, invoice, shaping
from tests.helpers import assert_error, create_function

EXTRACT = {
    "functionName": "v3-extract",
    "type": "transform",
    "outputSchemaName": "Invoice",
    "outputSchema": documents.SCHEMA,
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def pdf_input() -> dict[str, Any]:
    return {"single_file": {"input_content": b64(documents.pdf()), "input_type": "pdf"}}


@pytest.fixture
def workflow(api: httpx.Client) -> dict[str, Any]:
    """Two nodes: extract the invoice, then shape it to ``{"number", "total"}``."""
    create_function(api, EXTRACT)
    create_function(api, shaping("v3-shape", '{"number": invoiceNumber, "total": totalAmount}'))
    return create_workflow(api, "v3-flow", "v3-extract", [("v3-extract", "v3-shape", None)])


def poll(sdk: bem.Bem, call_id: str) -> bem.types.Call:
    deadline = time.monotonic() + POLL_SECONDS
    while True:
        call = sdk.calls.retrieve(call_id).call
        assert call is not None and call.call_id == call_id
        if call.status in ("completed", "failed"):
            return call
        assert time.monotonic() < deadline, f"call {call_id} still {call.status}"
        time.sleep(0.1)


def test_call_with_wait_answers_the_completed_call_with_its_outputs(
    sdk: bem.Bem, server: Any, workflow: dict[str, Any]
) -> None:
    answer = sdk.workflows.call("v3-flow", input=pdf_input(), call_reference_id="inv-42", wait=True)
    call = answer.call
    assert call is not None and answer.error is None
    assert call.status == "completed"
    assert call.call_type == "workflow"
    assert (call.workflow_id, call.workflow_name) == (workflow["id"], "v3-flow")
    assert call.call_reference_id == "inv-42"
    assert call.function_id is None
    assert call.input is not None and call.input.single_file is not None
    assert call.input.single_file.input_type == "pdf"
    assert call.finished_at is not None and call.finished_at >= call.created_at
    assert call.url == f"{server.base_url}/v3/calls/{call.call_id}"
    assert call.trace_url == f"{server.base_url}/v3/calls/{call.call_id}/trace"
    # the terminal output is the shaped payload; the extraction ran on, so it is intermediate
    [output] = call.outputs
    assert output.event_type == "payload_shaping"
    assert output.function_name == "v3-shape"
    assert output.reference_id == "inv-42"
    assert output.transformed_content == {"number": documents.NUMBER, "total": pytest.approx(documents.TOTAL)}
    assert call.errors == []
    # the same through GET
    again = sdk.calls.retrieve(call.call_id).call
    assert again is not None
    assert [o.event_id for o in again.outputs] == [output.event_id]


def test_call_without_wait_is_pending_then_completes(sdk: bem.Bem, workflow: dict[str, Any]) -> None:
    raw = sdk.workflows.with_raw_response.call("v3-flow", input=pdf_input())
    assert raw.status_code == 202
    created = raw.parse().call
    assert created is not None
    assert created.status == "pending"
    assert created.outputs == [] and created.errors == []
    assert created.finished_at is None
    done = poll(sdk, created.call_id)
    assert done.status == "completed"
    assert [o.event_type for o in done.outputs] == ["payload_shaping"]


def test_failing_call_with_wait_is_a_500_with_the_call_and_the_error(sdk: bem.Bem, workflow: dict[str, Any]) -> None:
    broken = {"single_file": {"input_content": b64(b"this is no PDF"), "input_type": "pdf"}}
    with pytest.raises(bem.InternalServerError) as raised:
        sdk.workflows.call("v3-flow", input=broken, call_reference_id="broken", wait=True)
    assert raised.value.status_code == 500
    body = raised.value.body
    assert isinstance(body, dict)
    assert body["error"].startswith("The call failed: ")
    call = body["call"]
    assert call["status"] == "failed" and call["callReferenceID"] == "broken"
    assert call["outputs"] == []
    [error] = call["errors"]
    assert error["eventType"] == "error" and error["functionName"] == "v3-extract"
    assert error["message"] in body["error"]
    # the error is an error, not an output
    listed = list(sdk.errors.list(call_ids=[call["callID"]]))
    assert [e.event_id for e in listed] == [error["eventID"]]
    assert sdk.errors.retrieve(error["eventID"]).error.message == error["message"]
    with pytest.raises(bem.NotFoundError):
        sdk.outputs.retrieve(error["eventID"])
    assert list(sdk.outputs.list(call_ids=[call["callID"]], include_intermediate=True)) == []


def test_trace_lists_function_calls_and_events(sdk: bem.Bem, workflow: dict[str, Any]) -> None:
    call = sdk.workflows.call("v3-flow", input=pdf_input(), call_reference_id="traced", wait=True).call
    assert call is not None and call.status == "completed"
    trace = sdk.calls.retrieve_trace(call.call_id).trace
    assert trace is not None
    root, shaped = trace.function_calls
    assert (root.function_name, root.type, root.source_event_id) == ("v3-extract", "transform", None)
    assert (shaped.function_name, shaped.type) == ("v3-shape", "payload_shaping")
    assert shaped.source_function_call_id == root.function_call_id
    assert {fc.status for fc in trace.function_calls} == {"completed"}
    assert all(fc.workflow_call_id == call.call_id and fc.reference_id == "traced" for fc in trace.function_calls)
    assert root.input_type == "pdf" and root.s3_url
    extracted, shaped_event = trace.events
    assert isinstance(extracted, dict) and isinstance(shaped_event, dict)
    assert extracted["eventType"] == "transform" and extracted["functionCallID"] == root.function_call_id
    assert extracted["transformedContent"]["invoiceNumber"] == documents.NUMBER
    assert shaped.source_event_id == extracted["eventID"]
    assert shaped_event["eventID"] == call.outputs[0].event_id

    # outputs: the end result by default, the intermediate extraction on request
    ends = list(sdk.outputs.list(call_ids=[call.call_id]))
    assert [o.event_id for o in ends] == [shaped_event["eventID"]]
    everything = list(sdk.outputs.list(call_ids=[call.call_id], include_intermediate=True))
    assert [o.event_id for o in everything] == [extracted["eventID"], shaped_event["eventID"]]
    only_transforms = sdk.outputs.list(call_ids=[call.call_id], include_intermediate=True, event_types=["transform"])
    assert [o.event_id for o in only_transforms] == [extracted["eventID"]]
    assert list(sdk.outputs.list(call_ids=[call.call_id], is_regression=True)) == []
    one = sdk.outputs.retrieve(extracted["eventID"]).output
    assert one.event_type == "transform" and one.event_id == extracted["eventID"]
    with pytest.raises(bem.NotFoundError):
        sdk.errors.retrieve(extracted["eventID"])


def test_calls_list_auto_paginates_with_filters(sdk: bem.Bem, api: httpx.Client, workflow: dict[str, Any]) -> None:
    create_function(api, {**EXTRACT, "functionName": "v3-direct"})
    text = {"single_file": {"input_content": b64(invoice("P-1")), "input_type": "text"}}
    made = [sdk.workflows.call("v3-flow", input=text, call_reference_id=f"page-{i}").call for i in range(7)]
    assert all(call is not None for call in made)
    made_ids = [call.call_id for call in made if call is not None]
    # a direct function call (v2) is listed too, as direct_function
    direct = api.post(
        "/v2/calls",
        json={
            "calls": [
                {
                    "functionName": "v3-direct",
                    "input": {"singleFile": {"inputType": "text", "inputContent": b64(invoice("D-1"))}},
                }
            ]
        },
    ).json()["calls"][0]

    paged = list(sdk.calls.list(workflow_names=["v3-flow"], limit=3))
    assert [c.call_id for c in paged] == made_ids
    assert all(c.call_type == "workflow" and c.workflow_name == "v3-flow" for c in paged)
    newest_first = list(sdk.calls.list(reference_id_substring="PAGE-", sort_order="desc", limit=2))
    assert [c.call_id for c in newest_first] == made_ids[::-1]
    assert [c.call_id for c in sdk.calls.list(call_types=["direct_function"])] == [direct["callID"]]
    [listed] = sdk.calls.list(call_types=["direct_function"])
    assert (listed.function_name, listed.function_type, listed.workflow_id) == ("v3-direct", "transform", None)
    assert list(sdk.calls.list(call_types=["adhoc_function"])) == []
    some = made_ids[1:3]
    assert [c.call_id for c in sdk.calls.list(call_ids=some, reference_ids=["page-2", "page-5"])] == [made_ids[2]]
    for call_id in made_ids:
        poll(sdk, call_id)
    assert {c.call_id for c in sdk.calls.list(statuses=["completed"], workflow_ids=[workflow["id"]], limit=2)} == set(
        made_ids
    )


def test_outputs_and_errors_paginate(sdk: bem.Bem, workflow: dict[str, Any]) -> None:
    good = {"single_file": {"input_content": b64(invoice("E-1")), "input_type": "text"}}
    bad = {"single_file": {"input_content": b64(b"no pdf"), "input_type": "pdf"}}
    goods = [sdk.workflows.call("v3-flow", input=good, wait=True).call for _ in range(3)]
    bads = [sdk.workflows.with_raw_response.call("v3-flow", input=bad, call_reference_id=f"bad-{i}") for i in range(3)]
    bad_ids = [raw.parse().call.call_id for raw in bads]  # type: ignore[union-attr]
    for call_id in bad_ids:
        assert poll(sdk, call_id).status == "failed"
    outputs = list(sdk.outputs.list(workflow_names=["v3-flow"], limit=2))
    assert [o.call_id for o in outputs] == [c.call_id for c in goods if c is not None]
    assert {o.event_type for o in outputs} == {"payload_shaping"}
    errors = list(sdk.errors.list(reference_id_substring="bad-", limit=2))
    assert sorted(e.call_id or "" for e in errors) == sorted(bad_ids)  # in the order they failed: no repeats
    assert [e.reference_id for e in sdk.errors.list(reference_ids=["bad-1"])] == ["bad-1"]


def test_call_errors(sdk: bem.Bem, api: httpx.Client, workflow: dict[str, Any]) -> None:
    with pytest.raises(bem.NotFoundError):
        sdk.workflows.call("no-such-flow", input=pdf_input())
    with pytest.raises(bem.NotFoundError):
        sdk.calls.retrieve("call_missing")
    with pytest.raises(bem.NotFoundError):
        sdk.calls.retrieve_trace("call_missing")
    with pytest.raises(bem.BadRequestError):
        sdk.workflows.call("v3-flow", input={"single_file": {"input_content": "%%%", "input_type": "pdf"}})
    assert_error(api.post("/v3/workflows/v3-flow/call", json={"input": {}}), 400, "input")
    assert_error(api.get("/v3/calls", params={"nope": "1"}), 400)
    assert_error(api.get("/v3/outputs", params={"eventTypes": "error"}), 400, "eventTypes[0]")
    too_big = {"input": {"singleFile": {"inputType": "text", "inputContent": b64(b"x")}}, "metadata": {"k": "v" * 5000}}
    assert_error(api.post("/v3/workflows/v3-flow/call", json=too_big), 400, "metadata")


def test_multipart_call(api: httpx.Client, workflow: dict[str, Any]) -> None:
    response = api.post(
        "/v3/workflows/v3-flow/call",
        files={"file": ("invoice.pdf", documents.pdf(), "application/pdf")},
        data={"callReferenceID": "form", "wait": "true"},
    )
    assert response.status_code == 200, response.text
    call = response.json()["call"]
    assert (call["status"], call["callReferenceID"]) == ("completed", "form")
    assert call["input"]["singleFile"]["inputType"] == "pdf"
    assert call["outputs"][0]["transformedContent"]["number"] == documents.NUMBER


def test_multipart_call_refuses_unknown_fields_as_json_does(api: httpx.Client, workflow: dict[str, Any]) -> None:
    """A misspelt ``callReferenceId`` would make a call without its reference: a 400, in the words
    of a JSON body's unknown field. bem's other fields are taken (``bucket`` is ignored, as in JSON)."""
    form = api.post(
        "/v3/workflows/v3-flow/call",
        files={"file": ("invoice.txt", invoice("F-1"), "text/plain")},
        data={"callReferenceId": "form"},
    )
    body = {
        "input": {"singleFile": {"inputType": "text", "inputContent": b64(invoice("F-1"))}},
        "callReferenceId": "form",
    }
    in_json = api.post("/v3/workflows/v3-flow/call", json=body)
    assert assert_error(form, 400, "callReferenceId") == assert_error(in_json, 400, "callReferenceId")
    assert api.get("/v3/calls").json()["calls"] == []
    taken = api.post(
        "/v3/workflows/v3-flow/call",
        files={"file": ("invoice.txt", invoice("F-1"), "text/plain")},
        data={"callReferenceID": "form", "wait": "false", "metadata": "{}", "bucket": "default"},
    )
    assert taken.status_code == 202, taken.text
    assert taken.json()["call"]["callReferenceID"] == "form"


def test_idempotency_key_replays_the_created_call(sdk: bem.Bem, workflow: dict[str, Any]) -> None:
    """A retry with the same key creates nothing: it answers the call as created (pending)."""
    headers = {"Idempotency-Key": "v3-call-once"}
    body = pdf_input()  # once: the PDF states its creation time, so a second rendering may differ
    first = sdk.workflows.with_raw_response.call("v3-flow", input=body, extra_headers=headers)
    again = sdk.workflows.with_raw_response.call("v3-flow", input=body, extra_headers=headers)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.headers["Idempotent-Replayed"] == "true"
    created = first.parse().call
    assert created is not None and again.parse().call == created
    assert [c.call_id for c in sdk.calls.list()] == [created.call_id]


def test_call_metadata_is_kept_and_reaches_the_outputs_as_metadata(sdk: bem.Bem, api: httpx.Client) -> None:
    schema = {"type": "object", "properties": {"invoiceNumber": {"type": "string"}, "totalAmount": {"type": "number"}}}
    sdk.functions.create(function_name="with-meta", type="extract", output_schema_name="Invoice", output_schema=schema)
    sdk.workflows.create(name="with-meta", main_node_name="x", nodes=[{"name": "x", "function": {"name": "with-meta"}}])
    metadata = {"tenant": "acme", "batch": 7, "tags": ["q1"]}
    document = {"single_file": {"input_type": "text", "input_content": b64(invoice("INV-77", "12.00"))}}
    answer = sdk.workflows.call(
        "with-meta", input=document, call_reference_id="ref-77", metadata=metadata, wait=True
    ).call
    assert (answer.model_extra or {})["metadata"] == metadata
    [output] = answer.outputs
    content = output.transformed_content  # type: ignore[union-attr]
    assert content["_metadata"] == metadata | {"referenceID": "ref-77"}
    assert content["invoiceNumber"] == "INV-77"
    again = sdk.calls.retrieve(answer.call_id).call
    assert (again.model_extra or {})["metadata"] == metadata
    # the metadata is not part of the extraction: approving the output as it is counts every field right
    event_id = output.event_id  # type: ignore[union-attr]
    sdk.events.submit_feedback(event_id, correction=content)
    assert api.get(f"/v1-alpha/events/{event_id}").json()["metrics"]["differences"] == []
    # a call without metadata has none, and its outputs no _metadata
    plain = sdk.workflows.call("with-meta", input=document, wait=True).call
    assert "metadata" not in (plain.model_extra or {})
    assert "_metadata" not in plain.outputs[0].transformed_content  # type: ignore[union-attr, operator]


def test_a_presentation_is_read_slide_by_slide(sdk: bem.Bem) -> None:
    schema = {"type": "object", "properties": {"invoiceNumber": {"type": "string"}, "totalAmount": {"type": "number"}}}
    sdk.functions.create(function_name="slides", type="extract", output_schema_name="Invoice", output_schema=schema)
    sdk.workflows.create(name="slides", main_node_name="x", nodes=[{"name": "x", "function": {"name": "slides"}}])
    document = {"single_file": {"input_type": "pptx", "input_content": b64(documents.pptx())}}
    call = sdk.workflows.call("slides", input=document, wait=True).call
    assert call.status == "completed"
    content = call.outputs[0].transformed_content  # type: ignore[union-attr]
    assert content == {"invoiceNumber": documents.NUMBER, "totalAmount": pytest.approx(documents.TOTAL)}
