"""Transformations (reference §3.8, §4.21, §7 "Labelling / corrections"; docs/decisions.md
"Transformations and corrections"): listing with every filter and cursor pagination, corrections
with their metrics (200 / 207 / 400), deletion by filters, and the errors list.

The metrics algorithm is first unit-tested on examples computed by hand (the computation is in
the comments), then checked end to end through ``PUT /v1-beta/transformations``. API tests run
against a real server on SQLite and PostgreSQL; expected values come from what the tests sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from quarry.events.models import Event
from quarry.transformations.metrics import compare
from tests.calls_client import batch, create_workflow, events_of, invoice, parse_time, single, submit, wait_for
from tests.conftest import Server, make_tenant
from tests.helpers import assert_error, create_function, transform

# === the metrics algorithm, on examples computed by hand =======================================


def approx_metrics(accuracy: float, precision: float, recall: float, f1: float) -> Any:
    return pytest.approx({"accuracy": accuracy, "precision": precision, "recall": recall, "f1Score": f1})


def test_metrics_arrays_in_another_order() -> None:
    extracted = {"invoiceNumber": "INV-1", "total": 30, "lines": [{"sku": "B", "qty": 2}, {"sku": "A", "qty": 1}]}
    corrected = {"invoiceNumber": "INV-1", "total": 31, "lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 3}]}

    # orderMatching false: the lines are aligned first. Corrected line 0 {A, 1} is identical to
    # extracted line 1 -> paired; corrected line 1 {B, 3} agrees with extracted line 0 {B, 2} on
    # one leaf (sku) -> paired. Aligned extraction: lines [{A, 1}, {B, 2}].
    # Leaf pointers (6): /invoiceNumber TP, /total 30 vs 31 mismatch, /lines/0/sku TP,
    # /lines/0/qty TP, /lines/1/sku TP, /lines/1/qty 2 vs 3 mismatch.
    # TP 4, FP 2 (the two mismatches), FN 2 (the same two).
    # precision 4/6, recall 4/6, f1 2/3, accuracy 4/6.
    result = compare(extracted, corrected, order_matching=False).as_wire()
    assert result["metrics"] == approx_metrics(2 / 3, 2 / 3, 2 / 3, 2 / 3)
    assert result["differences"] == [
        {"category": "mismatch", "jsonPointer": "/total", "extractedVal": 30, "correctedVal": 31},
        {"category": "mismatch", "jsonPointer": "/lines/1/qty", "extractedVal": 2, "correctedVal": 3},
    ]

    # orderMatching true: lines by index. /lines/0/sku B vs A, /lines/0/qty 2 vs 1, /lines/1/sku
    # A vs B, /lines/1/qty 1 vs 3 are all mismatches, plus /total. Only /invoiceNumber is right.
    # TP 1, FP 5, FN 5, 6 pointers: precision 1/6, recall 1/6, f1 1/6, accuracy 1/6.
    result = compare(extracted, corrected, order_matching=True).as_wire()
    assert result["metrics"] == approx_metrics(1 / 6, 1 / 6, 1 / 6, 1 / 6)
    assert [(d["category"], d["jsonPointer"]) for d in result["differences"]] == [
        ("mismatch", "/total"),
        ("mismatch", "/lines/0/sku"),
        ("mismatch", "/lines/0/qty"),
        ("mismatch", "/lines/1/sku"),
        ("mismatch", "/lines/1/qty"),
    ]


def test_metrics_missing_extra_whitespace_types_and_scalar_arrays() -> None:
    extracted = {
        "vendor": {"name": "ACME  Corp\n"},
        "date": "2024-01-05",
        "tags": ["x", "y", "z"],
        "paid": True,
        "note": None,
        "currency": "EUR",
    }
    corrected = {
        "vendor": {"name": "ACME Corp", "vat": "DE123"},
        "date": "2024-01-05",
        "tags": ["y", "x"],
        "paid": "true",
    }

    # Leaves of the extraction: /vendor/name, /date, /tags/0..2, /paid, /currency (7; the null
    # /note holds no value). Of the correction: /vendor/name, /vendor/vat, /date, /tags/0, /tags/1,
    # /paid (6).
    # orderMatching false: tags aligned -> "y" pairs with extracted 1, "x" with extracted 0; "z"
    # is extra, placed after the corrected items: /tags/2.
    # /vendor/name TP (whitespace collapsed and trimmed), /vendor/vat missing (FN),
    # /date TP, /tags/0 TP, /tags/1 TP, /paid true vs "true" mismatch (FP + FN, types differ),
    # /tags/2 extra (FP), /currency extra (FP).
    # TP 4, FP 3, FN 2, 8 pointers: precision 4/7, recall 4/6 = 2/3,
    # f1 = 2 * 4/7 * 2/3 / (4/7 + 2/3) = (16/21) / (26/21) = 8/13, accuracy 4/8 = 1/2.
    result = compare(extracted, corrected).as_wire()
    assert result["metrics"] == approx_metrics(1 / 2, 4 / 7, 2 / 3, 8 / 13)
    assert result["differences"] == [
        {"category": "missing", "jsonPointer": "/vendor/vat", "extractedVal": None, "correctedVal": "DE123"},
        {"category": "mismatch", "jsonPointer": "/paid", "extractedVal": True, "correctedVal": "true"},
        {"category": "extra", "jsonPointer": "/currency", "extractedVal": "EUR", "correctedVal": None},
        {"category": "extra", "jsonPointer": "/tags/2", "extractedVal": "z", "correctedVal": None},
    ]

    # orderMatching true: /tags/0 x vs y and /tags/1 y vs x become mismatches; /tags/2 is extra.
    # TP 2 (/vendor/name, /date); FP: /tags/0, /tags/1, /tags/2, /paid, /currency = 5;
    # FN: /vendor/vat, /tags/0, /tags/1, /paid = 4; pointers 8.
    # precision 2/7, recall 2/6 = 1/3, f1 = 2 * 2/7 * 1/3 / (2/7 + 1/3) = (4/21) / (13/21) = 4/13,
    # accuracy 2/8 = 1/4.
    result = compare(extracted, corrected, order_matching=True).as_wire()
    assert result["metrics"] == approx_metrics(1 / 4, 2 / 7, 1 / 3, 4 / 13)


def test_metrics_unmatched_items_pair_in_order_and_extras_follow() -> None:
    extracted = {"l": [{"sku": "Z", "qty": 9}, {"sku": "A", "qty": 1}, {"sku": "Q", "qty": 7}]}
    corrected = {"l": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]}
    # Corrected 0 {A, 1} is identical to extracted 1. Corrected 1 {B, 2} agrees on nothing with
    # extracted 0 or 2: the leftovers pair in order (corrected 1 with extracted 0); extracted 2
    # is extra at index 2 (after the 2 corrected items).
    # /l/0/sku TP, /l/0/qty TP, /l/1/sku Z vs B mismatch, /l/1/qty 9 vs 2 mismatch,
    # /l/2/sku extra, /l/2/qty extra. TP 2, FP 4, FN 2, 6 pointers:
    # precision 2/6, recall 2/4, f1 = 2 * 1/3 * 1/2 / (5/6) = 2/5, accuracy 2/6.
    result = compare(extracted, corrected).as_wire()
    assert result["metrics"] == approx_metrics(1 / 3, 1 / 3, 1 / 2, 2 / 5)
    assert [(d["category"], d["jsonPointer"], d["extractedVal"], d["correctedVal"]) for d in result["differences"]] == [
        ("mismatch", "/l/1/sku", "Z", "B"),
        ("mismatch", "/l/1/qty", 9, 2),
        ("extra", "/l/2/qty", 7, None),
        ("extra", "/l/2/sku", "Q", None),
    ]


def test_metrics_greedy_pairing_prefers_the_most_agreeing_item_then_the_nearest() -> None:
    # corrected {a:1, b:2, c:3} agrees on 2 leaves with extracted 1 and on 1 with extracted 0
    corrected = {"rows": [{"a": 1, "b": 2, "c": 3}]}
    extracted = {"rows": [{"a": 1, "b": 9, "c": 9}, {"a": 1, "b": 2, "c": 9}]}
    result = compare(extracted, corrected).as_wire()
    # paired with extracted 1: /rows/0/c 9 vs 3 mismatch; extracted 0 is extra at /rows/1
    assert [(d["category"], d["jsonPointer"]) for d in result["differences"]] == [
        ("mismatch", "/rows/0/c"),
        ("extra", "/rows/1/a"),
        ("extra", "/rows/1/b"),
        ("extra", "/rows/1/c"),
    ]
    # a tie (1 leaf each) goes to the nearer index: extracted 0
    tie = compare({"rows": [{"a": 1, "b": 3}, {"a": 1, "b": 4}]}, {"rows": [{"a": 1, "b": 2}]}).as_wire()
    assert tie["differences"][0] == {
        "category": "mismatch",
        "jsonPointer": "/rows/0/b",
        "extractedVal": 3,
        "correctedVal": 2,
    }


def test_metrics_nested_arrays_are_aligned_at_every_level() -> None:
    extracted = {"orders": [{"id": "o2", "tags": ["b", "a"]}, {"id": "o1", "tags": ["x"]}]}
    corrected = {"orders": [{"id": "o1", "tags": ["x"]}, {"id": "o2", "tags": ["a", "b"]}]}
    assert compare(extracted, corrected).as_wire() == {
        "metrics": {"accuracy": 1.0, "precision": 1.0, "recall": 1.0, "f1Score": 1.0},
        "differences": [],
    }
    assert compare(extracted, corrected, order_matching=True).true_positives == 0


def test_metrics_large_arrays_skip_the_greedy_step(monkeypatch: pytest.MonkeyPatch) -> None:
    from quarry.transformations import metrics

    extracted = {"rows": [{"k": "b", "v": 1}, {"k": "a", "v": 1}, {"k": "c", "v": 3}]}
    corrected = {"rows": [{"k": "a", "v": 2}, {"k": "b", "v": 2}, {"k": "c", "v": 3}]}
    # step 1 pairs the identical {c, 3} (2 true positives); step 2 pairs a with a and b with b
    # (one leaf each): 4 true positives
    assert compare(extracted, corrected).true_positives == 4
    # with step 2 skipped (2 x 2 leftover pairs > 3), the leftovers pair in order: {a, 2} with
    # {b, 1} and {b, 2} with {a, 1} agree on nothing: only {c, 3}'s 2 leaves are right
    monkeypatch.setattr(metrics, "MAX_SCORED_PAIRS", 3)
    assert compare(extracted, corrected).true_positives == 2


def test_metrics_value_rules_and_zero_divisions() -> None:
    perfect = {"accuracy": 1.0, "precision": 1.0, "recall": 1.0, "f1Score": 1.0}
    zero = {"accuracy": 0.0, "precision": 0.0, "recall": 0.0, "f1Score": 0.0}
    assert compare({}, {}).metrics() == perfect  # nothing to find, nothing found wrongly
    assert compare({"a": None, "b": [], "c": {}}, {}).metrics() == perfect  # no values at all
    assert compare({}, {"a": 1}).metrics() == zero  # nothing extracted
    assert compare({"a": 1}, {}).metrics() == zero  # nothing to extract, something claimed
    assert compare({"n": 0.1 + 0.2}, {"n": 0.3}).true_positives == 1  # within 1e-9
    assert compare({"n": 1.0}, {"n": 1.000001}).true_positives == 0
    assert compare({"n": 10}, {"n": 10.0}).true_positives == 1
    assert compare({"n": "10"}, {"n": 10}).true_positives == 0
    assert compare({"b": True}, {"b": 1}).true_positives == 0
    assert compare({"s": "Acme"}, {"s": "ACME"}).true_positives == 0  # case matters
    assert compare({"s": " Acme\tCorp "}, {"s": "Acme Corp"}).true_positives == 1
    assert compare({"s": "e\u0301"}, {"s": "\u00e9"}).true_positives == 1  # NFC
    # JSON Pointer escaping (RFC 6901)
    [difference] = compare({}, {"a/b": {"~c": 1}}).differences
    assert difference["jsonPointer"] == "/a~1b/~0c"


# === the API =================================================================================

TRANSFORMATION_KEYS = {
    "transformationID", "referenceID", "createdAt", "itemOffset", "transformedContent", "invalidProperties",
    "publishedAt", "lastPublishErrorAt", "eventID", "eventType", "functionID", "functionName",
    "functionVersionNum", "functionCallID", "functionCallTryNumber", "callID",
}  # fmt: skip
OPTIONAL_KEYS = {
    "inputType", "itemCount", "s3URL", "avgConfidence", "fieldConfidences", "needsReview", "fieldsNeedingReview",
    "correctedContent", "metrics",
    "orderMatching", "workflowID", "workflowName", "workflowVersionNum", "joinType", "items",
}  # fmt: skip


def check_transformation(item: dict[str, Any]) -> None:
    assert TRANSFORMATION_KEYS <= set(item) <= TRANSFORMATION_KEYS | OPTIONAL_KEYS, set(item) ^ TRANSFORMATION_KEYS
    assert item["transformationID"].startswith("tr_")
    assert item["eventID"].startswith("evt_")
    assert item["eventType"] in ("transform", "join")
    assert isinstance(item["transformedContent"], dict)
    assert isinstance(item["invalidProperties"], list)
    assert isinstance(item["itemOffset"], int)
    parse_time(item["createdAt"])
    labelled = {"correctedContent", "metrics", "orderMatching"} & set(item)
    assert labelled in (set(), {"correctedContent", "metrics", "orderMatching"}), item


def list_transformations(api: httpx.Client, params: Any = None) -> dict[str, Any]:
    response = api.get("/v1-beta/transformations", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"transformations", "totalCount"}
    for item in body["transformations"]:
        check_transformation(item)
    return body


def ids(api: httpx.Client, params: Any = None) -> list[str]:
    return [t["transformationID"] for t in list_transformations(api, params)["transformations"]]


def list_errors(api: httpx.Client, params: Any = None) -> dict[str, Any]:
    response = api.get("/v1-beta/transformations/errors", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"transformationErrors", "totalCount"}
    for error in body["transformationErrors"]:
        assert {"transformationErrorID", "referenceID", "message", "timestamp"} <= set(error)
        assert "pipelineID" not in error
        parse_time(error["timestamp"])
    return body


def put(api: httpx.Client, *items: dict[str, Any], method: str = "PUT") -> httpx.Response:
    return api.request(method, "/v1-beta/transformations", json={"transformations": list(items)})


def run(api: httpx.Client, call: dict[str, Any]) -> dict[str, Any]:
    [created] = submit(api, call)
    return wait_for(api, created["callID"])


def the_transformation(api: httpx.Client, call_id: str) -> dict[str, Any]:
    [event] = events_of(api, call_id, "transform")
    [item] = list_transformations(api, {"eventIDs": event["eventID"]})["transformations"]
    return item


# --- a listing built once per backend -------------------------------------------------------

JANUARY = datetime(2024, 1, 1, tzinfo=UTC)
JUNE = datetime(2024, 6, 1, tzinfo=UTC)


@dataclass
class Listing:
    api: httpx.Client
    items: list[dict[str, Any]]  # the transformations in list order: (createdAt, eventID)
    functions: dict[str, str]  # name -> ID
    errors: list[dict[str, Any]]  # error events in list order

    @property
    def order(self) -> list[str]:
        return [t["transformationID"] for t in self.items]

    def where(self, **fields: Any) -> list[str]:
        return [t["transformationID"] for t in self.items if all(t.get(k) == v for k, v in fields.items())]


@pytest.fixture(scope="module")
def listing(server: Server) -> Iterator[Listing]:
    """Five transformations (a batch of three under one referenceID, two single files, two
    functions), a route event and two error events; two transformations marked as delivered
    to a webhook (January and June) and one as failed to deliver."""
    tenant = make_tenant(server)
    api = tenant.production
    extract = create_function(api, transform("extract"))
    other = create_function(api, transform("extract-b"))
    create_function(
        api,
        {
            "functionName": "sorter",
            "type": "route",
            "description": "d",
            "routes": [{"name": "only", "regex": {"patterns": ["Invoice"]}}],
        },
    )
    calls = submit(
        api,
        {"functionName": "extract", "callReferenceID": "batch-a",
         "input": batch((invoice("A-0"), None), (invoice("A-1"), None), (invoice("A-2"), None))},
        {"functionName": "extract-b", "callReferenceID": "single-b", "input": single(invoice("B-0", "20.00"))},
        {"functionName": "extract", "callReferenceID": "single-c", "input": single(invoice("C-0"))},
        {"functionName": "sorter", "callReferenceID": "routed", "input": single(invoice("R-0"))},
        {"functionName": "extract", "callReferenceID": "broken-1", "input": single(b"%PDF-1.4 broken", "pdf")},
        {"functionName": "extract-b", "callReferenceID": "broken-2", "input": single(b"%PDF-1.4 junk", "pdf")},
    )  # fmt: skip
    statuses = [wait_for(api, call["callID"])["status"] for call in calls]
    assert statuses == ["completed"] * 4 + ["failed"] * 2
    events = api.get("/v1-alpha/events", params={"limit": 100}).json()["events"]
    assert sorted(e["eventType"] for e in events) == ["error"] * 2 + ["route"] + ["transform"] * 5
    transformations = [e for e in events if e["eventType"] == "transform"]
    assert len(transformations) == 5
    by_number = {e["transformedContent"]["invoiceNumber"]: e for e in transformations}
    published = {"A-1": (JANUARY, None), "B-0": (JUNE, None), "C-0": (None, JUNE)}
    with server.db.write() as session:  # as the webhook delivery would record them
        for number, (published_at, error_at) in published.items():
            session.execute(
                sa.update(Event)
                .where(Event.id == by_number[number]["eventID"])
                .values(published_at=published_at, last_publish_error_at=error_at)
            )
    items = list_transformations(api, {"limit": 100})["transformations"]
    assert sorted(items, key=lambda t: (t["createdAt"], t["eventID"])) == items
    errors = sorted((e for e in events if e["eventType"] == "error"), key=lambda e: (e["createdAt"], e["eventID"]))
    yield Listing(api, items, {"extract": extract["functionID"], "extract-b": other["functionID"]}, errors)
    tenant.production.close()
    tenant.sandbox.close()


def test_list_items_are_the_transform_events(listing: Listing) -> None:
    body = list_transformations(listing.api)
    assert body["totalCount"] == 5
    numbers = sorted(t["transformedContent"]["invoiceNumber"] for t in body["transformations"])
    assert numbers == ["A-0", "A-1", "A-2", "B-0", "C-0"]  # no route or error event
    for item in body["transformations"]:
        event = listing.api.get(f"/v1-alpha/events/{item['eventID']}").json()
        assert event["transformationID"] == item["transformationID"]
        for key in TRANSFORMATION_KEYS | {"inputType", "itemCount"}:
            assert item[key] == event[key], key
        assert item["inputType"] == "text"
        assert item["s3URL"].startswith("http")
        assert item["invalidProperties"] == []
        number = item["transformedContent"]["invoiceNumber"]
        assert item["referenceID"] == {"A": "batch-a", "B": "single-b", "C": "single-c"}[number[0]]
        assert item["functionName"] == ("extract-b" if number == "B-0" else "extract")
        assert item["functionID"] == listing.functions[item["functionName"]]
        if number.startswith("A"):
            assert (item["itemOffset"], item["itemCount"]) == (int(number[-1]), 3)
        else:
            assert (item["itemOffset"], item["itemCount"]) == (0, 1)


def test_publication_state_is_rendered_and_null_when_never_sent(listing: Listing) -> None:
    by_number = {t["transformedContent"]["invoiceNumber"]: t for t in listing.items}
    assert parse_time(by_number["A-1"]["publishedAt"]) == JANUARY
    assert parse_time(by_number["B-0"]["publishedAt"]) == JUNE
    assert by_number["C-0"]["publishedAt"] is None
    assert parse_time(by_number["C-0"]["lastPublishErrorAt"]) == JUNE
    assert by_number["A-0"]["publishedAt"] is None and by_number["A-0"]["lastPublishErrorAt"] is None
    event = listing.api.get(f"/v1-alpha/events/{by_number['A-1']['eventID']}").json()
    assert parse_time(event["publishedAt"]) == JANUARY and event["lastPublishErrorAt"] is None


def test_default_order_sort_order_and_limit(listing: Listing) -> None:
    assert ids(listing.api) == listing.order
    assert ids(listing.api, {"sortOrder": "desc"}) == listing.order[::-1]
    body = list_transformations(listing.api, {"limit": 2})
    assert [t["transformationID"] for t in body["transformations"]] == listing.order[:2]
    assert body["totalCount"] == 5


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
def test_cursors_page_through_in_both_directions(listing: Listing, sort_order: str) -> None:
    order = listing.order if sort_order == "asc" else listing.order[::-1]
    pages, cursor = [], None
    while True:
        params = {"limit": 2, "sortOrder": sort_order} | ({"startingAfter": cursor} if cursor else {})
        body = list_transformations(listing.api, params)
        assert body["totalCount"] == 5  # cursors do not change the count
        page = [t["transformationID"] for t in body["transformations"]]
        if not page:
            break
        pages.append(page)
        cursor = page[-1]
    assert [i for page in pages for i in page] == order
    assert [len(p) for p in pages] == [2, 2, 1]
    # endingBefore: the items immediately before, still in the chosen order
    assert ids(listing.api, {"limit": 2, "sortOrder": sort_order, "endingBefore": order[3]}) == order[1:3]
    assert ids(listing.api, {"sortOrder": sort_order, "endingBefore": order[0]}) == []


def test_cursor_errors_are_400(listing: Listing) -> None:
    first, second = listing.order[:2]
    both = {"startingAfter": first, "endingBefore": second}
    assert_error(listing.api.get("/v1-beta/transformations", params=both), 400)
    for cursor in ("tr_nope", listing.items[0]["eventID"], listing.errors[0]["eventID"]):
        # a cursor is a transformation ID of the caller's (an event ID is not one)
        response = listing.api.get("/v1-beta/transformations", params={"startingAfter": cursor})
        assert_error(response, 400, "startingAfter")
    # a cursor may be a transformation the filters exclude
    [cursor, *_] = listing.where(functionName="extract")
    after = listing.order[listing.order.index(cursor) + 1 :]
    expected = [i for i in after if i in listing.where(functionName="extract-b")]
    assert ids(listing.api, {"startingAfter": cursor, "functionNames": "extract-b"}) == expected


def test_each_filter(listing: Listing) -> None:
    api, t = listing.api, listing.items
    assert ids(api, {"referenceIDs": "batch-a"}) == listing.where(referenceID="batch-a")
    assert len(listing.where(referenceID="batch-a")) == 3
    assert ids(api, {"referenceIDs": "single-b,single-c"}) == [
        i["transformationID"] for i in t if i["referenceID"] in ("single-b", "single-c")
    ]
    assert ids(api, {"referenceIDs": "routed"}) == []  # a route event is no transformation
    assert ids(api, {"transformationIDs": f"{t[4]['transformationID']},{t[1]['transformationID']}"}) == [
        t[1]["transformationID"],
        t[4]["transformationID"],
    ]
    assert ids(api, {"functionIDs": listing.functions["extract-b"]}) == listing.where(functionName="extract-b")
    assert ids(api, {"functionNames": "extract"}) == listing.where(functionName="extract")
    assert len(listing.where(functionName="extract")) == 4
    assert ids(api, {"eventIDs": t[2]["eventID"]}) == [t[2]["transformationID"]]
    assert ids(api, {"eventIDs": listing.errors[0]["eventID"]}) == []
    # intersection of all parameters
    assert ids(api, {"referenceIDs": "batch-a", "functionNames": "extract-b"}) == []
    assert ids(api, {"referenceIDs": "single-b", "functionNames": "extract-b"}) == listing.where(referenceID="single-b")
    # repeated keys and CSV combine
    both = [("referenceIDs", "single-b"), ("referenceIDs", "single-c,batch-a")]
    assert ids(api, both) == listing.order
    body = list_transformations(api, {"functionNames": "extract", "limit": 1})
    assert body["totalCount"] == 4


def test_item_offset_selects_one_item_of_a_reference(listing: Listing) -> None:
    for offset in range(3):
        [item] = list_transformations(listing.api, {"referenceIDs": "batch-a", "itemOffset": offset})["transformations"]
        assert item["transformedContent"]["invoiceNumber"] == f"A-{offset}"
        assert item["itemOffset"] == offset
    assert ids(listing.api, {"referenceIDs": "batch-a", "itemOffset": 3}) == []
    assert ids(listing.api, {"referenceIDs": "single-c", "itemOffset": 0}) == listing.where(referenceID="single-c")
    for params in ({"itemOffset": 0}, {"itemOffset": 0, "referenceIDs": "batch-a,single-b"}):
        assert_error(listing.api.get("/v1-beta/transformations", params=params), 400, "itemOffset")
    assert_error(listing.api.get("/v1-beta/transformations", params={"itemOffset": -1, "referenceIDs": "x"}), 400)


def test_publication_filters(listing: Listing) -> None:
    published = [t["transformationID"] for t in listing.items if t["publishedAt"] is not None]
    assert len(published) == 2
    assert ids(listing.api, {"published": "true"}) == published
    assert ids(listing.api, {"published": "false"}) == [i for i in listing.order if i not in published]
    january, june = listing.where(referenceID="batch-a", itemOffset=1), listing.where(referenceID="single-b")
    assert ids(listing.api, {"publishedBefore": "2024-03-01T00:00:00Z"}) == january
    assert ids(listing.api, {"publishedAfter": "2024-03-01T00:00:00+02:00"}) == june
    assert ids(listing.api, {"publishedAfter": "2023-12-31T23:00:00Z", "publishedBefore": "2024-06-01T00:00:01Z"}) == (
        published
    )
    assert ids(listing.api, {"publishedBefore": "2024-01-01T00:00:00Z"}) == []  # strictly before
    assert ids(listing.api, {"published": "true", "publishedAfter": "2024-03-01T00:00:00Z"}) == june


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"publishedBefore": "2024-03-01"}, "publishedBefore"),
        ({"publishedBefore": "2024-03-01T00:00:00"}, "publishedBefore"),  # no offset
        ({"publishedAfter": "1700000000"}, "publishedAfter"),
        ({"published": "maybe"}, "published"),
        ({"published": "false", "publishedAfter": "2024-03-01T00:00:00Z"}, "published"),  # contradictory
        ({"publishedAfter": "2024-03-01T00:00:00Z", "publishedBefore": "2024-02-01T00:00:00Z"}, "publishedAfter"),
        ({"pipelineID": "pl_1"}, "pipelineID"),
        ({"taskIDs": "t_1"}, "taskIDs"),
        ({"isRegression": "sometimes"}, "isRegression"),
        ({"transformationIDs": ""}, "transformationIDs"),
        ({"limit": "0"}, "limit"),
        ({"sortOrder": "up"}, "sortOrder"),
        ({"transformationId": "tr_1"}, "transformationId"),  # unknown parameter (a typo)
    ],
)
def test_invalid_list_parameters_are_400(listing: Listing, params: dict[str, str], field: str) -> None:
    assert_error(listing.api.get("/v1-beta/transformations", params=params), 400, field)


def test_is_regression(listing: Listing) -> None:
    assert ids(listing.api, {"isRegression": "false"}) == listing.order
    assert list_transformations(listing.api, {"isRegression": "true"}) == {"transformations": [], "totalCount": 0}


def test_transformations_are_scoped_to_their_environment(server: Server, listing: Listing) -> None:
    stranger = make_tenant(server)
    try:
        assert list_transformations(stranger.production) == {"transformations": [], "totalCount": 0}
        cursor = {"startingAfter": listing.order[0]}
        assert_error(stranger.production.get("/v1-beta/transformations", params=cursor), 400, "startingAfter")
        assert list_errors(stranger.production)["totalCount"] == 0
    finally:
        stranger.production.close()
        stranger.sandbox.close()


# --- errors ---------------------------------------------------------------------------------


def test_errors_list_the_error_events(listing: Listing) -> None:
    body = list_errors(listing.api)
    assert body["totalCount"] == 2
    listed = body["transformationErrors"]
    assert [e["transformationErrorID"] for e in listed] == [e["eventID"] for e in listing.errors]
    for error, event in zip(listed, listing.errors, strict=True):
        assert error["referenceID"] == event["referenceID"]
        assert error["message"] == event["message"] and "PDF" in error["message"]
        assert error["timestamp"] == event["createdAt"]
        assert (error["functionName"], error["callID"]) == (event["functionName"], event["callID"])
    assert {e["referenceID"] for e in listed} == {"broken-1", "broken-2"}


def test_errors_filters_and_cursors(listing: Listing) -> None:
    api = listing.api
    first, second = (e["eventID"] for e in listing.errors)

    def error_ids(params: Any) -> list[str]:
        return [e["transformationErrorID"] for e in list_errors(api, params)["transformationErrors"]]

    by_reference = {e["referenceID"]: e["eventID"] for e in listing.errors}
    assert error_ids({"referenceIDs": "broken-2"}) == [by_reference["broken-2"]]
    assert error_ids({"referenceIDs": "batch-a"}) == []
    assert error_ids({"functionNames": "extract"}) == [by_reference["broken-1"]]
    assert error_ids({"functionIDs": listing.functions["extract-b"]}) == [by_reference["broken-2"]]
    assert error_ids({"eventIDs": second}) == [second]
    assert error_ids({"referenceIDs": "broken-1", "functionNames": "extract-b"}) == []
    assert error_ids({"startingAfter": first}) == [second]
    assert error_ids({"endingBefore": second}) == [first]
    assert error_ids({"sortOrder": "desc"}) == [second, first]
    body = list_errors(api, {"limit": 1})
    assert len(body["transformationErrors"]) == 1 and body["totalCount"] == 2
    assert_error(api.get("/v1-beta/transformations/errors", params={"startingAfter": listing.items[0]["eventID"]}), 400)
    assert_error(api.get("/v1-beta/transformations/errors", params={"pipelineID": "pl_1"}), 400, "pipelineID")
    assert_error(api.get("/v1-beta/transformations/errors", params={"transformationIDs": "tr_1"}), 400)


# --- corrections ----------------------------------------------------------------------------


@pytest.fixture
def extract(api: httpx.Client) -> dict[str, Any]:
    return create_function(api, transform("extract"))


def test_correction_stores_content_and_hand_computed_metrics(api: httpx.Client, extract: dict[str, Any]) -> None:
    call = run(api, {"functionName": "extract", "callReferenceID": "c-1", "input": single(invoice("INV-7"))})
    item = the_transformation(api, call["callID"])
    assert item["transformedContent"] == {"invoiceNumber": "INV-7", "totalAmount": 10.0}
    assert "correctedContent" not in item and "metrics" not in item

    corrected = {"invoiceNumber": "INV-7", "totalAmount": 12.5, "lineItems": [{"sku": "X-1"}]}
    response = put(api, {"transformationID": item["transformationID"], "correctedJSON": corrected})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "results": [{"transformationID": item["transformationID"], "success": True}],
        "successCount": 1,
        "totalCount": 1,
    }
    # Extracted leaves: /invoiceNumber "INV-7", /totalAmount 10.0.
    # Corrected leaves: /invoiceNumber "INV-7", /totalAmount 12.5, /lineItems/0/sku "X-1".
    # /invoiceNumber TP; /totalAmount mismatch (FP + FN); /lineItems/0/sku missing (FN).
    # TP 1, FP 1, FN 2, 3 pointers: precision 1/2, recall 1/3,
    # f1 = 2 * 1/2 * 1/3 / (1/2 + 1/3) = (1/3) / (5/6) = 2/5, accuracy 1/3.
    expected_metrics = approx_metrics(1 / 3, 1 / 2, 1 / 3, 2 / 5)
    expected_differences = [
        {"category": "mismatch", "jsonPointer": "/totalAmount", "extractedVal": 10.0, "correctedVal": 12.5},
        {"category": "missing", "jsonPointer": "/lineItems/0/sku", "extractedVal": None, "correctedVal": "X-1"},
    ]
    [listed] = list_transformations(api, {"transformationIDs": item["transformationID"]})["transformations"]
    event = api.get(f"/v1-alpha/events/{item['eventID']}").json()
    for shown in (listed, event):
        assert shown["correctedContent"] == corrected
        assert shown["orderMatching"] is False
        assert shown["metrics"]["metrics"] == expected_metrics
        assert shown["metrics"]["differences"] == expected_differences
        assert shown["transformedContent"] == item["transformedContent"]  # the extraction is kept


def test_v3_answers_of_a_finished_call_follow_its_corrections_and_deletions(api: httpx.Client) -> None:
    """v3 keeps the encoded answer of a finished call; a correction or a deleted transformation
    changes the call's outputs, so the answer read before must not be served again. The call has
    two outputs (one extraction fanned out to two): the deleted one is not the corrected one."""
    for name in ("first", "left", "right"):
        create_function(api, transform(name))
    create_workflow(api, "fan-out", "first", [("first", "left", None), ("first", "right", None)])
    call = run(api, {"workflowName": "fan-out", "callReferenceID": "c-v3", "input": single(invoice("INV-9"))})
    call_id = call["callID"]

    def outputs() -> dict[str, dict[str, Any]]:
        """The call's outputs by function name, as GET /v3/calls/{id} and the list show them."""
        one = api.get(f"/v3/calls/{call_id}")
        listed = api.get("/v3/calls", params={"callIDs": call_id})
        assert one.status_code == 200 and listed.status_code == 200, (one.text, listed.text)
        [in_list] = listed.json()["calls"]
        assert in_list["outputs"] == one.json()["call"]["outputs"]
        return {output["functionName"]: output for output in in_list["outputs"]}

    for shown in (outputs(), outputs()):  # the second read is the kept answer
        assert set(shown) == {"left", "right"}
        assert not any("correctedContent" in output for output in shown.values())
    left, right = (the_transformation_of(api, call_id, name) for name in ("left", "right"))
    corrected = {"invoiceNumber": "INV-9", "totalAmount": 11.0}
    assert put(api, {"transformationID": left["transformationID"], "correctedJSON": corrected}).status_code == 200
    shown = outputs()
    assert shown["left"]["correctedContent"] == corrected and "correctedContent" not in shown["right"]
    deleted = api.delete("/v1-beta/transformations", params={"transformationIDs": right["transformationID"]})
    assert deleted.status_code == 200, deleted.text
    assert list(outputs()) == ["left"]


