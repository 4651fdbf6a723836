"""Conformance of calls with the bem v2 reference (sections 2, 3.1, 3.2, 4.1-4.5, 7) and the
List Calls contract of design.md.

Everything goes through HTTP against a real server (SQLite and PostgreSQL), with the engine
running in-process. Expectations are derived from what the tests sent: IDs from create
responses, orders from the created calls' ``(createdAt, callID)``, extracted values from the
text lines of the submitted documents, statuses from whether an input is readable.
Calls run in the background; tests poll with a bounded loop and never assert on timing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.calls import search
from quarry.calls.models import Call
from quarry.storage.blobs.urls import FileUrlSigner
from quarry.storage.secrets import instance_secret
from tests.calls_client import (
    TERMINAL,
    assert_no_calls,
    b64,
    batch,
    check_call_invariants,
    check_function_call_shape,
    create_workflow,
    error_field,
    events_of,
    get_call,
    get_function_call,
    invoice,
    list_calls,
    listed_ids,
    parse_time,
    post_calls,
    shaping,
    single,
    submit,
    wait_for,
    wait_for_function_call,
    without_urls,
)
from tests.conftest import Server, Tenant, make_tenant
from tests.helpers import assert_error, create_function, route, transform

# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def extract(api: httpx.Client) -> dict[str, Any]:
    return create_function(api, transform("extract"))


# === POST /v2/calls ==========================================================================


def test_function_call_is_answered_pending_then_completes(api: httpx.Client, extract: dict[str, Any]) -> None:
    document = invoice("INV-1001", "1,234.50")
    [created] = submit(api, {"functionName": "extract", "callReferenceID": "ref-1", "input": single(document)})

    assert created["callType"] == "function"
    assert created["functionID"] == extract["functionID"]
    assert created["functionName"] == "extract"
    assert created["functionType"] == "transform"
    assert created["functionVersionNum"] == extract["versionNum"]
    assert created["callReferenceID"] == "ref-1"
    assert created["input"]["singleFile"]["inputType"] == "text"
    [root] = created["functionCalls"]
    assert root["status"] == "pending"
    assert root["functionID"] == extract["functionID"]
    assert root["functionName"] == "extract"
    assert root["type"] == "transform"
    assert root["functionVersionNum"] == extract["versionNum"]
    assert root["referenceID"] == "ref-1"
    assert root["workflowCallID"] == created["callID"]
    assert "sourceFunctionCallID" not in root and "sourceEventID" not in root
    assert root["inputType"] == "text"
    assert [i["inputType"] for i in root["inputs"]] == ["text"]

    done = wait_for(api, created["callID"])
    assert done["status"] == "completed"
    assert without_urls({k: v for k, v in done.items() if k not in ("status", "finishedAt", "functionCalls")}) == (
        without_urls({k: v for k, v in created.items() if k not in ("status", "functionCalls")})
    )
    [root_done] = done["functionCalls"]
    assert root_done["functionCallID"] == root["functionCallID"]
    assert root_done["status"] == "completed"
    assert parse_time(root_done["startedAt"]) >= parse_time(done["createdAt"])

    [event] = events_of(api, created["callID"], "transform")
    assert event["functionCallID"] == root["functionCallID"]
    assert event["referenceID"] == "ref-1"
    assert event["functionName"] == "extract"
    assert event["transformedContent"] == {"invoiceNumber": "INV-1001", "totalAmount": 1234.5}
    assert events_of(api, created["callID"], "error") == []

    # the function call on its own: the bare object, the same as inside the call
    fc = get_function_call(api, root["functionCallID"])
    assert without_urls(fc) == without_urls(root_done)


def test_each_target_kind_and_batch_of_calls(api: httpx.Client, extract: dict[str, Any]) -> None:
    other = create_function(api, transform("extract-other"))
    workflow = create_workflow(api, "wf", "extract-other")
    created = submit(
        api,
        {"functionName": "extract", "input": single(invoice("A-1"))},
        {"functionID": other["functionID"], "callReferenceID": "by-id", "input": single(invoice("A-2"))},
        {"workflowName": "wf", "callReferenceID": "wf-by-name", "input": single(invoice("A-3"))},
        {"workflowID": workflow["id"], "input": single(invoice("A-4"))},
    )
    assert len({c["callID"] for c in created}) == 4
    by_name, by_id, wf_by_name, wf_by_id = created
    assert (by_name["callType"], by_name["functionID"], by_name["functionName"]) == (
        "function", extract["functionID"], "extract",
    )  # fmt: skip
    assert "callReferenceID" not in by_name
    assert by_name["functionCalls"][0].get("referenceID") is None
    assert (by_id["callType"], by_id["functionID"], by_id["functionName"]) == (
        "function", other["functionID"], "extract-other",
    )  # fmt: skip
    for wf_call in (wf_by_name, wf_by_id):
        assert wf_call["callType"] == "workflow"
        assert wf_call["workflowID"] == workflow["id"]
        assert wf_call["workflowName"] == "wf"
        assert wf_call["workflowVersionNum"] == workflow["versionNum"]
        [root] = wf_call["functionCalls"]
        assert root["functionID"] == other["functionID"]  # the workflow's main function
    assert wf_by_name["functionCalls"][0]["referenceID"] == "wf-by-name"

    numbers = ["A-1", "A-2", "A-3", "A-4"]
    for call, number in zip(created, numbers, strict=True):
        assert wait_for(api, call["callID"])["status"] == "completed"
        [event] = events_of(api, call["callID"], "transform")
        assert event["transformedContent"]["invoiceNumber"] == number
        if call["callType"] == "workflow":
            assert (event["workflowID"], event["workflowName"]) == (workflow["id"], "wf")


def test_creation_order_is_submission_order(api: httpx.Client, extract: dict[str, Any]) -> None:
    items = [{"functionName": "extract", "input": single(invoice(f"O-{i}"))} for i in range(40)]
    created = submit(api, *items)
    assert listed_ids(api, {"limit": 100}) == [c["callID"] for c in created]
    assert listed_ids(api, {"limit": 100, "sortOrder": "desc"}) == [c["callID"] for c in reversed(created)]
    refs = [f"p-{i}" for i in range(20)]
    [batch_call] = submit(api, {"functionName": "extract", "input": batch(*[(invoice(r), r) for r in refs])})
    assert [fc["referenceID"] for fc in batch_call["functionCalls"]] == refs
    assert [fc["referenceID"] for fc in get_call(api, batch_call["callID"])["functionCalls"]] == refs


def test_data_url_content_is_accepted_and_stored_decoded(
    api: httpx.Client, anonymous: httpx.Client, extract: dict[str, Any]
) -> None:
    document = invoice("DATA-URL-7")
    [created] = submit(
        api,
        {
            "functionName": "extract",
            "input": {"singleFile": {"inputType": "text", "inputContent": "data:text/plain;base64," + b64(document)}},
        },
    )
    assert anonymous.get(created["input"]["singleFile"]["s3URL"]).content == document
    wait_for(api, created["callID"])
    [event] = events_of(api, created["callID"], "transform")
    assert event["transformedContent"]["invoiceNumber"] == "DATA-URL-7"


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("SGVsbG8", id="missing-padding"),
        pytest.param("SGVs\nbG8=", id="line-break"),
        pytest.param("SGVsbG8-_w==", id="url-safe-alphabet"),
        pytest.param("not base64 at all!", id="garbage"),
        pytest.param("data:text/plain;base64,SGVsbG8", id="data-url-missing-padding"),
    ],
)
def test_invalid_base64_is_400_naming_the_item_and_creates_nothing(
    api: httpx.Client, extract: dict[str, Any], content: str
) -> None:
    good = {"functionName": "extract", "input": single(invoice("OK-1"))}
    bad = {"functionName": "extract", "input": {"singleFile": {"inputType": "text", "inputContent": content}}}
    response = post_calls(api, good, bad, good)
    assert error_field(response, 400) == "calls[1].input.singleFile.inputContent"
    assert_no_calls(api)


def test_invalid_batch_item_is_400_naming_its_index(api: httpx.Client, extract: dict[str, Any]) -> None:
    item = batch((invoice("B-1"), "b-1"), (invoice("B-2"), "b-2"))
    item["batchFiles"]["inputs"][1]["inputContent"] = "@@@"
    response = post_calls(
        api, {"functionName": "extract", "input": single(invoice("OK"))}, {"functionName": "extract", "input": item}
    )
    assert error_field(response, 400) == "calls[1].input.batchFiles.inputs[1].inputContent"
    assert_no_calls(api)


@pytest.mark.parametrize(
    ("item", "field"),
    [
        pytest.param({"functionName": "nope"}, "calls[1].functionName", id="unknown-function-name"),
        pytest.param({"functionID": "f_unknown"}, "calls[1].functionID", id="unknown-function-id"),
        pytest.param({"workflowName": "nope"}, "calls[1].workflowName", id="unknown-workflow-name"),
        pytest.param({"workflowID": "wf_unknown"}, "calls[1].workflowID", id="unknown-workflow-id"),
        pytest.param({}, "calls[1]", id="no-target"),
        pytest.param({"functionName": "extract", "workflowName": "x"}, "calls[1]", id="two-targets"),
        pytest.param({"functionName": "extract", "functionID": "f_x"}, "calls[1]", id="name-and-id"),
    ],
)
def test_bad_target_is_400_naming_the_item_and_creates_nothing(
    api: httpx.Client, extract: dict[str, Any], item: dict[str, Any], field: str
) -> None:
    good = {"functionName": "extract", "input": single(invoice("OK"))}
    response = post_calls(api, good, item | {"input": single(invoice("X"))})
    assert error_field(response, 400) == field
    assert_no_calls(api)


@pytest.mark.parametrize(
    ("call_input", "field"),
    [
        pytest.param({}, "calls[0].input", id="neither-single-nor-batch"),
        pytest.param(single(b"a") | batch((b"b", None)), "calls[0].input", id="both-single-and-batch"),
        pytest.param(
            {"singleFile": {"inputType": "exe", "inputContent": b64(b"x")}},
            "calls[0].input.singleFile.inputType",
            id="unknown-input-type",
        ),  # fmt: skip
        pytest.param({"singleFile": {"inputType": "text"}}, "calls[0].input.singleFile.inputContent", id="no-content"),
        pytest.param(
            {"singleFile": {"inputType": "text", "inputContent": 12}},
            "calls[0].input.singleFile.inputContent",
            id="content-not-a-string",
        ),  # fmt: skip
        pytest.param({"batchFiles": {"inputs": []}}, "calls[0].input.batchFiles.inputs", id="empty-batch"),
        pytest.param(single(b"a") | {"extra": 1}, "calls[0].input.extra", id="unknown-field"),
        pytest.param(batch(*[(b"x", None)] * 101), "calls[0].input.batchFiles.inputs", id="batch-over-100"),
    ],
)
def test_bad_input_shape_is_400(
    api: httpx.Client, extract: dict[str, Any], call_input: dict[str, Any], field: str
) -> None:
    response = post_calls(api, {"functionName": "extract", "input": call_input})
    assert error_field(response, 400) == field
    assert_no_calls(api)


def test_bad_request_bodies_are_400(api: httpx.Client, extract: dict[str, Any]) -> None:
    good = {"functionName": "extract", "input": single(invoice("OK"))}
    assert_error(api.post("/v2/calls", json={"calls": []}), 400, "calls")
    assert_error(api.post("/v2/calls", json={"calls": [good] * 101}), 400, "calls")
    assert_error(api.post("/v2/calls", json={}), 400, "calls")
    assert_error(
        api.post("/v2/calls", json={"calls": [good | {"callReferenceID": ""}]}), 400, "calls[0].callReferenceID"
    )
    assert_error(api.post("/v2/calls", json={"calls": [{"functionName": "extract"}]}), 400, "calls[0].input")
    too_long = good | {"callReferenceID": "r" * 257}
    assert_error(api.post("/v2/calls", json={"calls": [too_long]}), 400, "calls[0].callReferenceID")
    assert_error(api.post("/v2/calls", json={"calls": [good], "wait": True}), 400, "wait")
    assert_error(
        api.post("/v2/calls", json={"calls": [good | {"callreferenceid": "x"}]}), 400, "calls[0].callreferenceid"
    )
    assert_error(api.post("/v2/calls", content=b"{not json", headers={"content-type": "application/json"}), 400)
    assert_no_calls(api)


def test_json_only_function_refuses_a_document_input(api: httpx.Client) -> None:
    create_function(api, shaping("shape", "{id: invoiceNumber}"))
    response = post_calls(api, {"functionName": "shape", "input": single(invoice("X"))})
    assert error_field(response, 400) == "calls[0].input.singleFile.inputType"
    assert_no_calls(api)
    # JSON is what it takes
    [created] = submit(api, {"functionName": "shape", "input": single(b'{"invoiceNumber": "J-5", "x": 1}', "json")})
    assert wait_for(api, created["callID"])["status"] == "completed"
    [shaped] = events_of(api, created["callID"], "payload_shaping")
    assert shaped["transformedContent"] == {"id": "J-5"}


def test_json_read_back_keeps_every_number_as_written(api: httpx.Client) -> None:
    """JSON columns are parsed by orjson where it agrees with json: an integer beyond 64 bits
    stays an exact integer, a float keeps its digits."""
    create_function(api, shaping("echo", "@"))
    document = {"big": 2**70 + 1, "negative": -(2**64), "small": 7, "ratio": 0.1234567890123456789, "text": "é"}
    [created] = submit(api, {"functionName": "echo", "input": single(json.dumps(document).encode(), "json")})
    assert wait_for(api, created["callID"])["status"] == "completed"
    [shaped] = events_of(api, created["callID"], "payload_shaping")
    assert shaped["transformedContent"] == document
    assert json.loads(json.dumps(shaped["transformedContent"]))["big"] == 2**70 + 1


def test_input_over_the_size_limit_is_413_and_creates_nothing(
    server: Server, api: httpx.Client, extract: dict[str, Any]
) -> None:
    limit = server.settings.max_input_bytes
    assert limit == 50 * 1024 * 1024  # the default
    good = {"functionName": "extract", "input": single(invoice("OK"))}
    too_big = {"functionName": "extract", "input": single(b"a" * (limit + 1))}
    response = post_calls(api, good, too_big)
    assert error_field(response, 413) == "calls[1].input.singleFile.inputContent"
    assert_no_calls(api)


# === execution: graphs, linking, events ======================================================


def test_workflow_transform_then_payload_shaping(api: httpx.Client, extract: dict[str, Any]) -> None:
    shape = create_function(api, shaping("shape", "{id: invoiceNumber}"))
    workflow = create_workflow(api, "chain", "extract", [("extract", "shape", None)])
    [created] = submit(api, {"workflowName": "chain", "callReferenceID": "chain-1", "input": single(invoice("INV-77"))})

    done = wait_for(api, created["callID"])
    assert done["status"] == "completed"
    assert (done["workflowID"], done["workflowVersionNum"]) == (workflow["id"], workflow["versionNum"])
    root, child = done["functionCalls"]
    assert (root["functionID"], root["type"]) == (extract["functionID"], "transform")
    assert (child["functionID"], child["type"], child["functionName"]) == (
        shape["functionID"],
        "payload_shaping",
        "shape",
    )
    assert root["functionCallID"] == created["functionCalls"][0]["functionCallID"]
    assert "sourceFunctionCallID" not in root and "sourceEventID" not in root
    assert {root["referenceID"], child["referenceID"]} == {"chain-1"}
    assert child["inputs"] == []  # JSON handed over, no file

    [transform_event] = events_of(api, created["callID"], "transform")
    assert transform_event["functionCallID"] == root["functionCallID"]
    assert transform_event["transformedContent"]["invoiceNumber"] == "INV-77"
    assert child["sourceFunctionCallID"] == root["functionCallID"]
    assert child["sourceEventID"] == transform_event["eventID"]

    assert without_urls(get_function_call(api, child["functionCallID"])) == without_urls(child)

    [shaped] = events_of(api, created["callID"], "payload_shaping")
    assert shaped["functionCallID"] == child["functionCallID"]
    assert shaped["transformedContent"] == {"id": "INV-77"}
    assert shaped["referenceID"] == "chain-1"
    assert (shaped["workflowID"], shaped["workflowName"]) == (workflow["id"], "chain")
    response = api.get(f"/v1-alpha/events/{shaped['eventID']}")
    assert response.status_code == 200 and response.json() == shaped
    assert {e["eventType"] for e in events_of(api, created["callID"])} == {"transform", "payload_shaping"}


def test_route_workflow_takes_the_branch_whose_regex_matches(api: httpx.Client) -> None:
    sorter = route("sorter", ["invoice", "receipt"])
    sorter["routes"][0]["regex"] = {"patterns": [r"Invoice Number:\s*INV-\d+"]}
    sorter["routes"][1]["regex"] = {"patterns": [r"Receipt No\.?\s*R\d+"]}
    create_function(api, sorter)
    on_invoice = create_function(api, transform("on-invoice"))
    on_receipt = create_function(api, transform("on-receipt"))
    create_workflow(api, "sort", "sorter", [("sorter", "on-invoice", "invoice"), ("sorter", "on-receipt", "receipt")])
    # it also names the other route (first in order): only the regex tells them apart
    receipt_doc = b"Corner Shop\nReceipt No. R778 (no invoice)\nTotal Amount: 3.20\n"
    created = submit(
        api,
        {"workflowName": "sort", "callReferenceID": "inv", "input": single(invoice("INV-5"))},
        {"workflowName": "sort", "callReferenceID": "rcp", "input": single(receipt_doc)},
    )
    for call, branch, target in zip(created, ["invoice", "receipt"], [on_invoice, on_receipt], strict=True):
        done = wait_for(api, call["callID"])
        assert done["status"] == "completed"
        root, child = done["functionCalls"]  # only the chosen branch ran
        assert root["type"] == "route"
        [route_event] = events_of(api, call["callID"], "route")
        assert route_event["choice"] == branch
        assert route_event["functionCallID"] == root["functionCallID"]
        assert child["functionID"] == target["functionID"]
        assert child["sourceFunctionCallID"] == root["functionCallID"]
        assert child["sourceEventID"] == route_event["eventID"]
        assert child["referenceID"] == call["callReferenceID"]
        # the document itself flows on along the branch
        assert without_urls(child["inputs"]) == without_urls(root["inputs"])
        [extracted] = events_of(api, call["callID"], "transform")
        assert extracted["functionCallID"] == child["functionCallID"]
    receipt_total = events_of(api, created[1]["callID"], "transform")[0]["transformedContent"]["totalAmount"]
    assert receipt_total == 3.2


def test_route_called_on_its_own_follows_its_own_target(api: httpx.Client, extract: dict[str, Any]) -> None:
    sorter = route("sorter", ["invoice", "receipt"])
    sorter["routes"][0] |= {"regex": {"patterns": ["Invoice Number"]}, "functionName": "extract"}
    create_function(api, sorter)
    [created] = submit(api, {"functionName": "sorter", "input": single(invoice("OWN-1"))})
    done = wait_for(api, created["callID"])
    assert [fc["functionName"] for fc in done["functionCalls"]] == ["sorter", "extract"]
    [extracted] = events_of(api, created["callID"], "transform")
    assert extracted["transformedContent"]["invoiceNumber"] == "OWN-1"


def test_route_targets_apply_in_a_workflow_only_where_it_has_no_edge(
    api: httpx.Client, extract: dict[str, Any]
) -> None:
    create_function(api, shaping("shape", "{id: invoiceNumber}"))
    sorter = route("sorter", ["invoice", "receipt"])
    sorter["routes"][0] |= {"regex": {"patterns": ["Invoice Number"]}, "functionName": "extract"}
    sorter["routes"][1] |= {"regex": {"patterns": ["RECEIPT"]}, "functionName": "extract"}
    create_function(api, sorter)
    # the workflow sends receipts to "shape"; invoices have no edge, so the route's own target runs
    create_workflow(api, "sorting", "sorter", [("sorter", "shape", "receipt")])
    invoice_call, receipt_call = submit(
        api,
        {"workflowName": "sorting", "input": single(invoice("W-1"))},
        {"workflowName": "sorting", "input": single(b'{"invoiceNumber": "R-9", "note": "RECEIPT"}', "json")},
    )
    invoice_done = wait_for(api, invoice_call["callID"])
    assert [fc["functionName"] for fc in invoice_done["functionCalls"]] == ["sorter", "extract"]
    receipt_done = wait_for(api, receipt_call["callID"])
    assert [fc["functionName"] for fc in receipt_done["functionCalls"]] == ["sorter", "shape"]
    [shaped] = events_of(api, receipt_call["callID"], "payload_shaping")
    assert shaped["transformedContent"] == {"id": "R-9"}


def test_batch_input_runs_one_root_function_call_per_file(api: httpx.Client, anonymous: httpx.Client) -> None:
    create_function(api, transform("extract"))
    create_function(api, shaping("shape", "{id: invoiceNumber}"))
    create_workflow(api, "chain", "extract", [("extract", "shape", None)])
    files = [(invoice("N-1"), "item-1"), (invoice("N-2"), None), (invoice("N-3"), "item-3")]
    [created] = submit(api, {"workflowName": "chain", "callReferenceID": "the-batch", "input": batch(*files)})
    expected_refs = ["item-1", "the-batch", "item-3"]  # an item without its own reference takes the call's

    inputs = created["input"]["batchFiles"]["inputs"]
    assert [i.get("itemReferenceID") for i in inputs] == [ref for _, ref in files]
    assert [anonymous.get(i["s3URL"]).content for i in inputs] == [data for data, _ in files]
    roots = created["functionCalls"]
    assert [fc["referenceID"] for fc in roots] == expected_refs
    for fc, (data, ref), entry in zip(roots, files, inputs, strict=True):
        [own] = fc["inputs"]
        assert own.get("itemReferenceID") == ref
        assert urlsplit(own["s3URL"]).path == urlsplit(entry["s3URL"]).path
        assert anonymous.get(fc["s3URL"]).content == data

    done = wait_for(api, created["callID"])
    assert done["status"] == "completed"
    root_ids = [fc["functionCallID"] for fc in roots]
    assert [fc["functionCallID"] for fc in done["functionCalls"][:3]] == root_ids
    children = done["functionCalls"][3:]
    assert len(children) == 3
    assert sorted(fc["sourceFunctionCallID"] for fc in children) == sorted(root_ids)

    transform_events = events_of(api, created["callID"], "transform")
    assert sorted((e["functionCallID"], e["referenceID"], e["transformedContent"]["invoiceNumber"])
                  for e in transform_events) == sorted(
        zip(root_ids, expected_refs, ["N-1", "N-2", "N-3"], strict=True)
    )  # fmt: skip
    shaped = events_of(api, created["callID"], "payload_shaping")
    assert sorted((e["referenceID"], e["transformedContent"]["id"]) for e in shaped) == sorted(
        zip(expected_refs, ["N-1", "N-2", "N-3"], strict=True)
    )
    by_id = {fc["functionCallID"]: fc for fc in done["functionCalls"]}
    for event in shaped:
        child = by_id[event["functionCallID"]]
        source_event = next(e for e in transform_events if e["eventID"] == child["sourceEventID"])
        assert source_event["functionCallID"] == child["sourceFunctionCallID"]
        assert source_event["referenceID"] == child["referenceID"] == event["referenceID"]


def test_broken_input_fails_the_call_with_an_error_event(api: httpx.Client, extract: dict[str, Any]) -> None:
    [created] = submit(
        api, {"functionName": "extract", "callReferenceID": "bad-pdf", "input": single(b"this is no PDF", "pdf")}
    )
    done = wait_for(api, created["callID"])
    assert done["status"] == "failed"
    [fc] = done["functionCalls"]
    assert fc["status"] == "failed"
    [error] = events_of(api, created["callID"], "error")
    assert error["functionCallID"] == fc["functionCallID"]
    assert error["referenceID"] == "bad-pdf"
    assert isinstance(error["message"], str) and error["message"]
    assert events_of(api, created["callID"], "transform") == []


def test_one_broken_file_of_a_batch_fails_the_call_but_not_the_others(
    api: httpx.Client, extract: dict[str, Any]
) -> None:
    [created] = submit(
        api,
        {"functionName": "extract", "input": batch((invoice("G-1"), "good"), (b"%PDF-garbage", "broken", "pdf"))},
    )
    done = wait_for(api, created["callID"])
    assert done["status"] == "failed"
    assert [(fc["referenceID"], fc["status"]) for fc in done["functionCalls"]] == [
        ("good", "completed"),
        ("broken", "failed"),
    ]
    [extracted] = events_of(api, created["callID"], "transform")
    assert (extracted["referenceID"], extracted["transformedContent"]["invoiceNumber"]) == ("good", "G-1")
    [error] = events_of(api, created["callID"], "error")
    assert error["referenceID"] == "broken"


def test_input_a_function_cannot_work_on_fails_with_an_error_event(api: httpx.Client) -> None:
    create_function(api, {"functionName": "pager", "type": "split", "splitType": "print_page"})
    [created] = submit(api, {"functionName": "pager", "input": single(invoice("S-1"))})
    done = wait_for(api, created["callID"])
    assert done["status"] == "failed"
    [error] = events_of(api, created["callID"], "error")
    assert "takes a PDF document; this input is text" in error["message"]
    assert error["functionCallID"] == done["functionCalls"][0]["functionCallID"]


# === POST /v2/functions/{functionName}/call and GET /v2/functions/calls/{id} ==================


def test_call_function_with_json_arguments(api: httpx.Client, extract: dict[str, Any]) -> None:
    response = api.post(
        "/v2/functions/extract/call",
        json={
            "arguments": [
                {"referenceID": "ref-001", "inputType": "text", "inputContent": b64(invoice("F-1"))},
                {"referenceID": "ref-002", "inputType": "text", "inputContent": b64(invoice("F-2"))},
            ]
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"functionCalls"}
    fcs = body["functionCalls"]
    assert [fc["referenceID"] for fc in fcs] == ["ref-001", "ref-002"]
    assert len({fc["workflowCallID"] for fc in fcs}) == 2  # one call per argument
    for fc, number in zip(fcs, ["F-1", "F-2"], strict=True):
        check_function_call_shape(fc)
        assert fc["status"] == "pending"
        assert (fc["functionID"], fc["functionName"], fc["type"]) == (extract["functionID"], "extract", "transform")
        assert fc["functionVersionNum"] == extract["versionNum"]
        assert fc["inputType"] == "text"

        finished = wait_for_function_call(api, fc["functionCallID"])
        assert finished["status"] == "completed"
        assert "startedAt" in finished and "finishedAt" in finished
        call = get_call(api, fc["workflowCallID"])
        assert (call["callType"], call["functionName"], call["callReferenceID"]) == (
            "function",
            "extract",
            fc["referenceID"],
        )
        assert [x["functionCallID"] for x in call["functionCalls"]] == [fc["functionCallID"]]
        [event] = events_of(api, call["callID"], "transform")
        assert event["transformedContent"]["invoiceNumber"] == number
        assert event["referenceID"] == fc["referenceID"]


def test_call_function_with_multipart_file(api: httpx.Client, anonymous: httpx.Client, extract: dict[str, Any]) -> None:
    document = invoice("MP-9")
    response = api.post(
        "/v2/functions/extract/call",
        data={"referenceID": "upload-1"},
        files={"file": ("scan.txt", document, "text/plain")},
    )
    assert response.status_code == 200, response.text
    [fc] = response.json()["functionCalls"]
    check_function_call_shape(fc)
    assert (fc["referenceID"], fc["inputType"]) == ("upload-1", "text")
    assert anonymous.get(fc["s3URL"]).content == document
    assert wait_for_function_call(api, fc["functionCallID"])["status"] == "completed"
    [event] = events_of(api, fc["workflowCallID"], "transform")
    assert event["transformedContent"]["invoiceNumber"] == "MP-9"


def test_call_function_with_multipart_files_for_a_join(api: httpx.Client, anonymous: httpx.Client) -> None:
    create_function(
        api,
        {"functionName": "joiner", "type": "join", "description": "Join the pages", "joinType": "standard",
         "outputSchemaName": "Invoice", "outputSchema": transform("x")["outputSchema"]},
    )  # fmt: skip
    first, second = invoice("J-1"), b"Total Amount: 42.00\n"
    response = api.post(
        "/v2/functions/joiner/call",
        data={"referenceID": "joined"},
        files=[("files", ("a.txt", first, "text/plain")), ("files", ("b.csv", second, "text/csv"))],
    )
    assert response.status_code == 200, response.text
    [fc] = response.json()["functionCalls"]  # a join takes every file in one function call
    check_function_call_shape(fc)
    assert fc["referenceID"] == "joined"
    assert [i["inputType"] for i in fc["inputs"]] == ["text", "csv"]
    assert [anonymous.get(i["s3URL"]).content for i in fc["inputs"]] == [first, second]
    assert wait_for_function_call(api, fc["functionCallID"])["status"] == "completed"
    [joined] = events_of(api, fc["workflowCallID"], "join")
    assert joined["transformedContent"] == {"invoiceNumber": "J-1", "totalAmount": 42.0}
    assert [item["itemOffset"] for item in joined["items"]] == [0, 1]


def test_call_function_errors(api: httpx.Client, extract: dict[str, Any]) -> None:
    def call(**kwargs: Any) -> httpx.Response:
        return api.post("/v2/functions/extract/call", **kwargs)

    good = {"referenceID": "r", "inputType": "text", "inputContent": b64(b"x")}
    assert_error(api.post("/v2/functions/nope/call", json={"arguments": [good]}), 404)
    assert_error(call(json={"arguments": []}), 400, "arguments")
    assert_error(call(json={}), 400, "arguments")
    assert_error(call(json={"arguments": [good | {"referenceID": None}]}), 400, "arguments[0].referenceID")
    assert_error(call(json={"arguments": [{"referenceID": "r", "inputType": "text"}]}), 400)
    assert_error(call(json={"arguments": [good, good | {"inputContent": "%%"}]}), 400, "arguments[1].inputContent")
    assert_error(call(json={"arguments": [good | {"inputType": "exe"}]}), 400, "arguments[0].inputType")
    assert_error(call(content=b"{oops", headers={"content-type": "application/json"}), 400)
    assert_error(call(data={"referenceID": "r"}, files={"other": ("a.txt", b"x", "text/plain")}), 400, "file")
    assert_error(call(files={"file": ("a.txt", b"x", "text/plain")}), 400, "referenceID")
    assert_error(call(data={"referenceID": ""}, files={"file": ("a.txt", b"x", "text/plain")}), 400, "referenceID")
    assert_error(
        call(data={"referenceID": "r" * 257}, files={"file": ("a.txt", b"x", "text/plain")}), 400, "referenceID"
    )
    assert_error(call(data={"referenceID": "r"}, files={"file": ("blob", b"x", "application/x-unknown")}), 400, "file")
    assert_no_calls(api)


def test_call_function_refuses_what_it_does_not_take(api: httpx.Client, extract: dict[str, Any]) -> None:
    """A form field or a query parameter it does not take is a 400 naming it, as an unknown field of
    a JSON body is: ``?wait=true`` must not look obeyed, a misspelt field must not be dropped."""
    file = {"file": ("a.txt", invoice("U-1"), "text/plain")}
    typo = assert_error(api.post("/v2/functions/extract/call", data={"referenceId": "r"}, files=file), 400)
    assert typo["message"] == "Invalid request: referenceId: Extra inputs are not permitted"
    argument = {"referenceID": "r", "inputType": "text", "inputContent": b64(b"x"), "referenceId": "r"}
    in_json = assert_error(api.post("/v2/functions/extract/call", json={"arguments": [argument]}), 400)
    assert in_json["details"]["reason"] == typo["details"]["reason"]
    both = api.post("/v2/functions/extract/call", data={"referenceID": "r", "wait": "true"}, files=file)
    assert_error(both, 400, "wait")
    waiting = api.post("/v2/functions/extract/call?wait=true", data={"referenceID": "r"}, files=file)
    assert_error(waiting, 400, "wait")
    assert_no_calls(api)


def test_json_only_function_refuses_a_document_upload(api: httpx.Client) -> None:
    create_function(api, shaping("shape", "{id: invoiceNumber}"))
    text = ("a.txt", invoice("X"), "text/plain")
    response = api.post("/v2/functions/shape/call", data={"referenceID": "r"}, files={"file": text})
    assert error_field(response, 400) == "file"
    document = ("b.json", b'{"invoiceNumber": "U-1"}', "application/json")
    response = api.post(
        "/v2/functions/shape/call", data={"referenceID": "r"}, files=[("files", document), ("files", text)]
    )
    assert error_field(response, 400) == "files[1]"
    arguments = [{"referenceID": "r", "inputType": "text", "inputContent": b64(b"x")}]
    assert (
        error_field(api.post("/v2/functions/shape/call", json={"arguments": arguments}), 400)
        == "arguments[0].inputType"
    )
    assert_no_calls(api)
    response = api.post("/v2/functions/shape/call", data={"referenceID": "r"}, files={"file": document})
    assert response.status_code == 200, response.text
    [fc] = response.json()["functionCalls"]
    assert wait_for_function_call(api, fc["functionCallID"])["status"] == "completed"
    [shaped] = events_of(api, fc["workflowCallID"], "payload_shaping")
    assert shaped["transformedContent"] == {"id": "U-1"}


def test_multipart_file_over_the_size_limit_is_413(server: Server, api: httpx.Client, extract: dict[str, Any]) -> None:
    limit = server.settings.max_input_bytes
    response = api.post(
        "/v2/functions/extract/call",
        data={"referenceID": "big"},
        files={"file": ("big.txt", b"a" * (limit + 1), "text/plain")},
    )
    assert error_field(response, 413) == "file"
    assert_no_calls(api)


def test_unknown_function_call_is_404(api: httpx.Client) -> None:
    assert_error(api.get("/v2/functions/calls/fc_doesnotexist"), 404)
    assert_error(api.get("/v2/calls/call_doesnotexist"), 404)


# === s3URL ===================================================================================


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_s3_url_returns_the_exact_bytes_and_refuses_tampering(
    server: Server, api: httpx.Client, anonymous: httpx.Client, extract: dict[str, Any]
) -> None:
    payload = bytes(range(256)) * 3  # not text: must come back byte for byte
    other_payload = b"another file"
    created = submit(
        api,
        {"functionName": "extract", "input": single(payload, "png")},
        {"functionName": "extract", "input": single(other_payload, "png")},
    )
    url = created[0]["input"]["singleFile"]["s3URL"]
    other_url = created[1]["input"]["singleFile"]["s3URL"]
    for candidate in (
        url,
        created[0]["functionCalls"][0]["s3URL"],
        created[0]["functionCalls"][0]["inputs"][0]["s3URL"],
    ):
        response = anonymous.get(candidate)  # no API key: the URL is the credential
        assert response.status_code == 200, response.text
        assert response.content == payload
        assert response.headers["content-type"].startswith("image/png")
    assert anonymous.get(other_url).content == other_payload
    # fresh URLs on every read, still to the same bytes
    fresh = get_call(api, created[0]["callID"])["input"]["singleFile"]["s3URL"]
    assert anonymous.get(fresh).content == payload

    signature = parse_qs(urlsplit(url).query)["signature"][0]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    expires = parse_qs(urlsplit(url).query)["expires"][0]
    other_path = urlsplit(other_url).path
    tampered = [
        _with_query(url, signature=flipped),
        _with_query(url, expires=str(int(expires) + 1)),
        _with_query(url, expires=str(int(time.time()) - 10)),
        urlunsplit(urlsplit(url)._replace(path=other_path)),  # this signature, another file
    ]
    for bad in tampered:
        assert_error(anonymous.get(bad), 403)

    # the URL expires: rightly signed for an instant that has passed, it is refused
    with server.db.read() as session:
        secret = instance_secret(session, "file-urls")
    key = unquote(urlsplit(url).path.removeprefix("/v2/files/"))
    base = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
    assert anonymous.get(FileUrlSigner(secret, ttl_seconds=60).url(base, key)).content == payload
    assert_error(anonymous.get(FileUrlSigner(secret, ttl_seconds=-5).url(base, key)), 403)
    assert_error(anonymous.get(FileUrlSigner(secret).url(base, key + ".missing")), 404)
    assert_error(anonymous.get(urlunsplit(urlsplit(url)._replace(query=""))), 400)


# === tenancy =================================================================================


def test_calls_are_scoped_to_their_environment(server: Server, tenant: Tenant, extract: dict[str, Any]) -> None:
    production, sandbox = tenant.production, tenant.sandbox
    [call] = submit(production, {"functionName": "extract", "callReferenceID": "prod", "input": single(invoice("T-1"))})
    fc_id = call["functionCalls"][0]["functionCallID"]

    assert list_calls(sandbox) == {"calls": [], "totalCount": 0}
    assert list_calls(sandbox, {"callIDs": call["callID"]}) == {"calls": [], "totalCount": 0}
    assert list_calls(sandbox, {"referenceIDs": "prod"})["totalCount"] == 0
    assert_error(sandbox.get(f"/v2/calls/{call['callID']}"), 404)
    assert_error(sandbox.get(f"/v2/functions/calls/{fc_id}"), 404)
    [event] = events_of(production, wait_for(production, call["callID"])["callID"], "transform")
    assert without_urls(get_call(production, call["callID"])) == without_urls(get_call(production, call["callID"]))
    assert_error(sandbox.get(f"/v2/calls/{call['callID']}"), 404)  # and not from the other environment
    assert sandbox.get("/v1-alpha/events", params={"callIDs": call["callID"]}).json()["events"] == []
    assert_error(sandbox.get(f"/v1-alpha/events/{event['eventID']}"), 404)
    # a cursor is a call of the caller's environment
    assert error_field(sandbox.get("/v2/calls", params={"startingAfter": call["callID"]}), 400) == "startingAfter"
    assert error_field(sandbox.get("/v2/calls", params={"endingBefore": call["callID"]}), 400) == "endingBefore"
    # production's functions cannot be called from the sandbox
    assert error_field(post_calls(sandbox, {"functionName": "extract", "input": single(b"x")}), 400) == (
        "calls[0].functionName"
    )
    assert error_field(post_calls(sandbox, {"functionID": extract["functionID"], "input": single(b"x")}), 400) == (
        "calls[0].functionID"
    )
    assert_error(sandbox.post("/v2/functions/extract/call", json={"arguments": [
        {"referenceID": "r", "inputType": "text", "inputContent": b64(b"x")}]}), 404)  # fmt: skip
    # nor from another account
    stranger = make_tenant(server)
    try:
        assert_error(stranger.production.get(f"/v2/calls/{call['callID']}"), 404)
        assert list_calls(stranger.production)["totalCount"] == 0
        assert_error(stranger.production.get("/v2/calls", params={"startingAfter": call["callID"]}), 400)
    finally:
        stranger.production.close()
        stranger.sandbox.close()

    # the owner sees it, and the sandbox's own calls stay apart
    assert list_calls(sandbox, {"referenceIDSubstring": "prod"}) == {"calls": [], "totalCount": 0}
    create_function(sandbox, transform("extract"))
    [sandbox_call] = submit(
        sandbox, {"functionName": "extract", "callReferenceID": "prod-too", "input": single(invoice("T-2"))}
    )
    assert listed_ids(production) == [call["callID"]]
    assert listed_ids(sandbox) == [sandbox_call["callID"]]
    for client, own in ((production, call), (sandbox, sandbox_call)):
        for params in ({"referenceIDSubstring": "PROD"}, {"referenceIDSubstring": "prod", "sortOrder": "desc"}):
            body = list_calls(client, params)
            assert ([c["callID"] for c in body["calls"]], body["totalCount"]) == ([own["callID"]], 1)
    assert_error(production.get(f"/v2/calls/{sandbox_call['callID']}"), 404)
    wait_for(production, call["callID"])
    wait_for(sandbox, sandbox_call["callID"])


# === GET /v2/calls ===========================================================================


@dataclass
class Spec:
    """What one call of the listing data set was made with, and what it must become."""

    index: int
    kind: str  # fn-alpha | fn-beta-id | wf-one | wf-two-id | fn-beta
    reference: str | None
    broken: bool
    call: dict[str, Any] | None = None  # as created

    @property
    def call_type(self) -> str:
        return "workflow" if self.kind.startswith("wf") else "function"

    @property
    def final_status(self) -> str:
        return "failed" if self.broken else "completed"


@dataclass
class Listing:
    api: httpx.Client
    specs: list[Spec]  # in list order: (createdAt, callID)
    ids: dict[str, str]  # names -> IDs of the functions and workflows

    def select(self, predicate: Callable[[Spec], bool]) -> list[str]:
        return [s.call["callID"] for s in self.specs if predicate(s)]  # type: ignore[index]

    @property
    def order(self) -> list[str]:
        return self.select(lambda s: True)


KINDS = ["fn-alpha", "fn-beta-id", "wf-one", "wf-two-id", "fn-beta"]
LISTING_SIZE = 110


def _reference(i: int) -> str | None:
    if i % 11 == 0:
        return None
    if i % 13 == 0:
        return f"promo_50%off-{i}"
    return f"Order-{i:03d}-{'EU' if i % 2 else 'us'}"


def _wait_until_settled(api: httpx.Client, expected: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        first = list_calls(api, {"limit": 100})
        calls = first["calls"] + list_calls(api, {"limit": 100, "startingAfter": first["calls"][-1]["callID"]})["calls"]
        assert len(calls) == expected
        if all(c["status"] in TERMINAL for c in calls):
            return
        if time.monotonic() > deadline:
            pytest.fail("the listing calls did not finish in 60 s")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def listing(server: Server) -> Iterator[Listing]:
    """110 calls of five kinds in one environment, all finished; built once per backend."""
    tenant = make_tenant(server)
    api = tenant.production
    alpha = create_function(api, transform("alpha"))
    beta = create_function(api, transform("beta"))
    one = create_workflow(api, "wf-one", "alpha")
    two = create_workflow(api, "wf-two", "beta")
    targets = {
        "fn-alpha": {"functionName": "alpha"},
        "fn-beta-id": {"functionID": beta["functionID"]},
        "wf-one": {"workflowName": "wf-one"},
        "wf-two-id": {"workflowID": two["id"]},
        "fn-beta": {"functionName": "beta"},
    }
    specs = [Spec(i, KINDS[i % 5], _reference(i), broken=i % 7 == 3) for i in range(LISTING_SIZE)]
    items = []
    for spec in specs:
        item: dict[str, Any] = dict(targets[spec.kind])
        if spec.reference is not None:
            item["callReferenceID"] = spec.reference
        item["input"] = single(b"not a pdf", "pdf") if spec.broken else single(invoice(f"L-{spec.index}"))
        items.append(item)
    created = submit(api, *items[:100]) + submit(api, *items[100:])
    for spec, call in zip(specs, created, strict=True):
        spec.call = call
    specs.sort(key=lambda s: (s.call["createdAt"], s.call["callID"]))  # type: ignore[index]
    _wait_until_settled(api, LISTING_SIZE)
    ids = {"alpha": alpha["functionID"], "beta": beta["functionID"], "wf-one": one["id"], "wf-two": two["id"]}
    yield Listing(api, specs, ids)
    tenant.production.close()
    tenant.sandbox.close()


def test_list_default_page_order_and_total(listing: Listing) -> None:
    assert [s.index for s in listing.specs] == list(range(LISTING_SIZE))  # as submitted
    body = list_calls(listing.api)
    assert body["totalCount"] == LISTING_SIZE
    assert [c["callID"] for c in body["calls"]] == listing.order[:50]
    assert listed_ids(listing.api, {"sortOrder": "asc"}) == listing.order[:50]
    assert listed_ids(listing.api, {"sortOrder": "desc"}) == listing.order[::-1][:50]


@pytest.mark.parametrize("limit", [1, 7, 100])
def test_list_limit(listing: Listing, limit: int) -> None:
    body = list_calls(listing.api, {"limit": limit})
    assert [c["callID"] for c in body["calls"]] == listing.order[:limit]
    assert body["totalCount"] == LISTING_SIZE


def test_listed_calls_are_the_calls_in_full(listing: Listing) -> None:
    listed = list_calls(listing.api, {"limit": 100})["calls"]
    by_id = {s.call["callID"]: s for s in listing.specs}  # type: ignore[index]
    for call in listed[:12]:
        spec = by_id[call["callID"]]
        assert without_urls(call) == without_urls(get_call(listing.api, call["callID"]))
        assert call["status"] == spec.final_status
        assert call["callType"] == spec.call_type
        assert call.get("callReferenceID") == spec.reference
        assert call["functionCalls"] and "singleFile" in call["input"]
        check_call_invariants(call)


def _walk(api: httpx.Client, params: dict[str, Any], limit: int, cursor_name: str) -> list[str]:
    """Every page, following the cursor from the last (startingAfter) or first (endingBefore) item."""
    pages: list[list[str]] = []
    cursor: str | None = None
    total = None
    while True:
        query = params | {"limit": limit} | ({cursor_name: cursor} if cursor else {})
        body = list_calls(api, query)
        total = body["totalCount"] if total is None else total
        assert body["totalCount"] == total  # independent of the cursor
        page = [c["callID"] for c in body["calls"]]
        assert len(page) <= limit
        if not page:
            break
        pages.append(page)
        cursor = page[-1] if cursor_name == "startingAfter" else page[0]
        if len(pages) > 50:
            pytest.fail("paging does not end")
    if cursor_name == "endingBefore":
        pages.reverse()
    return [call_id for page in pages for call_id in page]


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
def test_paging_forward_with_starting_after(listing: Listing, sort_order: str) -> None:
    expected = listing.order if sort_order == "asc" else listing.order[::-1]
    assert _walk(listing.api, {"sortOrder": sort_order}, 7, "startingAfter") == expected


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
def test_paging_backward_with_ending_before(listing: Listing, sort_order: str) -> None:
    order = listing.order if sort_order == "asc" else listing.order[::-1]
    # start from the item after the last: endingBefore the last gives everything before it
    last = order[-1]
    pages = [listed_ids(listing.api, {"sortOrder": sort_order, "endingBefore": last, "limit": 9})]
    assert pages[0] == order[-10:-1]  # the items immediately before, still in the chosen order
    while pages[0]:
        pages.insert(0, listed_ids(listing.api, {"sortOrder": sort_order, "endingBefore": pages[0][0], "limit": 9}))
    assert [i for page in pages for i in page] == order[:-1]


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
def test_cursors_in_the_middle(listing: Listing, sort_order: str) -> None:
    order = listing.order if sort_order == "asc" else listing.order[::-1]
    pivot = order[40]
    after = list_calls(listing.api, {"sortOrder": sort_order, "startingAfter": pivot, "limit": 5})
    assert [c["callID"] for c in after["calls"]] == order[41:46]
    assert after["totalCount"] == LISTING_SIZE
    before = list_calls(listing.api, {"sortOrder": sort_order, "endingBefore": pivot, "limit": 5})
    assert [c["callID"] for c in before["calls"]] == order[35:40]
    assert before["totalCount"] == LISTING_SIZE
    assert listed_ids(listing.api, {"sortOrder": sort_order, "endingBefore": pivot, "limit": 100}) == order[:40]
    # at the ends
    assert listed_ids(listing.api, {"sortOrder": sort_order, "startingAfter": order[-1]}) == []
    assert listed_ids(listing.api, {"sortOrder": sort_order, "endingBefore": order[0]}) == []
    assert list_calls(listing.api, {"sortOrder": sort_order, "startingAfter": order[-1]})["totalCount"] == LISTING_SIZE


def _filters(listing: Listing) -> dict[str, tuple[dict[str, Any], Callable[[Spec], bool]]]:
    ids = listing.ids
    some = listing.order[3:9:2]
    with_refs = [s for s in listing.specs if s.reference is not None]
    refs = [with_refs[1].reference, with_refs[-2].reference, "no-such-reference"]
    return {
        "callIDs": ({"callIDs": ",".join(some)}, lambda s: s.call["callID"] in some),
        "referenceIDs": ({"referenceIDs": ",".join(refs)}, lambda s: s.reference in refs),
        "referenceIDSubstring-lower": (
            {"referenceIDSubstring": "order-0"},
            lambda s: s.reference is not None and "order-0" in s.reference.lower(),
        ),
        "referenceIDSubstring-2-chars": (
            {"referenceIDSubstring": "Eu"},
            lambda s: s.reference is not None and "eu" in s.reference.lower(),
        ),
        "referenceIDSubstring-upper": (
            {"referenceIDSubstring": "-US"},
            lambda s: s.reference is not None and "-us" in s.reference.lower(),
        ),
        "referenceIDSubstring-percent": (
            {"referenceIDSubstring": "50%"},
            lambda s: s.reference is not None and "50%" in s.reference,
        ),
        "referenceIDSubstring-underscore": (
            {"referenceIDSubstring": "_"},
            lambda s: s.reference is not None and "_" in s.reference,
        ),
        "referenceIDSubstring-underscore-3": (
            {"referenceIDSubstring": "o_5"},
            lambda s: s.reference is not None and "o_5" in s.reference,
        ),
        "callTypes-workflow": ({"callTypes": "workflow"}, lambda s: s.call_type == "workflow"),
        "callTypes-function": ({"callTypes": "function"}, lambda s: s.call_type == "function"),
        "callTypes-both": ({"callTypes": "workflow,function"}, lambda s: True),
        "workflowIDs": ({"workflowIDs": ids["wf-two"]}, lambda s: s.kind == "wf-two-id"),
        "workflowNames": ({"workflowNames": "wf-one"}, lambda s: s.kind == "wf-one"),
        "workflowNames-both": ({"workflowNames": "wf-one,wf-two"}, lambda s: s.kind.startswith("wf")),
        # only calls whose own target is the function — not workflow calls running it
        "functionIDs": ({"functionIDs": ids["alpha"]}, lambda s: s.kind == "fn-alpha"),
        "functionNames": ({"functionNames": "beta"}, lambda s: s.kind in ("fn-beta", "fn-beta-id")),
        "functionNames-both": ({"functionNames": "alpha,beta"}, lambda s: s.call_type == "function"),
        "functionNames-unknown": ({"functionNames": "gamma"}, lambda s: False),
        "statuses-failed": ({"statuses": "failed"}, lambda s: s.broken),
        "statuses-completed": ({"statuses": "completed"}, lambda s: not s.broken),
        "statuses-unfinished": ({"statuses": "pending,running"}, lambda s: False),
        "statuses-all": ({"statuses": "pending,running,completed,failed"}, lambda s: True),
        "statuses-terminal": ({"statuses": "failed,completed"}, lambda s: True),
    }


FILTER_CASES = [
    "callIDs", "referenceIDs", "referenceIDSubstring-lower", "referenceIDSubstring-2-chars",
    "referenceIDSubstring-upper", "referenceIDSubstring-percent", "referenceIDSubstring-underscore",
    "referenceIDSubstring-underscore-3", "callTypes-workflow", "callTypes-function", "callTypes-both",
    "workflowIDs", "workflowNames", "workflowNames-both", "functionIDs", "functionNames",
    "functionNames-both", "functionNames-unknown", "statuses-failed", "statuses-completed",
    "statuses-unfinished", "statuses-all", "statuses-terminal",
]  # fmt: skip


@pytest.mark.parametrize("case", FILTER_CASES)
def test_each_filter_alone(listing: Listing, case: str) -> None:
    params, predicate = _filters(listing)[case]
    expected = listing.select(predicate)
    assert 0 < len(expected) < LISTING_SIZE or case in (
        "statuses-terminal",
        "callTypes-both",
        "statuses-all",
        "functionNames-unknown",
        "statuses-unfinished",
    )
    body = list_calls(listing.api, params | {"limit": 100})
    assert [c["callID"] for c in body["calls"]] == expected[:100]
    assert body["totalCount"] == len(expected)
    desc = list_calls(listing.api, params | {"limit": 100, "sortOrder": "desc"})
    assert [c["callID"] for c in desc["calls"]] == expected[::-1][:100]
    assert desc["totalCount"] == len(expected)


def test_filter_cases_cover_every_filter(listing: Listing) -> None:
    names = {name for params, _ in _filters(listing).values() for name in params}
    assert names == {
        "callIDs", "referenceIDs", "referenceIDSubstring", "callTypes", "workflowIDs", "workflowNames",
        "functionIDs", "functionNames", "statuses",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("callTypes-function", "referenceIDSubstring-2-chars"),
        ("functionNames", "referenceIDSubstring-upper"),
        ("functionNames", "statuses-failed"),
        ("workflowNames-both", "statuses-completed"),
        ("workflowNames", "functionNames"),  # a workflow call has no function target: nothing
        ("callTypes-workflow", "functionIDs"),
        ("callIDs", "callTypes-both"),
        ("referenceIDSubstring-lower", "statuses-failed"),
        ("workflowIDs", "workflowNames"),  # different workflows: nothing
        ("statuses-completed", "callTypes-workflow"),
        ("functionIDs", "statuses-completed"),
        ("workflowIDs", "statuses-failed"),
        ("callTypes-both", "statuses-failed"),
        ("functionNames-both", "statuses-terminal"),
        ("workflowNames-both", "referenceIDSubstring-percent"),
        ("referenceIDs", "statuses-completed"),
    ],
)
def test_filters_combine_with_and(listing: Listing, first: str, second: str) -> None:
    cases = _filters(listing)
    (p1, f1), (p2, f2) = cases[first], cases[second]
    expected = listing.select(lambda s: f1(s) and f2(s))
    body = list_calls(listing.api, p1 | p2 | {"limit": 100})
    assert [c["callID"] for c in body["calls"]] == expected
    assert body["totalCount"] == len(expected)


def test_three_filters_and_paging_within_them(listing: Listing) -> None:
    params = {"callTypes": "function", "functionNames": "alpha,beta", "referenceIDSubstring": "order"}
    expected = listing.select(
        lambda s: s.call_type == "function" and s.reference is not None and "order" in s.reference.lower()
    )
    assert len(expected) > 10
    assert _walk(listing.api, params, 4, "startingAfter") == expected
    assert _walk(listing.api, params | {"sortOrder": "desc"}, 4, "startingAfter") == expected[::-1]
    body = list_calls(listing.api, params | {"limit": 3, "startingAfter": expected[5]})
    assert [c["callID"] for c in body["calls"]] == expected[6:9]
    assert body["totalCount"] == len(expected)


def _contains(substring: str) -> Callable[[Spec], bool]:
    return lambda s: s.reference is not None and substring in s.reference.lower()


CLUSTERS: dict[str, tuple[dict[str, str], Callable[[Spec], bool]]] = {
    "middle": ({"referenceIDSubstring": "ORDER-05"}, _contains("order-05")),
    "tail": ({"referenceIDSubstring": "-10"}, _contains("-10")),
    "tail, functions": (
        {"referenceIDSubstring": "-10", "callTypes": "function"},
        lambda s: _contains("-10")(s) and s.call_type == "function",
    ),
    "middle, completed": (
        {"referenceIDSubstring": "order-05", "statuses": "completed"},
        lambda s: _contains("order-05")(s) and not s.broken,
    ),
}


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
@pytest.mark.parametrize("cluster", list(CLUSTERS))
def test_clustered_substring_pages_from_any_cursor(listing: Listing, cluster: str, sort_order: str) -> None:
    """Matches in one run of creation order (the middle or the tail of the list), alone or with
    another filter: pages from cursors before, inside and after the run, both ways, and all pages."""
    params, predicate = CLUSTERS[cluster]
    params = params | {"sortOrder": sort_order}
    order = listing.order if sort_order == "asc" else listing.order[::-1]
    expected = [i for i in order if i in set(listing.select(predicate))]
    assert 2 < len(expected) < 20
    assert _walk(listing.api, params, 3, "startingAfter") == expected
    for pivot in sorted(set(order[::9] + expected), key=order.index):
        after = [i for i in expected if order.index(i) > order.index(pivot)]
        before = [i for i in expected if order.index(i) < order.index(pivot)]
        body = list_calls(listing.api, params | {"startingAfter": pivot, "limit": 3})
        assert [c["callID"] for c in body["calls"]] == after[:3], pivot
        assert body["totalCount"] == len(expected)
        assert listed_ids(listing.api, params | {"endingBefore": pivot, "limit": 3}) == before[-3:], pivot


@pytest.mark.parametrize("cluster", ["tail, functions", "middle, completed"])
def test_clustered_pages_when_the_other_filters_are_the_selective_ones(
    listing: Listing, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When fewer than a page of the first ``WALK`` matches pass the other filters, the page is
    left to those filters' own indexes; with ``WALK`` cut to 2, every page of 3 here goes that way."""
    monkeypatch.setattr(search, "WALK", 2)
    params, predicate = CLUSTERS[cluster]
    expected = listing.select(predicate)
    assert _walk(listing.api, params, 3, "startingAfter") == expected
    assert _walk(listing.api, params | {"sortOrder": "desc"}, 3, "startingAfter") == expected[::-1]
    last = listing.order[-1]
    before = [i for i in expected if i != last]
    assert listed_ids(listing.api, params | {"endingBefore": last, "limit": 3}) == before[-3:]


