"""Collections (bem v2 reference §2.5, §3.8 ``collection_processing``, §3.9, §4.17): the HTTP API on
both databases, the durable ingest behind it, ``quarry.collections.search.search`` and the embedders.

Expectations come from the requests the tests sent (names, data, counts) and from the reference;
server-assigned IDs are only compared with each other.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import numpy as np
import pytest
import sqlalchemy as sa

from quarry.collections import jobs
from quarry.collections import search as search_module
from quarry.collections.jobs import COLLECTION_JOB
from quarry.collections.models import CollectionItem, CollectionRequest, search_rowid
from quarry.collections.search import CollectionNotFound, EmbedderMismatch, search
from quarry.config import Settings
from quarry.ids import new_id
from quarry.providers import ProviderError
from quarry.providers.embeddings import BuiltinEmbedder, OpenAIEmbedder, embedder_from_settings, from_bytes, terms
from quarry.storage.base import utcnow
from quarry.tenancy.service import authenticate
from tests.conftest import Server, Tenant
from tests.harness.endpoints import LocalEndpoint, Received, Reply
from tests.helpers import assert_error

POLL_SECONDS = 30.0
COLLECTION_KEYS = {"collectionID", "collectionName", "itemCount", "createdAt", "updatedAt"}
ITEM_KEYS = {"collectionItemID", "data", "createdAt", "updatedAt"}
ITEMS_PAGE_KEYS = {
    "collectionID", "collectionName", "itemCount", "items", "page", "limit", "totalPages", "createdAt", "updatedAt",
}  # fmt: skip
EVENT_KEYS = {
    "eventID", "eventType", "referenceID", "createdAt", "collectionID", "collectionName", "operation",
    "processedCount", "status", "collectionItemIDs",
}  # fmt: skip
FUNCTION_OR_CALL_FIELDS = {
    "functionID", "functionName", "functionVersionNum", "functionCallID", "functionCallTryNumber", "callID",
    "workflowID", "workflowName", "workflowVersionNum",
}  # fmt: skip


# --- helpers --------------------------------------------------------------------------------------


def create(api: httpx.Client, name: str) -> dict[str, Any]:
    response = api.post("/v2/collections", json={"collectionName": name})
    assert response.status_code == 200, response.text
    return response.json()


def wait_for_event(api: httpx.Client, event_id: str) -> dict[str, Any]:
    """Poll ``GET /v1-alpha/events/{eventID}`` until the collection_processing event exists."""
    deadline = time.monotonic() + POLL_SECONDS
    while True:
        response = api.get(f"/v1-alpha/events/{event_id}")
        if response.status_code == 200:
            return response.json()
        assert_error(response, 404)
        if time.monotonic() > deadline:
            pytest.fail(f"no event {event_id} after {POLL_SECONDS} s")
        time.sleep(0.05)


def add(api: httpx.Client, name: str, data: list[Any]) -> dict[str, Any]:
    """Add items and wait until they are processed; the collection_processing event."""
    response = api.post("/v2/collections/items", json={"collectionName": name, "items": [{"data": d} for d in data]})
    assert response.status_code == 202, response.text
    event = wait_for_event(api, response.json()["eventID"])
    assert event["status"] == "success", event
    return event


def update(api: httpx.Client, name: str, changes: list[tuple[str, Any]]) -> dict[str, Any]:
    items = [{"collectionItemID": item_id, "data": data} for item_id, data in changes]
    response = api.put("/v2/collections/items", json={"collectionName": name, "items": items})
    assert response.status_code == 202, response.text
    return wait_for_event(api, response.json()["eventID"])


def items_of(api: httpx.Client, name: str, **params: Any) -> dict[str, Any]:
    response = api.get("/v2/collections/items", params={"collectionName": name, **params})
    assert response.status_code == 200, response.text
    return response.json()


def names_listed(api: httpx.Client, **params: Any) -> list[str]:
    response = api.get("/v2/collections", params=params)
    assert response.status_code == 200, response.text
    return [c["collectionName"] for c in response.json()["collections"]]


def environment_id(server: Server, tenant: Tenant, environment: str = "production") -> str:
    with server.db.read() as session:
        principal = authenticate(session, tenant.keys[environment])
    assert principal is not None
    return principal.environment_id


def run_search(server: Server, tenant: Tenant, name: str, query: str, **options: Any) -> list[tuple[Any, float]]:
    env = environment_id(server, tenant)
    with server.db.read() as session:
        return search(session, env, name, query, **options)


def indexed(server: Server, item_ids: list[str]) -> int:
    """How many of these items SQLite's full-text table holds (PostgreSQL indexes the column itself)."""
    if server.backend != "sqlite":
        return len(item_ids)
    rowids = ",".join(str(search_rowid(i)) for i in item_ids)
    with server.db.read() as session:
        return session.scalar(sa.text(f"SELECT count(*) FROM collection_item_search WHERE rowid IN ({rowids})")) or 0


def stored_item(server: Server, item_id: str) -> CollectionItem:
    with server.db.read() as session:
        item = session.get(CollectionItem, item_id)
    assert item is not None
    return item


# --- creating and listing collections ---------------------------------------------------------------


