"""How many function calls run at once: a split's branches side by side, and model calls never more
than ``QUARRY_LLM_MAX_CONCURRENCY``. A local model endpoint holds each request open and records how
many it had open at once (no timing is asserted: the endpoint waits for company, then answers)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.calls_client import TERMINAL, create_workflow, events_of, get_call, single, submit
from tests.conftest import BACKENDS
from tests.harness.endpoints import Received, Reply
from tests.harness.fake_model import RecordingEndpoint, SlowModel, answer, failure
from tests.harness.processes import ServerProcess, quarry_client, quarry_environ
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


# --- the parts of a long document --------------------------------------------------------------

PART_CONTEXT = "1500"  # room for about 2,900 bytes of text per request: each page below is a part


@contextmanager
def _reading_long_documents(backend: str, tmp_path: Path, model_url: str, **settings: str) -> Iterator[httpx.Client]:
    """A Quarry whose transform ``read-long`` asks the model at ``model_url``, in a context where
    each page of ``_pages`` is a part of its own."""
    settings |= {"QUARRY_LLM_BASE_URL": model_url, "QUARRY_LLM_MODEL": "m", "QUARRY_LLM_CONTEXT_TOKENS": PART_CONTEXT}
    with quarry_client(backend, tmp_path / "data", "quarry_parts", KEY, **settings) as api:
        _transform(api, "read-long")
        yield api


def _pages(count: int) -> bytes:
    return pdf(*[[f"Page {n}."] + ["Pallet checked and signed at the gate. " * 2] * 26 for n in range(1, count + 1)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_parts_of_a_long_document_are_asked_side_by_side(tmp_path: Path, backend: str) -> None:
    # the endpoint answers once four requests are open together: asked one after another, four
    # parts would never be more than one open at once
    model = SlowModel({"pageText": "seen"}, delay=30, company=4, path="/v1")
    try:
        with _reading_long_documents(backend, tmp_path, model.url, QUARRY_LLM_TIMEOUT_SECONDS="60") as api:
            (call,) = submit(api, {"functionName": "read-long", "input": single(_pages(4), "pdf")})
            assert _finished(api, call["callID"]) == "completed"
            [event] = events_of(api, call["callID"], "transform")
            assert [part["pages"] for part in event["documentChunks"]] == [[n, n] for n in range(1, 5)]
            assert event["transformedContent"] == {"pageText": "seen"}
            assert model.served == 4
            assert model.most_open == 4
            # what the helpers' requests used is the function call's too
            assert get_call(api, call["callID"])["functionCalls"][0]["usage"]["requests"] == 4
    finally:
        model.close()


def test_the_parts_of_a_long_document_stay_within_the_deployment_cap(tmp_path: Path, client: Any) -> None:
    # the endpoint would hold requests until 5 are open: the parts of one document, like function
    # calls, may only ever be 2 at once
    api, model = client(
        tmp_path, company=5, patience=1.0, QUARRY_LLM_MAX_CONCURRENCY="2", QUARRY_LLM_CONTEXT_TOKENS=PART_CONTEXT
    )
    _transform(api, "read-long")
    (call,) = submit(api, {"functionName": "read-long", "input": single(_pages(6), "pdf")})
    assert _finished(api, call["callID"]) == "completed"
    [event] = events_of(api, call["callID"], "transform")
    assert len(event["documentChunks"]) == 6
    assert model.served == 6
    assert model.most_open == 2


class _RefusingPage(RecordingEndpoint):
    """Answers every part but the one with ``page``, which it refuses for good."""

    def __init__(self, page: str) -> None:
        self.page = page
        super().__init__()

    def reply(self, request: Received) -> Reply:
        content = request.user_content
        text = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)
        return failure(400, "this part is refused", None) if self.page in text else answer({"pageText": "seen"})


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_part_that_cannot_be_read_fails_its_function_call(tmp_path: Path, backend: str) -> None:
    model = _RefusingPage("Page 3.")
    try:
        with _reading_long_documents(backend, tmp_path, model.url + "/v1", QUARRY_LLM_MAX_ATTEMPTS="1") as api:
            (call,) = submit(api, {"functionName": "read-long", "input": single(_pages(4), "pdf")})
            assert _finished(api, call["callID"]) == "failed"
            [error] = events_of(api, call["callID"], "error")
            assert "this part is refused" in error["message"]
            assert not events_of(api, call["callID"], "transform")
            assert any("Page 3." in str(r.user_content) for r in model.requests)
    finally:
        model.close()
