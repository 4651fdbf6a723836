"""Kill -9 the server while calls run; after a restart every call finishes, none lost or duplicated."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.harness.processes import ServerProcess, quarry_env

CHAIN = 8
CALLS = 40
KEY = "recovery-test-key"


@pytest.fixture(params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    with quarry_env(request.param, tmp_path / "data", "quarry_recovery", QUARRY_API_KEY=KEY, QUARRY_WORKERS="2") as e:
        yield e


def _client(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=30)


def _statuses(client: httpx.Client) -> dict[str, str]:
    calls = client.get("/v2/calls", params={"limit": 100}).json()["calls"]
    return {call["callID"]: call["status"] for call in calls}


def _settled_statuses(api: httpx.Client) -> dict[str, str]:
    """The calls' statuses once none is pending or running (or after three minutes)."""
    deadline = time.monotonic() + 180
    while True:
        statuses = _statuses(api)
        if all(s in ("completed", "failed") for s in statuses.values()) or time.monotonic() > deadline:
            return statuses
        time.sleep(0.2)


def test_calls_survive_a_kill_and_finish_exactly_once(env: dict[str, str]) -> None:
    server = ServerProcess(env)
    try:
        with _client(server) as api:
            for i in range(CHAIN):  # a chain of steps: each adds its number to a list
                shaping = "@" if i == 0 else f"merge(@, {{steps: [steps[], `{i}`][]}})"
                body = {"functionName": f"step{i}", "type": "payload_shaping", "shapingSchema": shaping}
                assert api.post("/v2/functions", json=body).status_code == 200
            edges = [
                {"sourceFunction": {"name": f"step{i}"}, "destinationFunction": {"name": f"step{i + 1}"}}
                for i in range(CHAIN - 1)
            ]
            workflow = {"name": "chain", "mainFunction": {"name": "step0"}, "relationships": edges}
            assert api.post("/v2/workflows", json=workflow).status_code == 200
            items = [
                {
                    "workflowName": "chain",
                    "callReferenceID": f"doc-{n}",
                    "input": {
                        "singleFile": {
                            "inputType": "json",
                            "inputContent": base64.b64encode(json.dumps({"doc": n, "steps": [0]}).encode()).decode(),
                        }
                    },
                }
                for n in range(CALLS)
            ]
            assert api.post("/v2/calls", json={"calls": items}).status_code == 200
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # kill once work is under way but not done
                at_kill = list(_statuses(api).values())
                if at_kill.count("completed") >= 2 and "running" in at_kill:
                    break
                time.sleep(0.02)
    finally:
        server.kill()
    assert "running" in at_kill and "pending" in at_kill, f"not killed mid-work, the test proves nothing: {at_kill}"

    server = ServerProcess(env)
    try:
        with _client(server) as api:
            statuses = _settled_statuses(api)
            assert len(statuses) == CALLS
            assert set(statuses.values()) == {"completed"}
            for call_id in statuses:
                call = api.get(f"/v2/calls/{call_id}").json()["call"]
                assert sorted(fc["functionName"] for fc in call["functionCalls"]) == sorted(
                    f"step{i}" for i in range(CHAIN)
                )
                assert call["finishedAt"] is not None
                events = api.get("/v1-alpha/events", params={"callIDs": call_id, "limit": 100}).json()
                assert events["totalCount"] == CHAIN
                last = [e for e in events["events"] if e["functionName"] == f"step{CHAIN - 1}"]
                doc = int(call["callReferenceID"].removeprefix("doc-"))
                assert last[0]["transformedContent"] == {"doc": doc, "steps": list(range(CHAIN))}
    finally:
        server.stop()


PAGES = 30
FAN_CALLS = 4


def _fan_in_workflow(api: httpx.Client) -> None:
    functions = [
        {"functionName": "pages", "type": "split", "splitType": "print_page", "printPageSplitConfig": {}},
        {
            "functionName": "extract",
            "type": "transform",
            "outputSchemaName": "Page",
            "outputSchema": {"type": "object", "properties": {"pageNumber": {"type": "integer"}}},
        },
        {
            "functionName": "collect",
            "type": "payload_shaping",
            "shapingSchema": "{pages: [pageNumber]}",
        },
        {
            "functionName": "combine",
            "type": "join",
            "description": "All pages",
            "joinType": "standard",
            "outputSchemaName": "Document",
            "outputSchema": {
                "type": "object",
                "properties": {"pages": {"type": "array", "items": {"type": "integer"}}},
            },
        },
    ]
    for body in functions:
        assert api.post("/v2/functions", json=body).status_code == 200, body
    edges = [("pages", "extract"), ("extract", "collect"), ("collect", "combine")]
    relationships = [{"sourceFunction": {"name": s}, "destinationFunction": {"name": d}} for s, d in edges]
    workflow = {"name": "fan", "mainFunction": {"name": "pages"}, "relationships": relationships}
    assert api.post("/v2/workflows", json=workflow).status_code == 200


def _pdf() -> bytes:
    from fpdf import FPDF

    document = FPDF()
    document.set_font("Helvetica", size=14)
    for number in range(1, PAGES + 1):
        document.add_page()
        document.cell(0, 10, f"Page Number: {number}")
    return bytes(document.output())


