"""The distributed shape: API-only processes and workers on one PostgreSQL database and one S3
bucket; a worker killed mid-run has its calls finished by the others, each exactly once."""

from __future__ import annotations

import base64
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import BACKENDS
from tests.harness.databases import drop_postgres_database, postgres_database
from tests.harness.ports import free_port
from tests.harness.processes import ServerProcess, WorkerProcess, quarry_environ
from tests.helpers import scrape, value
from tests.s3 import S3Server

pytestmark = pytest.mark.skipif("postgresql" not in BACKENDS, reason="the distributed shape needs PostgreSQL")

KEY = "distributed-test-key"
CALLS = 400
BATCH = 50


@pytest.fixture
def env(tmp_path: Path, s3_server: S3Server) -> Iterator[dict[str, str]]:
    name = f"quarry_distributed_{os.getpid()}"
    environ = quarry_environ(
        tmp_path / "data",
        without=("QUARRY_", "AWS_"),
        **s3_server.env,
        QUARRY_API_KEY=KEY,
        QUARRY_DATABASE_URL=postgres_database(name),
        QUARRY_BLOB_URL=f"s3://{s3_server.create_bucket()}/deployment-1",
        QUARRY_WORKERS="4",  # few at once, so that the kill lands while calls are in flight
        QUARRY_DRAIN_SECONDS="5",
        COLUMNS="200",  # one log line per message
    )
    yield environ
    drop_postgres_database(name)


def _client(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=60)


def _submit(api: httpx.Client, first: int) -> None:
    calls = [
        {
            "workflowName": "shape",
            "callReferenceID": f"doc-{n:04d}",
            "input": {
                "singleFile": {
                    "inputType": "json",
                    "inputContent": base64.b64encode(json.dumps({"n": n}).encode()).decode(),
                }
            },
        }
        for n in range(first, first + BATCH)
    ]
    response = api.post("/v2/calls", json={"calls": calls})
    assert response.status_code == 200, response.text


def _count(api: httpx.Client, **filters: str) -> int:
    response = api.get("/v2/calls", params={"limit": 1, **filters})
    assert response.status_code == 200, response.text
    return response.json()["totalCount"]


def _executors_of_workflows(database_url: str) -> set[str]:
    with psycopg.connect(database_url) as conn:
        return {row[0] for row in conn.execute("SELECT DISTINCT executor_id FROM dbos.workflow_status")}


def _freeze_while_running_calls(database_url: str, worker: WorkerProcess) -> None:
    """Stop the worker (SIGSTOP) at an instant when calls of its own are in flight — checked again
    once it is stopped, since a trivial call may finish between the look and the signal — so that
    killing it then cuts them short."""
    deadline = time.monotonic() + 60
    with psycopg.connect(database_url, autocommit=True) as conn:

        def running() -> int:
            query = "SELECT count(*) FROM dbos.workflow_status WHERE executor_id = %s AND status = 'PENDING'"
            return conn.execute(query, (worker.executor_id,)).fetchone()[0]

        while time.monotonic() < deadline:
            if running():
                os.kill(worker.process.pid, signal.SIGSTOP)
                if running():
                    return
                os.kill(worker.process.pid, signal.SIGCONT)
            time.sleep(0.01)
    pytest.fail(f"worker {worker.executor_id} never ran a call")