def test_create_answers_the_collection_with_no_items(api: httpx.Client) -> None:
    body = create(api, "product_catalog")
    assert set(body) == COLLECTION_KEYS
    assert body["collectionName"] == "product_catalog"
    assert body["collectionID"].startswith("cl_")
    assert body["itemCount"] == 0
    assert body["createdAt"] == body["updatedAt"] and body["createdAt"].endswith("Z")


@pytest.mark.parametrize(
    "name", ["product_catalog", "orders.line_items.sku", "customer_data", "price_v2", "_private", "a" * 256]
)
def test_valid_names_are_accepted(api: httpx.Client, name: str) -> None:
    assert create(api, name)["collectionName"] == name


@pytest.mark.parametrize(
    "name",
    [
        "product-catalog", "123items", "items..data", "order#123", "", ".items", "items.", "orders.2024",
        "a" * 257, "ünicode", "with space", ".".join(["abcd"] * 206),
    ],
)  # fmt: skip
def test_invalid_names_are_400(api: httpx.Client, name: str) -> None:
    assert_error(api.post("/v2/collections", json={"collectionName": name}), 400, "collectionName")
    assert names_listed(api) == []


@pytest.mark.parametrize(
    "body, field",
    [({}, "collectionName"), ({"collectionName": 5}, "collectionName"), ({"collectionName": "a", "name": "a"}, "name")],
)
def test_malformed_create_bodies_are_400(api: httpx.Client, body: dict[str, Any], field: str) -> None:
    assert_error(api.post("/v2/collections", json=body), 400, field)


def test_a_taken_name_is_409_but_free_in_another_environment(tenant: Tenant) -> None:
    create(tenant.production, "vendors")
    assert_error(tenant.production.post("/v2/collections", json={"collectionName": "vendors"}), 409)
    assert create(tenant.sandbox, "vendors")["collectionName"] == "vendors"
    # names are case-sensitive
    assert create(tenant.production, "Vendors")["collectionName"] == "Vendors"


def test_list_pages_by_number_in_creation_order(api: httpx.Client) -> None:
    names = [f"c{i}" for i in range(5)]
    for name in names:
        create(api, name)
    first = api.get("/v2/collections", params={"limit": 2}).json()
    assert set(first) == {"collections", "page", "limit", "totalCount", "totalPages"}
    assert (first["page"], first["limit"], first["totalCount"], first["totalPages"]) == (1, 2, 5, 3)
    pages = [names_listed(api, limit=2, page=page) for page in (1, 2, 3, 4)]
    assert pages == [names[0:2], names[2:4], names[4:5], []]
    assert names_listed(api) == names  # default page 1, limit 50
    for collection in api.get("/v2/collections").json()["collections"]:
        assert set(collection) == COLLECTION_KEYS and collection["itemCount"] == 0


def test_an_empty_list_has_no_pages(api: httpx.Client) -> None:
    body = api.get("/v2/collections").json()
    assert body == {"collections": [], "page": 1, "limit": 50, "totalCount": 0, "totalPages": 0}


@pytest.mark.parametrize(
    "params, field",
    [
        ({"page": 0}, "page"), ({"page": -1}, "page"), ({"page": "x"}, "page"), ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"), ({"limit": "ten"}, "limit"),
        ({"parentCollectionName": "a-b"}, "parentCollectionName"),
        ({"collectionNameSearch": ""}, "collectionNameSearch"), ({"collectionname": "x"}, "collectionname"),
    ],
)  # fmt: skip
def test_bad_list_parameters_are_400(api: httpx.Client, params: dict[str, Any], field: str) -> None:
    assert_error(api.get("/v2/collections", params=params), 400, field)


def test_parent_lists_the_parent_and_every_descendant(api: httpx.Client) -> None:
    for name in [
        "customers", "customers.premium", "customers.premium.vip", "customers_archive", "customersX",
        "vendors", "vendors.customers", "customer",
    ]:  # fmt: skip
        create(api, name)
    assert names_listed(api, parentCollectionName="customers") == [
        "customers",
        "customers.premium",
        "customers.premium.vip",
    ]
    assert names_listed(api, parentCollectionName="customers.premium") == ["customers.premium", "customers.premium.vip"]
    assert names_listed(api, parentCollectionName="nothing") == []
    # a descendant whose parent does not exist as a collection is still a descendant
    create(api, "orphans.child")
    assert names_listed(api, parentCollectionName="orphans") == ["orphans.child"]


def test_name_search_is_a_case_insensitive_literal_substring(api: httpx.Client) -> None:
    for name in ["customers", "customers.Premium", "VIP_customers", "vendors", "cust0mers"]:
        create(api, name)
    assert names_listed(api, collectionNameSearch="PREM") == ["customers.Premium"]
    assert names_listed(api, collectionNameSearch="customers") == ["customers", "customers.Premium", "VIP_customers"]
    assert names_listed(api, collectionNameSearch="p_c") == ["VIP_customers"]  # "_" is not a wildcard
    assert names_listed(api, collectionNameSearch="%") == []
    # both filters at once: AND
    assert names_listed(api, parentCollectionName="customers", collectionNameSearch="prem") == ["customers.Premium"]


def test_collections_are_invisible_to_other_environments(tenant: Tenant) -> None:
    create(tenant.production, "secret_list")
    assert names_listed(tenant.sandbox) == []
    assert_error(tenant.sandbox.get("/v2/collections/items", params={"collectionName": "secret_list"}), 404)
    assert_error(tenant.sandbox.delete("/v2/collections", params={"collectionName": "secret_list"}), 404)
    body = {"collectionName": "secret_list", "items": [{"data": "x"}]}
    assert_error(tenant.sandbox.post("/v2/collections/items", json=body), 404)
    assert names_listed(tenant.production) == ["secret_list"]


