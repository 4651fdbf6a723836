"""The delivery worker: claims due deliveries, POSTs each event, records every attempt, and
schedules the next try with exponential backoff and jitter.

One thread per process polls the outbox; a claim is fenced by ``claimed_until`` (and, on
PostgreSQL, taken with ``FOR UPDATE SKIP LOCKED``), so several processes share the work and a
claim left by a killed process expires. Attempts of one claim run concurrently.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import sqlalchemy as sa

from quarry import __version__, tracing
from quarry.config import Settings
from quarry.events import service as events
from quarry.events.models import Event
from quarry.ids import new_id
from quarry.metrics import WEBHOOK_DELIVERIES
from quarry.storage.base import utcnow
from quarry.storage.blobs.urls import FileLinks
from quarry.storage.db import Database
from quarry.subscriptions.addresses import AddressRefused, Network, check_address, check_url, parse_networks
from quarry.subscriptions.models import Subscription, WebhookSecret
from quarry.webhooks.models import Delivery, DeliveryAttempt
from quarry.webhooks.signing import HEADER, sign

log = logging.getLogger("quarry.webhooks")

POLL_SECONDS = 0.5
CLAIM_BATCH = 16


def backoff_seconds(attempt: int, base: float, cap: float, jitter: float) -> float:
    """Wait after failed attempt number ``attempt`` (1-based): base·2^(attempt-1), at most ``cap``,
    then stretched by ``jitter`` (a factor in [1, 1.25)) so that retries of many events spread out."""
    return min(base * 2 ** (attempt - 1), cap) * jitter


def base_url_of(settings: Settings) -> str:
    """The base of file URLs in what Quarry sends (``s3URL``): where clients reach this deployment."""
    return (settings.public_url or settings.listen_url or "http://localhost:8000").rstrip("/")


@dataclass
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int
    final: bool = False  # no retry can help (a refused address)
    response_body: str = ""  # the receiver's answer, its first RESPONSE_CHARS characters

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


RESPONSE_CHARS = 10_000


def post(client: httpx.Client, url: str, body: bytes, secret: str | None, allowed: tuple[Network, ...]) -> Outcome:
    """One attempt: POST ``body`` (JSON) to ``url``, signed with ``secret`` when there is one, after
    checking, resolved now, that the URL may receive webhooks (``subscriptions.addresses``)."""
    started = time.monotonic()
    try:
        check_address(check_url(url), allowed)
    except AddressRefused as exc:
        return Outcome(None, f"refused: {exc}", 0, final=True)
    headers = {"Content-Type": "application/json", "User-Agent": f"Quarry-Webhooks/{__version__}"}
    if secret:
        headers[HEADER] = sign(secret, body)
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:1000], _ms(started))
    error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}: {response.text[:200]}"
    return Outcome(response.status_code, error, _ms(started), response_body=response.text[:RESPONSE_CHARS])


class DeliveryWorker:
    def __init__(self, settings: Settings, db: Database, links: FileLinks) -> None:
        self.settings = settings
        self.db = db
        self.links = links
        self.base_url = base_url_of(settings)
        self.allowed = parse_networks(settings.webhook_allowed_networks)
        self.stopped = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="quarry-webhook")
        self.client = httpx.Client(timeout=settings.webhook_timeout_seconds, follow_redirects=False)
        self.thread = threading.Thread(target=self._run, name="quarry-webhooks", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.client.close()

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                claimed = self._claim()
                if claimed:
                    list(self.pool.map(self._deliver, claimed))
                    continue  # there may be more due at once
            except Exception:  # the worker must outlive a database hiccup
                if self.stopped.is_set():
                    return
                log.exception("webhook delivery round failed")
            self.stopped.wait(POLL_SECONDS)

    def _claim(self) -> list[str]:
        now = utcnow()
        lease = now + timedelta(seconds=self.settings.webhook_timeout_seconds * 3 + 30)
        due = (
            Delivery.status == "pending",
            Delivery.next_attempt_at <= now,
            sa.or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
        )
        with self.db.read() as session:  # a cheap look first: most polls find nothing to do
            if session.scalar(sa.select(Delivery.id).where(*due).limit(1)) is None:
                return []
        with self.db.write() as session:
            stmt = sa.select(Delivery.id).where(*due).order_by(Delivery.next_attempt_at).limit(CLAIM_BATCH)
            if not self.db.url.startswith("sqlite"):  # SQLite writers are serialised already
                stmt = stmt.with_for_update(skip_locked=True)
            ids = list(session.scalars(stmt))
            if ids:
                session.execute(sa.update(Delivery).where(Delivery.id.in_(ids)).values(claimed_until=lease))
            return ids

    def _deliver(self, delivery_id: str) -> None:
        with self.db.read() as session:
            delivery = session.get(Delivery, delivery_id)
            if delivery is None or delivery.status != "pending":
                return
            subscription = session.get(Subscription, delivery.subscription_id)
            event = session.get(Event, delivery.event_id)
            secret = session.get(WebhookSecret, delivery.environment_id)
            request, gone = None, "the subscription or the event no longer exists"
            trace_parent = event.trace_parent if event is not None else None
            if subscription is not None and subscription.disabled:
                gone = "the subscription was disabled before this event could be delivered"
            elif subscription is not None and event is not None:
                body = json.dumps(events.render(event, self.links, self.base_url), separators=(",", ":")).encode()
                request = (subscription.webhook_url, body, secret.secret if secret else None)
        if request is None:
            outcome = Outcome(None, gone, 0, final=True)
        else:
            traced = {"quarry.event_id": delivery.event_id, "quarry.subscription_id": delivery.subscription_id}
            with tracing.continuing(trace_parent, "quarry.webhook.delivery", traced):
                outcome = post(self.client, *request, self.allowed)
        self._record(delivery_id, outcome)

    def _record(self, delivery_id: str, outcome: Outcome) -> None:
        now = utcnow()
        with self.db.write() as session:
            delivery = session.get(Delivery, delivery_id, with_for_update=True)
            if delivery is None or delivery.status != "pending":
                return
            delivery.attempts += 1
            session.add(
                DeliveryAttempt(
                    id=new_id("att"),
                    delivery_id=delivery.id,
                    number=delivery.attempts,
                    started_at=now,
                    duration_ms=outcome.duration_ms,
                    status_code=outcome.status_code,
                    error=outcome.error,
                )
            )
            delivery.last_status_code, delivery.last_error, delivery.claimed_until = (
                outcome.status_code,
                outcome.error,
                None,
            )
            if outcome.ok:
                WEBHOOK_DELIVERIES.labels("delivered").inc()
                delivery.status, delivery.delivered_at = "delivered", now
                _published(session, delivery.event_id, published_at=now, last_publish_error_at=None)
                return
            _published(session, delivery.event_id, last_publish_error_at=now)
            if outcome.final or delivery.attempts >= self.settings.webhook_max_attempts:
                WEBHOOK_DELIVERIES.labels("given up").inc()
                delivery.status = "failed"
                return
            WEBHOOK_DELIVERIES.labels("to retry").inc()
            wait = backoff_seconds(
                delivery.attempts,
                self.settings.webhook_backoff_base,
                self.settings.webhook_max_backoff_seconds,
                random.uniform(1.0, 1.25),
            )
            delivery.next_attempt_at = now + timedelta(seconds=wait)


def _published(session, event_id: str, **values: datetime | None) -> None:
    """``publishedAt`` is the last successful delivery; ``lastPublishErrorAt`` the last failure,
    cleared when a later delivery succeeds (reference §3.8)."""
    session.execute(sa.update(Event).where(Event.id == event_id).values(**values))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
