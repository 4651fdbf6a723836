"""Traces: with an OTLP endpoint configured, one trace per call spans the API process that took
it and the worker that ran it, with the document read and the model request inside, and the
webhook delivery of its event."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.calls_client import single, submit, wait_for
from tests.conftest import BACKENDS
from tests.harness.fake_model import ReadingModel
from tests.harness.otlp import OtlpReceiver, ReceivedSpan
from tests.harness.processes import ServerProcess, quarry_env
from tests.helpers import create_function
from tests.test_composition_api import pdf
from tests.test_webhooks import Receiver, subscribe

KEY = "trace-test-key"


def _one(receiver: OtlpReceiver, name: str, trace_id: str) -> ReceivedSpan:
    deadline = time.monotonic() + 30  # spans are exported in batches
    while not (found := [s for s in receiver.named(name) if s.trace_id == trace_id]):
        assert time.monotonic() < deadline, [(s.name, s.trace_id) for s in receiver.spans]
        time.sleep(0.2)
    [span] = found
    return span


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_trace_follows_a_call_from_the_api_through_the_worker(tmp_path: Path, backend: str) -> None:
    receiver, model, hook = OtlpReceiver(), ReadingModel({"invoiceNumber": r"Invoice (\S+)"}), Receiver()
    settings = {
        "QUARRY_API_KEY": KEY,
        "QUARRY_LLM_BASE_URL": model.url + "/v1",
        "QUARRY_LLM_MODEL": "reader",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_SERVICE_NAME": "quarry-under-test",
    }
    try:
        with quarry_env(backend, tmp_path / "data", "quarry_traces", **settings) as environ:
            server = ServerProcess(environ)
            try:
                with httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=30) as api:
                    schema = {"type": "object", "properties": {"invoiceNumber": {"type": "string"}}}
                    create_function(api, {"functionName": "traced", "type": "transform", "provider": "openai",
                                          "outputSchemaName": "Invoice", "outputSchema": schema})  # fmt: skip
                    subscribe(api, "traced", hook.url)
                    [call] = submit(api, {"functionName": "traced", "input": single(pdf(["Invoice INV-3"]), "pdf")})
                    assert wait_for(api, call["callID"])["status"] == "completed"
                [submitted] = [s for s in _wait_all(receiver, "quarry.call.submitted")
                               if s.attributes["quarry.call_id"] == call["callID"]]  # fmt: skip
                work = _one(receiver, "quarry.function_call", submitted.trace_id)
                read = _one(receiver, "quarry.document.read", submitted.trace_id)
                asked = _one(receiver, "quarry.model.request", submitted.trace_id)
                delivered = _one(receiver, "quarry.webhook.delivery", submitted.trace_id)
            finally:
                server.stop()
    finally:
        receiver.close()
        model.close()
        hook.close()
    assert submitted.parent_span_id == ""  # the call's trace starts with its submission
    assert submitted.resource["quarry.role"] == "api" and work.resource["quarry.role"] == "worker"
    assert submitted.resource["service.name"] == work.resource["service.name"] == "quarry-under-test"
    assert work.parent_span_id == submitted.span_id
    assert (
        work.attributes["quarry.call_id"] == call["callID"] and work.attributes["quarry.function_type"] == "transform"
    )
    assert read.parent_span_id == work.span_id and read.attributes["quarry.input_type"] == "pdf"
    assert asked.parent_span_id == work.span_id and asked.attributes["quarry.model"] == "reader"
    assert delivered.parent_span_id == submitted.span_id  # made later, by the delivery worker: the call's trace
    assert delivered.resource["quarry.role"] == "worker" and delivered.attributes["quarry.event_id"]
    assert "INV-3" not in str(receiver.spans)  # IDs and types, never content


def _wait_all(receiver: OtlpReceiver, name: str) -> list[ReceivedSpan]:
    deadline = time.monotonic() + 30
    while not (found := receiver.named(name)):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return found