def test_a_substring_page_leaves_the_planner_settings_of_its_connection(server: Server, listing: Listing) -> None:
    """PostgreSQL: a page turns bitmap scans off for its own statements only (``SET LOCAL`` in a
    transaction of its own); the session's connection is idle afterwards, with the server's
    settings, also when a statement of the page fails."""
    if server.backend != "postgresql":
        pytest.skip("PostgreSQL's planner")

    def idle_with_bitmap_scans(session: Session) -> bool:
        connection = session.connection().connection.dbapi_connection
        idle = connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        return idle and session.scalar(sa.text("SHOW enable_bitmapscan")) == "on"

    with server.db.read() as session:
        environment_id = session.scalar(sa.select(Call.environment_id).where(Call.id == listing.order[0]))
        for ascending, filters in [(True, []), (False, [Call.call_type == "function"])]:
            narrow = search.page_filter(session, environment_id, "order", filters, 3)
            narrow(ascending, None)
            assert idle_with_bitmap_scans(session)
        request = search.PageRequest(environment_id, "order", [], 3, True, None)
        with search._GistInOrder(session, request).planner_settings():
            assert session.scalar(sa.text("SHOW enable_bitmapscan")) == "off"
        assert idle_with_bitmap_scans(session)
        with pytest.raises(sa.exc.DataError), search._GistInOrder(session, request).planner_settings():
            session.execute(sa.text("SELECT 1 / 0"))
        assert idle_with_bitmap_scans(session)
    with server.db.write() as session:  # inside a transaction, the setting stays in it
        narrow = search.page_filter(session, environment_id, "order", [], 3)
        page = sa.select(Call.id).where(*narrow(True, None)).order_by(Call.created_at, Call.id).limit(3)
        assert list(session.scalars(page)) == listing.select(_contains("order"))[:3]