def test_endpoints_need_an_api_key(anonymous: httpx.Client) -> None:
    assert_error(anonymous.get("/v2/collections"), 401)
    assert_error(anonymous.post("/v2/collections", json={"collectionName": "a"}), 401)


# --- adding items -------------------------------------------------------------------------------------


def test_added_items_appear_and_a_collection_processing_event_reports_them(api: httpx.Client) -> None:
    collection = create(api, "vendors")
    data = ["Acme Corporation, Berlin", {"name": "Globex", "address": {"city": "Springfield"}, "employees": 120}]
    response = api.post(
        "/v2/collections/items", json={"collectionName": "vendors", "items": [{"data": d} for d in data]}
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert set(accepted) == {"status", "message", "eventID"}
    assert accepted["status"] == "pending" and accepted["eventID"].startswith("evt_")
    assert accepted["message"] == "Collection items are being processed asynchronously"

    event = wait_for_event(api, accepted["eventID"])
    assert set(event) == EVENT_KEYS and not set(event) & FUNCTION_OR_CALL_FIELDS
    assert event["eventID"] == accepted["eventID"] and event["eventType"] == "collection_processing"
    assert event["collectionID"] == collection["collectionID"] and event["collectionName"] == "vendors"
    assert (event["operation"], event["processedCount"], event["status"]) == ("add", 2, "success")
    assert all(i.startswith("clitm_") for i in event["collectionItemIDs"])

    listed = items_of(api, "vendors")
    assert set(listed) == ITEMS_PAGE_KEYS
    assert listed["collectionID"] == collection["collectionID"] and listed["itemCount"] == 2
    assert [i["data"] for i in listed["items"]] == data  # request order
    assert [i["collectionItemID"] for i in listed["items"]] == event["collectionItemIDs"]
    assert all(set(i) == ITEM_KEYS for i in listed["items"])
    assert (listed["page"], listed["limit"], listed["totalPages"]) == (1, 50, 1)
    assert listed["createdAt"] == collection["createdAt"] and listed["updatedAt"] > collection["updatedAt"]
    [summary] = api.get("/v2/collections").json()["collections"]
    assert summary["itemCount"] == 2

    found = api.get("/v1-alpha/events", params={"eventTypes": "collection_processing"}).json()
    assert [e["eventID"] for e in found["events"]] == [accepted["eventID"]] and found["totalCount"] == 1


def test_an_objects_text_is_its_values_in_submitted_order(server: Server, api: httpx.Client) -> None:
    create(api, "ordered")
    data = {"a_long_key_first": "Zeta", "b": {"c": "Alpha", "d": [1.5, "Beta"]}, "flag": True, "none": None}
    [item] = add(api, "ordered", [data])["collectionItemIDs"]
    stored = stored_item(server, item)
    assert stored.text == "Zeta Alpha 1.5 Beta"  # PostgreSQL's JSONB reorders keys: the text must not follow
    assert stored.terms == "zeta alpha 1 5 beta"
    assert items_of(api, "ordered")["items"][0]["data"] == data


def test_items_page_by_number(api: httpx.Client) -> None:
    create(api, "numbers")
    add(api, "numbers", [f"item number {i}" for i in range(7)])
    pages = [items_of(api, "numbers", limit=3, page=p) for p in (1, 2, 3, 4)]
    assert [[i["data"] for i in page["items"]] for page in pages] == [
        ["item number 0", "item number 1", "item number 2"],
        ["item number 3", "item number 4", "item number 5"],
        ["item number 6"],
        [],
    ]
    assert {(p["itemCount"], p["totalPages"], p["limit"]) for p in pages} == {(7, 3, 3)}
    assert [p["page"] for p in pages] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "params, status, field",
    [
        ({}, 400, "collectionName"), ({"collectionName": "numbers", "page": 0}, 400, "page"),
        ({"collectionName": "numbers", "limit": 101}, 400, "limit"),
        ({"collectionName": "bad-name"}, 400, "collectionName"),
        ({"collectionName": "numbers", "includeSubcollections": "maybe"}, 400, "includeSubcollections"),
        ({"collectionName": "numbers", "other": "1"}, 400, "other"), ({"collectionName": "missing"}, 404, None),
    ],
)  # fmt: skip
def test_bad_item_listings(api: httpx.Client, params: dict[str, Any], status: int, field: str | None) -> None:
    create(api, "numbers")
    assert_error(api.get("/v2/collections/items", params=params), status, field)


def test_subcollection_items_are_listed_only_when_asked(api: httpx.Client) -> None:
    for name in ["catalog", "catalog.tools", "catalog.tools.power", "catalog_old"]:
        create(api, name)
    add(api, "catalog", ["hammer"])
    add(api, "catalog.tools", ["saw"])
    add(api, "catalog.tools.power", ["drill"])
    add(api, "catalog_old", ["anvil"])
    assert [i["data"] for i in items_of(api, "catalog")["items"]] == ["hammer"]
    everything = items_of(api, "catalog", includeSubcollections="true")
    assert [i["data"] for i in everything["items"]] == ["hammer", "saw", "drill"]
    assert everything["itemCount"] == 3 and everything["collectionName"] == "catalog"
    assert items_of(api, "catalog.tools", includeSubcollections="true")["itemCount"] == 2