def _recovered_workflows(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM dbos.workflow_status WHERE recovery_attempts > 1").fetchone()[0]


def test_api_processes_and_workers_share_the_work_and_survive_a_killed_worker(env: dict[str, str]) -> None:
    apis = [ServerProcess(env, "--no-workers"), ServerProcess(env, "--no-workers")]
    metrics_port = free_port()  # the surviving worker serves its own metrics
    workers = [WorkerProcess(env), WorkerProcess(env | {"QUARRY_METRICS_PORT": str(metrics_port)})]
    try:
        with _client(apis[0]) as first, _client(apis[1]) as second:
            api_executors = {c.get("/healthz").json()["executorID"] for c in (first, second)}
            assert len(api_executors) == 2  # unique per process by default
            body = {"functionName": "shape-n", "type": "payload_shaping", "shapingSchema": "{n: n, tag: 'shaped'}"}
            assert first.post("/v2/functions", json=body).status_code == 200
            workflow = {"name": "shape", "mainFunction": {"name": "shape-n"}}
            assert first.post("/v2/workflows", json=workflow).status_code == 200

            for batch, first_n in enumerate(range(0, CALLS, BATCH)):
                _submit(first if batch % 2 == 0 else second, first_n)
                if batch == 3:  # mid-run: killed while calls of its own are in flight, most still to come
                    _freeze_while_running_calls(env["QUARRY_DATABASE_URL"], workers[0])
                    workers[0].kill()

            deadline = time.monotonic() + 240
            while _count(first, statuses="completed") < CALLS and time.monotonic() < deadline:
                time.sleep(0.5)
            assert _count(first, statuses="completed") == CALLS, workers[1].log[-3000:]
            assert _count(first) == _count(second) == CALLS

            calls = []
            for page in range(CALLS // 100):
                params = {"limit": 100} | ({"startingAfter": calls[-1]["callID"]} if page else {})
                calls += second.get("/v2/calls", params=params).json()["calls"]
            assert len({c["callID"] for c in calls}) == CALLS
            events = first.get("/v1-alpha/events", params={"limit": 1, "eventTypes": "payload_shaping"}).json()
            assert events["totalCount"] == CALLS  # one event per call, none twice
            for call in calls[:: CALLS // 8]:
                detail = first.get(f"/v2/calls/{call['callID']}").json()["call"]
                assert len(detail["functionCalls"]) == 1
                n = int(call["callReferenceID"].split("-")[1])
                url = detail["functionCalls"][0]["inputs"][0]["s3URL"]
                assert url.startswith(env["AWS_ENDPOINT_URL"])  # a presigned URL of the bucket, not Quarry's
                assert json.loads(httpx.get(url, timeout=30).content) == {"n": n}

            # the deployment's calls from any API process; the work from the worker that did it
            deployment = scrape(first)
            assert value(deployment, "quarry_calls", status="completed", type="workflow") == CALLS
            assert value(deployment, "quarry_queue_workflows", queue="quarry-calls", state="enqueued") == 0
            with httpx.Client(base_url=f"http://127.0.0.1:{metrics_port}", timeout=30) as worker_metrics:
                worked = scrape(worker_metrics)
            finished = value(worked, "quarry_function_calls_finished_total", type="payload_shaping", status="completed")
            assert 0 < finished <= CALLS

        # the API-only processes ran nothing; the killed worker's unfinished calls went elsewhere
        ran = _executors_of_workflows(env["QUARRY_DATABASE_URL"])
        assert not ran & api_executors
        assert workers[1].executor_id in ran
        assert f"executor {workers[0].executor_id} stopped without a clean shutdown" in workers[1].log
        assert _recovered_workflows(env["QUARRY_DATABASE_URL"]) > 0  # the kill did cut calls short

        for process in (workers[1], apis[0]):  # SIGTERM drains and exits cleanly
            process.stop(signal.SIGTERM, timeout=60)
            assert process.process.returncode == 0, process.output[-3000:]
    finally:
        for process in [*apis, *workers]:
            process.stop()


def test_cited_pages_render_from_an_s3_store(env: dict[str, str]) -> None:
    """The dashboard's page images come through Quarry's own signed URL whatever the store: here the
    input lives in S3 (its s3URL is presigned by S3), and ``pagesURL&page=1`` is still a PNG."""
    pdf = (Path(__file__).resolve().parent.parent / "examples" / "corpus" / "invoice-harrow-finch-uk.pdf").read_bytes()
    server = ServerProcess(env)
    try:
        with _client(server) as api:
            schema = {"type": "object", "properties": {"invoiceNumber": {"type": "string"}}}
            function = {
                "functionName": "cited", "type": "transform", "enableBoundingBoxes": True,
                "outputSchemaName": "Invoice", "outputSchema": schema,
            }  # fmt: skip
            assert api.post("/v2/functions", json=function).status_code == 200
            document = {"singleFile": {"inputType": "pdf", "inputContent": base64.b64encode(pdf).decode()}}
            [call] = api.post("/v2/calls", json={"calls": [{"functionName": "cited", "input": document}]}).json()[
                "calls"
            ]
            deadline = time.monotonic() + 60
            while not (events := api.get("/v1-alpha/events", params={"callIDs": call["callID"]}).json()["events"]):
                assert time.monotonic() < deadline
                time.sleep(0.2)
            [event] = events
            assert event["fieldBoundingBoxes"]["/invoiceNumber"]
            assert not event["s3URL"].startswith(server.url)  # the store's own presigned URL
            assert event["pagesURL"].startswith(server.url)
            page = httpx.get(f"{event['pagesURL']}&page=1")
            assert page.status_code == 200 and page.content.startswith(b"\x89PNG\r\n\x1a\n")
    finally:
        server.stop()
