"""The delivery log of subscriptions: reading a subscription's deliveries with their attempts,
and giving up the pending ones when the subscription is deleted."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.storage.pages import creation_page
from quarry.subscriptions import service as subscriptions
from quarry.subscriptions.schemas import DeliveryListQuery
from quarry.webhooks.models import Delivery, DeliveryAttempt


def delete_subscription(session: Session, environment_id: str, subscription_id: str) -> None:
    """The subscription goes; its deliveries still pending are given up (their log stays readable)."""
    subscription = subscriptions.get(session, environment_id, subscription_id)
    session.execute(
        sa.update(Delivery)
        .where(Delivery.subscription_id == subscription.id, Delivery.status == "pending")
        .values(status="failed", last_error="the subscription was deleted", claimed_until=None)
    )
    subscriptions.delete(session, environment_id, subscription_id)


def deliveries(session: Session, environment_id: str, subscription_id: str, query: DeliveryListQuery) -> dict[str, Any]:
    """A page of a subscription's deliveries, each with its attempts."""
    subscriptions.get(session, environment_id, subscription_id)
    scope = [Delivery.environment_id == environment_id, Delivery.subscription_id == subscription_id]
    filters = []
    if query.event_ids:
        filters.append(Delivery.event_id.in_(query.event_ids))
    if query.status:
        filters.append(Delivery.status == query.status)
    rows = creation_page(session, Delivery, scope, filters, query)
    total = session.scalar(sa.select(sa.func.count()).select_from(Delivery).where(*scope, *filters))
    attempts: dict[str, list[DeliveryAttempt]] = {}
    if rows:
        for attempt in session.scalars(
            sa.select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_([row.id for row in rows]))
            .order_by(DeliveryAttempt.number)
        ):
            attempts.setdefault(attempt.delivery_id, []).append(attempt)
    return {"deliveries": [_delivery(row, attempts.get(row.id, [])) for row in rows], "totalCount": total}


def _delivery(row: Delivery, attempts: list[DeliveryAttempt]) -> dict[str, Any]:
    return {
        "deliveryID": row.id,
        "subscriptionID": row.subscription_id,
        "eventID": row.event_id,
        "status": row.status,
        "attemptCount": row.attempts,
        "nextAttemptAt": row.next_attempt_at if row.status == "pending" else None,
        "deliveredAt": row.delivered_at,
        "lastStatusCode": row.last_status_code,
        "lastError": row.last_error,
        "createdAt": row.created_at,
        "attempts": [
            {
                "number": a.number,
                "startedAt": a.started_at,
                "durationMs": a.duration_ms,
                "statusCode": a.status_code,
                "error": a.error,
            }
            for a in attempts
        ],
    }