@pytest.mark.parametrize(
    "items, field",
    [
        ([], "items"), ([{"data": "x"}] * 101, "items"), ([{"data": 42}], "items[0].data"),
        ([{"data": "ok"}, {"data": ["a", "b"]}], "items[1].data"), ([{"data": None}], "items[0].data"),
        ([{"data": "   "}], "items[0].data"), ([{"data": {"active": True, "note": None}}], "items[0].data"),
        ([{"data": {}}], "items[0].data"), ([{"data": "x" * 100_001}], "items[0].data"), ([{}], "items[0].data"),
        ([{"data": "x", "id": "y"}], "items[0].id"),
    ],
)  # fmt: skip
def test_invalid_adds_are_400_and_store_nothing(api: httpx.Client, items: list[Any], field: str) -> None:
    create(api, "vendors")
    assert_error(api.post("/v2/collections/items", json={"collectionName": "vendors", "items": items}), 400, field)
    assert api.get("/v1-alpha/events", params={"eventTypes": "collection_processing"}).json()["totalCount"] == 0


def test_a_hundred_items_is_the_most_one_request_adds(api: httpx.Client) -> None:
    create(api, "many")
    event = add(api, "many", [f"entry {i}" for i in range(100)])
    assert event["processedCount"] == 100 and len(set(event["collectionItemIDs"])) == 100
    assert items_of(api, "many")["itemCount"] == 100


def test_adding_to_an_unknown_collection_is_404(api: httpx.Client) -> None:
    body = {"collectionName": "missing", "items": [{"data": "x"}]}
    assert_error(api.post("/v2/collections/items", json=body), 404)
    assert_error(api.post("/v2/collections/items", json={"items": [{"data": "x"}]}), 400, "collectionName")


# --- updating and deleting items --------------------------------------------------------------------


def test_update_replaces_the_data_and_the_vector(server: Server, tenant: Tenant) -> None:
    api = tenant.production
    create(api, "vendors")
    first, second = add(api, "vendors", ["Acme Corporation", {"name": "Globex"}])["collectionItemIDs"]
    before = stored_item(server, first)
    response = api.put(
        "/v2/collections/items",
        json={"collectionName": "vendors", "items": [{"collectionItemID": first, "data": {"name": "Initech Ltd"}}]},
    )
    assert response.status_code == 202, response.text
    assert response.json()["message"] == "Collection items are being updated asynchronously"
    event = wait_for_event(api, response.json()["eventID"])
    assert (event["operation"], event["status"], event["processedCount"]) == ("update", "success", 1)
    assert event["collectionItemIDs"] == [first] and not set(event) & FUNCTION_OR_CALL_FIELDS

    listed = {i["collectionItemID"]: i for i in items_of(api, "vendors")["items"]}
    assert listed[first]["data"] == {"name": "Initech Ltd"} and listed[second]["data"] == {"name": "Globex"}
    assert listed[first]["updatedAt"] > listed[first]["createdAt"]
    after = stored_item(server, first)
    assert after.embedding != before.embedding and after.text == "Initech Ltd"
    expected = BuiltinEmbedder().vector("Initech Ltd")
    assert np.allclose(from_bytes(after.embedding), expected)
    assert [d for d, _ in run_search(server, tenant, "vendors", "initech", mode="exact")] == [{"name": "Initech Ltd"}]
    assert run_search(server, tenant, "vendors", "acme", mode="exact") == []


def test_update_names_the_first_wrong_item_up_front(api: httpx.Client, tenant: Tenant) -> None:
    create(api, "vendors")
    create(api, "others")
    [known] = add(api, "vendors", ["Acme"])["collectionItemIDs"]
    [elsewhere] = add(api, "others", ["Globex"])["collectionItemIDs"]

    def put(items: list[dict[str, Any]], name: str = "vendors", client: httpx.Client = api) -> httpx.Response:
        return client.put("/v2/collections/items", json={"collectionName": name, "items": items})

    ok = {"collectionItemID": known, "data": "Acme 2"}
    assert_error(put([ok, {"collectionItemID": "clitm_nope", "data": "x"}]), 400, "items[1].collectionItemID")
    assert_error(put([ok, {"collectionItemID": elsewhere, "data": "x"}]), 400, "items[1].collectionItemID")
    assert_error(put([ok, ok]), 400, "items[1].collectionItemID")
    assert_error(put([{"collectionItemID": known}]), 400, "items[0].data")
    assert_error(put([{"data": "x"}]), 400, "items[0].collectionItemID")
    assert_error(put([]), 400, "items")
    assert_error(put([ok] * 101), 400, "items")
    assert_error(put([ok], name="missing"), 404)
    assert_error(put([ok], client=tenant.sandbox), 404)
    assert [i["data"] for i in items_of(api, "vendors")["items"]] == ["Acme"]