def the_transformation_of(api: httpx.Client, call_id: str, function_name: str) -> dict[str, Any]:
    [event] = [e for e in events_of(api, call_id, "transform") if e["functionName"] == function_name]
    [item] = list_transformations(api, {"eventIDs": event["eventID"]})["transformations"]
    return item


LINE_ITEMS_SCHEMA = {
    "type": "object",
    "properties": {
        "invoiceNumber": {"type": "string"},
        "lineItems": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"description": {"type": "string"}, "quantity": {"type": "number"}},
            },
        },
    },
}


def test_order_matching_changes_the_metrics_end_to_end(api: httpx.Client) -> None:
    create_function(api, transform("lines", outputSchema=LINE_ITEMS_SCHEMA))
    document = {"invoiceNumber": "INV-9", "lineItems": [
        {"description": "Bolt", "quantity": 2}, {"description": "Nut", "quantity": 5},
    ]}  # fmt: skip
    call = run(api, {"functionName": "lines", "input": single(json.dumps(document).encode(), "json")})
    item = the_transformation(api, call["callID"])
    assert item["transformedContent"] == document
    tid = item["transformationID"]
    corrected = {"invoiceNumber": "INV-9", "lineItems": [
        {"description": "Nut", "quantity": 5}, {"description": "Bolt", "quantity": 3},
    ]}  # fmt: skip

    # orderMatching false: corrected item 0 {Nut, 5} is identical to extracted item 1; corrected
    # item 1 {Bolt, 3} agrees with extracted item 0 {Bolt, 2} on one leaf. Aligned extraction:
    # [{Nut, 5}, {Bolt, 2}]. Pointers (5): /invoiceNumber TP, /lineItems/0/description TP,
    # /lineItems/0/quantity TP, /lineItems/1/description TP, /lineItems/1/quantity 2 vs 3
    # mismatch. TP 4, FP 1, FN 1: precision, recall, f1 and accuracy all 4/5.
    assert put(api, {"transformationID": tid, "correctedJSON": corrected}).status_code == 200
    shown = the_transformation(api, call["callID"])
    assert shown["orderMatching"] is False
    assert shown["metrics"]["metrics"] == approx_metrics(0.8, 0.8, 0.8, 0.8)
    assert shown["metrics"]["differences"] == [
        {"category": "mismatch", "jsonPointer": "/lineItems/1/quantity", "extractedVal": 2, "correctedVal": 3}
    ]

    # orderMatching true (resubmitted: the later correction replaces the earlier one): by index,
    # /lineItems/0/description Bolt vs Nut, /0/quantity 2 vs 5, /1/description Nut vs Bolt and
    # /1/quantity 5 vs 3 are mismatches; only /invoiceNumber is right. TP 1, FP 4, FN 4, 5
    # pointers: every metric 1/5.
    response = put(api, {"transformationID": tid, "correctedJSON": corrected, "orderMatching": True})
    assert response.status_code == 200
    shown = the_transformation(api, call["callID"])
    assert shown["orderMatching"] is True
    assert shown["metrics"]["metrics"] == approx_metrics(0.2, 0.2, 0.2, 0.2)
    assert [d["jsonPointer"] for d in shown["metrics"]["differences"]] == [
        "/lineItems/0/description", "/lineItems/0/quantity", "/lineItems/1/description", "/lineItems/1/quantity",
    ]  # fmt: skip

    # a perfect correction: every metric 1, no differences
    assert put(api, {"transformationID": tid, "correctedJSON": document}).status_code == 200
    assert the_transformation(api, call["callID"])["metrics"] == {
        "metrics": {"accuracy": 1.0, "precision": 1.0, "recall": 1.0, "f1Score": 1.0},
        "differences": [],
    }


