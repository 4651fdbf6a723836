"""Following calls without polling: the stream of call changes (``GET /v2/calls/stream``) and
the long poll of one call (``GET /v2/calls/{callID}?waitSeconds=N``), through HTTP.

On the shared server (both databases) calls run in the server's own process and finish at once;
the end of the module runs Quarry processes whose model waits until the test lets it answer, so
that a call stays running as long as the test needs — on PostgreSQL with the work in a separate
``quarry worker`` process, which the API process only learns about from the database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.calls_client import (
    STAGE,
    TERMINAL,
    check_call_shape,
    get_call,
    invoice,
    single,
    submit,
    wait_for,
)
from tests.conftest import Tenant
from tests.harness.endpoints import LocalEndpoint, Received, Reply
from tests.harness.fake_model import chat_completion
from tests.harness.processes import ServerProcess, WorkerProcess, quarry_env
from tests.helpers import assert_error, create_function, transform
from tests.sse import Event, open_stream


@pytest.fixture
def extract(tenant: Tenant) -> None:
    for client in (tenant.production, tenant.sandbox):
        create_function(client, transform("extract"))


def _call(reference: str) -> dict[str, Any]:
    return {"functionName": "extract", "callReferenceID": reference, "input": single(invoice(reference))}


def _statuses(events: list[Event], call_id: str) -> list[str]:
    return [e.data["call"]["status"] for e in events if e.data["call"]["callID"] == call_id]


def _moves_forward(statuses: list[str]) -> bool:
    return all(STAGE[a] < STAGE[b] for a, b in zip(statuses, statuses[1:], strict=False))


def test_a_stream_follows_the_calls_it_filters_to_their_end(tenant: Tenant, extract: None) -> None:
    api = tenant.production
    with (
        open_stream(api, {"referenceIDs": "followed"}) as followed,
        open_stream(tenant.sandbox) as sandbox,
    ):
        assert followed.until_ready()[0] == [] and sandbox.until_ready()[0] == []
        (mine,) = submit(api, _call("followed"))
        (other,) = submit(api, _call("not-followed"))
        events = followed.until_finished(mine["callID"])
        assert {e.data["call"]["callID"] for e in events} == {mine["callID"]}
        statuses = _statuses(events, mine["callID"])
        assert statuses[-1] == "completed" and _moves_forward(statuses), statuses
        for event in events:
            assert set(event.data) == {"call"}
            check_call_shape(event.data["call"])
            assert datetime.fromisoformat(event.id)  # a position
        # the last event is the call exactly as it is read
        assert events[-1].data["call"] == get_call(api, mine["callID"])
        wait_for(api, other["callID"])

        # the sandbox's own calls come through its stream, the production's never
        (theirs,) = submit(tenant.sandbox, _call("followed"))
        seen = {e.data["call"]["callID"] for e in sandbox.until_finished(theirs["callID"])}
        assert seen == {theirs["callID"]}


def test_a_reconnecting_client_gets_the_changes_it_missed(api: httpx.Client, extract: None) -> None:
    with open_stream(api, {"referenceIDSubstring": "missed"}) as stream:
        _, position = stream.until_ready()
    (missed,) = submit(api, _call("was-missed"))
    submit(api, _call("other"))
    finished = wait_for(api, missed["callID"])

    for resume in ({"headers": {"Last-Event-ID": position}}, {"params": {"since": position}}):
        params = {"referenceIDSubstring": "missed", **resume.get("params", {})}
        with open_stream(api, params, resume.get("headers")) as stream:
            replayed, _ = stream.until_ready()
        assert [e.data["call"]["callID"] for e in replayed] == [missed["callID"]]
        assert replayed[0].data["call"]["status"] == finished["status"] == "completed"
        assert replayed[0].id is not None and datetime.fromisoformat(replayed[0].id) >= datetime.fromisoformat(position)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"statuses": "done"}, "statuses"),
        ({"callTypes": "job"}, "callTypes"),
        ({"callIDs": ""}, "callIDs"),
        ({"functionNames": "a,,b"}, "functionNames"),
        ({"referenceIDSubstring": ""}, "referenceIDSubstring"),
        ({"limit": "10"}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-01-01T00:00:00"}, "since"),
    ],
)
def test_bad_stream_parameters_are_400(api: httpx.Client, params: dict[str, str], field: str) -> None:
    body = assert_error(api.get("/v2/calls/stream", params=params), 400)
    assert body["details"]["field"].split("[")[0] == field, body
    if field in {"statuses", "callTypes", "callIDs", "functionNames", "referenceIDSubstring"}:
        assert api.get("/v2/calls", params=params).json() == body  # the same as List Calls answers


def test_a_bad_last_event_id_is_400(api: httpx.Client) -> None:
    assert_error(api.get("/v2/calls/stream", headers={"Last-Event-ID": "42"}), 400, "Last-Event-ID")


def test_a_stream_needs_a_key(anonymous: httpx.Client) -> None:
    assert_error(anonymous.get("/v2/calls/stream"), 401)


def test_a_long_poll_answers_with_the_finished_call(api: httpx.Client, extract: None) -> None:
    (call,) = submit(api, _call("long-poll"))
    response = api.get(f"/v2/calls/{call['callID']}", params={"waitSeconds": 60}, timeout=90)
    assert response.status_code == 200, response.text
    assert response.json()["call"]["status"] in TERMINAL
    assert response.json() == {"call": get_call(api, call["callID"])}


@pytest.mark.parametrize("wait", ["-1", "61", "abc", "1.5", ""])
def test_bad_waits_are_400(api: httpx.Client, extract: None, wait: str) -> None:
    (call,) = submit(api, _call("bad-wait"))
    assert_error(api.get(f"/v2/calls/{call['callID']}", params={"waitSeconds": wait}), 400, "waitSeconds")


def test_a_long_poll_of_an_unknown_call_is_404(api: httpx.Client) -> None:
    assert_error(api.get("/v2/calls/call_nope", params={"waitSeconds": 1}), 404)


# --- a call that stays running until the test lets its model answer ---------------------------


class HeldModel(LocalEndpoint):
    """A chat completion endpoint that holds every request until ``release()``."""

    def __init__(self) -> None:
        self.released, self.received = threading.Event(), threading.Event()
        super().__init__("/v1")

    def answer(self, request: Received) -> Reply:
        self.received.set()
        self.released.wait(120)
        return Reply(body=chat_completion({"invoiceNumber": "HELD-1"}))

    def release(self) -> None:
        self.released.set()


@pytest.fixture(params=["sqlite", "postgresql"])
def held(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[httpx.Client, HeldModel, Any]]:
    """A Quarry whose model holds its answers; on PostgreSQL an API process without workers, and
    a function starting a ``quarry worker`` process when the test wants the work to begin."""
    backend = request.param
    model = HeldModel()
    settings = {"QUARRY_API_KEY": "held-key", "QUARRY_LLM_BASE_URL": model.url, "QUARRY_LLM_MODEL": "held"}
    processes: list[Any] = []
    try:
        with quarry_env(backend, tmp_path / "data", "call_streams", **settings) as env:
            if backend == "sqlite":
                processes.append(ServerProcess(env))
                start_worker = None
            else:
                processes.append(ServerProcess(env, "--no-workers"))

                def start_worker() -> None:
                    processes.append(WorkerProcess(env))

            with httpx.Client(base_url=processes[0].url, headers={"x-api-key": "held-key"}, timeout=90) as api:
                create_function(api, transform("extract", provider="openai"))
                yield api, model, start_worker
    finally:
        model.release()
        for process in reversed(processes):
            process.stop()
        model.close()


def test_a_stream_and_a_long_poll_follow_a_call_run_elsewhere(held: tuple[httpx.Client, HeldModel, Any]) -> None:
    api, model, start_worker = held
    with open_stream(api) as stream:
        stream.until_ready()
        (call,) = submit(api, _call("held"))
        call_id = call["callID"]
        events = []
        if start_worker is not None:  # no worker yet: the call waits, and is seen waiting
            events.append(stream.next())
            assert events[0].data["call"]["status"] == "pending", events[0]
            start_worker()
        while "running" not in _statuses(events, call_id):
            events.append(stream.next())
        assert model.received.wait(60)

        # the call runs (its model holds it): a short long poll answers with it unchanged
        response = api.get(f"/v2/calls/{call_id}", params={"waitSeconds": 1})
        assert response.status_code == 200 and response.json()["call"]["status"] == "running"
        # a new stream starts with it, as it is
        with open_stream(api) as fresh:
            snapshot, _ = fresh.until_ready()
        assert [(e.data["call"]["callID"], e.data["call"]["status"], e.id) for e in snapshot] == [
            (call_id, "running", None)
        ]

        # a long poll waiting when the call finishes answers with the finished call
        answered: list[httpx.Response] = []
        waiting = threading.Thread(
            target=lambda: answered.append(api.get(f"/v2/calls/{call_id}", params={"waitSeconds": 60}))
        )
        waiting.start()
        model.release()
        events += stream.until_finished(call_id)
        waiting.join(90)

    statuses = _statuses(events, call_id)
    assert _moves_forward(statuses) and statuses[-2:] == ["running", "completed"], statuses
    if start_worker is not None:
        assert statuses == ["pending", "running", "completed"]
    assert answered and answered[0].status_code == 200, answered
    assert answered[0].json()["call"]["status"] == "completed"
