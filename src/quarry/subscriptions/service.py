"""Subscriptions: create, read, change, delete; the environment's webhook signing secret."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from quarry.collections import service as collections
from quarry.errors import NotFound, bad_request
from quarry.functions import service as functions
from quarry.ids import new_id
from quarry.storage.base import utcnow
from quarry.storage.lookup import get_in_environment
from quarry.storage.pages import PageQuery, creation_page
from quarry.subscriptions.models import Subscription, WebhookSecret

COLLECTION_TYPES = {"collection_processing"}


def _bind(session: Session, environment_id: str, subscription: Subscription, fields: Mapping[str, Any]) -> None:
    """Point the subscription at the function or collection its type needs (by ID or by name)."""
    subscription.event_type = "transform" if subscription.type == "analyze" else subscription.type
    if subscription.type in COLLECTION_TYPES:
        collection_id, collection_name = fields.get("collection_id"), fields.get("collection_name")
        if collection_id is None and collection_name is None:
            collection_id = subscription.collection_id
        if collection_id is None and collection_name is None:
            raise bad_request(
                f"a {subscription.type} subscription needs collectionName or collectionID", "collectionName"
            )
        collection = collections.find(session, environment_id, collection_name, id=collection_id)
        if collection is None:
            field = "collectionID" if collection_id is not None else "collectionName"
            raise bad_request(f"collection {collection_id or collection_name!r} does not exist", field)
        subscription.collection_id, subscription.collection_name = collection.id, collection.name
        subscription.function_id = subscription.function_name = None
        return
    function_id, function_name = fields.get("function_id"), fields.get("function_name")
    if function_id is None and function_name is None:
        function_id = subscription.function_id
    if function_id is None and function_name is None:
        raise bad_request(f"a {subscription.type} subscription needs functionName or functionID", "functionName")
    function = functions.find_live(session, environment_id, function_name, id=function_id)
    if function is None:
        field = "functionID" if function_id is not None else "functionName"
        raise bad_request(f"function {function_id or function_name!r} does not exist", field)
    if subscription.type == "analyze" and function.type != "analyze":
        raise bad_request(
            f"an analyze subscription needs an analyze function; {function.name!r} is a {function.type}", "type"
        )
    subscription.function_id, subscription.function_name = function.id, function.name
    subscription.collection_id = subscription.collection_name = None


def get(session: Session, environment_id: str, subscription_id: str) -> Subscription:
    return get_in_environment(session, Subscription, environment_id, subscription_id, "subscription")


def create(session: Session, environment_id: str, fields: Mapping[str, Any]) -> Subscription:
    """``fields``: ``name``, ``type``, ``webhook_url``, ``disabled`` (optional) and the function's or
    the collection's ``…_id`` or ``…_name``."""
    subscription = Subscription(
        id=new_id("sub"),
        environment_id=environment_id,
        name=fields["name"],
        type=fields["type"],
        disabled=fields.get("disabled") or False,
        webhook_url=fields["webhook_url"],
    )
    _bind(session, environment_id, subscription, fields)
    session.add(subscription)
    session.flush()
    return subscription


def update(session: Session, environment_id: str, subscription_id: str, changes: Mapping[str, Any]) -> Subscription:
    """Only the fields given (not ``None``) change (conventional PATCH)."""
    subscription = get(session, environment_id, subscription_id)
    for field in ("name", "type", "disabled", "webhook_url"):
        if changes.get(field) is not None:
            setattr(subscription, field, changes[field])
    rebinding = any(
        changes.get(f) is not None for f in ("type", "function_id", "function_name", "collection_id", "collection_name")
    )
    if rebinding:
        _bind(session, environment_id, subscription, changes)
    subscription.updated_at = utcnow()
    return subscription


def listing(
    session: Session, environment_id: str, page: PageQuery, function_names: list[str] | None = None
) -> list[Subscription]:
    filters = [Subscription.function_name.in_(function_names)] if function_names else []
    return creation_page(session, Subscription, [Subscription.environment_id == environment_id], filters, page)


def delete(session: Session, environment_id: str, subscription_id: str) -> Subscription:
    """The subscription goes (``webhooks.service.delete_subscription`` gives up its pending deliveries first)."""
    subscription = get(session, environment_id, subscription_id)
    session.delete(subscription)
    return subscription


# --- the webhook signing secret ------------------------------------------------------------------


def generate_secret(session: Session, environment_id: str) -> str:
    """A new secret, replacing the active one at once (receivers must switch to it)."""
    secret = "whsec_" + secrets.token_urlsafe(32)
    current = session.get(WebhookSecret, environment_id, with_for_update=True)
    if current is None:
        session.add(WebhookSecret(environment_id=environment_id, secret=secret))
    else:
        current.secret, current.created_at = secret, utcnow()
    return secret


def get_secret(session: Session, environment_id: str) -> str:
    current = session.get(WebhookSecret, environment_id)
    if current is None:
        raise NotFound("no webhook secret has been generated for this environment")
    return current.secret


def revoke_secret(session: Session, environment_id: str) -> None:
    """Deliveries go unsigned from now on; a 404 when there is none."""
    current = session.get(WebhookSecret, environment_id)
    if current is None:
        raise NotFound("no webhook secret has been generated for this environment")
    session.delete(current)