def test_partial_success_is_207_and_applies_the_valid_items(tenant: Any, extract: dict[str, Any]) -> None:
    api = tenant.production
    calls = submit(api, *({"functionName": "extract", "input": single(invoice(f"P-{i}"))} for i in range(3)))
    first, second, third = (the_transformation(api, wait_for(api, c["callID"])["callID"]) for c in calls)
    create_function(tenant.sandbox, transform("extract"))
    foreign = the_transformation(
        tenant.sandbox, run(tenant.sandbox, {"functionName": "extract", "input": single(invoice("S-1"))})["callID"]
    )
    good = {"invoiceNumber": "P-0", "totalAmount": 10}
    response = put(
        api,
        {"transformationID": first["transformationID"], "correctedJSON": good},
        {"transformationID": "tr_doesnotexist", "correctedJSON": good},
        {"transformationID": second["transformationID"], "correctedJSON": [good]},
        {"transformationID": first["transformationID"], "correctedJSON": {"invoiceNumber": "other"}},
        {"transformationID": foreign["transformationID"], "correctedJSON": good},
        {"transformationID": second["transformationID"], "correctedJSON": good},
        {"transformationID": third["transformationID"], "correctedJSON": None},
    )
    assert response.status_code == 207, response.text
    body = response.json()
    assert set(body) == {"results", "successCount", "totalCount"}
    assert (body["successCount"], body["totalCount"]) == (1, 7)
    results = body["results"]
    assert [(r["transformationID"], r["success"]) for r in results] == [
        (first["transformationID"], True),
        ("tr_doesnotexist", False),
        (second["transformationID"], False),
        (first["transformationID"], False),
        (foreign["transformationID"], False),  # another environment's
        (second["transformationID"], False),
        (third["transformationID"], False),
    ]
    assert "error" not in results[0]
    assert all(isinstance(r["error"], str) and r["error"] for r in results[1:])
    assert "not found" in results[1]["error"] and "not found" in results[4]["error"]
    assert "object" in results[2]["error"] and "object" in results[6]["error"]
    assert "earlier" in results[3]["error"] and "earlier" in results[5]["error"]  # only the first is considered
    # the valid item was applied, the others were not
    assert the_transformation(api, first["callID"])["correctedContent"] == good
    for shown in (second, third):
        assert "correctedContent" not in the_transformation(api, shown["callID"])
    assert "correctedContent" not in the_transformation(tenant.sandbox, foreign["callID"])
    # every item failing is still a 207: the results say which
    only_bad = put(api, {"transformationID": "tr_nope", "correctedJSON": {}})
    assert only_bad.status_code == 207
    assert only_bad.json() == {
        "results": [{"transformationID": "tr_nope", "success": False, "error": "transformation 'tr_nope' not found"}],
        "successCount": 0,
        "totalCount": 1,
    }


