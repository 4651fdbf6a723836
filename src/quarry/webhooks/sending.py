"""Deliveries of send functions: what a send function call delivers, and to where.

It delivers its incoming output as a subscription would get it: the upstream event as
``GET /v1-alpha/events/{id}`` renders it (bem's ``deliveredContent``); a send that is the main
function of a call delivers its input (JSON as is, any other file as ``{"s3URL"}``). A webhook gets
a POST signed like subscriptions' deliveries (the environment's webhook secret, ``bem-signature``),
tried up to ``ATTEMPTS`` times within the function call; a bucket gets one object, written with
the deployment's S3 credentials into a bucket ``QUARRY_SEND_S3_BUCKETS`` allows (docs/decisions.md,
"Send functions (#28)").
"""

from __future__ import annotations

import random
import time
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import httpx

from quarry.engine.runners import FunctionError, InputFile, Posted
from quarry.engine.runtime import Runtime
from quarry.events import service as events
from quarry.events.models import Event
from quarry.storage.blobs.urls import FileLinks, FileUrlSigner
from quarry.storage.secrets import instance_secret
from quarry.subscriptions.addresses import parse_networks
from quarry.subscriptions.models import WebhookSecret
from quarry.webhooks.delivery import backoff_seconds, base_url_of, post

ATTEMPTS = 3
"""Tries of a webhook within one function call: a worker holds the call meanwhile, so a receiver
that stays down fails the call in under a minute instead of being retried for hours."""
MAX_WAIT_SECONDS = 30.0
"""The longest wait between two tries (``QUARRY_WEBHOOK_BACKOFF_BASE`` doubled per try, up to this)."""


class Sending:
    """The ``Outbound`` of one send function call (``source_event_id``: the event it got its input from)."""

    def __init__(
        self, runtime: Runtime, environment_id: str, call_id: str, function_call_id: str, source_event_id: str | None
    ) -> None:
        self.runtime = runtime
        self.environment_id = environment_id
        self.call_id = call_id
        self.function_call_id = function_call_id
        self.source_event_id = source_event_id

    def _links(self) -> FileLinks:
        with self.runtime.db.read() as session:  # made when this process started (``bootstrap``)
            return FileLinks(FileUrlSigner(instance_secret(session, "file-urls")), self.runtime.blobs)

    def incoming(self, files: list[InputFile]) -> Any:
        base_url = base_url_of(self.runtime.settings)
        if self.source_event_id is not None:
            with self.runtime.db.read() as session:
                event = session.get(Event, self.source_event_id)
            if event is None:
                raise FunctionError("the event this function call was to deliver no longer exists")
            return events.render(event, self._links(), base_url)
        links = None
        delivered = []
        for file in files:
            if file.input_type == "json":
                delivered.append(file.json())
            else:
                links = links or self._links()
                delivered.append({"s3URL": links.url(base_url, file.blob_key)})
        if not delivered:
            raise FunctionError("this function call has nothing to deliver")
        return delivered[0] if len(delivered) == 1 else delivered

    def post(self, url: str, body: bytes, *, signed: bool) -> Posted:
        settings = self.runtime.settings
        secret = self._secret() if signed else None
        allowed = parse_networks(settings.webhook_allowed_networks)
        with httpx.Client(timeout=settings.webhook_timeout_seconds, follow_redirects=False) as client:
            for attempt in range(1, ATTEMPTS + 1):
                outcome = post(client, url, body, secret, allowed)
                if outcome.ok:
                    assert outcome.status_code is not None
                    return Posted(outcome.status_code, outcome.response_body, attempt)
                if outcome.final or attempt == ATTEMPTS:
                    break
                time.sleep(
                    backoff_seconds(attempt, settings.webhook_backoff_base, MAX_WAIT_SECONDS, random.uniform(1.0, 1.25))
                )
        raise FunctionError(f"the webhook did not take the delivery after {attempt} attempt(s): {outcome.error}")

    def _secret(self) -> str:
        with self.runtime.db.read() as session:
            secret = session.get(WebhookSecret, self.environment_id)
        if secret is None:
            raise FunctionError(
                "webhookSigningEnabled is true but the environment has no webhook secret: "
                "generate one (POST /v3/webhook-secret) or turn signing off"
            )
        return secret.secret

    def put(self, bucket: str, prefix: str | None, body: bytes) -> str:
        settings = self.runtime.settings
        allowed = {name.strip() for name in (settings.send_s3_buckets or "").split(",") if name.strip()}
        blob_url = urlsplit(settings.blob_url or "")
        if bucket not in allowed or (blob_url.scheme == "s3" and blob_url.netloc == bucket):
            raise FunctionError(
                f"this deployment does not let send functions write to the bucket {bucket!r} "
                "(QUARRY_SEND_S3_BUCKETS lists those it does; never the blob store's own)"
            )
        folders = [part for part in (prefix or "").split("/") if part]
        key = "/".join([*folders, self.call_id, f"{self.function_call_id}.json"])
        from botocore.exceptions import BotoCoreError, ClientError  # loaded only by deployments that use S3

        try:
            _s3_client().put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
        except (BotoCoreError, ClientError) as exc:
            raise FunctionError(f"the bucket {bucket!r} did not take the object {key!r}: {exc}") from None
        return key


@cache
def _s3_client() -> Any:
    """One client per process, as the blob store's (thread-safe; botocore retries throttling)."""
    from quarry.storage.blobs.s3 import new_client

    return new_client()
