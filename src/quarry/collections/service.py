"""Collections and their items: create, list, delete, page through, and accept adds and updates.

Adds and updates are *accepted* here (stored as a ``CollectionRequest`` whose ID is the ID of
the ``collection_processing`` event that will report them) and *processed* by
:mod:`quarry.collections.jobs`, which embeds the items and stores them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quarry.collections.items import delete_items, item_text
from quarry.collections.models import Collection, CollectionItem, CollectionRequest, in_hierarchy
from quarry.errors import conflict, invalid, not_found
from quarry.ids import new_id
from quarry.storage.base import icontains, utcnow

ADD_MESSAGE = "Collection items are being processed asynchronously"
UPDATE_MESSAGE = "Collection items are being updated asynchronously"


def find(
    session: Session, environment_id: str, name: str | None, *, id: str | None = None, for_update: bool = False
) -> Collection | None:
    """The environment's collection with this ID, or else this name."""
    condition = Collection.id == id if id is not None else Collection.name == name
    stmt = sa.select(Collection).where(Collection.environment_id == environment_id, condition)
    return session.scalar(stmt.with_for_update() if for_update else stmt)


def get(session: Session, environment_id: str, name: str, *, for_update: bool = False) -> Collection:
    collection = find(session, environment_id, name, for_update=for_update)
    if collection is None:
        raise not_found("collection", name)
    return collection


def scope(session: Session, collection: Collection, include_subcollections: bool) -> list[str]:
    """IDs of the collection and, when asked, of its descendants."""
    if not include_subcollections:
        return [collection.id]
    return list(
        session.scalars(
            sa.select(Collection.id).where(
                Collection.environment_id == collection.environment_id, in_hierarchy(collection.name)
            )
        )
    )


def item_counts(session: Session, collection_ids: list[str]) -> dict[str, int]:
    if not collection_ids:
        return {}
    rows = session.execute(
        sa.select(CollectionItem.collection_id, sa.func.count())
        .where(CollectionItem.collection_id.in_(collection_ids))
        .group_by(CollectionItem.collection_id)
    )
    return {collection_id: count for collection_id, count in rows}


@dataclass(frozen=True)
class Page:
    """Page ``number`` (from 1) of ``limit`` rows."""

    number: int
    limit: int

    def of(self, session: Session, stmt: sa.Select[Any]) -> list[Any]:
        return list(session.scalars(stmt.offset((self.number - 1) * self.limit).limit(self.limit)))

    def count(self, total: int) -> int:
        """How many pages ``total`` rows make (0 for none)."""
        return math.ceil(total / self.limit)


@dataclass(frozen=True)
class CollectionPage:
    """One page of collections, each with its number of items, and how many match in all."""

    collections: list[tuple[Collection, int]]
    total: int
    page: Page


@dataclass(frozen=True)
class ItemPage:
    """One page of a collection's items (with its descendants' when asked); ``total`` counts them all."""

    collection: Collection
    items: list[CollectionItem]
    total: int
    page: Page


# --- collections --------------------------------------------------------------------------------


def create_collection(session: Session, environment_id: str, name: str) -> Collection:
    if find(session, environment_id, name) is not None:
        raise _name_taken(name)
    now = utcnow()
    collection = Collection(id=new_id("cl"), environment_id=environment_id, name=name, created_at=now, updated_at=now)
    session.add(collection)
    try:
        session.flush()
    except IntegrityError:  # created concurrently by another request
        raise _name_taken(name) from None
    return collection


def _name_taken(name: str) -> Exception:
    return conflict(f"a collection named {name!r} already exists in this environment", {"field": "collectionName"})


def list_collections(
    session: Session,
    environment_id: str,
    page: Page,
    parent_collection_name: str | None = None,
    collection_name_search: str | None = None,
) -> CollectionPage:
    """The environment's collections in creation order; the two filters combine with AND."""
    filters = [Collection.environment_id == environment_id]
    if parent_collection_name is not None:
        filters.append(in_hierarchy(parent_collection_name))
    if collection_name_search is not None:
        filters.append(icontains(Collection.name, collection_name_search))
    total = session.scalar(sa.select(sa.func.count()).select_from(Collection).where(*filters)) or 0
    stmt = sa.select(Collection).where(*filters).order_by(Collection.created_at, Collection.id)
    collections = page.of(session, stmt)
    counts = item_counts(session, [c.id for c in collections])
    return CollectionPage([(c, counts.get(c.id, 0)) for c in collections], total, page)


