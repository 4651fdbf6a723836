"""HTTP routes of ``/v2/collections`` (reference §4.17)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from quarry.api.auth import CurrentPrincipal
from quarry.api.idempotency import Idempotency
from quarry.collections import service
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
)

router = APIRouter(prefix="/v2/collections", tags=["collections"])


@router.post("", response_model=CollectionOut)
def create_collection(
    principal: CurrentPrincipal, body: CollectionCreate, idem: Idempotency
) -> dict[str, Any] | Response:
    """Create an empty collection. A dot in the name is a level of hierarchy; a name taken is a 409."""
    with idem.write() as session:
        return idem.respond(session, service.create_collection(session, principal.environment_id, body.collection_name))


@router.get("", response_model=CollectionList)
def list_collections(
    request: Request, principal: CurrentPrincipal, query: Annotated[CollectionListQuery, Query()]
) -> dict[str, Any]:
    """The environment's collections in creation order, by page."""
    with request.app.state.db.read() as session:
        return service.list_collections(session, principal.environment_id, query)


@router.delete("", status_code=204, response_class=Response)
def delete_collection(
    request: Request, principal: CurrentPrincipal, query: Annotated[CollectionQuery, Query()]
) -> Response:
    """Delete a collection and its items (its subcollections stay)."""
    with request.app.state.db.write() as session:
        service.delete_collection(session, principal.environment_id, query.collection_name)
    return Response(status_code=204)


@router.get("/items", response_model=CollectionWithItems)
def list_items(
    request: Request, principal: CurrentPrincipal, query: Annotated[ItemListQuery, Query()]
) -> dict[str, Any]:
    """A collection with one page of its items (and its subcollections' items, when asked), in creation order."""
    with request.app.state.db.read() as session:
        return service.list_items(session, principal.environment_id, query)


@router.post("/items", status_code=202, response_model=ItemsAccepted)
def add_items(
    request: Request, principal: CurrentPrincipal, body: ItemsAdd, idem: Idempotency
) -> dict[str, Any] | Response:
    """Add 1–100 items. They are embedded and stored in the background; a ``collection_processing``
    event with the returned ``eventID`` reports the outcome and the new items' IDs."""
    with idem.write() as session:
        accepted = service.accept_add(session, principal.environment_id, body)
        answer = idem.respond(session, {"status": "pending", "message": service.ADD_MESSAGE, "eventID": accepted.id})
    request.app.state.engine.enqueue_collection_requests([accepted.id])
    return answer


@router.put("/items", status_code=202, response_model=ItemsAccepted)
def update_items(request: Request, principal: CurrentPrincipal, body: ItemsUpdate) -> dict[str, Any]:
    """Replace the data of 1–100 existing items, in the background, like adds."""
    with request.app.state.db.write() as session:
        accepted = service.accept_update(session, principal.environment_id, body)
    request.app.state.engine.enqueue_collection_requests([accepted.id])
    return {"status": "pending", "message": service.UPDATE_MESSAGE, "eventID": accepted.id}


@router.delete("/items", status_code=204, response_class=Response)
def delete_item(request: Request, principal: CurrentPrincipal, query: Annotated[ItemDeleteQuery, Query()]) -> Response:
    with request.app.state.db.write() as session:
        service.delete_item(session, principal.environment_id, query.collection_name, query.collection_item_id)
    return Response(status_code=204)
