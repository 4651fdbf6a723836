"""v3 collections and items, through the official SDK (strict): the same collections as v2's
``/v2/collections``; adds and updates are asynchronous (``pending`` + ``eventID``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import bem
import httpx
import pytest

from tests.helpers import assert_error

POLL_SECONDS = 30.0


def until(sdk: bem.Bem, name: str, ready: Callable[[bem.types.Collection], bool]) -> bem.types.Collection:
    """Read the collection with its items until ``ready`` says the background work is done."""
    deadline = time.monotonic() + POLL_SECONDS
    while not ready(collection := sdk.collections.items.retrieve(collection_name=name)):
        if time.monotonic() > deadline:
            pytest.fail(f"collection {name} not ready after {POLL_SECONDS} s: {collection}")
        time.sleep(0.05)
    return collection


def test_create_and_the_taken_name(sdk: bem.Bem, api: httpx.Client) -> None:
    created = sdk.collections.create(collection_name="orders.line_items")
    assert created.collection_id.startswith("cl_")
    assert (created.collection_name, created.item_count, created.items) == ("orders.line_items", 0, None)
    assert created.updated_at == created.created_at
    v2 = api.get("/v2/collections").json()["collections"]
    assert [c["collectionID"] for c in v2] == [created.collection_id]
    with pytest.raises(bem.ConflictError):
        sdk.collections.create(collection_name="orders.line_items")
    with pytest.raises(bem.BadRequestError):
        sdk.collections.create(collection_name="product-catalog")


def test_list_auto_paginates_by_page_number(sdk: bem.Bem) -> None:
    names = ["customers", "customers.premium", "customers.premium.vip", "products", "products.premium"]
    for name in names:
        sdk.collections.create(collection_name=name)
    first = sdk.collections.list(limit=2)
    assert (first.page, first.total_pages) == (1, 3)
    assert [c.collection_name for c in first.collections] == names[:2]
    assert [c.collection_name for c in sdk.collections.list(limit=2)] == names  # every page
    assert [c.item_count for c in sdk.collections.list()] == [0] * 5
    assert [c.collection_name for c in sdk.collections.list(parent_collection_name="customers", limit=1)] == names[:3]
    assert [c.collection_name for c in sdk.collections.list(collection_name_search="PREMIUM")] == [
        "customers.premium", "customers.premium.vip", "products.premium",
    ]  # fmt: skip
    empty = sdk.collections.list(collection_name_search="nothing")
    assert (empty.collections, empty.total_pages, list(empty)) == ([], 0, [])


def test_items_add_list_update_delete(sdk: bem.Bem) -> None:
    sdk.collections.create(collection_name="vendors")
    data: list[Any] = ["Acme Corporation", {"name": "Globex", "city": "Springfield"}, "Initech"]
    added = sdk.collections.items.add(collection_name="vendors", items=[{"data": d} for d in data])
    assert added.status == "pending" and added.event_id.startswith("evt_") and added.message
    collection = until(sdk, "vendors", lambda c: c.item_count == 3)
    assert collection.items is not None and [item.data for item in collection.items] == data
    assert (collection.page, collection.limit, collection.total_pages) == (1, 50, 1)
    ids = [item.collection_item_id for item in collection.items]

    second = sdk.collections.items.retrieve(collection_name="vendors", limit=2, page=2)
    assert second.items is not None and [i.collection_item_id for i in second.items] == ids[2:]
    assert (second.item_count, second.total_pages) == (3, 2)

    updated = sdk.collections.items.update(
        collection_name="vendors", items=[{"collection_item_id": ids[0], "data": "Acme Inc"}]
    )
    assert updated.status == "pending" and updated.event_id != added.event_id
    collection = until(sdk, "vendors", lambda c: c.items is not None and c.items[0].data == "Acme Inc")
    assert collection.items is not None and [i.collection_item_id for i in collection.items] == ids
    with pytest.raises(bem.BadRequestError):
        sdk.collections.items.update(collection_name="vendors", items=[{"collection_item_id": "clitm_x", "data": "x"}])

    assert sdk.collections.items.delete(collection_name="vendors", collection_item_id=ids[1]) is None
    remaining = sdk.collections.items.retrieve(collection_name="vendors")
    assert remaining.items is not None and [i.collection_item_id for i in remaining.items] == [ids[0], ids[2]]
    assert remaining.item_count == 2 and remaining.updated_at is not None
    with pytest.raises(bem.NotFoundError):
        sdk.collections.items.delete(collection_name="vendors", collection_item_id=ids[1])


def test_subcollection_items_are_included_when_asked(sdk: bem.Bem) -> None:
    sdk.collections.create(collection_name="customers")
    sdk.collections.create(collection_name="customers.vip")
    sdk.collections.items.add(collection_name="customers", items=[{"data": "Alice Smith"}])
    sdk.collections.items.add(collection_name="customers.vip", items=[{"data": "Bob Jones"}])
    until(sdk, "customers.vip", lambda c: c.item_count == 1)
    until(sdk, "customers", lambda c: c.item_count == 1)
    every = sdk.collections.items.retrieve(collection_name="customers", include_subcollections=True)
    assert every.collection_name == "customers" and every.item_count == 2
    assert every.items is not None and sorted(str(i.data) for i in every.items) == ["Alice Smith", "Bob Jones"]


def test_unknown_collections_are_404(sdk: bem.Bem) -> None:
    with pytest.raises(bem.NotFoundError):
        sdk.collections.items.retrieve(collection_name="nowhere")
    with pytest.raises(bem.NotFoundError):
        sdk.collections.items.add(collection_name="nowhere", items=[{"data": "x"}])
    with pytest.raises(bem.NotFoundError):
        sdk.collections.delete(collection_name="nowhere")


def test_delete_collection(sdk: bem.Bem) -> None:
    sdk.collections.create(collection_name="archive")
    sdk.collections.create(collection_name="archive.old")
    assert sdk.collections.delete(collection_name="archive") is None
    with pytest.raises(bem.NotFoundError):
        sdk.collections.items.retrieve(collection_name="archive")
    assert [c.collection_name for c in sdk.collections.list()] == ["archive.old"]  # subcollections stay


def test_bad_requests_are_400(api: httpx.Client) -> None:
    api.post("/v3/collections", json={"collectionName": "vendors"})
    assert_error(api.get("/v3/collections", params={"limit": 0}), 400, "limit")
    assert_error(api.get("/v3/collections", params={"totalCount": 1}), 400, "totalCount")
    assert_error(api.get("/v3/collections/items", params={"collectionName": "a..b"}), 400, "collectionName")
    assert_error(api.post("/v3/collections/items", json={"collectionName": "vendors", "items": []}), 400, "items")
    too_many = {"collectionName": "vendors", "items": [{"data": "x"}] * 101}
    assert_error(api.post("/v3/collections/items", json=too_many), 400, "items")
    assert_error(api.post("/v3/collections/items", json={"collectionName": "vendors", "items": [{"data": 5}]}), 400)
