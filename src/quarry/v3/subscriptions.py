"""Subscriptions and the webhook secret: ``/v3/subscriptions``, ``/v3/webhook-secret``.

The same subscriptions and secret as v2's ``/v1-alpha/subscriptions`` and ``/v1-beta/webhook-secret``
(:mod:`quarry.subscriptions.service`). v3 lets a subscription sync to S3 or Google Drive instead of
a webhook; Quarry delivers by webhook only, so ``webhookURL`` is required and the other
destinations are a 400.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response
from fastapi.routing import APIRoute
from pydantic import Field

from quarry.api.auth import CurrentPrincipal
from quarry.api.deps import Db
from quarry.api.idempotency import Idempotency
from quarry.errors import bad_request, invalid
from quarry.storage.pages import PageQuery
from quarry.subscriptions import service
from quarry.subscriptions.routes import render  # v3's SubscriptionV3 is v2's shape
from quarry.subscriptions.routes import router as v2_subscriptions
from quarry.subscriptions.schemas import Name, SubscriptionOut, SubscriptionType, WebhookURL
from quarry.v3.reuse import serve_v2_routes
from quarry.webhooks import service as deliveries
from quarry.wire import CsvList, WireModel

router = APIRouter(prefix="/v3", tags=["v3 subscriptions"])
SubscriptionID = Annotated[str, Path(alias="subscriptionID")]

ELSEWHERE = {
    "s3_bucket": "s3Bucket",
    "s3_file_path": "s3FilePath",
    "google_drive_folder_id": "googleDriveFolderID",
}
"""Destinations bem can sync to and Quarry cannot (fields, with their wire names)."""


class _Destinations(WireModel):
    webhook_url: WebhookURL | None = Field(None, description="Where events are POSTed (required by Quarry).")
    s3_bucket: str | None = Field(None, description="Not supported by Quarry: a 400 when given.")
    s3_file_path: str | None = Field(None, description="Not supported by Quarry: a 400 when given.")
    google_drive_folder_id: str | None = Field(None, description="Not supported by Quarry: a 400 when given.")

    def check_webhook_only(self) -> None:
        """Refuse the destinations Quarry cannot deliver to, naming each one given."""
        given = [wire for field, wire in ELSEWHERE.items() if getattr(self, field) is not None]
        if given:
            reason = "Quarry delivers events by webhook only (webhookURL); it does not sync to S3 or Google Drive"
            raise invalid([{"field": field, "reason": reason} for field in given])


class SubscriptionCreate(_Destinations):
    name: Name
    type: SubscriptionType
    function_name: str | None = None
    function_id: str | None = None
    collection_name: str | None = None
    collection_id: str | None = None
    disabled: bool = False


class SubscriptionUpdate(_Destinations):
    """Only the fields given change (conventional PATCH). The SDK's update has no ``functionID``
    nor collection fields: a subscription's function changes by ``functionName``."""

    name: Name | None = None
    type: SubscriptionType | None = None
    function_name: str | None = None
    disabled: bool | None = None


class SubscriptionListQuery(WireModel):
    limit: int = Field(50, ge=1, le=100, description="Number of subscriptions per page, 1 to 100.")
    starting_after: str | None = Field(None, description="Return the subscriptions after this one.")
    ending_before: str | None = Field(None, description="Return the subscriptions immediately before this one.")
    function_names: CsvList = Field(None, description="Only the subscriptions of these functions.")

    def page(self) -> PageQuery:
        """v3 has no ``sortOrder``: creation order."""
        return PageQuery(limit=self.limit, startingAfter=self.starting_after, endingBefore=self.ending_before)


@router.post("/subscriptions", response_model=SubscriptionOut, response_model_exclude_none=True)
def create_subscription(
    principal: CurrentPrincipal, body: SubscriptionCreate, idem: Idempotency
) -> dict[str, Any] | Response:
    """Send a function's (or a collection's) events of one type to a webhook URL."""
    body.check_webhook_only()
    if body.webhook_url is None:
        raise bad_request("webhookURL is required: Quarry delivers events by webhook only", "webhookURL")
    with idem.write() as session:
        return idem.respond(session, render(service.create(session, principal.environment_id, body.model_dump())))


@router.get("/subscriptions", response_model=list[SubscriptionOut], response_model_exclude_none=True)
def list_subscriptions(
    principal: CurrentPrincipal, query: Annotated[SubscriptionListQuery, Query()], db: Db
) -> list[dict[str, Any]]:
    """A bare JSON array in creation order, paged by cursor (``startingAfter`` / ``endingBefore``)."""
    with db.read() as session:
        rows = service.listing(session, principal.environment_id, query.page(), query.function_names)
        return [render(row) for row in rows]


@router.get("/subscriptions/{subscriptionID}", response_model=SubscriptionOut, response_model_exclude_none=True)
def get_subscription(principal: CurrentPrincipal, subscription_id: SubscriptionID, db: Db) -> dict[str, Any]:
    with db.read() as session:
        return render(service.get(session, principal.environment_id, subscription_id))


@router.patch("/subscriptions/{subscriptionID}", response_model=SubscriptionOut, response_model_exclude_none=True)
def update_subscription(
    principal: CurrentPrincipal, subscription_id: SubscriptionID, body: Annotated[SubscriptionUpdate, Body()], db: Db
) -> dict[str, Any]:
    body.check_webhook_only()
    with db.write() as session:
        changes = body.model_dump(exclude_unset=True)
        return render(service.update(session, principal.environment_id, subscription_id, changes))


@router.delete("/subscriptions/{subscriptionID}", status_code=204, response_class=Response)
def delete_subscription(principal: CurrentPrincipal, subscription_id: SubscriptionID, db: Db) -> Response:
    """The subscription goes; its deliveries still pending are given up."""
    with db.write() as session:
        deliveries.delete_subscription(session, principal.environment_id, subscription_id)
    return Response(status_code=204)


# the webhook secret's v3 operations are v2's (/v1-beta/webhook-secret), at v3's path
serve_v2_routes(
    router,
    [r for r in v2_subscriptions.routes if isinstance(r, APIRoute) and r.path == "/v1-beta/webhook-secret"],
    "/v1-beta",
    "",
)