def delete_collection(session: Session, environment_id: str, name: str) -> None:
    """Delete the collection and its items. Subcollections are collections of their own and stay;
    adds and updates still pending for it end in a failed ``collection_processing`` event."""
    collection = get(session, environment_id, name, for_update=True)
    delete_items(session, CollectionItem.collection_id == collection.id)
    session.delete(collection)


# --- items --------------------------------------------------------------------------------------


def list_items(
    session: Session, environment_id: str, collection_name: str, page: Page, include_subcollections: bool = False
) -> ItemPage:
    collection = get(session, environment_id, collection_name)
    ids = scope(session, collection, include_subcollections)
    in_scope = CollectionItem.collection_id.in_(ids)
    total = session.scalar(sa.select(sa.func.count()).select_from(CollectionItem).where(in_scope)) or 0
    stmt = sa.select(CollectionItem).where(in_scope).order_by(CollectionItem.created_at, CollectionItem.id)
    return ItemPage(collection, page.of(session, stmt), total, page)


def accept_add(session: Session, environment_id: str, collection_name: str, data: Sequence[Any]) -> CollectionRequest:
    """Store a request to add one item per element of ``data``; the new items' IDs are assigned
    now (the event lists them)."""
    collection = get(session, environment_id, collection_name)
    items = [_entry(new_id("clitm"), item_data) for item_data in data]
    return _request(session, collection, "add", items)


def accept_update(
    session: Session, environment_id: str, collection_name: str, changes: Sequence[tuple[str, Any]]
) -> CollectionRequest:
    """Store a request to replace the data of items (``(collectionItemID, data)`` pairs) once every
    item it names exists in the collection (else a 400 naming the first wrong
    ``items[i].collectionItemID``)."""
    collection = get(session, environment_id, collection_name)
    wanted = [item_id for item_id, _ in changes]
    existing = set(
        session.scalars(
            sa.select(CollectionItem.id).where(
                CollectionItem.collection_id == collection.id, CollectionItem.id.in_(set(wanted))
            )
        )
    )
    errors, seen = [], set()
    for index, item_id in enumerate(wanted):
        field = f"items[{index}].collectionItemID"
        if item_id in seen:
            errors.append({"field": field, "reason": f"item {item_id!r} is named more than once"})
        elif item_id not in existing:
            errors.append({"field": field, "reason": f"no item {item_id!r} in collection {collection.name!r}"})
        seen.add(item_id)
    if errors:
        raise invalid(errors)
    items = [_entry(item_id, item_data) for item_id, item_data in changes]
    return _request(session, collection, "update", items)


def _entry(item_id: str, data: Any) -> dict[str, Any]:
    """An item of a request. Its text is taken now, from the object as submitted: PostgreSQL's
    JSONB does not keep the order of an object's keys, and the text must not depend on the database."""
    return {"collectionItemID": item_id, "data": data, "text": item_text(data)}


def _request(
    session: Session, collection: Collection, operation: str, items: list[dict[str, Any]]
) -> CollectionRequest:
    request = CollectionRequest(
        id=new_id("evt"),
        environment_id=collection.environment_id,
        collection_id=collection.id,
        collection_name=collection.name,
        operation=operation,
        items=items,
        created_at=utcnow(),
    )
    session.add(request)
    session.flush()
    return request


def delete_item(session: Session, environment_id: str, collection_name: str, item_id: str) -> None:
    collection = get(session, environment_id, collection_name, for_update=True)
    deleted = delete_items(session, (CollectionItem.collection_id == collection.id) & (CollectionItem.id == item_id))
    if not deleted:
        raise not_found("collection item", item_id)
    collection.updated_at = utcnow()
