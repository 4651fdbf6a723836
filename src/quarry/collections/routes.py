"""HTTP routes of ``/v2/collections`` (reference §4.17)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from quarry.api.auth import CurrentPrincipal
from quarry.api.deps import Db, RequestQueue
from quarry.api.idempotency import Idempotency
from quarry.collections import service
from quarry.collections.models import Collection, CollectionItem
from quarry.collections.schemas import (
    CollectionCreate,
    CollectionList,
    CollectionListQuery,
    CollectionOut,
    CollectionQuery,
    CollectionWithItems,
    ItemDeleteQuery,
    ItemListQuery,
    ItemsAccepted,
    ItemsAdd,
    ItemsUpdate,
    PageNumberQuery,
)

router = APIRouter(prefix="/v2/collections", tags=["collections"])


def _page(query: PageNumberQuery) -> service.Page:
    return service.Page(query.page, query.limit)


def _collection(collection: Collection, item_count: int) -> dict[str, Any]:
    return {
        "collectionID": collection.id,
        "collectionName": collection.name,
        "itemCount": item_count,
        "createdAt": collection.created_at,
        "updatedAt": collection.updated_at,
    }


def _item(item: CollectionItem) -> dict[str, Any]:
    return {
        "collectionItemID": item.id,
        "data": item.data,
        "createdAt": item.created_at,
        "updatedAt": item.updated_at,
    }


@router.post("", response_model=CollectionOut)
def create_collection(
    principal: CurrentPrincipal, body: CollectionCreate, idem: Idempotency
) -> dict[str, Any] | Response:
    """Create an empty collection. A dot in the name is a level of hierarchy; a name taken is a 409."""
    with idem.write() as session:
        collection = service.create_collection(session, principal.environment_id, body.collection_name)
        return idem.respond(session, _collection(collection, 0))


@router.get("", response_model=CollectionList)
def list_collections(
    principal: CurrentPrincipal, query: Annotated[CollectionListQuery, Query()], db: Db
) -> dict[str, Any]:
    """The environment's collections in creation order, by page."""
    with db.read() as session:
        found = service.list_collections(
            session, principal.environment_id, _page(query), query.parent_collection_name, query.collection_name_search
        )
    return {
        "collections": [_collection(c, count) for c, count in found.collections],
        "page": query.page,
        "limit": query.limit,
        "totalCount": found.total,
        "totalPages": found.page.count(found.total),
    }


@router.delete("", status_code=204, response_class=Response)
def delete_collection(principal: CurrentPrincipal, query: Annotated[CollectionQuery, Query()], db: Db) -> Response:
    """Delete a collection and its items (its subcollections stay)."""
    with db.write() as session:
        service.delete_collection(session, principal.environment_id, query.collection_name)
    return Response(status_code=204)


@router.get("/items", response_model=CollectionWithItems)
def list_items(principal: CurrentPrincipal, query: Annotated[ItemListQuery, Query()], db: Db) -> dict[str, Any]:
    """A collection with one page of its items (and its subcollections' items, when asked), in creation order."""
    with db.read() as session:
        found = service.list_items(
            session, principal.environment_id, query.collection_name, _page(query), query.include_subcollections
        )
    return {
        **_collection(found.collection, found.total),
        "items": [_item(item) for item in found.items],
        "page": query.page,
        "limit": query.limit,
        "totalPages": found.page.count(found.total),
    }


@router.post("/items", status_code=202, response_model=ItemsAccepted)
def add_items(
    principal: CurrentPrincipal, body: ItemsAdd, idem: Idempotency, enqueue_requests: RequestQueue
) -> dict[str, Any] | Response:
    """Add 1–100 items. They are embedded and stored in the background; a ``collection_processing``
    event with the returned ``eventID`` reports the outcome and the new items' IDs."""
    with idem.write() as session:
        data = [item.data for item in body.items]
        accepted = service.accept_add(session, principal.environment_id, body.collection_name, data)
        answer = idem.respond(session, {"status": "pending", "message": service.ADD_MESSAGE, "eventID": accepted.id})
    enqueue_requests([accepted.id])
    return answer


@router.put("/items", status_code=202, response_model=ItemsAccepted)
def update_items(
    principal: CurrentPrincipal, body: ItemsUpdate, enqueue_requests: RequestQueue, db: Db
) -> dict[str, Any]:
    """Replace the data of 1–100 existing items, in the background, like adds."""
    with db.write() as session:
        changes = [(item.collection_item_id, item.data) for item in body.items]
        accepted = service.accept_update(session, principal.environment_id, body.collection_name, changes)
    enqueue_requests([accepted.id])
    return {"status": "pending", "message": service.UPDATE_MESSAGE, "eventID": accepted.id}


@router.delete("/items", status_code=204, response_class=Response)
def delete_item(principal: CurrentPrincipal, query: Annotated[ItemDeleteQuery, Query()], db: Db) -> Response:
    with db.write() as session:
        service.delete_item(session, principal.environment_id, query.collection_name, query.collection_item_id)
    return Response(status_code=204)
