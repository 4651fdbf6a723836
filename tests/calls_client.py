"""A client of the calls API for tests: request builders, polling, and the checks every call
and function call must pass (shape and consistency against the bem v2 reference)."""

from __future__ import annotations

import base64
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.helpers import assert_error

TERMINAL = {"completed", "failed"}
STAGE = {"pending": 0, "running": 1, "completed": 2, "failed": 2}
POLL_SECONDS = 60.0
"""How long a test waits for work to finish: generous, for a 2-core CI machine running two test
processes (a split call once took over 30 s there); a test that passes never waits this long."""

CALL_KEYS = {
    "callID", "callType", "status", "createdAt", "finishedAt", "workflowID", "workflowName",
    "workflowVersionNum", "functionID", "functionName", "functionType", "functionVersionNum",
    "callReferenceID", "functionCalls", "input",
    "usage",  # Quarry: model usage, where a function call asked a model
}  # fmt: skip
FUNCTION_CALL_KEYS = {
    "functionCallID", "functionID", "functionName", "type", "referenceID", "status",
    "functionVersionNum", "activity", "startedAt", "finishedAt", "sourceFunctionCallID",
    "sourceEventID", "workflowCallID", "inputType", "s3URL", "inputs",
    "usage",  # Quarry: model usage, where it asked a model
}  # fmt: skip


# --- request builders -----------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def invoice(number: str, total: str = "10.00") -> bytes:
    """A text document the builtin extractor reads as ``{"invoiceNumber", "totalAmount"}``."""
    return f"ACME Corp\nInvoice Number: {number}\nTotal Amount: {total}\n".encode()


def single(data: bytes, input_type: str = "text") -> dict[str, Any]:
    return {"singleFile": {"inputType": input_type, "inputContent": b64(data)}}


def batch(*items: tuple[bytes, str | None] | tuple[bytes, str | None, str]) -> dict[str, Any]:
    inputs = []
    for item in items:
        data, ref = item[0], item[1]
        entry: dict[str, Any] = {"inputType": item[2] if len(item) > 2 else "text", "inputContent": b64(data)}
        if ref is not None:
            entry["itemReferenceID"] = ref
        inputs.append(entry)
    return {"batchFiles": {"inputs": inputs}}


def shaping(name: str, expression: str) -> dict[str, Any]:
    return {"functionName": name, "type": "payload_shaping", "shapingSchema": expression}


def create_workflow(
    api: httpx.Client,
    name: str,
    main: str,
    edges: list[tuple[str, str, str | None]] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    relationships = []
    for source, destination, label in edges:
        rel: dict[str, Any] = {"sourceFunction": {"name": source}, "destinationFunction": {"name": destination}}
        if label is not None:
            rel["destinationName"] = label
        relationships.append(rel)
    body = {"name": name, "mainFunction": {"name": main}, "relationships": relationships}
    response = api.post("/v2/workflows", json=body)
    assert response.status_code == 200, response.text
    return response.json()["workflow"]


# --- client helpers -------------------------------------------------------------------------


def post_calls(api: httpx.Client, *calls: dict[str, Any]) -> httpx.Response:
    return api.post("/v2/calls", json={"calls": list(calls)})


def submit(api: httpx.Client, *calls: dict[str, Any]) -> list[dict[str, Any]]:
    response = post_calls(api, *calls)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"calls"}, body
    assert len(body["calls"]) == len(calls)
    for created in body["calls"]:
        check_call_shape(created)
        assert created["status"] == "pending"
        assert "finishedAt" not in created
    return body["calls"]


def get_call(api: httpx.Client, call_id: str) -> dict[str, Any]:
    response = api.get(f"/v2/calls/{call_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"call"}, body
    check_call_shape(body["call"])
    check_call_invariants(body["call"])
    return body["call"]


def get_function_call(api: httpx.Client, function_call_id: str) -> dict[str, Any]:
    response = api.get(f"/v2/functions/calls/{function_call_id}")
    assert response.status_code == 200, response.text
    fc = response.json()
    check_function_call_shape(fc)
    return fc


def wait_for(api: httpx.Client, call_id: str, seconds: float = POLL_SECONDS) -> dict[str, Any]:
    """Poll the call until it is terminal; every snapshot must be consistent, and statuses
    (of the call and of each function call) must only move forward."""
    deadline = time.monotonic() + seconds
    snapshots = []
    while True:
        call = get_call(api, call_id)
        snapshots.append(call)
        if call["status"] in TERMINAL:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"call {call_id} still {call['status']} after {seconds} s: {call}")
        time.sleep(0.1)
    check_progression(snapshots)
    return call


def wait_for_function_call(api: httpx.Client, function_call_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + POLL_SECONDS
    seen = []
    while True:
        fc = get_function_call(api, function_call_id)
        seen.append(fc["status"])
        if fc["status"] in TERMINAL:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"function call {function_call_id} still {fc['status']} after {POLL_SECONDS} s")
        time.sleep(0.1)
    assert [STAGE[s] for s in seen] == sorted(STAGE[s] for s in seen), seen
    return fc


def list_calls(api: httpx.Client, params: Any = None) -> dict[str, Any]:
    response = api.get("/v2/calls", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"calls", "totalCount"}, body
    for call in body["calls"]:
        check_call_shape(call)
    return body


def listed_ids(api: httpx.Client, params: Any = None) -> list[str]:
    return [call["callID"] for call in list_calls(api, params)["calls"]]