@pytest.mark.parametrize("substring", ["zq", "no-such-order"])
def test_a_search_without_matches_is_empty_and_still_checks_its_cursor(listing: Listing, substring: str) -> None:
    for _ in range(2):  # counted, then from the count cache
        body = list_calls(listing.api, {"referenceIDSubstring": substring})
        assert (body["calls"], body["totalCount"]) == ([], 0)
    after = list_calls(listing.api, {"referenceIDSubstring": substring, "startingAfter": listing.order[3]})
    assert (after["calls"], after["totalCount"]) == ([], 0)
    unknown = listing.api.get("/v2/calls", params={"referenceIDSubstring": substring, "startingAfter": "call_nope"})
    assert error_field(unknown, 400) == "startingAfter"


def test_cursor_may_be_a_call_the_filters_exclude(listing: Listing) -> None:
    # the cursor only marks a place in the order
    order = listing.order
    workflow_call = next(s.call["callID"] for s in listing.specs[30:] if s.call_type == "workflow")  # type: ignore[index]
    position = order.index(workflow_call)
    functions = listing.select(lambda s: s.call_type == "function")
    after = [i for i in functions if order.index(i) > position]
    before = [i for i in functions if order.index(i) < position]
    assert listed_ids(listing.api, {"callTypes": "function", "startingAfter": workflow_call, "limit": 5}) == after[:5]
    assert listed_ids(listing.api, {"callTypes": "function", "endingBefore": workflow_call, "limit": 5}) == before[-5:]