def test_patch_is_an_alias_of_put(api: httpx.Client, extract: dict[str, Any]) -> None:
    item = the_transformation(api, run(api, {"functionName": "extract", "input": single(invoice("Q-1"))})["callID"])
    correction = {"transformationID": item["transformationID"], "correctedJSON": {"invoiceNumber": "Q-1"}}
    response = put(api, correction, method="PATCH")
    assert response.status_code == 200, response.text
    assert response.json()["successCount"] == 1
    assert the_transformation(api, item["callID"])["correctedContent"] == {"invoiceNumber": "Q-1"}
    assert put(api, {"transformationID": "tr_nope", "correctedJSON": {}}, method="PATCH").status_code == 207


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "transformations"),
        ({"transformations": []}, "transformations"),
        ({"transformations": [{"transformationID": "tr_1", "correctedJSON": {}}] * 101}, "transformations"),
        ({"transformations": {"transformationID": "tr_1"}}, "transformations"),
        ({"transformations": [{"correctedJSON": {}}]}, "transformations[0].transformationID"),
        ({"transformations": [{"transformationID": "tr_1"}]}, "transformations[0].correctedJSON"),
        ({"transformations": [{"transformationID": 7, "correctedJSON": {}}]}, "transformations[0].transformationID"),
        ({"transformations": [{"transformationID": "", "correctedJSON": {}}]}, "transformations[0].transformationID"),
        (
            {"transformations": [{"transformationID": "tr_1", "correctedJSON": {}, "orderMatching": "yes"}]},
            "transformations[0].orderMatching",
        ),
        (
            {"transformations": [{"transformationID": "tr_1", "correctedJSON": {}, "correctedJson": {}}]},
            "transformations[0].correctedJson",
        ),
        ({"transformations": ["tr_1"]}, "transformations[0]"),
        ({"transformations": [], "extra": 1}, "extra"),
    ],
)
def test_malformed_correction_bodies_are_400(api: httpx.Client, body: dict[str, Any], field: str) -> None:
    assert_error(api.put("/v1-beta/transformations", json=body), 400, field)