def _between_fan_out_and_fan_in(api: httpx.Client) -> bool:
    for call_id in _statuses(api):
        types = [(fc["type"], fc["status"]) for fc in api.get(f"/v2/calls/{call_id}").json()["call"]["functionCalls"]]
        done = sum(1 for kind, status in types if kind == "transform" and status == "completed")
        if 0 < done < PAGES and not any(kind == "join" for kind, _ in types):
            return True
    return False


def test_a_join_happens_exactly_once_after_a_kill_between_fan_out_and_fan_in(env: dict[str, str]) -> None:
    server = ServerProcess(env)
    killed_mid_fan = False
    try:
        with _client(server) as api:
            _fan_in_workflow(api)
            content = base64.b64encode(_pdf()).decode()
            items = [
                {
                    "workflowName": "fan",
                    "callReferenceID": f"doc-{n}",
                    "input": {"singleFile": {"inputType": "pdf", "inputContent": content}},
                }
                for n in range(FAN_CALLS)
            ]
            assert api.post("/v2/calls", json={"calls": items}).status_code == 200
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not killed_mid_fan:
                killed_mid_fan = _between_fan_out_and_fan_in(api)
    finally:
        server.kill()
    assert killed_mid_fan, "not killed between fan-out and fan-in: the test proves nothing"

    server = ServerProcess(env)
    try:
        with _client(server) as api:
            statuses = _settled_statuses(api)
            assert set(statuses.values()) == {"completed"}, statuses
            for call_id in statuses:
                call = api.get(f"/v2/calls/{call_id}").json()["call"]
                kinds = [fc["type"] for fc in call["functionCalls"]]
                assert kinds.count("split") == 1 and kinds.count("transform") == PAGES and kinds.count("join") == 1
                events = api.get(
                    "/v1-alpha/events", params={"callIDs": call_id, "eventTypes": "join,transform", "limit": 100}
                )
                by_type: dict[str, list] = {}
                for event in events.json()["events"]:
                    by_type.setdefault(event["eventType"], []).append(event)
                assert len(by_type["transform"]) == PAGES
                [joined] = by_type["join"]
                assert len(joined["items"]) == PAGES
                assert sorted(joined["transformedContent"]["pages"]) == list(range(1, PAGES + 1))
    finally:
        server.stop()


LONE_CALLS = 120


def _count(api: httpx.Client, **filters: str) -> int:
    return api.get("/v2/calls", params={"limit": 1, **filters}).json()["totalCount"]


def test_lone_calls_run_at_once_survive_a_kill_each_ended_once(env: dict[str, str]) -> None:
    """Calls of one payload_shaping function run at once, outside DBOS's steps: killed among
    them, each still ends once — one function call, one event, counted once under its status."""
    server = ServerProcess(env)
    try:
        with _client(server) as api:
            body = {"functionName": "total", "type": "payload_shaping", "shapingSchema": "{total: abs(amount)}"}
            assert api.post("/v2/functions", json=body).status_code == 200
            workflow = {"name": "lone", "mainFunction": {"name": "total"}}
            assert api.post("/v2/workflows", json=workflow).status_code == 200
            items = [  # every third has no amount: abs() of null fails its call
                {
                    "workflowName": "lone",
                    "callReferenceID": f"doc-{n}",
                    "input": {
                        "singleFile": {
                            "inputType": "json",
                            "inputContent": base64.b64encode(
                                json.dumps({} if n % 3 == 0 else {"amount": -n}).encode()
                            ).decode(),
                        }
                    },
                }
                for n in range(LONE_CALLS)
            ]
            for first in range(0, LONE_CALLS, 100):  # batches of at most 100
                assert api.post("/v2/calls", json={"calls": items[first : first + 100]}).status_code == 200
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # kill once some have ended, but not all
                ended = _count(api, statuses="completed,failed")
                if ended >= 10:
                    break
                time.sleep(0.005)
    finally:
        server.kill()
    assert 10 <= ended < LONE_CALLS, f"not killed mid-work, the test proves nothing: {ended} ended"

    server = ServerProcess(env)
    try:
        with _client(server) as api:
            deadline = time.monotonic() + 180
            while _count(api, statuses="pending,running") and time.monotonic() < deadline:
                time.sleep(0.2)
            failing = len(range(0, LONE_CALLS, 3))
            assert _count(api) == LONE_CALLS
            assert _count(api, statuses="failed") == failing
            assert _count(api, statuses="completed") == LONE_CALLS - failing
            events = api.get("/v1-alpha/events", params={"limit": 1}).json()["totalCount"]
            assert events == LONE_CALLS
            calls = api.get("/v2/calls", params={"limit": 100, "referenceIDs": "doc-7,doc-9"}).json()["calls"]
            for call in calls:
                [fc] = call["functionCalls"]
                doc = int(call["callReferenceID"].removeprefix("doc-"))
                assert (call["status"], fc["status"]) == (("failed",) * 2 if doc % 3 == 0 else ("completed",) * 2)
                assert fc["startedAt"] <= fc["finishedAt"] == call["finishedAt"]
                [event] = api.get("/v1-alpha/events", params={"callIDs": call["callID"]}).json()["events"]
                if doc % 3:
                    assert event["transformedContent"] == {"total": doc}
                else:
                    assert event["eventType"] == "error" and "abs" in event["message"]
    finally:
        server.stop()