def test_delete_item(server: Server, api: httpx.Client) -> None:
    create(api, "vendors")
    keep, gone = add(api, "vendors", ["Acme", "Globex"])["collectionItemIDs"]
    assert indexed(server, [keep, gone]) == 2
    params = {"collectionName": "vendors", "collectionItemID": gone}
    response = api.delete("/v2/collections/items", params=params)
    assert response.status_code == 204 and response.content == b""
    assert [i["collectionItemID"] for i in items_of(api, "vendors")["items"]] == [keep]
    assert indexed(server, [keep]) == 1 and indexed(server, [gone]) == (0 if server.backend == "sqlite" else 1)
    assert_error(api.delete("/v2/collections/items", params=params), 404)
    assert_error(api.delete("/v2/collections/items", params={**params, "collectionName": "missing"}), 404)
    assert_error(api.delete("/v2/collections/items", params={"collectionName": "vendors"}), 400, "collectionItemID")
    assert_error(api.delete("/v2/collections/items", params={"collectionItemID": keep}), 400, "collectionName")


def test_an_item_is_deleted_only_through_its_own_collection(server: Server, tenant: Tenant) -> None:
    api = tenant.production
    create(api, "a")
    create(api, "b")
    [item] = add(api, "a", ["only in a"])["collectionItemIDs"]
    assert_error(api.delete("/v2/collections/items", params={"collectionName": "b", "collectionItemID": item}), 404)
    assert items_of(api, "a")["itemCount"] == 1
    assert [d for d, _ in run_search(server, tenant, "a", "only", mode="exact")] == ["only in a"]


# --- deleting collections ---------------------------------------------------------------------------


def test_delete_collection_removes_its_items_but_not_its_subcollections(server: Server, tenant: Tenant) -> None:
    api = tenant.production
    old = create(api, "catalog")
    create(api, "catalog.tools")
    deleted = add(api, "catalog", ["hammer", "wrench"])["collectionItemIDs"]
    add(api, "catalog.tools", ["saw"])
    response = api.delete("/v2/collections", params={"collectionName": "catalog"})
    assert response.status_code == 204 and response.content == b""
    assert names_listed(api) == ["catalog.tools"]
    assert_error(api.get("/v2/collections/items", params={"collectionName": "catalog"}), 404)
    assert [i["data"] for i in items_of(api, "catalog.tools")["items"]] == ["saw"]
    with pytest.raises(CollectionNotFound):
        run_search(server, tenant, "catalog", "hammer", mode="exact")
    with server.db.read() as session:
        remaining = session.scalar(
            sa.select(sa.func.count())
            .select_from(CollectionItem)
            .where(CollectionItem.collection_id == old["collectionID"])
        )
    assert remaining == 0
    if server.backend == "sqlite":
        assert indexed(server, deleted) == 0
    # the name is free again: a new, empty collection
    again = create(api, "catalog")
    assert again["collectionID"] != old["collectionID"] and items_of(api, "catalog")["itemCount"] == 0
    assert run_search(server, tenant, "catalog", "hammer", mode="exact") == []


def test_delete_unknown_or_malformed_collection(api: httpx.Client) -> None:
    assert_error(api.delete("/v2/collections", params={"collectionName": "missing"}), 404)
    assert_error(api.delete("/v2/collections", params={"collectionName": "bad-name"}), 400, "collectionName")
    assert_error(api.delete("/v2/collections"), 400, "collectionName")


# --- the durable ingest -----------------------------------------------------------------------------


def _store_request(server: Server, tenant: Tenant, name: str, operation: str, items: list[dict[str, Any]]) -> str:
    """An accepted request as a crashed process leaves it: stored, never enqueued."""
    env = environment_id(server, tenant)
    listed = items_of(tenant.production, name)
    request_id = new_id("evt")
    with server.db.write() as session:
        session.add(
            CollectionRequest(
                id=request_id,
                environment_id=env,
                collection_id=listed["collectionID"],
                collection_name=name,
                operation=operation,
                items=items,
                created_at=utcnow(),
            )
        )
    return request_id


def test_a_request_never_enqueued_is_processed_by_the_sweeper(server: Server, tenant: Tenant) -> None:
    api = tenant.production
    create(api, "recovered")
    item_id = new_id("clitm")
    request_id = _store_request(server, tenant, "recovered", "add", [{"collectionItemID": item_id, "data": "late"}])
    assert_error(api.get(f"/v1-alpha/events/{request_id}"), 404)  # pending: no event yet
    server.engine.sweep(timedelta(0))
    event = wait_for_event(api, request_id)
    assert (event["status"], event["collectionItemIDs"]) == ("success", [item_id])
    assert [i["collectionItemID"] for i in items_of(api, "recovered")["items"]] == [item_id]
    with server.db.read() as session:
        assert session.get(CollectionRequest, request_id) is None
    # processing again (a re-run after a crash) changes nothing
    assert server.engine.job(COLLECTION_JOB).process_request(request_id) == "done"
    assert items_of(api, "recovered")["itemCount"] == 1


def test_items_of_a_collection_deleted_before_processing_fail_with_a_message(server: Server, tenant: Tenant) -> None:
    api = tenant.production
    create(api, "doomed")
    request_id = _store_request(server, tenant, "doomed", "add", [{"collectionItemID": new_id("clitm"), "data": "x"}])
    assert api.delete("/v2/collections", params={"collectionName": "doomed"}).status_code == 204
    create(api, "doomed")  # a new collection of the same name does not receive them
    server.engine.enqueue(COLLECTION_JOB, [request_id])
    event = wait_for_event(api, request_id)
    assert (event["status"], event["processedCount"], event["collectionItemIDs"]) == ("failed", 0, [])
    assert "doomed" in event["errorMessage"] and "deleted" in event["errorMessage"]
    assert items_of(api, "doomed")["itemCount"] == 0