def test_malformed_json_is_400(api: httpx.Client) -> None:
    response = api.put("/v1-beta/transformations", content=b"{not json", headers={"content-type": "application/json"})
    assert_error(response, 400)


def test_labelled_events_filter(api: httpx.Client, extract: dict[str, Any]) -> None:
    calls = [run(api, {"functionName": "extract", "input": single(invoice(f"L-{i}"))}) for i in range(2)]
    first, second = (the_transformation(api, c["callID"]) for c in calls)
    assert put(api, {"transformationID": first["transformationID"], "correctedJSON": {"x": 1}}).status_code == 200

    def event_ids(params: Any) -> list[str]:
        body = api.get("/v1-alpha/events", params=params).json()
        return [e["eventID"] for e in body["events"]]

    assert event_ids({"isLabelled": "true"}) == [first["eventID"]]
    assert event_ids({"isLabelled": "false"}) == [second["eventID"]]


# --- deletion -------------------------------------------------------------------------------


def test_delete_by_filters(api: httpx.Client, extract: dict[str, Any]) -> None:
    create_function(api, transform("other"))
    created = submit(
        api,
        {"functionName": "extract", "callReferenceID": "keep", "input": single(invoice("D-0"))},
        {"functionName": "extract", "callReferenceID": "drop", "input": single(invoice("D-1"))},
        {"functionName": "other", "callReferenceID": "drop", "input": single(invoice("D-2"))},
        {"functionName": "extract", "callReferenceID": "drop", "input": single(b"junk", "pdf")},
    )
    for call in created:
        wait_for(api, call["callID"])
    items = {t["transformedContent"]["invoiceNumber"]: t for t in list_transformations(api)["transformations"]}
    assert set(items) == {"D-0", "D-1", "D-2"}

    def delete(params: Any) -> httpx.Response:
        return api.delete("/v1-beta/transformations", params=params)

    # a filter set naming nothing is refused, so that nothing is wiped by accident
    assert_error(delete({}), 400, "transformationIDs")
    assert_error(delete({"published": "false"}), 400, "transformationIDs")
    assert_error(delete({"isRegression": "false"}), 400, "transformationIDs")
    assert_error(delete({"pipelineID": "pl_1", "referenceIDs": "drop"}), 400, "pipelineID")
    assert len(list_transformations(api)["transformations"]) == 3

    # intersection of all parameters: drop ∩ D-0's ID is empty
    response = delete({"referenceIDs": "drop", "transformationIDs": items["D-0"]["transformationID"]})
    assert response.status_code == 200 and response.json() == {"deleteCount": 0}
    response = delete({"referenceIDs": "drop", "functionNames": "other"})
    assert response.json() == {"deleteCount": 1}
    assert set(ids(api)) == {items["D-0"]["transformationID"], items["D-1"]["transformationID"]}
    assert_error(api.get(f"/v1-alpha/events/{items['D-2']['eventID']}"), 404)  # the event went with it

    response = delete({"referenceIDs": "drop"})
    assert response.json() == {"deleteCount": 1}  # D-1; the error event is no transformation
    assert ids(api) == [items["D-0"]["transformationID"]]
    assert list_errors(api, {"referenceIDs": "drop"})["totalCount"] == 1
    assert delete({"referenceIDs": "drop"}).json() == {"deleteCount": 0}
    # the calls stay readable
    assert all(api.get(f"/v2/calls/{c['callID']}").status_code == 200 for c in created)


