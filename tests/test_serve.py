"""``quarry serve`` as an operator runs it: an API process and the worker children it supervises."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import os
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import documents
from tests.conftest import BACKENDS
from tests.harness.ports import free_port
from tests.harness.processes import QuarryProcess, ServerProcess, alive, quarry_env

KEY = "serve-test-key"
STEPS = 6


@pytest.fixture(params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    with quarry_env(
        request.param, tmp_path / "data", "quarry_serve", QUARRY_API_KEY=KEY, QUARRY_WORKERS="2"
    ) as environ:
        yield environ


def _client(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=30)


def _until(condition: Callable[[], Any], what: str, limit: float = 120) -> Any:
    """Poll ``condition`` until it is truthy; fail after a generous ``limit``."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    pytest.fail(f"never: {what}")


def _chain(api: httpx.Client) -> None:
    """A workflow of STEPS payload-shaping functions, each appending its number to ``steps``."""
    for i in range(STEPS):
        shaping = "@" if i == 0 else f"merge(@, {{steps: [steps[], `{i}`][]}})"
        body = {"functionName": f"step{i}", "type": "payload_shaping", "shapingSchema": shaping}
        assert api.post("/v2/functions", json=body).status_code == 200
    edges = [
        {"sourceFunction": {"name": f"step{i}"}, "destinationFunction": {"name": f"step{i + 1}"}}
        for i in range(STEPS - 1)
    ]
    workflow = {"name": "chain", "mainFunction": {"name": "step0"}, "relationships": edges}
    assert api.post("/v2/workflows", json=workflow).status_code == 200


def _submit(api: httpx.Client, count: int, prefix: str) -> list[str]:
    items = [
        {
            "workflowName": "chain",
            "callReferenceID": f"{prefix}-{n}",
            "input": {
                "singleFile": {
                    "inputType": "json",
                    "inputContent": base64.b64encode(json.dumps({"doc": n, "steps": [0]}).encode()).decode(),
                }
            },
        }
        for n in range(count)
    ]
    response = api.post("/v2/calls", json={"calls": items})
    assert response.status_code == 200, response.text
    return [call["callID"] for call in response.json()["calls"]]


def _statuses(api: httpx.Client) -> dict[str, str]:
    calls = api.get("/v2/calls", params={"limit": 100}).json()["calls"]
    return {call["callID"]: call["status"] for call in calls}


def _finished(api: httpx.Client, call_ids: list[str]) -> dict[str, str] | None:
    statuses = _statuses(api)
    done = all(statuses.get(call_id) in ("completed", "failed") for call_id in call_ids)
    return {call_id: statuses[call_id] for call_id in call_ids} if done else None


def _steps_of(api: httpx.Client, call_id: str) -> list[int]:
    """The ``steps`` the last function of the chain emitted, once every step emitted one event."""
    events = api.get("/v1-alpha/events", params={"callIDs": call_id, "limit": 100}).json()
    assert events["totalCount"] == STEPS, events
    [last] = [event for event in events["events"] if event["functionName"] == f"step{STEPS - 1}"]
    return last["transformedContent"]["steps"]


def test_serve_runs_calls_in_a_worker_child_process(env: dict[str, str]) -> None:
    server = ServerProcess(env)
    try:
        [worker] = server.worker_pids()
        health = httpx.get(server.url + "/healthz").json()
        assert health["role"] == "api"  # the API process runs no work itself
        with _client(server) as api:
            _chain(api)
            [call_id] = _submit(api, 1, "one")
            assert _until(lambda: _finished(api, [call_id]), "the call finished") == {call_id: "completed"}
            assert _steps_of(api, call_id) == list(range(STEPS))
        assert server.worker_pids() == [worker]
        assert f"Quarry worker {health['executorID']}-w1:" in server.log
    finally:
        server.stop()


@pytest.mark.parametrize("env", ["sqlite"], indirect=True)
def test_serve_runs_several_worker_processes_on_request(env: dict[str, str]) -> None:
    server = ServerProcess(env, "--worker-processes", "2")
    try:
        _until(lambda: len(server.worker_pids()) == 2, "two workers")
        executor = httpx.get(server.url + "/healthz").json()["executorID"]
        _until(lambda: f"Quarry worker {executor}-w2:" in server.log, "the second worker started")
        with _client(server) as api:
            _chain(api)
            call_ids = _submit(api, 10, "two")
            statuses = _until(lambda: _finished(api, call_ids), "the calls finished")
            assert set(statuses.values()) == {"completed"}
    finally:
        server.stop()


def test_a_killed_worker_is_replaced_and_its_calls_finish_exactly_once(env: dict[str, str]) -> None:
    server = ServerProcess(env)
    try:
        first = server.wait_for_worker()
        with _client(server) as api:
            _chain(api)
            call_ids = _submit(api, 40, "before")
            at_kill = _until(
                lambda: (s := _statuses(api)) and "running" in s.values() and "pending" in s.values() and s,
                "calls in flight",
                limit=60,
            )
            os.kill(first, signal.SIGKILL)
            # not ready while no worker runs: it says so until the replacement has joined
            _until(lambda: httpx.get(server.url + "/readyz").status_code == 503, "readyz without a worker")
            second = server.wait_for_worker(other_than=first)
            assert second != first and not alive(first)
            call_ids += _submit(api, 5, "after")
            statuses = _until(lambda: _finished(api, call_ids), "every call finished", limit=180)
            assert set(statuses.values()) == {"completed"}, statuses
            assert "running" in at_kill.values()  # some were in flight in the killed worker
            for call_id in call_ids:  # the replacement redid no step that had run
                assert _steps_of(api, call_id) == list(range(STEPS))
        assert "exited with code -9; restarting it in 1 s" in server.log
    finally:
        server.stop()


