"""Events (reference §3.8, §4.19, §2.4): every event type in its documented polymorphic shape,
every documented filter (``eventIDs``, ``callIDs``, ``eventTypes``, ``functionIDs``,
``functionNames``, ``referenceIDs``, ``referenceIDSubstring``, ``isLabelled``), cursor pagination
and ``totalCount``.

One environment per backend is filled once with an event of every type: a transform (then
corrected), a route, print_page and semantic_page splits (their collections and items), a join,
a payload_shaping, an enrich, a collection add, and an error. Expectations come from what the
tests sent; everything goes through HTTP against a real server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.calls_client import POLL_SECONDS, batch, invoice, parse_time, single, submit, wait_for, without_urls
from tests.conftest import Server, make_tenant
from tests.helpers import assert_error, create_function, transform

ENVELOPE = {"eventID", "eventType", "referenceID", "createdAt"}
FUNCTION_FIELDS = {
    "functionID",
    "functionName",
    "functionVersionNum",
    "functionCallID",
    "functionCallTryNumber",
    "callID",
}
WORKFLOW_FIELDS = {"workflowID", "workflowName", "workflowVersionNum"}
LABEL_FIELDS = {"correctedContent", "metrics", "orderMatching"}
PUBLICATION = {"publishedAt", "lastPublishErrorAt"}

# per event type: (required fields, optional fields) beyond the envelope (reference §3.8)
VARIANTS: dict[str, tuple[set[str], set[str]]] = {
    "transform": (
        {"transformationID", "transformedContent", "invalidProperties", "itemOffset", "itemCount"} | PUBLICATION,
        {"inputType", "s3URL", "avgConfidence", "fieldConfidences", "needsReview", "fieldsNeedingReview"}
        | LABEL_FIELDS,
    ),
    "route": ({"choice"}, {"s3URL"}),
    "split_collection": ({"outputType"}, {"printPageOutput", "semanticPageOutput"}),
    "split_item": ({"outputType"}, {"printPageOutput", "semanticPageOutput"}),
    "join": (
        {"joinType", "items", "transformedContent", "invalidProperties", "transformationID"} | PUBLICATION,
        {"avgConfidence", "fieldConfidences", "needsReview", "fieldsNeedingReview"} | LABEL_FIELDS,
    ),
    "enrich": ({"enrichedContent"}, set()),
    "payload_shaping": ({"transformedContent"}, set()),
    "collection_processing": (
        {"collectionID", "collectionName", "operation", "processedCount", "status", "collectionItemIDs"},
        {"errorMessage"},
    ),
    "error": ({"message"}, set()),
}
SPLIT_COLLECTION_ITEM = {
    "print_page": {"itemOffset", "itemReferenceID", "s3URL"},
    "semantic_page": {
        "itemClass", "itemClassCount", "itemClassOffset", "itemOffset", "itemReferenceID", "pageStart", "pageEnd",
        "s3URL",
    },
}  # fmt: skip
SPLIT_ITEM = {
    "print_page": {"collectionReferenceID", "itemCount", "itemOffset", "s3URL"},
    "semantic_page": {
        "collectionReferenceID", "itemClass", "itemClassCount", "itemClassOffset", "itemCount", "itemOffset",
        "pageCount", "pageStart", "pageEnd", "s3URL",
    },
}  # fmt: skip
OUTPUT_FIELD = {"print_page": "printPageOutput", "semantic_page": "semanticPageOutput"}


def check_event(event: dict[str, Any]) -> None:
    """The event has its type's fields (reference §3.8), nothing else."""
    required, optional = VARIANTS[event["eventType"]]
    function_fields = set() if event["eventType"] == "collection_processing" else FUNCTION_FIELDS
    keys = set(event)
    assert ENVELOPE | function_fields | required <= keys, (event["eventType"], ENVELOPE | required - keys)
    assert keys <= ENVELOPE | function_fields | WORKFLOW_FIELDS | required | optional, (
        event["eventType"],
        keys - (ENVELOPE | function_fields | WORKFLOW_FIELDS | required | optional),
    )
    assert event["eventID"].startswith("evt_")
    assert isinstance(event["referenceID"], str)
    parse_time(event["createdAt"])
    if event["eventType"] in ("split_collection", "split_item"):
        output = OUTPUT_FIELD[event["outputType"]]
        assert set(event) & {"printPageOutput", "semanticPageOutput"} == {output}
    if {"correctedContent", "metrics"} & keys:
        assert LABEL_FIELDS <= keys
        assert set(event["metrics"]) == {"metrics", "differences"}
        assert set(event["metrics"]["metrics"]) == {"accuracy", "precision", "recall", "f1Score"}