def test_delete_is_scoped_to_the_environment(tenant: Any) -> None:
    create_function(tenant.production, transform("extract"))
    item = the_transformation(
        tenant.production,
        run(tenant.production, {"functionName": "extract", "input": single(invoice("E-1"))})["callID"],
    )
    response = tenant.sandbox.delete("/v1-beta/transformations", params={"transformationIDs": item["transformationID"]})
    assert response.json() == {"deleteCount": 0}
    assert ids(tenant.production) == [item["transformationID"]]


# --- joins ----------------------------------------------------------------------------------


def test_a_join_event_is_a_transformation(api: httpx.Client) -> None:
    create_function(
        api,
        {
            "functionName": "combine",
            "type": "join",
            "description": "Combine",
            "joinType": "standard",
            "outputSchemaName": "Invoice",
            "outputSchema": {"type": "object", "properties": {"invoiceNumber": {"type": "string"}}},
        },
    )
    call = run(api, {"functionName": "combine", "callReferenceID": "j", "input": batch((invoice("J-1"), "a"))})
    [event] = events_of(api, call["callID"], "join")
    [item] = list_transformations(api)["transformations"]
    assert item["eventType"] == "join"
    assert (item["transformationID"], item["eventID"]) == (event["transformationID"], event["eventID"])
    assert item["itemOffset"] == 0 and item["referenceID"] == "j"
    assert item["transformedContent"] == {"invoiceNumber": "J-1"}
    assert event["publishedAt"] is None and event["lastPublishErrorAt"] is None
    response = put(api, {"transformationID": item["transformationID"], "correctedJSON": {"invoiceNumber": "J-2"}})
    assert response.status_code == 200
    assert api.get(f"/v1-alpha/events/{event['eventID']}").json()["metrics"]["differences"] == [
        {"category": "mismatch", "jsonPointer": "/invoiceNumber", "extractedVal": "J-1", "correctedVal": "J-2"}
    ]


