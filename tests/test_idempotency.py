"""``Idempotency-Key`` on the POSTs that create (Stripe semantics), through the HTTP API.

A retry with the same key and the same request answers the first response again, byte for byte,
with ``Idempotent-Replayed: true``, and creates nothing; another request under a used key is a
409; keys belong to one environment and expire after 24 hours. The record is written in the
transaction of what it answers for, so a retry after a kill -9 between the commit and the
response replays the original answer (``tests/crash_after_commit.py`` kills the server there).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from quarry.storage.base import utcnow
from quarry.storage.idempotency import IdempotencyRecord
from quarry.tenancy.models import Environment
from tests.calls_client import POLL_SECONDS, invoice, single, wait_for
from tests.conftest import BACKENDS, Server, Tenant
from tests.harness.processes import ServerProcess, quarry_env
from tests.helpers import assert_error, create_function, transform

REPLAYED = "Idempotent-Replayed"


def new_key() -> str:
    return f"key-{uuid.uuid4()}"


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


# --- what each creating endpoint creates, and how to see it ---------------------------------------


def _function_ids(api: httpx.Client) -> list[str]:
    return sorted(f["functionID"] for f in api.get("/v2/functions", params={"limit": 100}).json()["functions"])


def _workflow_ids(api: httpx.Client) -> list[str]:
    return sorted(w["id"] for w in api.get("/v2/workflows", params={"limit": 100}).json()["workflows"])


def _call_ids(api: httpx.Client) -> list[str]:
    return sorted(c["callID"] for c in api.get("/v2/calls", params={"limit": 100}).json()["calls"])


def _collection_ids(api: httpx.Client) -> list[str]:
    return sorted(c["collectionID"] for c in api.get("/v2/collections").json()["collections"])


def _subscription_ids(api: httpx.Client) -> list[str]:
    return sorted(s["subscriptionID"] for s in api.get("/v1-alpha/subscriptions").json())


def _webhook_secret(api: httpx.Client) -> list[str]:
    return [api.get("/v1-beta/webhook-secret").json()["secret"]]


def _collection_events(api: httpx.Client) -> list[str]:
    events = api.get("/v1-alpha/events", params={"eventTypes": "collection_processing"}).json()["events"]
    return sorted(e["eventID"] for e in events)


def _processed(api: httpx.Client, answer: dict[str, Any]) -> None:
    """Wait until the collection_processing event of an add exists."""
    deadline = time.monotonic() + POLL_SECONDS
    while api.get(f"/v1-alpha/events/{answer['eventID']}").status_code != 200:
        assert time.monotonic() < deadline, f"no event {answer['eventID']}"
        time.sleep(0.05)


def _workflow(api: httpx.Client) -> None:
    create_function(api, transform("extract"))
    body = {"name": "flow", "mainFunction": {"name": "extract"}, "relationships": []}
    assert api.post("/v2/workflows", json=body).status_code == 200


def _collection(api: httpx.Client) -> None:
    assert api.post("/v2/collections", json={"collectionName": "vendors"}).status_code == 200


def _nothing(api: httpx.Client) -> None:
    pass


def _extract(api: httpx.Client) -> None:
    create_function(api, transform("extract"))


@dataclass
class Case:
    """``path`` creates something whose ID ``created`` reads from the answer; ``observe`` lists
    what exists of that kind (after ``setup``), so a second creation would change it."""

    path: str
    body: dict[str, Any] | None
    setup: Callable[[httpx.Client], None]
    created: Callable[[dict[str, Any]], str]
    observe: Callable[[httpx.Client], list[str]]
    existing: int = 0
    status: int = 200
    settle: Callable[[httpx.Client, dict[str, Any]], None] = field(default=lambda api, answer: None)


CASES = {
    "create function": Case("/v2/functions", transform("invoice"), _nothing, lambda a: a["functionID"], _function_ids),
    "copy function": Case(
        "/v2/functions/copy",
        {"sourceFunctionName": "extract", "targetFunctionName": "extract-copy"},
        _extract,
        lambda a: a["functionID"],
        _function_ids,
        existing=1,
    ),
    "create workflow": Case(
        "/v2/workflows",
        {"name": "flow", "mainFunction": {"name": "extract"}, "relationships": []},
        _extract,
        lambda a: a["workflow"]["id"],
        _workflow_ids,
    ),
    "copy workflow": Case(
        "/v2/workflows/copy",
        {"sourceWorkflowName": "flow", "targetWorkflowName": "flow-copy"},
        _workflow,
        lambda a: a["workflow"]["id"],
        _workflow_ids,
        existing=1,
    ),
    "create subscription": Case(
        "/v1-alpha/subscriptions",
        {"name": "hook", "type": "transform", "functionName": "extract", "webhookURL": "https://example.com/hook"},
        _extract,
        lambda a: a["subscriptionID"],
        _subscription_ids,
    ),
    "generate webhook secret": Case("/v1-beta/webhook-secret", None, _nothing, lambda a: a["secret"], _webhook_secret),
    "create collection": Case(
        "/v2/collections", {"collectionName": "vendors"}, _nothing, lambda a: a["collectionID"], _collection_ids
    ),
    "add collection items": Case(
        "/v2/collections/items",
        {"collectionName": "vendors", "items": [{"data": "ACME Corp"}, {"data": "Globex"}]},
        _collection,
        lambda a: a["eventID"],
        _collection_events,
        status=202,
        settle=_processed,
    ),
    "create calls": Case(
        "/v2/calls",
        {"calls": [{"functionName": "extract", "callReferenceID": "doc-1", "input": single(invoice("INV-1"))}]},
        _extract,
        lambda a: a["calls"][0]["callID"],
        _call_ids,
    ),
    "call a function": Case(
        "/v2/functions/extract/call",
        {
            "arguments": [
                {
                    "referenceID": "doc-1",
                    "inputType": "text",
                    "inputContent": single(invoice("1"))["singleFile"]["inputContent"],
                }
            ]
        },  # fmt: skip
        _extract,
        lambda a: a["functionCalls"][0]["workflowCallID"],
        _call_ids,
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_retry_replays_the_first_answer_and_creates_nothing(api: httpx.Client, case: Case) -> None:
    case.setup(api)
    key = new_key()
    first = api.post(case.path, json=case.body, headers=keyed(key))
    assert first.status_code == case.status, first.text
    assert REPLAYED not in first.headers
    case.settle(api, first.json())
    after_first = case.observe(api)
    assert case.created(first.json()) in after_first
    assert len(after_first) == case.existing + 1

    retry = api.post(case.path, json=case.body, headers=keyed(key))
    assert retry.status_code == case.status
    assert retry.headers[REPLAYED] == "true"
    assert retry.headers["content-type"] == "application/json"
    assert retry.content == first.content
    case.settle(api, retry.json())
    assert case.observe(api) == after_first


def test_a_keyed_answer_has_the_shape_of_an_unkeyed_one(api: httpx.Client) -> None:
    """The first keyed answer is serialized by Quarry itself: it must be what FastAPI answers."""
    plain = create_function(api, transform("plain", tags=["a"]))
    response = api.post("/v2/functions", json=transform("keyed", tags=["a"]), headers=keyed(new_key()))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == set(plain)
    assert set(answer["audit"]) == set(plain["audit"])
    assert {k: v for k, v in answer.items() if k not in ("functionID", "functionName", "audit", "emailAddress")} == {
        k: v for k, v in plain.items() if k not in ("functionID", "functionName", "audit", "emailAddress")
    }


def test_a_multipart_upload_retried_with_a_new_boundary_is_replayed(api: httpx.Client) -> None:
    create_function(api, transform("extract"))
    key = new_key()

    def upload() -> httpx.Response:
        files = {"file": ("invoice.txt", invoice("INV-7"), "text/plain")}
        return api.post("/v2/functions/extract/call", data={"referenceID": "scan-7"}, files=files, headers=keyed(key))

    first, retry = upload(), upload()
    assert first.request.headers["content-type"] != retry.request.headers["content-type"]  # two boundaries
    assert first.status_code == 200, first.text
    assert retry.status_code == 200 and retry.headers[REPLAYED] == "true"
    assert retry.content == first.content
    assert _call_ids(api) == [first.json()["functionCalls"][0]["workflowCallID"]]

    other = {"file": ("invoice.txt", invoice("INV-8"), "text/plain")}
    changed = api.post("/v2/functions/extract/call", data={"referenceID": "scan-7"}, files=other, headers=keyed(key))
    assert_error(changed, 409)
    assert len(_call_ids(api)) == 1


def test_a_replayed_call_is_neither_created_nor_run_twice(api: httpx.Client) -> None:
    create_function(api, transform("extract"))
    body = {"calls": [{"functionName": "extract", "callReferenceID": "once", "input": single(invoice("INV-9"))}]}
    key = new_key()
    first = api.post("/v2/calls", json=body, headers=keyed(key))
    assert first.status_code == 200, first.text
    call_id = first.json()["calls"][0]["callID"]
    retry = api.post("/v2/calls", json=body, headers=keyed(key))
    assert retry.headers.get(REPLAYED) == "true" and retry.content == first.content
    call = wait_for(api, call_id)
    assert call["status"] == "completed"
    listed = api.get("/v2/calls", params={"referenceIDs": "once"}).json()
    assert listed["totalCount"] == 1 and [c["callID"] for c in listed["calls"]] == [call_id]
    events = api.get("/v1-alpha/events", params={"callIDs": call_id}).json()
    assert events["totalCount"] == 1  # one transform event: the call ran once


def test_the_same_key_with_another_body_is_a_conflict(api: httpx.Client) -> None:
    key = new_key()
    assert api.post("/v2/functions", json=transform("first"), headers=keyed(key)).status_code == 200
    body = assert_error(api.post("/v2/functions", json=transform("second"), headers=keyed(key)), 409)
    assert "Idempotency-Key" in body["message"] and "body" in body["message"]
    assert_error(api.get("/v2/functions/second"), 404)
    assert len(_function_ids(api)) == 1


def test_the_same_key_on_another_endpoint_is_a_conflict(api: httpx.Client) -> None:
    create_function(api, transform("a"))
    create_function(api, transform("b"))
    key = new_key()
    assert api.post("/v2/collections", json={"collectionName": "vendors"}, headers=keyed(key)).status_code == 200
    body = assert_error(api.post("/v2/collections/items", json={"collectionName": "vendors"}, headers=keyed(key)), 409)
    assert "POST /v2/collections" in body["message"]

    # the path names the function called: calling another function with the same arguments is another request
    arguments = {"arguments": [{"referenceID": "r", "inputType": "text", "inputContent": "SW52b2ljZSBOdW1iZXI6IDE="}]}
    other = new_key()
    assert api.post("/v2/functions/a/call", json=arguments, headers=keyed(other)).status_code == 200
    body = assert_error(api.post("/v2/functions/b/call", json=arguments, headers=keyed(other)), 409)
    assert "/v2/functions/a/call" in body["message"]
    assert [c["functionName"] for c in api.get("/v2/calls").json()["calls"]] == ["a"]


def test_without_a_key_every_request_creates(api: httpx.Client) -> None:
    create_function(api, transform("extract"))
    body = {"calls": [{"functionName": "extract", "input": single(invoice("INV-2"))}]}
    answers = [api.post("/v2/calls", json=body) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert all(REPLAYED not in a.headers for a in answers)
    assert len(set(_call_ids(api))) == 2


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "cl\xe9".encode("latin-1"), "caf\u00e9".encode(), "a\tb"],
    ids=["empty", "256 characters", "latin-1", "utf-8", "tab"],
)
def test_a_malformed_key_is_a_400(api: httpx.Client, key: str | bytes) -> None:
    body = assert_error(api.post("/v2/collections", json={"collectionName": "vendors"}, headers=keyed(key)), 400)
    assert body["details"]["field"] == "Idempotency-Key"
    assert api.get("/v2/collections").json()["collections"] == []


def test_the_longest_key_is_accepted(api: httpx.Client) -> None:
    key = "~ !" + "k" * 252
    first = api.post("/v2/collections", json={"collectionName": "vendors"}, headers=keyed(key))
    assert first.status_code == 200, first.text
    retry = api.post("/v2/collections", json={"collectionName": "vendors"}, headers=keyed(key))
    assert retry.status_code == 200 and retry.headers[REPLAYED] == "true"


def test_keys_belong_to_one_environment(tenant: Tenant) -> None:
    key = new_key()
    body = {"collectionName": "vendors"}
    production = tenant.production.post("/v2/collections", json=body, headers=keyed(key))
    sandbox = tenant.sandbox.post("/v2/collections", json=body, headers=keyed(key))
    assert production.status_code == sandbox.status_code == 200
    assert REPLAYED not in sandbox.headers
    assert production.json()["collectionID"] != sandbox.json()["collectionID"]
    assert _collection_ids(tenant.sandbox) == [sandbox.json()["collectionID"]]


def test_a_failed_request_is_not_remembered(api: httpx.Client) -> None:
    key = new_key()
    invalid = transform("extract", outputSchema={"type": "array"})
    assert_error(api.post("/v2/functions", json=invalid, headers=keyed(key)), 400)
    again = api.post("/v2/functions", json=invalid, headers=keyed(key))
    assert_error(again, 400)
    assert REPLAYED not in again.headers
    fixed = api.post("/v2/functions", json=transform("extract"), headers=keyed(key))  # not a 409: nothing was kept
    assert fixed.status_code == 200, fixed.text
    # a conflict of the resource itself (name taken) is not remembered either
    other = new_key()
    assert_error(api.post("/v2/functions", json=transform("extract"), headers=keyed(other)), 409)
    api.delete("/v2/functions/extract").raise_for_status()
    retried = api.post("/v2/functions", json=transform("extract"), headers=keyed(other))
    assert retried.status_code == 200 and REPLAYED not in retried.headers


def _age(server: Server, key: str, by: timedelta) -> None:
    with server.db.write() as session:
        aged = session.execute(
            sa.update(IdempotencyRecord).where(IdempotencyRecord.key == key).values(created_at=utcnow() - by)
        )
        assert aged.rowcount == 1


def test_a_key_older_than_a_day_runs_anew(server: Server, api: httpx.Client) -> None:
    create_function(api, transform("extract"))
    body = {"calls": [{"functionName": "extract", "input": single(invoice("INV-3"))}]}
    key = new_key()
    first = api.post("/v2/calls", json=body, headers=keyed(key))
    assert first.status_code == 200
    _age(server, key, timedelta(hours=23, minutes=59))
    assert api.post("/v2/calls", json=body, headers=keyed(key)).headers.get(REPLAYED) == "true"

    _age(server, key, timedelta(hours=24, seconds=1))
    anew = api.post("/v2/calls", json=body, headers=keyed(key))
    assert anew.status_code == 200 and REPLAYED not in anew.headers
    assert anew.json()["calls"][0]["callID"] != first.json()["calls"][0]["callID"]
    assert len(_call_ids(api)) == 2
    # the new answer replaced the old one
    again = api.post("/v2/calls", json=body, headers=keyed(key))
    assert again.headers.get(REPLAYED) == "true" and again.content == anew.content
    # an expired key may also be reused for another request
    _age(server, key, timedelta(days=2))
    other = api.post("/v2/collections", json={"collectionName": "vendors"}, headers=keyed(key))
    assert other.status_code == 200 and REPLAYED not in other.headers


def _keys_of(server: Server, environment_id: str) -> set[str]:
    with server.db.read() as session:
        keys = session.scalars(
            sa.select(IdempotencyRecord.key).where(IdempotencyRecord.environment_id == environment_id)
        )
        return set(keys)


def test_expired_keys_are_pruned_when_a_key_is_recorded(server: Server, tenant: Tenant, api: httpx.Client) -> None:
    with server.db.write() as session:
        environment_id = session.scalar(
            sa.select(Environment.id).where(
                Environment.account_id == tenant.account_id, Environment.name == "production"
            )
        )
        for name, age in (("old-1", timedelta(days=3)), ("old-2", timedelta(hours=25)), ("young", timedelta(hours=1))):
            session.add(
                IdempotencyRecord(
                    environment_id=environment_id,
                    key=name,
                    method="POST",
                    path="/v2/collections",
                    request_sha256="0" * 64,
                    status_code=200,
                    response_body=b"{}",
                    created_at=utcnow() - age,
                )
            )
    assert api.post("/v2/collections", json={"collectionName": "vendors"}).status_code == 200  # no key: no pruning
    with server.db.read() as session:
        kept = set(
            session.scalars(sa.select(IdempotencyRecord.key).where(IdempotencyRecord.environment_id == environment_id))
        )
    assert kept == {"old-1", "old-2", "young"}

    key = new_key()
    assert api.post("/v2/collections", json={"collectionName": "other"}, headers=keyed(key)).status_code == 200
    with server.db.read() as session:
        kept = set(
            session.scalars(sa.select(IdempotencyRecord.key).where(IdempotencyRecord.environment_id == environment_id))
        )
    assert kept == {"young", key}


@pytest.mark.parametrize("kind", ["function", "calls"])
def test_concurrent_requests_with_one_key_create_once(server: Server, tenant: Tenant, kind: str) -> None:
    if kind == "function":
        path, body = "/v2/functions", transform("raced")
    else:
        create_function(tenant.production, transform("extract"))
        path = "/v2/calls"
        body = {"calls": [{"functionName": "extract", "input": single(invoice("INV-4"))}]}
    key = new_key()
    start = threading.Barrier(8)

    def post(_: int) -> httpx.Response:
        with httpx.Client(base_url=server.base_url, headers={"x-api-key": tenant.keys["production"]}) as client:
            start.wait()
            return client.post(path, json=body, headers=keyed(key), timeout=60)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(8)))
    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    assert len({a.content for a in answers}) == 1
    assert sum(REPLAYED not in a.headers for a in answers) == 1
    if kind == "function":
        assert _function_ids(tenant.production) == [answers[0].json()["functionID"]]
    else:
        assert _call_ids(tenant.production) == [answers[0].json()["calls"][0]["callID"]]


CREATING = [
    ("post", "/v2/calls"),
    ("post", "/v2/functions/{functionName}/call"),
    ("post", "/v2/functions"),
    ("post", "/v2/functions/copy"),
    ("post", "/v2/workflows"),
    ("post", "/v2/workflows/copy"),
    ("post", "/v1-alpha/subscriptions"),
    ("post", "/v1-beta/webhook-secret"),
    ("post", "/v2/collections"),
    ("post", "/v2/collections/items"),
    ("post", "/v3/functions"),
    ("post", "/v3/functions/copy"),
    ("post", "/v3/workflows"),
    ("post", "/v3/workflows/copy"),
    ("post", "/v3/subscriptions"),
    ("post", "/v3/webhook-secret"),
    ("post", "/v3/collections"),
    ("post", "/v3/collections/items"),
    ("post", "/v3/workflows/{workflowName}/call"),
    ("post", "/v3/eval/score"),
    ("post", "/v3/functions/regression"),
]


def test_the_header_is_documented_on_every_creating_operation(anonymous: httpx.Client) -> None:
    paths = anonymous.get("/openapi.json").json()["paths"]
    documented = {
        (method, path)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
    }
    assert documented == set(CREATING)
    parameter = next(p for p in paths["/v2/calls"]["post"]["parameters"] if p["name"] == "Idempotency-Key")
    assert parameter["required"] is False
    assert "24 hours" in parameter["description"]


# --- kill -9 between the commit and the response -----------------------------------------------

CRASH_KEY = "idempotency-crash-test-key"


@pytest.fixture(params=BACKENDS)
def crash_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    root = str(Path(__file__).resolve().parents[1])  # so that ``python -m tests.crash_after_commit`` imports
    python_path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    with quarry_env(
        request.param, tmp_path / "data", "quarry_idempotency", QUARRY_API_KEY=CRASH_KEY, PYTHONPATH=python_path
    ) as environ:
        yield environ


def _crash_client(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"x-api-key": CRASH_KEY}, timeout=60)


def _killed_while_answering(
    server: ServerProcess, api: httpx.Client, path: str, body: dict[str, Any], key: str
) -> None:
    with pytest.raises(httpx.TransportError):  # no answer: the process died after its commit
        api.post(path, json=body, headers=keyed(key))
    assert server.process.wait(timeout=30) == -signal.SIGKILL, server.stop()


def test_a_retry_after_a_kill_between_commit_and_response_replays_the_original(crash_env: dict[str, str]) -> None:
    function = transform("extract")
    calls = {"calls": [{"functionName": "extract", "callReferenceID": "crash", "input": single(invoice("INV-5"))}]}

    server = ServerProcess(crash_env, module="tests.crash_after_commit")
    try:
        with _crash_client(server) as api:
            _killed_while_answering(server, api, "/v2/functions", function, "crash-function")
    finally:
        server.stop()

    server = ServerProcess(crash_env, module="tests.crash_after_commit")
    try:
        with _crash_client(server) as api:
            (created,) = api.get("/v2/functions").json()["functions"]  # committed before the kill
            retry = api.post("/v2/functions", json=function, headers=keyed("crash-function"))
            assert retry.status_code == 200, retry.text
            assert retry.headers.get(REPLAYED) == "true"
            assert retry.json()["functionID"] == created["functionID"]
            assert _function_ids(api) == [created["functionID"]]

            _killed_while_answering(server, api, "/v2/calls", calls, "crash-calls")
    finally:
        server.stop()

    server = ServerProcess(crash_env)
    try:
        with _crash_client(server) as api:
            (recorded,) = api.get("/v2/calls").json()["calls"]  # committed, never enqueued by the dead process
            retry = api.post("/v2/calls", json=calls, headers=keyed("crash-calls"))
            assert retry.status_code == 200, retry.text
            assert retry.headers.get(REPLAYED) == "true"
            assert [c["callID"] for c in retry.json()["calls"]] == [recorded["callID"]]
            assert wait_for(api, recorded["callID"])["status"] == "completed"  # the sweeper ran it
            assert _call_ids(api) == [recorded["callID"]]
    finally:
        server.stop()
