"""Wire shapes of ``/v1-alpha/subscriptions`` (reference §3.10, §4.18) and of the webhook secret."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from quarry.storage.pages import PageQuery
from quarry.subscriptions.addresses import AddressRefused, check_address, check_url
from quarry.wire import CsvList, Timestamp, WireModel

SubscriptionType = Literal[
    "transform", "analyze", "route", "join", "split_collection", "split_item", "evaluation", "error",
    "collection_processing", "payload_shaping", "enrich",
]  # fmt: skip


def _webhook_url(url: str) -> str:
    try:
        check_address(check_url(url), resolve=False)
    except AddressRefused as exc:
        raise ValueError(str(exc)) from None
    return url


WebhookURL = Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(_webhook_url)]
Name = Annotated[str, Field(min_length=1, max_length=256)]


class SubscriptionCreate(WireModel):
    name: Name
    type: SubscriptionType
    function_name: str | None = None
    function_id: str | None = None
    collection_name: str | None = None
    collection_id: str | None = None
    disabled: bool = False
    webhook_url: WebhookURL = Field(
        description="Where events are POSTed. Required: Quarry delivers by webhook only (no S3 or Google Drive)."
    )


class SubscriptionPatch(WireModel):
    """Only the fields given change (conventional PATCH)."""

    name: Name | None = None
    type: SubscriptionType | None = None
    function_name: str | None = None
    function_id: str | None = None
    collection_name: str | None = None
    collection_id: str | None = None
    disabled: bool | None = None
    webhook_url: WebhookURL | None = None


class SubscriptionOut(WireModel):
    subscription_id: str
    name: str
    type: SubscriptionType
    function_id: str | None = None
    function_name: str | None = None
    collection_id: str | None = None
    collection_name: str | None = None
    disabled: bool
    webhook_url: str


class SubscriptionListQuery(PageQuery):
    function_names: CsvList = None


class DeliveryListQuery(PageQuery):
    event_ids: CsvList = None
    status: Literal["pending", "delivered", "failed"] | None = None


class AttemptOut(WireModel):
    number: int
    started_at: Timestamp
    duration_ms: int
    status_code: int | None = None
    error: str | None = None


class DeliveryOut(WireModel):
    delivery_id: str
    subscription_id: str
    event_id: str
    status: Literal["pending", "delivered", "failed"]
    attempt_count: int
    next_attempt_at: Timestamp | None = None
    delivered_at: Timestamp | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: Timestamp
    attempts: list[AttemptOut]


class DeliveryList(WireModel):
    deliveries: list[DeliveryOut]
    total_count: int


class WebhookSecretOut(WireModel):
    secret: str