def test_the_last_update_submitted_wins_whatever_order_they_run_in(server: Server, tenant: Tenant) -> None:
    api = tenant.production
    create(api, "race")
    [item] = add(api, "race", ["original"])["collectionItemIDs"]
    older = _store_request(server, tenant, "race", "update", [{"collectionItemID": item, "data": "older"}])
    newer = _store_request(server, tenant, "race", "update", [{"collectionItemID": item, "data": "newer"}])
    assert older < newer
    assert server.engine.job(COLLECTION_JOB).process_request(newer) == "success"
    assert server.engine.job(COLLECTION_JOB).process_request(older) == "success"
    assert [i["data"] for i in items_of(api, "race")["items"]] == ["newer"]
    assert wait_for_event(api, older)["collectionItemIDs"] == [item]  # processed, superseded


def test_an_update_of_an_item_deleted_meanwhile_skips_it(server: Server, tenant: Tenant) -> None:
    api = tenant.production
    create(api, "shrinking")
    kept, deleted = add(api, "shrinking", ["kept", "deleted"])["collectionItemIDs"]
    request_id = _store_request(
        server,
        tenant,
        "shrinking",
        "update",
        [{"collectionItemID": kept, "data": "kept 2"}, {"collectionItemID": deleted, "data": "deleted 2"}],
    )
    api.delete("/v2/collections/items", params={"collectionName": "shrinking", "collectionItemID": deleted})
    assert server.engine.job(COLLECTION_JOB).process_request(request_id) == "success"
    event = wait_for_event(api, request_id)
    assert (event["processedCount"], event["collectionItemIDs"]) == (1, [kept])
    assert [i["data"] for i in items_of(api, "shrinking")["items"]] == ["kept 2"]


