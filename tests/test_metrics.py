"""``GET /metrics``: Prometheus text a real parser reads, figures that follow what clients did.

Counters are the process's since it started and other tests share the session's server: each
test compares a scrape before with one after what it did."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from quarry.app import create_app
from quarry.bootstrap import bootstrap
from quarry.config import Settings
from quarry.engine.engine import Role
from tests.calls_client import get_call, shaping, single, submit, wait_for
from tests.harness.fake_model import ReadingModel
from tests.harness.processes import ServerProcess, quarry_environ
from tests.helpers import assert_error, create_function, scrape, value
from tests.test_composition_api import pdf


def test_metrics_follow_requests_calls_and_their_work(api: httpx.Client, anonymous: httpx.Client) -> None:
    create_function(api, shaping("metered", "{total: a}"))
    before = scrape(anonymous)
    [call] = submit(api, {"functionName": "metered", "input": single(b'{"a": 1}', "json")})
    assert wait_for(api, call["callID"])["status"] == "completed"
    get_call(api, call["callID"])
    assert api.get("/v2/calls/call_nothing_here").status_code == 404
    after = scrape(anonymous)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    polled = {"method": "GET", "route": "/v2/calls/{callID}"}
    assert grew("quarry_http_requests_total", **polled, status="200") >= 1
    assert grew("quarry_http_requests_total", **polled, status="404") >= 1
    assert grew("quarry_http_request_duration_seconds_count", **polled) >= 2
    assert grew("quarry_http_requests_total", method="POST", route="/v2/calls", status="200") >= 1
    assert grew("quarry_function_calls_finished_total", type="payload_shaping", status="completed") >= 1
    assert grew("quarry_function_call_duration_seconds_count", type="payload_shaping") >= 1
    assert value(after, "quarry_calls", status="completed", type="function") >= 1
    for queue in ("quarry-calls", "quarry-model"):  # every queue, also when nothing waits on it
        assert ("quarry_queue_workflows", frozenset({"queue": queue, "state": "enqueued"}.items())) in after
        assert value(after, "quarry_queue_oldest_enqueued_age_seconds", queue=queue) >= 0
    assert value(after, "quarry_webhook_backlog") >= 0


def test_a_path_no_route_knows_is_one_series(anonymous: httpx.Client) -> None:
    for n in range(3):
        anonymous.get(f"/no/such/path/{n}")
    routes = {dict(labels)["route"] for name, labels in scrape(anonymous) if name == "quarry_http_requests_total"}
    assert "unmatched" in routes
    assert not any(route.startswith("/no/such") for route in routes)


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """An API of its own with these settings, in this process, its engine not started."""
    with ExitStack() as opened:

        def client(**settings: Any) -> TestClient:
            base = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'q.db'}", api_key="k")
            app = create_app(bootstrap(dataclasses.replace(base, **settings), Role.API), start_engine=False)
            return opened.enter_context(TestClient(app))

        yield client


def test_metrics_can_be_turned_off_or_asked_a_token(local: Callable[..., TestClient]) -> None:
    assert_error(local(metrics=False).get("/metrics"), 404)
    guarded = local(metrics_token="s3cret")
    assert_error(guarded.get("/metrics"), 401)
    assert_error(guarded.get("/metrics", headers={"authorization": "Bearer wrong"}), 401)
    assert ("quarry_webhook_backlog", frozenset()) in scrape(guarded, authorization="Bearer s3cret")


def test_a_serve_process_adds_up_what_its_workers_counted(tmp_path: Path) -> None:
    """Documents are read and models asked in the worker child of ``quarry serve``: its API
    process's /metrics shows them."""
    model = ReadingModel({"invoiceNumber": r"Invoice (\S+)"})
    environ = quarry_environ(
        tmp_path / "data",
        QUARRY_API_KEY="k",
        QUARRY_LLM_BASE_URL=model.url + "/v1",
        QUARRY_LLM_MODEL="reader-7",
        QUARRY_METRICS_TOKEN="t",
    )
    server = ServerProcess(environ)
    try:
        with httpx.Client(base_url=server.url, headers={"x-api-key": "k"}, timeout=30) as api:
            schema = {"type": "object", "properties": {"invoiceNumber": {"type": "string"}}}
            create_function(
                api,
                {
                    "functionName": "read",
                    "type": "transform",
                    "outputSchemaName": "Invoice",
                    "outputSchema": schema,
                    "provider": "openai",
                },  # fmt: skip
            )
            [call] = submit(api, {"functionName": "read", "input": single(pdf(["Invoice INV-7"], ["Page two"]), "pdf")})
            assert wait_for(api, call["callID"])["status"] == "completed"
            samples = scrape(api, authorization="Bearer t")
    finally:
        server.stop()
        model.close()
    assert value(samples, "quarry_function_calls_finished_total", type="transform", status="completed") == 1
    assert value(samples, "quarry_document_reads_total", type="pdf", outcome="read") == 1
    assert value(samples, "quarry_document_pages_read_total", type="pdf") == 2
    assert value(samples, "quarry_model_requests_total", model="reader-7", outcome="answered") == len(model.requests)
    assert value(samples, "quarry_model_request_duration_seconds_count", model="reader-7") == len(model.requests)
    assert value(samples, "quarry_model_tokens_total", model="reader-7", kind="prompt") == len(model.requests)
