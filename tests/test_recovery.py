"""Kill -9 the server while calls run; after a restart every call finishes, none lost or duplicated."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKENDS, drop_postgres_database, postgres_database
from tests.processes import ServerProcess

CHAIN = 8
CALLS = 40
KEY = "recovery-test-key"


@pytest.fixture(params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("QUARRY_")}
    environ |= {"QUARRY_DATA_DIR": str(tmp_path / "data"), "QUARRY_API_KEY": KEY, "QUARRY_WORKERS": "2"}
    name = f"quarry_recovery_{os.getpid()}"
    if request.param == "postgresql":
        environ["QUARRY_DATABASE_URL"] = postgres_database(name)
    yield environ
    if request.param == "postgresql":
        drop_postgres_database(name)


def _client(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=30)


def _statuses(client: httpx.Client) -> dict[str, str]:
    calls = client.get("/v2/calls", params={"limit": 100}).json()["calls"]
    return {call["callID"]: call["status"] for call in calls}


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
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                statuses = _statuses(api)
                if all(s in ("completed", "failed") for s in statuses.values()):
                    break
                time.sleep(0.2)
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
