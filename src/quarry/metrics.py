"""Prometheus metrics of a Quarry process, and how the processes of one ``quarry serve`` add up.

Counters and histograms are kept where the work happens: requests in the API process; function
calls, document reads, model requests and webhook deliveries in the processes that run work.
Under ``quarry serve`` the API process and its worker children keep theirs in one multiprocess
directory (``share_between_processes``: prometheus-client's files per process, summed when
scraped), so ``GET /metrics`` of the API process shows the whole deployment of one machine. Gauges
of the whole deployment — calls by status, queues, webhook backlog — are read from the database
when scraped (``api.metrics``). A ``quarry worker`` of a distributed deployment serves its own
on ``QUARRY_METRICS_PORT``.

Every metric has labels (its samples are made at first use), so that a process can still switch
to the multiprocess directory before it counts anything.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import Counter, Histogram, values

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own name: child processes read it at import

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_WORK = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)

HTTP_REQUESTS = Counter(
    "quarry_http_requests", "HTTP requests answered, by route template and status.", ["method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "quarry_http_request_duration_seconds",
    "Time the server worked on a request, until its response started.",
    ["method", "route"],
    buckets=_LATENCY,
)
FUNCTION_CALLS = Counter(
    "quarry_function_calls_finished", "Function calls that ended, by function type and status.", ["type", "status"]
)
FUNCTION_CALL_DURATION = Histogram(
    "quarry_function_call_duration_seconds", "Time a function call ran, by function type.", ["type"], buckets=_WORK
)
DOCUMENT_READS = Counter(
    "quarry_document_reads", "Documents read by the reader processes, by input type and outcome.", ["type", "outcome"]
)
DOCUMENT_PAGES = Counter("quarry_document_pages_read", "Pages of the documents read, by input type.", ["type"])
OCR_PAGES = Counter("quarry_document_pages_ocr", "Pages whose text came from OCR, by input type.", ["type"])
READER_RESTARTS = Counter(
    "quarry_reader_restarts", "Reader processes that died (memory limit, crash) or were killed (time limit).", ["why"]
)
WEBHOOK_DELIVERIES = Counter("quarry_webhook_delivery_attempts", "Webhook delivery attempts, by outcome.", ["outcome"])
MODEL_REQUESTS = Counter(
    "quarry_model_requests", "Requests to model endpoints (after retries), by model and outcome.", ["model", "outcome"]
)
MODEL_DURATION = Histogram(
    "quarry_model_request_duration_seconds",
    "Time a model request took, its retries included.",
    ["model"],
    buckets=_WORK,
)
MODEL_TOKENS = Counter(
    "quarry_model_tokens", "Tokens the model endpoints reported, by model and kind.", ["model", "kind"]
)


def share_between_processes(directory: Path) -> None:
    """Keep this process's metrics, and those of the processes it starts from now on, as files in
    ``directory``, emptied first (a new ``quarry serve`` starts counting anew)."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROCESS_ENV] = str(directory)
    values.ValueClass = values.MultiProcessValue()


def shared_directory() -> Path | None:
    """The multiprocess directory this process counts in, if any."""
    directory = os.environ.get(MULTIPROCESS_ENV)
    return Path(directory) if directory else None
