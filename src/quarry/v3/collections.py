"""Collections and their items: ``/v3/collections``, ``/v3/collections/items``.

The same collections as v2's ``/v2/collections`` (:mod:`quarry.collections.service`), in the
SDK's shapes: the list is a ``SyncCollectionsPage`` (``collections``, ``page``, ``totalPages``), a
collection read through its items is a ``Collection`` with ``items``. Adds and updates are
asynchronous (202, ``status: "pending"`` and the ``eventID`` of the ``collection_processing`` event
that will report them). ``POST /v3/collections/token-count`` is not served (see docs/decisions.md).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field

from quarry.api.auth import CurrentPrincipal
from quarry.api.idempotency import Idempotency
from quarry.api.models import MAX_VERSION_NUM, Timestamp, WireModel
from quarry.collections import service
from quarry.collections.models import Collection, CollectionItem
from quarry.collections.names import MAX_NAME_CHARS
from quarry.collections.schemas import MAX_ITEMS_PER_REQUEST, CollectionName, ItemData, ItemID

router = APIRouter(prefix="/v3", tags=["v3 collections"])

# --- requests ----------------------------------------------------------------------------------


class _PageNumber(WireModel):
    page: int = Field(1, ge=1, le=MAX_VERSION_NUM, description="Page number, from 1.")
    limit: int = Field(50, ge=1, le=100, description="Number per page, 1 to 100.")

    def as_page(self) -> service.Page:
        return service.Page(self.page, self.limit)


class CollectionListQuery(_PageNumber):
    parent_collection_name: CollectionName | None = Field(
        None, description="Only this collection and its descendants (`customers` → `customers.premium`, …)."
    )
    collection_name_search: Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)] | None = Field(
        None, description="Only collections whose name contains this text, ignoring case."
    )


class CollectionQuery(WireModel):
    collection_name: CollectionName


class ItemListQuery(_PageNumber):
    collection_name: CollectionName
    include_subcollections: bool = Field(False, description="Also list the items of descendant collections.")


class ItemDeleteQuery(WireModel):
    collection_name: CollectionName
    collection_item_id: ItemID


class CollectionCreate(WireModel):
    collection_name: CollectionName


class NewItem(WireModel):
    data: ItemData


class ChangedItem(WireModel):
    collection_item_id: ItemID
    data: ItemData


class ItemsAdd(WireModel):
    collection_name: CollectionName
    items: Annotated[list[NewItem], Field(min_length=1, max_length=MAX_ITEMS_PER_REQUEST)]


class ItemsUpdate(WireModel):
    collection_name: CollectionName
    items: Annotated[list[ChangedItem], Field(min_length=1, max_length=MAX_ITEMS_PER_REQUEST)]


# --- responses ---------------------------------------------------------------------------------


class CollectionSummary(WireModel):
    """``CollectionListResponse``: a collection without its items."""

    collection_id: str
    collection_name: str
    item_count: int
    created_at: Timestamp
    updated_at: Timestamp


class CollectionsPage(WireModel):
    """``SyncCollectionsPage``: the SDK asks for ``page + 1`` until ``page`` reaches ``totalPages``."""

    collections: list[CollectionSummary]
    page: int
    total_pages: int


class CollectionItemOut(WireModel):
    collection_item_id: str
    data: str | dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp


class CollectionWithItems(CollectionSummary):
    """``Collection`` as ``GET /v3/collections/items`` answers it: one page of items."""

    items: list[CollectionItemOut]
    page: int
    limit: int
    total_pages: int


class ItemsAccepted(WireModel):
    """``ItemAddResponse`` / ``ItemUpdateResponse`` of the asynchronous mode (the only one Quarry has)."""

    status: Literal["pending"]
    message: str
    event_id: str


def render(collection: Collection, item_count: int) -> dict[str, Any]:
    return {
        "collectionID": collection.id,
        "collectionName": collection.name,
        "itemCount": item_count,
        "createdAt": collection.created_at,
        "updatedAt": collection.updated_at,
    }


def render_item(item: CollectionItem) -> dict[str, Any]:
    return {"collectionItemID": item.id, "data": item.data, "createdAt": item.created_at, "updatedAt": item.updated_at}


# --- routes ------------------------------------------------------------------------------------


@router.post("/collections", response_model=CollectionSummary)
def create_collection(
    principal: CurrentPrincipal, body: CollectionCreate, idem: Idempotency
) -> dict[str, Any] | Response:
    """Create an empty collection. A dot in the name is a level of hierarchy; a name taken is a 409."""
    with idem.write() as session:
        collection = service.create_collection(session, principal.environment_id, body.collection_name)
        return idem.respond(session, render(collection, 0))


@router.get("/collections", response_model=CollectionsPage)
def list_collections(
    request: Request, principal: CurrentPrincipal, query: Annotated[CollectionListQuery, Query()]
) -> dict[str, Any]:
    """The environment's collections in creation order, by page number."""
    with request.app.state.db.read() as session:
        found = service.list_collections(
            session,
            principal.environment_id,
            query.as_page(),
            parent_collection_name=query.parent_collection_name,
            collection_name_search=query.collection_name_search,
        )
    return {
        "collections": [render(c, count) for c, count in found.collections],
        "page": query.page,
        "totalPages": found.page.count(found.total),
    }