@pytest.mark.parametrize("env", ["sqlite"], indirect=True)
def test_sigterm_stops_serve_and_drains_its_worker(env: dict[str, str]) -> None:
    server = ServerProcess(env)
    worker = server.wait_for_worker()
    server.send_signal(signal.SIGTERM)
    exited = server.finish(time.monotonic() + 90)
    assert exited and server.process.returncode == 0, server.output
    assert not alive(worker)
    assert "Draining" in server.output and "Stopped." in server.output  # the worker's own clean stop


@pytest.mark.parametrize("env", ["sqlite"], indirect=True)
def test_a_killed_serve_takes_its_worker_with_it(env: dict[str, str]) -> None:
    server = ServerProcess(env)
    try:
        worker = server.wait_for_worker()
        server.kill()
        _until(lambda: not alive(worker), "the orphaned worker stopped")
    finally:
        server.stop()


@pytest.mark.parametrize("env", ["sqlite"], indirect=True)
@pytest.mark.parametrize("after_seconds", [0.0, 1.5, 4.0])
def test_a_worker_stops_on_a_burst_of_sigterms_at_any_point_of_its_start(
    env: dict[str, str], after_seconds: float
) -> None:
    """A supervised worker gets SIGTERM twice in a row when its parent stops (the supervisor's
    drain, then the kernel's death signal as the parent exits); signal handlers that took a lock
    deadlocked it so, and it ran on without a parent. Whenever the burst comes once it handles
    SIGTERM (still importing, starting, running), it exits cleanly."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "quarry", "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        _until(lambda: _catches_sigterm(worker.pid), "the worker handles SIGTERM", limit=60)
        time.sleep(after_seconds)
        for _ in range(200):
            worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=90)
    finally:
        worker.kill()
    assert worker.returncode == 0, output.decode(errors="replace")[-3000:]


def _catches_sigterm(pid: int) -> bool:
    """Whether the process has a handler for SIGTERM (the caught-signals mask in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def _mail_an_invoice(api: httpx.Client, smtp_port: int) -> dict[str, Any]:
    """Mail the test invoice (in an attached PDF) to a new workflow's address; the call it started, finished."""
    function = {"functionName": "invoices", "type": "transform", "outputSchemaName": "Invoice"}
    assert api.post("/v2/functions", json=function | {"outputSchema": documents.SCHEMA}).status_code == 200
    workflow = {"name": "mailed", "mainFunction": {"name": "invoices"}, "relationships": []}
    address = api.post("/v2/workflows", json=workflow).json()["workflow"]["emailAddress"]
    message = email.message_from_bytes(documents.email(attach_pdf=True), policy=email.policy.default)
    with smtplib.SMTP("127.0.0.1", smtp_port) as client:
        assert client.send_message(message, to_addrs=[address]) == {}
    [call] = _until(lambda: api.get("/v2/calls").json()["calls"], "the mail started a call")
    _until(lambda: _finished(api, [call["callID"]]), "the call finished")
    events = api.get("/v1-alpha/events", params={"callIDs": call["callID"]}).json()["events"]
    return {"call": api.get(f"/v2/calls/{call['callID']}").json()["call"], "events": events}


def test_serve_receives_email_when_QUARRY_SMTP_PORT_is_set(env: dict[str, str]) -> None:
    smtp_port = free_port()
    server = ServerProcess(env | {"QUARRY_SMTP_PORT": str(smtp_port)})
    try:
        assert f"Email: SMTP on 127.0.0.1:{smtp_port}" in server.log
        with _client(server) as api:
            mailed = _mail_an_invoice(api, smtp_port)
        assert mailed["call"]["status"] == "completed", mailed
        [event] = mailed["events"]
        assert event["transformedContent"]["invoiceNumber"] == documents.NUMBER
    finally:
        server.stop()


def test_quarry_smtp_receives_email_for_the_workers_of_the_deployment(env: dict[str, str]) -> None:
    server = ServerProcess(env)
    smtp_port = free_port()
    receiver = QuarryProcess(["smtp", "--port", str(smtp_port)], env)
    try:
        _until(lambda: "Email: SMTP on" in receiver.log or not receiver.alive(), "quarry smtp listened")
        assert receiver.alive(), receiver.log
        with _client(server) as api:
            mailed = _mail_an_invoice(api, smtp_port)
        assert mailed["call"]["status"] == "completed", mailed
        [event] = mailed["events"]
        assert event["transformedContent"]["totalAmount"] == documents.TOTAL
    finally:
        receiver.stop()
        server.stop()