def test_an_embedder_failure_fails_the_request_with_its_message(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Down:
        name = "down"

        def embed(self, texts: Any) -> Any:
            raise ProviderError("the embeddings endpoint did not answer after 5 attempts: HTTP 503")

    monkeypatch.setattr(jobs, "embedder_from_settings", lambda settings: Down())
    create(api, "unlucky")
    response = api.post("/v2/collections/items", json={"collectionName": "unlucky", "items": [{"data": "x"}]})
    event = wait_for_event(api, response.json()["eventID"])
    assert (event["status"], event["processedCount"]) == ("failed", 0)
    assert "HTTP 503" in event["errorMessage"]
    assert items_of(api, "unlucky")["itemCount"] == 0


def test_items_of_another_embedder_are_re_embedded(server: Server, tenant: Tenant) -> None:
    api = tenant.production
    create(api, "legacy")
    [item] = add(api, "legacy", ["Stainless steel bolt"])["collectionItemIDs"]
    current = stored_item(server, item)
    with server.db.write() as session:
        session.execute(
            sa.update(CollectionItem)
            .where(CollectionItem.id == item)
            .values(embedder="old-model", embedding=np.zeros(3, dtype="<f4").tobytes())
        )
    # a search meanwhile re-embeds in memory: never compares the old vector with the query's
    [(data, distance)] = run_search(server, tenant, "legacy", "stainless steel bolt")
    assert data == "Stainless steel bolt" and distance < 0.01
    assert jobs.reembed_stale(server.settings, server.db, 5) >= 1
    refreshed = stored_item(server, item)
    assert refreshed.embedder == current.embedder and refreshed.embedding == current.embedding


# --- search -------------------------------------------------------------------------------------------

PARTS = [
    "Stainless steel hex bolt M8 x 40 mm, DIN 933",
    "Copper pipe 15 mm, 5 m length",
    "Nitrile gloves, size L, box of 100",
    "Invoice INV-2024-0042 from Acme",
    {"sku": "PP-INK-BLK", "description": "Printer ink cartridge, black", "price": 24.5},
]


@pytest.fixture
def parts(tenant: Tenant) -> str:
    create(tenant.production, "parts")
    add(tenant.production, "parts", PARTS)
    return "parts"


def test_semantic_ranks_a_near_duplicate_first(server: Server, tenant: Tenant, parts: str) -> None:
    results = run_search(server, tenant, parts, "stainless steel hex bolts M8x40", top_k=3)
    assert results[0][0] == PARTS[0]
    assert 0 <= results[0][1] <= 0.6
    assert all(distance <= 0.6 for _, distance in results)
    distances = [d for _, d in run_search(server, tenant, parts, "steel bolt", top_k=5, score_threshold=2.0)]
    assert distances == sorted(distances) and len(distances) == 5


def test_the_threshold_filters_and_top_k_limits(server: Server, tenant: Tenant, parts: str) -> None:
    assert run_search(server, tenant, parts, "blue whale migration") == []
    everything = run_search(server, tenant, parts, "blue whale migration", top_k=10, score_threshold=2.0)
    assert len(everything) == len(PARTS)
    assert len(run_search(server, tenant, parts, "blue whale migration", top_k=2, score_threshold=2.0)) == 2
    [(_, best)] = run_search(server, tenant, parts, "copper pipe 15 mm")
    assert run_search(server, tenant, parts, "copper pipe 15 mm", score_threshold=best / 2) == []


def test_exact_finds_items_containing_every_word(server: Server, tenant: Tenant, parts: str) -> None:
    [(data, distance)] = run_search(server, tenant, parts, "inv-2024-0042", mode="exact", top_k=5)
    assert data == PARTS[3] and 0 <= distance <= 2
    assert [d for d, _ in run_search(server, tenant, parts, "ACME invoice", mode="exact")] == [PARTS[3]]
    assert [d for d, _ in run_search(server, tenant, parts, "pp ink blk", mode="exact")] == [PARTS[4]]
    assert run_search(server, tenant, parts, "24.5 black", mode="exact")[0][0] == PARTS[4]  # numbers are text
    assert run_search(server, tenant, parts, "acme bolt", mode="exact", top_k=5) == []  # every word must match
    assert run_search(server, tenant, parts, "invoices", mode="exact") == []  # no stemming
    assert len(run_search(server, tenant, parts, "mm", mode="exact", top_k=5)) == 2
    assert run_search(server, tenant, parts, "!!!", mode="exact") == []


def test_exact_ignores_case_and_diacritics_and_the_threshold(server: Server, tenant: Tenant) -> None:
    create(tenant.production, "cafes")
    add(tenant.production, "cafes", ["Café Müller, Düsseldorf", "Cafe Central, Wien"])
    found = run_search(server, tenant, "cafes", "CAFE MULLER", mode="exact", score_threshold=0.0, top_k=5)
    assert [d for d, _ in found] == ["Café Müller, Düsseldorf"]
    assert len(run_search(server, tenant, "cafes", "café", mode="exact", top_k=5)) == 2


def test_exact_ranks_denser_matches_first(server: Server, tenant: Tenant) -> None:
    create(tenant.production, "notes")
    long_text = "quartz " + " ".join(f"filler{i}" for i in range(60))
    add(tenant.production, "notes", [long_text, "quartz quartz granite"])
    assert [d for d, _ in run_search(server, tenant, "notes", "quartz", mode="exact", top_k=2)] == [
        "quartz quartz granite",
        long_text,
    ]


def test_hybrid_is_mostly_keywords(server: Server, tenant: Tenant) -> None:
    create(tenant.production, "customers")
    customers = ["Acme GmbH customer number 10442", "Acme GmbH customer number 10443", "Globex Corporation"]
    add(tenant.production, "customers", customers)
    # the number decides, though both Acme entries are nearly the same text
    results = run_search(server, tenant, "customers", "customer 10443", mode="hybrid", top_k=3)
    assert results[0][0] == customers[1]
    assert customers[2] not in [d for d, _ in results]  # no word in common: below the threshold
    # a match by spelling alone is semantic enough, but 0.2 x semantic cannot reach the default threshold
    assert [d for d, _ in run_search(server, tenant, "customers", "GlobexCorporation")] == [customers[2]]
    assert run_search(server, tenant, "customers", "GlobexCorporation", mode="hybrid") == []
    assert run_search(server, tenant, "customers", "zebra", mode="hybrid") == []
    # every result carries its real cosine distance
    [(_, semantic_distance)] = run_search(server, tenant, "customers", "customer 10443")
    assert results[0][1] == semantic_distance


def test_search_scopes(server: Server, tenant: Tenant) -> None:
    api = tenant.production
    create(api, "catalog")
    create(api, "catalog.tools")
    create(api, "catalog_other")
    add(api, "catalog", ["hammer"])
    add(api, "catalog.tools", ["cordless drill"])
    add(api, "catalog_other", ["cordless drill"])
    assert run_search(server, tenant, "catalog", "cordless drill", mode="exact") == []
    found = run_search(server, tenant, "catalog", "cordless drill", mode="exact", include_subcollections=True, top_k=5)
    assert [d for d, _ in found] == ["cordless drill"]
    semantic = run_search(server, tenant, "catalog", "cordless drill", include_subcollections=True, top_k=5)
    assert [d for d, _ in semantic] == ["cordless drill"]
    create(tenant.sandbox, "sandbox_only")
    for name in ["missing", "sandbox_only"]:
        with pytest.raises(CollectionNotFound, match=name):
            run_search(server, tenant, name, "drill")
    # a subcollection search still needs the named collection itself
    with pytest.raises(CollectionNotFound):
        run_search(server, tenant, "catalog.tools.none", "drill", include_subcollections=True)


def test_search_refuses_too_many_vectors_of_another_embedder(
    server: Server, tenant: Tenant, parts: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = BuiltinEmbedder(dimensions=256)
    results = run_search(server, tenant, parts, "copper pipe", embedder=other)
    assert results[0][0] == PARTS[1]  # re-embedded in memory with the given embedder
    monkeypatch.setattr(search_module, "MAX_REEMBED_PER_SEARCH", len(PARTS) - 1)
    with pytest.raises(EmbedderMismatch, match=other.name):
        run_search(server, tenant, parts, "copper pipe", embedder=other)
    assert run_search(server, tenant, parts, "copper pipe")[0][0] == PARTS[1]  # the stored ones still serve


def test_search_rejects_unknown_modes(server: Server, tenant: Tenant, parts: str) -> None:
    with pytest.raises(ValueError):
        run_search(server, tenant, parts, "x", mode="fuzzy")
    with pytest.raises(ValueError):
        run_search(server, tenant, parts, "x", top_k=0)


# --- embedders ----------------------------------------------------------------------------------------


def test_builtin_vectors_are_unit_length_and_similar_texts_are_closer() -> None:
    embedder = BuiltinEmbedder()
    texts = [
        "Acme Corporation, 12 Main Street, Springfield",
        "ACME Corp., 12 Main St, Springfield",
        "Stainless steel hex bolt M8",
        "stainless steel hex bolts m8",
        "",
    ]
    v = embedder.embed(texts)
    assert v.shape == (5, 512) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v[:4], axis=1), 1.0, atol=1e-5)
    assert not v[4].any()  # no words, no direction
    assert v[0] @ v[1] > v[0] @ v[2] and v[0] @ v[1] > v[0] @ v[3]
    assert v[2] @ v[3] > v[2] @ v[0] and v[2] @ v[3] > 0.6
    assert embedder.embed(["Hex bolt"])[0] @ embedder.embed(["hex bolt"])[0] == pytest.approx(1.0)