@router.delete("/collections", status_code=204, response_class=Response)
def delete_collection(
    request: Request, principal: CurrentPrincipal, query: Annotated[CollectionQuery, Query()]
) -> Response:
    """Delete a collection and its items (its subcollections stay)."""
    with request.app.state.db.write() as session:
        service.delete_collection(session, principal.environment_id, query.collection_name)
    return Response(status_code=204)


@router.get("/collections/items", response_model=CollectionWithItems)
def list_items(
    request: Request, principal: CurrentPrincipal, query: Annotated[ItemListQuery, Query()]
) -> dict[str, Any]:
    """The collection with one page of its items (and its descendants' when asked), in creation order."""
    with request.app.state.db.read() as session:
        found = service.list_items(
            session, principal.environment_id, query.collection_name, query.as_page(), query.include_subcollections
        )
    return {
        **render(found.collection, found.total),
        "items": [render_item(item) for item in found.items],
        "page": query.page,
        "limit": query.limit,
        "totalPages": found.page.count(found.total),
    }


@router.post("/collections/items", status_code=202, response_model=ItemsAccepted)
def add_items(
    request: Request, principal: CurrentPrincipal, body: ItemsAdd, idem: Idempotency
) -> dict[str, Any] | Response:
    """Add 1–100 items, embedded and stored in the background; the ``collection_processing``
    event with the returned ``eventID`` reports the outcome and the new items' IDs."""
    with idem.write() as session:
        data = [item.data for item in body.items]
        accepted = service.accept_add(session, principal.environment_id, body.collection_name, data)
        answer = idem.respond(session, {"status": "pending", "message": service.ADD_MESSAGE, "eventID": accepted.id})
    request.app.state.engine.enqueue_collection_requests([accepted.id])
    return answer


@router.put("/collections/items", status_code=202, response_model=ItemsAccepted)
def update_items(request: Request, principal: CurrentPrincipal, body: ItemsUpdate) -> dict[str, Any]:
    """Replace the data of 1–100 existing items, in the background like adds (the last request wins)."""
    with request.app.state.db.write() as session:
        changes = [(item.collection_item_id, item.data) for item in body.items]
        accepted = service.accept_update(session, principal.environment_id, body.collection_name, changes)
    request.app.state.engine.enqueue_collection_requests([accepted.id])
    return {"status": "pending", "message": service.UPDATE_MESSAGE, "eventID": accepted.id}


@router.delete("/collections/items", status_code=204, response_class=Response)
def delete_item(request: Request, principal: CurrentPrincipal, query: Annotated[ItemDeleteQuery, Query()]) -> Response:
    with request.app.state.db.write() as session:
        service.delete_item(session, principal.environment_id, query.collection_name, query.collection_item_id)
    return Response(status_code=204)
