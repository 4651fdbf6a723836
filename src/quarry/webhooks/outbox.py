"""Every new event that a subscription wants gets a delivery row, in the same transaction as the
event: an event committed is an event that will be sent, whatever crashes afterwards."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.events.models import Event, is_trial
from quarry.ids import new_id
from quarry.storage.db import Database
from quarry.subscriptions.models import Subscription
from quarry.webhooks.models import Delivery


def _subscriptions_on(target: sa.ColumnElement[bool]) -> sa.Select[tuple[str]]:
    return sa.select(Subscription.id).where(
        Subscription.environment_id == sa.bindparam("environment_id"),
        Subscription.event_type == sa.bindparam("event_type"),
        Subscription.disabled.is_(False),
        target,
    )


# built once: every event of every call asks
_OF_FUNCTION = _subscriptions_on(Subscription.function_id == sa.bindparam("target"))
_OF_COLLECTION = _subscriptions_on(Subscription.collection_id == sa.bindparam("target"))


def _subscribers(session: Session, event: Event) -> list[str]:
    collection_id = (event.body or {}).get("collectionID") if event.event_type == "collection_processing" else None
    if not collection_id and event.function_id is None:
        return []
    parameters = {
        "environment_id": event.environment_id,
        "event_type": event.event_type,
        "target": collection_id or event.function_id,
    }
    return list(session.connection().execute(_OF_COLLECTION if collection_id else _OF_FUNCTION, parameters).scalars())


def install(db: Database) -> None:
    """Make every write session of ``db`` record deliveries for the events it adds."""
    db.before_flush(_enqueue_deliveries)


def _enqueue_deliveries(session: Session, _context: Any, _instances: Any) -> None:
    new_events = [obj for obj in session.new if isinstance(obj, Event)]
    if not new_events:
        return
    with session.no_autoflush:
        for event in new_events:
            if is_trial(event.body):  # a measurement of a function, not its users' work
                continue
            for subscription_id in _subscribers(session, event):
                session.add(
                    Delivery(
                        id=new_id("dlv"),
                        environment_id=event.environment_id,
                        subscription_id=subscription_id,
                        event_id=event.id,
                    )
                )
