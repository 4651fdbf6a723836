"""``POST /v3/events/{eventID}/feedback``: a person's correction of an event, through the official SDK."""

from __future__ import annotations

import base64

import bem
import httpx
import pytest

from tests.calls_client import events_of, invoice, single, submit, wait_for
from tests.helpers import create_function, route, transform

SCHEMA = {"type": "object", "properties": {"invoiceNumber": {"type": "string"}, "totalAmount": {"type": "number"}}}


def _extracted(sdk: bem.Bem, name: str) -> str:
    """The event ID of an extraction of a small text invoice."""
    sdk.functions.create(function_name=name, type="extract", output_schema_name="Invoice", output_schema=SCHEMA)
    sdk.workflows.create(name=name, main_node_name="x", nodes=[{"name": "x", "function": {"name": name}}])
    document = {
        "single_file": {"input_type": "text", "input_content": base64.b64encode(invoice("INV-9", "80.00")).decode()}
    }
    [output] = sdk.workflows.call(name, input=document, wait=True).call.outputs
    return output.event_id  # type: ignore[no-any-return]


def test_feedback_on_an_extraction_becomes_its_corrected_content(sdk: bem.Bem, api: httpx.Client) -> None:
    event_id = _extracted(sdk, "fed-back")
    corrected = {"invoiceNumber": "INV-9", "totalAmount": 90.0}
    answer = sdk.events.submit_feedback(event_id, correction=corrected)
    assert (answer.event_id, answer.function_type, answer.correction) == (event_id, "extract", corrected)

    assert sdk.outputs.retrieve(event_id).output.corrected_content == corrected  # type: ignore[union-attr]
    event = api.get(f"/v1-alpha/events/{event_id}").json()
    assert event["correctedContent"] == corrected
    assert event["metrics"]["differences"]  # the total differed: the metrics say where
    again = {"invoiceNumber": "INV-9", "totalAmount": 80.0}
    sdk.events.submit_feedback(event_id, correction=again)  # sent again, it replaces the last
    assert api.get(f"/v1-alpha/events/{event_id}").json()["correctedContent"] == again
    labelled = sdk.outputs.list(is_labelled=True)
    assert event_id in [output.event_id for output in labelled]


def test_feedback_on_a_classification_names_one_of_its_routes(sdk: bem.Bem, api: httpx.Client) -> None:
    create_function(api, route("fed-sorter", ["invoice", "other"]))
    [created] = submit(api, {"functionName": "fed-sorter", "input": single(invoice("INV-1"))})
    wait_for(api, created["callID"])
    [event] = events_of(api, created["callID"], "route")
    assert sdk.events.submit_feedback(event["eventID"], correction="other").function_type == "classify"
    assert api.get(f"/v1-alpha/events/{event['eventID']}").json()["correctedContent"] == "other"
    with pytest.raises(bem.BadRequestError) as refused:
        sdk.events.submit_feedback(event["eventID"], correction="receipts")
    assert refused.value.body["details"]["field"] == "correction"  # type: ignore[index]


def test_feedback_that_cannot_apply_is_refused(sdk: bem.Bem, api: httpx.Client) -> None:
    with pytest.raises(bem.NotFoundError):
        sdk.events.submit_feedback("evt_nope", correction={})
    event_id = _extracted(sdk, "fed-wrong")
    with pytest.raises(bem.BadRequestError):
        sdk.events.submit_feedback(event_id, correction="not an object")
    create_function(api, transform("fed-broken"))
    [created] = submit(api, {"functionName": "fed-broken", "input": single(b"%PDF-1.4 broken", "pdf")})
    wait_for(api, created["callID"])
    [error] = events_of(api, created["callID"], "error")
    with pytest.raises(bem.BadRequestError) as refused:
        sdk.events.submit_feedback(error["eventID"], correction={})
    assert "error event takes no feedback" in refused.value.body["message"]  # type: ignore[index]
    assert api.get(f"/v1-alpha/events/{error['eventID']}").json().get("correctedContent") is None


def test_outputs_that_need_review_until_a_person_decides(sdk: bem.Bem, api: httpx.Client) -> None:
    event_id = _extracted(sdk, "fed-queue")
    output = api.get(f"/v3/outputs/{event_id}").json()["output"]
    waiting = {"needsReview": "true", "isLabelled": "false", "functionNames": "fed-queue"}
    listed = [o["eventID"] for o in api.get("/v3/outputs", params=waiting).json()["outputs"]]
    assert listed == ([event_id] if output["needsReview"] else [])
    sure = [o["eventID"] for o in api.get("/v3/outputs", params=waiting | {"needsReview": "false"}).json()["outputs"]]
    assert sure == ([] if output["needsReview"] else [event_id])
    sdk.events.submit_feedback(event_id, correction=output["transformedContent"])
    assert api.get("/v3/outputs", params=waiting).json()["outputs"] == []  # decided: off the queue