# --- migration ------------------------------------------------------------------------------


def test_migration_fills_the_transformation_id_of_earlier_events(server: Server, tmp_path: Any) -> None:
    """Events recorded before revision 0005 carry their transformationID in the body only."""
    import os

    from alembic import command
    from alembic.config import Config

    from quarry.storage.db import MIGRATIONS_DIR, Database
    from tests.harness.databases import drop_postgres_database, postgres_database

    name = f"quarry_migration_{os.getpid()}"
    url = f"sqlite:///{tmp_path / 'old.db'}" if server.backend == "sqlite" else postgres_database(name)
    db = Database(url)
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with db.write_engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0004")
            connection.commit()
            when = "'2024-06-01 00:00:00'"
            connection.execute(sa.text(f"INSERT INTO accounts (id, name, created_at) VALUES ('a', 'a', {when})"))
            connection.execute(
                sa.text(f"INSERT INTO environments (id, account_id, name, created_at) VALUES ('e', 'a', 'p', {when})")
            )
            body_value = "CAST(:body AS JSONB)" if server.backend == "postgresql" else ":body"
            rows = [("evt_1", "transform", {"transformationID": "tr_1"}), ("evt_2", "route", {"choice": "x"})]
            for event_id, event_type, body in rows:
                connection.execute(
                    sa.text(
                        "INSERT INTO events (id, environment_id, event_type, body, created_at) "
                        f"VALUES (:id, 'e', :type, {body_value}, '2024-06-01 00:00:00')"
                    ),
                    {"id": event_id, "type": event_type, "body": json.dumps(body)},
                )
            connection.commit()
            command.upgrade(config, "0005")
            connection.commit()
            found = dict(connection.execute(sa.text("SELECT id, transformation_id FROM events")).all())
        assert found == {"evt_1": "tr_1", "evt_2": None}
    finally:
        db.dispose()
        if server.backend != "sqlite":
            drop_postgres_database(name)
