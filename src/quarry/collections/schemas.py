"""Wire shapes of ``/v2/collections`` (reference §3.9, §4.17)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, WithJsonSchema

from quarry.collections.items import check_item_data
from quarry.collections.names import MAX_NAME_CHARS, check_collection_name
from quarry.wire import MAX_VERSION_NUM, Timestamp, WireModel

CollectionName = Annotated[
    str,
    Field(description="Letters, digits, underscores; dots separate levels (`orders.line_items`)."),
    AfterValidator(check_collection_name),
]
ItemData = Annotated[
    Any,
    AfterValidator(check_item_data),
    WithJsonSchema({"oneOf": [{"type": "string"}, {"type": "object"}]}),
]
ItemID = Annotated[str, Field(min_length=1, max_length=64)]
MAX_ITEMS_PER_REQUEST = 100


class PageNumberQuery(WireModel):
    """Page-number pagination (collections only): ``page`` from 1, ``limit`` 1..100."""

    page: int = Field(1, ge=1, le=MAX_VERSION_NUM, description="Page number, from 1.")
    limit: int = Field(50, ge=1, le=100, description="Number of items per page, 1 to 100.")


class CollectionListQuery(PageNumberQuery):
    parent_collection_name: CollectionName | None = Field(
        None, description="Only this collection and its descendants (`customers` → `customers.premium`, …)."
    )
    collection_name_search: Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)] | None = Field(
        None, description="Only collections whose name contains this text, ignoring case."
    )


class CollectionQuery(WireModel):
    collection_name: CollectionName


class ItemListQuery(PageNumberQuery):
    collection_name: CollectionName
    include_subcollections: bool = Field(False, description="Also list the items of descendant collections.")


class ItemDeleteQuery(WireModel):
    collection_name: CollectionName
    collection_item_id: ItemID


class CollectionCreate(WireModel):
    collection_name: CollectionName


class NewItem(WireModel):
    data: ItemData


class ItemChange(WireModel):
    collection_item_id: ItemID
    data: ItemData


class ItemsAdd(WireModel):
    collection_name: CollectionName
    items: Annotated[list[NewItem], Field(min_length=1, max_length=MAX_ITEMS_PER_REQUEST)]


class ItemsUpdate(WireModel):
    collection_name: CollectionName
    items: Annotated[list[ItemChange], Field(min_length=1, max_length=MAX_ITEMS_PER_REQUEST)]


# --- responses ------------------------------------------------------------------------------


class CollectionOut(WireModel):
    collection_id: str
    collection_name: str
    item_count: int
    created_at: Timestamp
    updated_at: Timestamp


class CollectionList(WireModel):
    collections: list[CollectionOut]
    page: int
    limit: int
    total_count: int
    total_pages: int


class CollectionItemOut(WireModel):
    collection_item_id: str
    data: str | dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp


class CollectionWithItems(WireModel):
    collection_id: str
    collection_name: str
    item_count: int
    items: list[CollectionItemOut]
    page: int
    limit: int
    total_pages: int
    created_at: Timestamp
    updated_at: Timestamp


class ItemsAccepted(WireModel):
    status: Literal["pending"]
    message: str
    event_id: str