def list_events(api: httpx.Client, params: Any = None) -> dict[str, Any]:
    response = api.get("/v1-alpha/events", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"events", "totalCount"}
    for event in body["events"]:
        check_event(event)
    return body


def event_ids(api: httpx.Client, params: Any = None) -> list[str]:
    return [e["eventID"] for e in list_events(api, params)["events"]]


def pdf(*pages: list[str]) -> bytes:
    from fpdf import FPDF

    document = FPDF()
    document.set_font("Helvetica", size=12)
    for lines in pages:
        document.add_page()
        for line in lines:
            document.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(document.output())


def wait_for_event(api: httpx.Client, event_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + POLL_SECONDS
    while True:
        response = api.get(f"/v1-alpha/events/{event_id}")
        if response.status_code == 200:
            return response.json()
        assert response.status_code == 404, response.text
        if time.monotonic() > deadline:
            pytest.fail(f"event {event_id} did not appear in {POLL_SECONDS} s")
        time.sleep(0.1)


# --- one environment with every event type, once per backend ------------------------------------


@dataclass
class Events:
    api: httpx.Client
    all: list[dict[str, Any]]  # in list order
    calls: dict[str, str]  # reference -> callID
    functions: dict[str, str]  # name -> ID
    labelled: str  # the corrected transform event's ID

    @property
    def order(self) -> list[str]:
        return [e["eventID"] for e in self.all]

    def where(self, predicate: Any) -> list[str]:
        return [e["eventID"] for e in self.all if predicate(e)]


@pytest.fixture(scope="module")
def events(server: Server) -> Iterator[Events]:
    tenant = make_tenant(server)
    api = tenant.production
    functions = {}

    def function(body: dict[str, Any]) -> None:
        functions[body["functionName"]] = create_function(api, body)["functionID"]

    assert api.post("/v2/collections", json={"collectionName": "vendors"}).status_code == 200
    added = api.post(
        "/v2/collections/items",
        json={"collectionName": "vendors", "items": [{"data": {"vendorID": "V-1", "name": "Contoso Pharmaceuticals"}}]},
    )
    assert added.status_code == 202, added.text
    wait_for_event(api, added.json()["eventID"])

    function(transform("extract"))
    invoices = {"name": "invoices", "regex": {"patterns": ["Invoice Number"]}}
    function({"functionName": "sorter", "type": "route", "description": "Sort", "routes": [invoices]})
    function({"functionName": "pages", "type": "split", "splitType": "print_page", "printPageSplitConfig": {}})
    classes = [
        {"name": "invoice", "description": "An invoice: invoice number, bill to, amount due"},
        {"name": "receipt", "description": "A shop receipt: cashier, change, thank you for shopping"},
    ]
    semantic = {"itemClasses": classes}
    function(
        {"functionName": "classes", "type": "split", "splitType": "semantic_page", "semanticPageSplitConfig": semantic}
    )
    joined_schema = {"type": "object", "properties": {"invoiceNumber": {"type": "string"}}}
    function(
        {
            "functionName": "combine",
            "type": "join",
            "description": "Combine",
            "joinType": "standard",
            "outputSchemaName": "Invoice",
            "outputSchema": joined_schema,
        }
    )
    function({"functionName": "shape", "type": "payload_shaping", "shapingSchema": "{id: invoiceNumber}"})
    step = {"collectionName": "vendors", "sourceField": "vendorName", "targetField": "vendor", "searchMode": "exact"}
    function({"functionName": "lookup", "type": "enrich", "config": {"steps": [step]}})

    def as_json(value: Any) -> dict[str, Any]:
        return single(json.dumps(value).encode(), "json")

    receipt = ["RECEIPT", "Cashier: Ann", "Change: 0.50", "Thank you for shopping"]
    sorted_pages = pdf(["INVOICE", "Invoice Number: INV-1", "Amount due: 1.00"], receipt)
    requests = {
        "Order-EU-001": {"functionName": "extract", "input": single(invoice("E-1"))},
        "order-eu-002": {"functionName": "sorter", "input": single(invoice("E-2"))},
        "pages-1": {"functionName": "pages", "input": single(pdf(["Page one"], ["Page two"]), "pdf")},
        "sorted-1": {"functionName": "classes", "input": single(sorted_pages, "pdf")},
        "joined-1": {"functionName": "combine", "input": batch((invoice("J-1"), "a"), (b"Total Amount: 5.00", "b"))},
        "promo_50%off": {"functionName": "shape", "input": as_json({"invoiceNumber": "S-1"})},
        "enrich-1": {"functionName": "lookup", "input": as_json({"vendorName": "Contoso Pharmaceuticals"})},
        "broken-1": {"functionName": "extract", "input": single(b"%PDF-1.4 broken", "pdf")},
    }
    created = submit(api, *({**body, "callReferenceID": ref} for ref, body in requests.items()))
    calls = {}
    for ref, call in zip(requests, created, strict=True):
        done = wait_for(api, call["callID"])
        assert done["status"] == ("failed" if ref == "broken-1" else "completed"), done
        calls[ref] = call["callID"]

    listed = list_events(api, {"limit": 100})
    [transform_event] = [e for e in listed["events"] if e["eventType"] == "transform"]
    correction = {"transformationID": transform_event["transformationID"], "correctedJSON": {"invoiceNumber": "E-1"}}
    assert api.put("/v1-beta/transformations", json={"transformations": [correction]}).status_code == 200
    everything = list_events(api, {"limit": 100})["events"]
    assert [e["eventID"] for e in everything] == [e["eventID"] for e in listed["events"]]
    assert sorted(everything, key=lambda e: (e["createdAt"], e["eventID"])) == everything
    yield Events(api, everything, calls, functions, transform_event["eventID"])
    tenant.production.close()
    tenant.sandbox.close()


# --- shapes ---------------------------------------------------------------------------------


def test_every_event_type_is_present(events: Events) -> None:
    counts: dict[str, int] = {}
    for event in events.all:
        counts[event["eventType"]] = counts.get(event["eventType"], 0) + 1
    assert counts == {
        "collection_processing": 1,
        "transform": 1,
        "route": 1,
        "split_collection": 2,  # print_page and semantic_page
        "split_item": 4,  # two pages each
        "join": 1,
        "payload_shaping": 1,
        "enrich": 1,
        "error": 1,
    }


def by_reference(events: Events, reference: str, event_type: str) -> list[dict[str, Any]]:
    return [e for e in events.all if e["referenceID"] == reference and e["eventType"] == event_type]


def test_function_events_carry_their_call_and_function(events: Events) -> None:
    for event in events.all:
        if event["eventType"] == "collection_processing":
            assert event["referenceID"] == "" and event["collectionName"] == "vendors"
            assert event["operation"] == "add" and event["status"] == "success" and event["processedCount"] == 1
            continue
        assert event["callID"] == events.calls[event["referenceID"]]
        assert event["functionID"] == events.functions[event["functionName"]]
        assert event["functionVersionNum"] == 1 and event["functionCallTryNumber"] == 1
        assert event["functionCallID"].startswith("fc_")


def test_transform_and_join_shapes(events: Events) -> None:
    [transformed] = by_reference(events, "Order-EU-001", "transform")
    assert transformed["transformedContent"] == {"invoiceNumber": "E-1", "totalAmount": 10.0}
    assert transformed["transformationID"].startswith("tr_")
    assert (transformed["itemOffset"], transformed["itemCount"], transformed["inputType"]) == (0, 1, "text")
    assert transformed["publishedAt"] is None and transformed["lastPublishErrorAt"] is None  # never sent
    assert transformed["correctedContent"] == {"invoiceNumber": "E-1"}
    assert transformed["orderMatching"] is False
    assert transformed["metrics"]["differences"] == [
        {"category": "extra", "jsonPointer": "/totalAmount", "extractedVal": 10.0, "correctedVal": None}
    ]
    # TP 1 (/invoiceNumber), FP 1 (/totalAmount), FN 0, 2 pointers
    assert transformed["metrics"]["metrics"] == pytest.approx(
        {"accuracy": 0.5, "precision": 0.5, "recall": 1.0, "f1Score": 2 / 3}
    )
    [joined] = by_reference(events, "joined-1", "join")
    assert joined["joinType"] == "standard"
    assert joined["transformedContent"] == {"invoiceNumber": "J-1"}
    assert [(i["itemOffset"], i["itemCount"], i["itemReferenceID"]) for i in joined["items"]] == [
        (0, 2, "a"),
        (1, 2, "b"),
    ]
    assert all(i["s3URL"].startswith("http") for i in joined["items"])
    assert joined["publishedAt"] is None and joined["lastPublishErrorAt"] is None
    assert not LABEL_FIELDS & set(joined)  # not corrected


def test_route_enrich_shaping_and_error_shapes(events: Events) -> None:
    [routed] = by_reference(events, "order-eu-002", "route")
    assert routed["choice"] == "invoices" and routed["s3URL"].startswith("http")
    [enriched] = by_reference(events, "enrich-1", "enrich")
    assert enriched["enrichedContent"]["vendorName"] == "Contoso Pharmaceuticals"
    assert [hit["data"]["vendorID"] for hit in enriched["enrichedContent"]["vendor"]] == ["V-1"]
    [shaped] = by_reference(events, "promo_50%off", "payload_shaping")
    assert shaped["transformedContent"] == {"id": "S-1"}
    [error] = by_reference(events, "broken-1", "error")
    assert "PDF" in error["message"]
    for event in (routed, enriched, shaped, error):
        assert not PUBLICATION & set(event)  # only transformations carry the publication state


@pytest.mark.parametrize(("reference", "output_type"), [("pages-1", "print_page"), ("sorted-1", "semantic_page")])
def test_split_shapes(events: Events, reference: str, output_type: str) -> None:
    output = OUTPUT_FIELD[output_type]
    [collection] = by_reference(events, reference, "split_collection")
    assert collection["outputType"] == output_type
    listing = collection[output]
    assert listing["itemCount"] == 2 and len(listing["items"]) == 2
    if output_type == "semantic_page":
        assert listing["pageCount"] == 2
        assert [i["itemClass"] for i in listing["items"]] == ["invoice", "receipt"]
    for item in listing["items"]:
        assert set(item) == SPLIT_COLLECTION_ITEM[output_type]
    items = by_reference(events, reference, "split_item")
    assert len(items) == 2
    for item in items:
        assert item["outputType"] == output_type
        assert set(item[output]) == SPLIT_ITEM[output_type]
        assert item[output]["collectionReferenceID"] == reference
        assert item[output]["itemCount"] == 2
    assert sorted(i[output]["itemOffset"] for i in items) == [0, 1]


def test_get_one_event_is_the_listed_event(events: Events) -> None:
    for listed in events.all:
        response = events.api.get(f"/v1-alpha/events/{listed['eventID']}")
        assert response.status_code == 200, response.text
        check_event(response.json())
        assert without_urls(response.json()) == without_urls(listed)


# --- listing --------------------------------------------------------------------------------


def test_order_limit_and_total(events: Events) -> None:
    total = len(events.all)
    body = list_events(events.api)
    assert body["totalCount"] == total
    assert [e["eventID"] for e in body["events"]] == events.order
    assert event_ids(events.api, {"sortOrder": "desc"}) == events.order[::-1]
    body = list_events(events.api, {"limit": 3})
    assert [e["eventID"] for e in body["events"]] == events.order[:3]
    assert body["totalCount"] == total


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
def test_cursor_pagination(events: Events, sort_order: str) -> None:
    order = events.order if sort_order == "asc" else events.order[::-1]
    seen, cursor = [], None
    while True:
        params = {"limit": 4, "sortOrder": sort_order} | ({"startingAfter": cursor} if cursor else {})
        body = list_events(events.api, params)
        assert body["totalCount"] == len(order)
        if not body["events"]:
            break
        seen += [e["eventID"] for e in body["events"]]
        cursor = body["events"][-1]["eventID"]
    assert seen == order
    assert event_ids(events.api, {"limit": 3, "sortOrder": sort_order, "endingBefore": order[5]}) == order[2:5]
    assert event_ids(events.api, {"sortOrder": sort_order, "endingBefore": order[0]}) == []
    # paging within a filter, from a cursor the filter excludes
    splits = [i for i in order if i in events.where(lambda e: e["eventType"] == "split_item")]
    first_collection = events.where(lambda e: e["eventType"] == "split_collection")
    cursor = first_collection[0] if sort_order == "asc" else first_collection[-1]
    after = order[order.index(cursor) + 1 :]
    expected = [i for i in after if i in splits]
    assert event_ids(events.api, {"sortOrder": sort_order, "eventTypes": "split_item", "startingAfter": cursor}) == (
        expected
    )


def test_each_filter(events: Events) -> None:
    api, calls = events.api, events.calls
    cases: list[tuple[dict[str, str], list[str]]] = [
        ({"eventIDs": f"{events.order[3]},{events.order[1]}"}, [events.order[1], events.order[3]]),
        ({"callIDs": calls["pages-1"]}, events.where(lambda e: e.get("callID") == calls["pages-1"])),
        (
            {"callIDs": f"{calls['joined-1']},{calls['broken-1']}"},
            events.where(lambda e: e.get("referenceID") in ("joined-1", "broken-1")),
        ),
        ({"eventTypes": "split_item"}, events.where(lambda e: e["eventType"] == "split_item")),
        (
            {"eventTypes": "error,collection_processing"},
            events.where(lambda e: e["eventType"] in ("error", "collection_processing")),
        ),
        ({"eventTypes": "evaluation"}, []),
        ({"functionIDs": events.functions["extract"]}, events.where(lambda e: e.get("functionName") == "extract")),
        ({"functionNames": "classes,lookup"}, events.where(lambda e: e.get("functionName") in ("classes", "lookup"))),
        ({"referenceIDs": "sorted-1"}, events.where(lambda e: e["referenceID"] == "sorted-1")),
        ({"referenceIDs": "order-eu-001"}, []),  # exact, case-sensitive
        ({"referenceIDSubstring": "EU-00"}, events.where(lambda e: e["referenceID"].lower().startswith("order-eu"))),
        ({"referenceIDSubstring": "50%"}, events.where(lambda e: e["referenceID"] == "promo_50%off")),
        ({"referenceIDSubstring": "o_5"}, events.where(lambda e: e["referenceID"] == "promo_50%off")),
        ({"referenceIDSubstring": "%"}, events.where(lambda e: "%" in e["referenceID"])),
        ({"isLabelled": "true"}, [events.labelled]),
        ({"isLabelled": "false"}, [i for i in events.order if i != events.labelled]),
    ]
    for params, expected in cases:
        body = list_events(api, params)
        assert [e["eventID"] for e in body["events"]] == expected, params
        assert body["totalCount"] == len(expected), params
    assert len(cases[10][1]) == 2 and len(cases[3][1]) == 4  # the cases select what they mean to


def test_filters_combine_with_and(events: Events) -> None:
    api = events.api
    assert event_ids(api, {"eventTypes": "transform", "isLabelled": "false"}) == []
    assert event_ids(api, {"eventTypes": "transform,error", "functionNames": "extract"}) == events.where(
        lambda e: e["eventType"] in ("transform", "error")
    )
    assert event_ids(api, {"referenceIDs": "pages-1", "eventTypes": "split_collection"}) == events.where(
        lambda e: e["referenceID"] == "pages-1" and e["eventType"] == "split_collection"
    )
    assert event_ids(api, {"referenceIDSubstring": "eu", "functionNames": "sorter"}) == events.where(
        lambda e: e["eventType"] == "route"
    )
    assert event_ids(api, [("eventTypes", "route"), ("eventTypes", "enrich")]) == events.where(
        lambda e: e["eventType"] in ("route", "enrich")
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"eventTypes": "transformation"}, "eventTypes"),
        ({"eventTypes": "transform,Route"}, "eventTypes"),
        ({"eventTypes": ""}, "eventTypes"),
        ({"isLabelled": "maybe"}, "isLabelled"),
        ({"referenceIDSubstring": ""}, "referenceIDSubstring"),
        ({"callIDs": "a,,b"}, "callIDs"),
        ({"limit": "101"}, "limit"),
        ({"sortOrder": "newest"}, "sortOrder"),
        ({"eventType": "transform"}, "eventType"),  # unknown parameter
        ({"startingAfter": "evt_nope"}, "startingAfter"),
        ({"endingBefore": "evt_nope"}, "endingBefore"),
    ],
)
def test_invalid_parameters_are_400(events: Events, params: dict[str, str], field: str) -> None:
    body = assert_error(events.api.get("/v1-alpha/events", params=params), 400)
    assert body["details"]["field"].split("[")[0] == field, body


def test_cursor_must_be_an_event_of_the_caller(server: Server, events: Events) -> None:
    both = {"startingAfter": events.order[0], "endingBefore": events.order[2]}
    assert_error(events.api.get("/v1-alpha/events", params=both), 400)
    [transformed] = [e for e in events.all if e["eventType"] == "transform"]
    transformation_cursor = {"startingAfter": transformed["transformationID"]}  # not an event ID
    assert_error(events.api.get("/v1-alpha/events", params=transformation_cursor), 400)
    stranger = make_tenant(server)
    try:
        assert list_events(stranger.production) == {"events": [], "totalCount": 0}
        assert_error(stranger.production.get("/v1-alpha/events", params={"startingAfter": events.order[0]}), 400)
        assert_error(stranger.production.get(f"/v1-alpha/events/{events.order[0]}"), 404)
        assert list_events(stranger.production, {"eventIDs": events.order[0]})["totalCount"] == 0
    finally:
        stranger.production.close()
        stranger.sandbox.close()
