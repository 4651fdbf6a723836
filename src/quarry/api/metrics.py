"""``GET /metrics``: the Prometheus metrics of the deployment, as this API process sees it.

What the processes of this machine counted (``quarry.metrics``), and gauges of the whole
deployment read from the database at each scrape: calls by status and type, the workflows on the
engine's queues and how long the oldest has waited, the webhook deliveries not made yet. Turned
off by ``QUARRY_METRICS=false``; with ``QUARRY_METRICS_TOKEN`` a scraper must send it as a bearer
token (no API key: a scraper is not a tenant, and the figures hold no tenant's data).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from quarry.api.deps import AppSettings, ProcessEngine
from quarry.api.errors import ApiError
from quarry.calls.counts import calls_by_status_and_type
from quarry.engine.engine import Engine
from quarry.metrics import shared_directory
from quarry.webhooks.models import Delivery

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, engine: ProcessEngine, settings: AppSettings) -> Response:
    if not settings.metrics:
        raise ApiError(404, "metrics are turned off here (QUARRY_METRICS=false)")
    if settings.metrics_token is not None:
        sent = request.headers.get("authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {settings.metrics_token}".encode()):
            raise ApiError(401, "metrics need the bearer token of QUARRY_METRICS_TOKEN")
    counted = CollectorRegistry()
    if (directory := shared_directory()) is not None:  # this process and its worker children
        MultiProcessCollector(counted, str(directory))
        own = generate_latest(counted)
    else:  # this process alone (an API process of a distributed deployment)
        own = generate_latest(REGISTRY)
    deployment = CollectorRegistry()
    deployment.register(DeploymentGauges(engine))
    return Response(own + generate_latest(deployment), media_type=CONTENT_TYPE_LATEST)


class DeploymentGauges:
    """Figures of the whole deployment, read from the database at each scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        calls = GaugeMetricFamily("quarry_calls", "Calls stored, by status and call type.", labels=["status", "type"])
        backlog = GaugeMetricFamily("quarry_webhook_backlog", "Webhook deliveries not made yet (still to be tried).")
        oldest_delivery = GaugeMetricFamily(
            "quarry_webhook_backlog_oldest_age_seconds", "How long the oldest delivery not made yet has waited."
        )
        with self.engine.db.read() as session:
            for status, call_type, count in calls_by_status_and_type(session):
                calls.add_metric([status, call_type], count)
            pending, first = session.execute(
                sa.select(sa.func.count(), sa.func.min(Delivery.created_at)).where(Delivery.status == "pending")
            ).one()
        backlog.add_metric([], pending)
        oldest_delivery.add_metric([], time.time() - first.timestamp() if first is not None else 0.0)
        yield from (calls, backlog, oldest_delivery)
        workflows = GaugeMetricFamily(
            "quarry_queue_workflows",
            "Workflows on the engine's queues: waiting (enqueued) or running.",
            labels=["queue", "state"],
        )
        oldest = GaugeMetricFamily(
            "quarry_queue_oldest_enqueued_age_seconds",
            "How long the oldest waiting workflow has waited.",
            labels=["queue"],
        )
        now_ms = time.time() * 1000
        for queue, state, count, first_ms in self.engine.queue_figures():
            workflows.add_metric([queue, state], count)
            if state == "enqueued":
                oldest.add_metric([queue], max(0.0, (now_ms - first_ms) / 1000) if first_ms is not None else 0.0)
        yield from (workflows, oldest)
