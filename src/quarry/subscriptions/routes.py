"""HTTP routes of ``/v1-alpha/subscriptions`` and ``/v1-beta/webhook-secret``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response

from quarry.api.auth import CurrentPrincipal
from quarry.api.deps import Db
from quarry.api.idempotency import Idempotency
from quarry.subscriptions import service
from quarry.subscriptions.models import Subscription
from quarry.subscriptions.schemas import (
    DeliveryList,
    DeliveryListQuery,
    SubscriptionCreate,
    SubscriptionListQuery,
    SubscriptionOut,
    SubscriptionPatch,
    WebhookSecretOut,
)
from quarry.webhooks import service as deliveries

router = APIRouter(tags=["subscriptions"])
SubscriptionID = Annotated[str, Path(alias="subscriptionID")]


def render(subscription: Subscription) -> dict[str, Any]:
    """The v2 shape (``SubscriptionOut``): fields without a value are left out."""
    out = {
        "subscriptionID": subscription.id,
        "name": subscription.name,
        "type": subscription.type,
        "functionID": subscription.function_id,
        "functionName": subscription.function_name,
        "collectionID": subscription.collection_id,
        "collectionName": subscription.collection_name,
        "disabled": subscription.disabled,
        "webhookURL": subscription.webhook_url,
    }
    return {key: value for key, value in out.items() if value is not None}


@router.post("/v1-alpha/subscriptions", response_model=SubscriptionOut, response_model_exclude_none=True)
def create_subscription(
    principal: CurrentPrincipal, body: SubscriptionCreate, idem: Idempotency
) -> dict[str, Any] | Response:
    """Send a function's (or a collection's) events of one type to a webhook URL."""
    with idem.write() as session:
        return idem.respond(session, render(service.create(session, principal.environment_id, body.model_dump())))


@router.get("/v1-alpha/subscriptions", response_model=list[SubscriptionOut], response_model_exclude_none=True)
def list_subscriptions(
    principal: CurrentPrincipal, query: Annotated[SubscriptionListQuery, Query()], db: Db
) -> list[dict[str, Any]]:
    """A bare JSON array, as the reference documents (no totalCount)."""
    with db.read() as session:
        rows = service.listing(session, principal.environment_id, query, query.function_names)
        return [render(row) for row in rows]


@router.get(
    "/v1-alpha/subscriptions/{subscriptionID}", response_model=SubscriptionOut, response_model_exclude_none=True
)
def get_subscription(principal: CurrentPrincipal, subscription_id: SubscriptionID, db: Db) -> dict[str, Any]:
    with db.read() as session:
        return render(service.get(session, principal.environment_id, subscription_id))


@router.patch(
    "/v1-alpha/subscriptions/{subscriptionID}", response_model=SubscriptionOut, response_model_exclude_none=True
)
def patch_subscription(
    principal: CurrentPrincipal, subscription_id: SubscriptionID, body: Annotated[SubscriptionPatch, Body()], db: Db
) -> dict[str, Any]:
    with db.write() as session:
        changes = body.model_dump(exclude_unset=True)
        return render(service.update(session, principal.environment_id, subscription_id, changes))


@router.delete("/v1-alpha/subscriptions/{subscriptionID}", status_code=204, response_class=Response)
def delete_subscription(principal: CurrentPrincipal, subscription_id: SubscriptionID, db: Db) -> Response:
    with db.write() as session:
        deliveries.delete_subscription(session, principal.environment_id, subscription_id)
    return Response(status_code=204)


@router.get("/v1-alpha/subscriptions/{subscriptionID}/deliveries", response_model=DeliveryList)
def list_deliveries(
    principal: CurrentPrincipal, subscription_id: SubscriptionID, query: Annotated[DeliveryListQuery, Query()], db: Db
) -> dict[str, Any]:
    """Quarry extension: every delivery of the subscription's events, with each attempt's outcome."""
    with db.read() as session:
        return deliveries.deliveries(session, principal.environment_id, subscription_id, query)


@router.post("/v1-beta/webhook-secret", response_model=WebhookSecretOut)
def generate_webhook_secret(principal: CurrentPrincipal, idem: Idempotency) -> dict[str, str] | Response:
    """Generate the environment's signing secret, replacing the previous one."""
    with idem.write() as session:
        return idem.respond(session, {"secret": service.generate_secret(session, principal.environment_id)})


@router.get("/v1-beta/webhook-secret", response_model=WebhookSecretOut)
def get_webhook_secret(principal: CurrentPrincipal, db: Db) -> dict[str, str]:
    with db.read() as session:
        return {"secret": service.get_secret(session, principal.environment_id)}


@router.delete("/v1-beta/webhook-secret", status_code=204, response_class=Response)
def revoke_webhook_secret(principal: CurrentPrincipal, db: Db) -> Response:
    with db.write() as session:
        service.revoke_secret(session, principal.environment_id)
    return Response(status_code=204)
