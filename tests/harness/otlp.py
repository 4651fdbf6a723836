"""An OTLP/HTTP trace receiver: decodes what an exporter sends to ``/v1/traces`` with the
protocol's own protobuf messages and keeps every span, with the resource it came from."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.harness.endpoints import LocalEndpoint, Received, Reply


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, str]
    resource: dict[str, str]


def _values(attributes) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {a.key: a.value.string_value or str(a.value.int_value) for a in attributes}


class OtlpReceiver(LocalEndpoint):
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        super().__init__()

    def answer(self, request: Received) -> Reply:
        if request.path != "/v1/traces":
            return Reply(404, {"error": f"not a trace export: {request.path}"})
        export = ExportTraceServiceRequest()
        export.ParseFromString(request.raw)
        spans = [
            ReceivedSpan(
                span.name,
                span.trace_id.hex(),
                span.span_id.hex(),
                span.parent_span_id.hex(),
                _values(span.attributes),
                _values(batch.resource.attributes),
            )
            for batch in export.resource_spans
            for scope in batch.scope_spans
            for span in scope.spans
        ]
        with self._lock:
            self.spans.extend(spans)
        return Reply(200, b"", content_type="application/x-protobuf")

    def named(self, name: str) -> list[ReceivedSpan]:
        with self._lock:
            return [span for span in self.spans if span.name == name]