def test_arrays_comma_separated_repeated_or_both(listing: Listing) -> None:
    some = listing.order[10:16]
    comma = list_calls(listing.api, {"callIDs": ",".join(some)})
    repeated = list_calls(listing.api, [("callIDs", i) for i in some])
    mixed = list_calls(
        listing.api, [("callIDs", ",".join(some[:3])), ("callIDs", some[3]), ("callIDs", ",".join(some[4:]))]
    )
    for body in (comma, repeated, mixed):
        assert [c["callID"] for c in body["calls"]] == some
        assert body["totalCount"] == len(some)
    assert (
        listed_ids(listing.api, [("callTypes", "workflow"), ("callTypes", "function"), ("limit", "100")])
        == (listing.order[:100])
    )
    expected = listing.select(lambda s: s.call_type == "function" and s.broken)
    assert listed_ids(listing.api, [("statuses", "failed"), ("functionNames", "alpha"), ("functionNames", "beta")]) == (
        expected
    )


def test_repeated_values_in_a_filter_count_once(listing: Listing) -> None:
    for params, predicate in [
        ({"functionNames": "beta,beta", "callTypes": "function"}, lambda s: s.kind in ("fn-beta", "fn-beta-id")),
        (
            {"functionNames": "beta", "statuses": "failed,failed"},
            lambda s: s.kind in ("fn-beta", "fn-beta-id") and s.broken,
        ),
        ({"statuses": ["completed", "completed"]}, lambda s: not s.broken),
        ({"callTypes": "workflow,workflow"}, lambda s: s.call_type == "workflow"),
        ({"callIDs": [listing.order[4]] * 3}, lambda s: s.call["callID"] == listing.order[4]),
    ]:
        expected = listing.select(predicate)
        body = list_calls(listing.api, params | {"limit": 100})
        assert [c["callID"] for c in body["calls"]] == expected, params
        assert body["totalCount"] == len(expected), params


