"""How many function calls run at once: a split's branches side by side, and model calls never more
than ``QUARRY_LLM_MAX_CONCURRENCY``. A local model endpoint holds each request open and records how
many it had open at once (no timing is asserted: the endpoint waits for company, then answers)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.calls_client import TERMINAL, create_workflow, get_call, single, submit
from tests.harness.fake_model import SlowModel
from tests.harness.processes import ServerProcess, quarry_environ
from tests.helpers import create_function
from tests.test_composition_api import pdf

KEY = "model-concurrency-test-key"
SCHEMA = {"type": "object", "properties": {"pageText": {"type": "string"}}}


def _quarry(tmp_path: Path, model: SlowModel, **extra: str) -> ServerProcess:
    environ = quarry_environ(
        tmp_path / "data",
        QUARRY_API_KEY=KEY,
        QUARRY_LLM_BASE_URL=model.url,
        QUARRY_LLM_MODEL="patient",
        QUARRY_LLM_TIMEOUT_SECONDS="60",
        **extra,
    )
    return ServerProcess(environ)


@pytest.fixture
def client() -> Iterator[Any]:
    made: list[tuple[SlowModel, ServerProcess | None]] = []

    def start(tmp_path: Path, company: int, patience: float, **extra: str) -> tuple[httpx.Client, SlowModel]:
        # an endpoint that keeps each request open until ``company`` requests are open together
        # (or ``patience`` seconds passed), then answers
        model = SlowModel({"pageText": "seen"}, delay=patience, company=company, path="/v1")
        made.append((model, None))
        server = _quarry(tmp_path, model, **extra)
        made[-1] = (model, server)
        return httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=60), model

    yield start
    for model, server in made:
        if server is not None:
            server.stop()
        model.close()


def _finished(api: httpx.Client, call_id: str) -> str:
    """The call's final status (a fresh process on a busy machine may take a while)."""
    deadline = time.monotonic() + 180
    while (status := get_call(api, call_id)["status"]) not in TERMINAL and time.monotonic() < deadline:
        time.sleep(0.2)
    return status


def _transform(api: httpx.Client, name: str) -> None:
    create_function(
        api,
        {
            "functionName": name,
            "type": "transform",
            "outputSchemaName": "Page",
            "outputSchema": SCHEMA,
            "provider": "openai",
        },
    )


def test_the_branches_of_a_split_run_side_by_side(tmp_path: Path, client: Any) -> None:
    api, model = client(tmp_path, company=4, patience=30)
    create_function(
        api, {"functionName": "pages", "type": "split", "splitType": "print_page", "printPageSplitConfig": {}}
    )
    _transform(api, "read-page")
    create_workflow(api, "per-page", "pages", [("pages", "read-page", None)])
    (call,) = submit(api, {"workflowName": "per-page", "input": single(pdf(*[[f"Page {n}"] for n in range(4)]), "pdf")})
    assert _finished(api, call["callID"]) == "completed"
    assert model.served == 4
    assert model.most_open == 4  # one after another, the endpoint would never have seen two at once


def test_model_calls_never_exceed_the_deployment_cap(tmp_path: Path, client: Any) -> None:
    # the endpoint would hold requests until 5 are open: only 2 ever may be
    api, model = client(tmp_path, company=5, patience=1.0, QUARRY_LLM_MAX_CONCURRENCY="2")
    _transform(api, "read")
    calls = submit(api, *[{"functionName": "read", "input": single(f"Invoice {n}".encode(), "text")} for n in range(8)])
    for call in calls:
        assert _finished(api, call["callID"]) == "completed"
    assert model.served == 8
    assert model.most_open == 2