def events_of(api: httpx.Client, call_id: str, *event_types: str) -> list[dict[str, Any]]:
    params = {"callIDs": call_id}
    if event_types:
        params["eventTypes"] = ",".join(event_types)
    response = api.get("/v1-alpha/events", params=params)
    assert response.status_code == 200, response.text
    events = response.json()["events"]
    for event in events:
        assert event["callID"] == call_id
        if event_types:
            assert event["eventType"] in event_types
    return events


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


def without_urls(value: Any) -> Any:
    """``value`` with each ``s3URL`` reduced to its path: signatures and expiries differ per read."""
    if isinstance(value, dict):
        return {k: (urlsplit(v).path if k == "s3URL" else without_urls(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [without_urls(v) for v in value]
    return value


# --- shape and consistency checks -------------------------------------------------------------


def check_function_call_shape(fc: dict[str, Any]) -> None:
    assert set(fc) <= FUNCTION_CALL_KEYS, set(fc) - FUNCTION_CALL_KEYS
    assert fc["functionCallID"].startswith("fc_")
    assert fc["status"] in STAGE
    assert isinstance(fc["activity"], list)
    for step in fc["activity"]:
        assert set(step) == {"displayName", "status"}, step
        assert isinstance(step["displayName"], str) and step["displayName"]
        assert step["status"] in STAGE
    assert isinstance(fc["inputs"], list)
    # inputType and s3URL at the top level exactly when there is one file
    if len(fc["inputs"]) == 1:
        assert fc["inputType"] == fc["inputs"][0]["inputType"]
        assert urlsplit(fc["s3URL"]).path == urlsplit(fc["inputs"][0]["s3URL"]).path
    else:
        assert "inputType" not in fc and "s3URL" not in fc, fc
    for entry in fc["inputs"]:
        assert set(entry) <= {"inputType", "itemReferenceID", "s3URL"}
        assert entry["s3URL"].startswith("http")
    assert ("finishedAt" in fc) == (fc["status"] in TERMINAL), fc
    if fc["status"] != "pending":
        assert "startedAt" in fc, fc
    if "finishedAt" in fc:
        assert parse_time(fc["finishedAt"]) >= parse_time(fc["startedAt"])
        assert fc["activity"], "a finished function call shows what it did"
        assert all(step["status"] in TERMINAL for step in fc["activity"]), fc["activity"]


def check_call_shape(call: dict[str, Any]) -> None:
    assert set(call) <= CALL_KEYS, set(call) - CALL_KEYS
    assert call["callID"].startswith("call_")
    assert call["callType"] in ("workflow", "function")
    assert call["status"] in STAGE
    parse_time(call["createdAt"])
    workflow_fields = {"workflowID", "workflowName", "workflowVersionNum"}
    function_fields = {"functionID", "functionName", "functionType", "functionVersionNum"}
    if call["callType"] == "workflow":
        assert workflow_fields <= set(call) and not function_fields & set(call), call
    else:
        assert function_fields <= set(call) and not workflow_fields & set(call), call
    assert set(call["input"]) in ({"singleFile"}, {"batchFiles"}), call["input"]
    if "singleFile" in call["input"]:
        assert set(call["input"]["singleFile"]) == {"inputType", "s3URL"}
    else:
        for entry in call["input"]["batchFiles"]["inputs"]:
            assert set(entry) <= {"inputType", "itemReferenceID", "s3URL"}
    for fc in call["functionCalls"]:
        check_function_call_shape(fc)
        assert fc["workflowCallID"] == call["callID"]


def check_call_invariants(call: dict[str, Any]) -> None:
    """The call's status derives from its function calls; finishedAt is set exactly when terminal."""
    fcs = call["functionCalls"]
    statuses = {fc["status"] for fc in fcs}
    assert ("finishedAt" in call) == (call["status"] in TERMINAL), call
    if "finishedAt" in call:
        assert parse_time(call["finishedAt"]) >= parse_time(call["createdAt"])
        assert all(parse_time(fc["finishedAt"]) <= parse_time(call["finishedAt"]) for fc in fcs)
    if call["status"] == "pending":
        assert statuses <= {"pending"}, call
    if call["status"] in TERMINAL:
        assert statuses <= TERMINAL, call
        assert (call["status"] == "failed") == ("failed" in statuses), call
    ids = {fc["functionCallID"] for fc in fcs}
    for fc in fcs:
        if fc.get("sourceFunctionCallID") is not None:
            assert fc["sourceFunctionCallID"] in ids
            assert fc["sourceEventID"].startswith("evt_")


def check_progression(snapshots: list[dict[str, Any]]) -> None:
    stages = [STAGE[s["status"]] for s in snapshots]
    assert stages == sorted(stages), [s["status"] for s in snapshots]
    per_fc: dict[str, list[int]] = {}
    for snapshot in snapshots:
        for fc in snapshot["functionCalls"]:
            per_fc.setdefault(fc["functionCallID"], []).append(STAGE[fc["status"]])
    for fc_id, seen in per_fc.items():
        assert seen == sorted(seen), (fc_id, seen)


def error_field(response: httpx.Response, status: int) -> str:
    return assert_error(response, status)["details"]["field"]


def assert_no_calls(api: httpx.Client) -> None:
    """Nothing was created: the environment lists no call (nor counts one)."""
    assert list_calls(api, {"limit": 100}) == {"calls": [], "totalCount": 0}