def test_status_counts_follow_the_calls(listing: Listing) -> None:
    broken = sum(s.broken for s in listing.specs)
    counts = {
        status: list_calls(listing.api, {"statuses": status, "limit": 1})["totalCount"]
        for status in ("pending", "running", "completed", "failed")
    }
    assert counts == {"pending": 0, "running": 0, "completed": LISTING_SIZE - broken, "failed": broken}


# --- list errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "2.5"}, "limit"),
        ({"sortOrder": "newest"}, "sortOrder"),
        ({"callTypes": "job"}, "callTypes"),
        ({"callTypes": "workflow,job"}, "callTypes"),
        ({"callTypes": "Workflow"}, "callTypes"),
        ({"statuses": "done"}, "statuses"),
        ({"statuses": "completed,"}, "statuses"),
        ({"callIDs": ""}, "callIDs"),
        ({"functionNames": "a,,b"}, "functionNames"),
        ({"referenceIDSubstring": ""}, "referenceIDSubstring"),
        ({"functionname": "a"}, "functionname"),
    ],
)
def test_invalid_list_parameters_are_400(api: httpx.Client, params: dict[str, str], field: str) -> None:
    body = assert_error(api.get("/v2/calls", params=params), 400)
    assert body["details"]["field"].split("[")[0] == field, body


def test_cursor_errors_are_400(api: httpx.Client, extract: dict[str, Any]) -> None:
    first, second = submit(api, *[{"functionName": "extract", "input": single(invoice(f"C-{i}"))} for i in range(2)])
    both = api.get("/v2/calls", params={"startingAfter": first["callID"], "endingBefore": second["callID"]})
    assert_error(both, 400)
    assert error_field(api.get("/v2/calls", params={"startingAfter": "call_nope"}), 400) == "startingAfter"
    assert error_field(api.get("/v2/calls", params={"endingBefore": "call_nope"}), 400) == "endingBefore"
    # a function call's ID is not a call's
    fc_id = first["functionCalls"][0]["functionCallID"]
    assert error_field(api.get("/v2/calls", params={"startingAfter": fc_id}), 400) == "startingAfter"
    # and the valid cursors work
    assert listed_ids(api, {"startingAfter": first["callID"]}) == [second["callID"]]
    assert listed_ids(api, {"endingBefore": second["callID"]}) == [first["callID"]]
