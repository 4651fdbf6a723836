"""Traces (OpenTelemetry): one trace per call, from its submission in an API process through its
function calls in the workers, with their document reads and model requests, to the webhook
deliveries of its events.

Off unless an OTLP endpoint is configured with the standard variables
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``; ``OTEL_SERVICE_NAME``,
``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_BSP_*`` … as the SDK reads them; ``OTEL_SDK_DISABLED=true``
keeps it off). A call's trace context is stored with the call (``calls.trace_parent``, W3C
``traceparent``) when it is submitted, so that whichever process runs its work, on whichever
machine, continues that trace. Spans carry IDs and types, never content.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_TRACER = trace.get_tracer("quarry")
_PROPAGATOR = TraceContextTextMapPropagator()
_provider = None  # the SDK's provider, once configured


def configure(role: str) -> bool:
    """Export this process's spans when an OTLP endpoint is configured; whether they are."""
    global _provider
    env = os.environ
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not endpoint or env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or "quarry", "quarry.role": role})
    _provider = TracerProvider(resource=resource)
    _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(_provider)
    return True


def flush() -> None:
    """Send the spans still buffered (before a process exits without running its exit handlers)."""
    if _provider is not None:
        _provider.force_flush(timeout_millis=5000)


def submitted(call_id: str, call_type: str) -> str | None:
    """Begin a call's trace with the span of its submission; its context, to store with the call
    (``None`` when tracing is off)."""
    if _provider is None:
        return None
    attributes = {"quarry.call_id": call_id, "quarry.call_type": call_type}
    with _TRACER.start_as_current_span("quarry.call.submitted", context=Context(), attributes=attributes):
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def continuing(trace_parent: str | None, name: str, attributes: dict[str, str]) -> Iterator[None]:
    """A span of a call's work in its trace (nothing when tracing is off or the call has none)."""
    if _provider is None or trace_parent is None:
        yield
        return
    parent = _PROPAGATOR.extract({"traceparent": trace_parent})
    with _TRACER.start_as_current_span(name, context=parent, attributes=attributes, record_exception=False):
        yield


@contextmanager
def span(name: str, attributes: dict[str, str]) -> Iterator[None]:
    """A span inside the current one (a document read, a model request); nothing outside a trace."""
    if _provider is None or not trace.get_current_span().get_span_context().is_valid:
        yield
        return
    # no exception recorded, here or in ``continuing``: a provider's message may quote what it was sent
    with _TRACER.start_as_current_span(name, attributes=attributes, record_exception=False):
        yield