def test_builtin_vectors_are_the_same_in_every_process() -> None:
    text = "Deterministic: Ünïcode, numbers 10442 and words"
    here = BuiltinEmbedder().vector(text).astype("<f4").tobytes().hex()
    script = (
        "from quarry.providers.embeddings import BuiltinEmbedder; "
        f"print(BuiltinEmbedder().vector({text!r}).astype('<f4').tobytes().hex())"
    )
    for seed in ("1", "2"):
        there = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": seed}
        ).stdout.strip()
        assert there == here
    assert BuiltinEmbedder(dimensions=256).name != BuiltinEmbedder().name


def test_terms() -> None:
    assert terms("Café-Müller, INV_2024/0042 Straße ﬁne") == [
        "cafe",
        "muller",
        "inv",
        "2024",
        "0042",
        "strasse",
        "fine",
    ]
    assert terms("x" * 150) == ["x" * 100]


class FakeEmbeddings(LocalEndpoint):
    """A local HTTP server answering OpenAI's ``POST /embeddings`` from a script."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.replies: list[tuple[int, Any]] = []
        super().__init__("/v1")

    def answer(self, request: Received) -> Reply:
        self.requests.append({"path": request.path, "auth": request.headers.get("authorization"), "body": request.body})
        status, reply = self.replies.pop(0) if self.replies else (418, {"error": {"message": "unscripted"}})
        return Reply(status, reply)


@pytest.fixture
def fake_embeddings() -> Iterator[FakeEmbeddings]:
    fake = FakeEmbeddings()
    yield fake
    fake.close()


def test_openai_embedder_on_the_wire(fake_embeddings: FakeEmbeddings) -> None:
    settings = Settings.from_env(
        {
            "QUARRY_EMBEDDINGS_BASE_URL": fake_embeddings.url + "/",
            "QUARRY_EMBEDDINGS_MODEL": "embed-small",
            "QUARRY_EMBEDDINGS_API_KEY": "sk-embed",
        }
    )
    embedder = embedder_from_settings(settings)
    assert isinstance(embedder, OpenAIEmbedder)
    assert embedder.name == f"openai:embed-small@{fake_embeddings.url}"
    # answered out of order and unnormalised
    fake_embeddings.replies = [
        (200, {"data": [{"index": 1, "embedding": [0.0, 2.0]}, {"index": 0, "embedding": [3.0, 4.0]}]})
    ]
    vectors = embedder.embed(["first", "second"])
    assert np.allclose(vectors, [[0.6, 0.8], [0.0, 1.0]])
    [request] = fake_embeddings.requests
    assert request["path"] == "/v1/embeddings" and request["auth"] == "Bearer sk-embed"
    assert request["body"] == {"model": "embed-small", "input": ["first", "second"]}


def test_openai_embedder_retries_and_names_failures(fake_embeddings: FakeEmbeddings) -> None:
    sleeps: list[float] = []
    embedder = OpenAIEmbedder(base_url=fake_embeddings.url, model="m", max_attempts=3, sleep=sleeps.append)
    fake_embeddings.replies = [(503, {"error": {"message": "busy"}}), (200, {"data": [{"index": 0, "embedding": [1]}]})]
    assert embedder.embed(["x"]).tolist() == [[1.0]] and sleeps == [1.0]
    fake_embeddings.replies = [(400, {"error": {"message": "input too long"}})]
    with pytest.raises(ProviderError, match="input too long"):
        embedder.embed(["x"])
    fake_embeddings.replies = [(200, {"data": [{"index": 0, "embedding": [1]}]})]
    with pytest.raises(ProviderError, match="1 vectors"):
        embedder.embed(["x", "y"])
    fake_embeddings.replies = [(200, {"object": "list"})]
    with pytest.raises(ProviderError, match="no embeddings"):
        embedder.embed(["x"])


def test_embedder_settings() -> None:
    assert embedder_from_settings(Settings.from_env({})).name == BuiltinEmbedder().name
    with pytest.raises(ProviderError, match="QUARRY_EMBEDDINGS_MODEL"):
        embedder_from_settings(Settings.from_env({"QUARRY_EMBEDDINGS_BASE_URL": "http://x/v1"}))
    fallback = embedder_from_settings(
        Settings.from_env(
            {"QUARRY_EMBEDDINGS_BASE_URL": "http://x/v1", "QUARRY_EMBEDDINGS_MODEL": "m", "QUARRY_LLM_API_KEY": "k"}
        )
    )
    assert isinstance(fallback, OpenAIEmbedder) and fallback.api_key == "k"
