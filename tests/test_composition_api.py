"""Composition through the public API: split (print_page, semantic_page), join (batch and fan-in),
route by classification and error fallback, and workflows that chain them.

Documents are made here with fpdf2 so that every expected value is known from what was written.
"""

from __future__ import annotations

import base64
import io
import json
import time
from typing import Any

import httpx
import pypdfium2
import pytest

from tests.calls_client import POLL_SECONDS, create_workflow, events_of, get_call, single, submit, wait_for
from tests.helpers import create_function

PAGE_SCHEMA = {
    "type": "object",
    "properties": {"invoiceNumber": {"type": "string"}, "totalAmount": {"type": "number"}},
}
JOINED_SCHEMA = {
    "type": "object",
    "properties": {
        "invoiceNumbers": {"type": "array", "items": {"type": "string"}},
        "lineItems": {
            "type": "array",
            "items": {"type": "object", "properties": {"sku": {"type": "string"}, "amount": {"type": "number"}}},
        },
    },
}


def pdf(*pages: list[str]) -> bytes:
    """A PDF with one page per list of lines."""
    from fpdf import FPDF

    document = FPDF()
    document.set_font("Helvetica", size=12)
    for lines in pages:
        document.add_page()
        for line in lines:
            document.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(document.output())


def invoice_page(number: int) -> list[str]:
    return [f"Invoice Number: INV-{number:03d}", f"Total Amount: {number * 10}.50 EUR"]


def page_texts(data: bytes) -> list[str]:
    document = pypdfium2.PdfDocument(data)
    try:
        return [page.get_textpage().get_text_range() for page in document]
    finally:
        document.close()


def transform_fn(api: httpx.Client, name: str, schema: dict[str, Any] = PAGE_SCHEMA) -> None:
    create_function(
        api, {"functionName": name, "type": "transform", "outputSchemaName": "Page", "outputSchema": schema}
    )


def split_fn(api: httpx.Client, name: str, **config: Any) -> None:
    body = {"functionName": name, "type": "split", "splitType": "print_page", "printPageSplitConfig": {}}
    create_function(api, body | config)


def join_fn(api: httpx.Client, name: str, schema: dict[str, Any] = PAGE_SCHEMA) -> None:
    create_function(
        api,
        {
            "functionName": name,
            "type": "join",
            "description": "Combine the pages",
            "joinType": "standard",
            "outputSchemaName": "Joined",
            "outputSchema": schema,
        },
    )


def run_workflow(api: httpx.Client, workflow: str, data: bytes, input_type: str = "pdf", **extra: Any) -> dict:
    (call,) = submit(api, {"workflowName": workflow, "input": single(data, input_type), **extra})
    return wait_for(api, call["callID"])


def download(api: httpx.Client, url: str) -> bytes:
    response = api.get(url)
    assert response.status_code == 200, response.text
    return response.content


def test_print_page_split_fans_out_one_transform_per_page(api: httpx.Client) -> None:
    split_fn(api, "pages")
    transform_fn(api, "extract")
    create_workflow(api, "per-page", "pages", [("pages", "extract", None)])
    document = pdf(*(invoice_page(n) for n in range(1, 6)))
    call = run_workflow(api, "per-page", document, callReferenceID="batch-7")
    assert call["status"] == "completed", call

    [collection] = events_of(api, call["callID"], "split_collection")
    listing = collection["printPageOutput"]
    assert collection["outputType"] == "print_page" and listing["itemCount"] == 5
    assert [item["itemOffset"] for item in listing["items"]] == [0, 1, 2, 3, 4]
    references = [item["itemReferenceID"] for item in listing["items"]]
    assert len(set(references)) == 5
    for number, item in enumerate(listing["items"], start=1):  # each item is a real one-page PDF
        texts = page_texts(download(api, item["s3URL"]))
        assert len(texts) == 1 and f"INV-{number:03d}" in texts[0]

    split_items = events_of(api, call["callID"], "split_item")
    assert len(split_items) == 5
    assert {e["printPageOutput"]["collectionReferenceID"] for e in split_items} == {"batch-7"}
    transforms = events_of(api, call["callID"], "transform")
    assert sorted(e["transformedContent"]["invoiceNumber"] for e in transforms) == [f"INV-{n:03d}" for n in range(1, 6)]
    # Each transform ran as its own function call, fed by one split item, under the item's reference.
    by_fc = {fc["functionCallID"]: fc for fc in call["functionCalls"]}
    item_events = {e["eventID"]: e for e in split_items}
    for event in transforms:
        fc = by_fc[event["functionCallID"]]
        assert fc["sourceEventID"] in item_events
        assert fc["referenceID"] in references
        assert event["referenceID"] == fc["referenceID"]


def test_split_then_join_gives_one_result_after_every_branch(api: httpx.Client) -> None:
    split_fn(api, "pages")
    transform_fn(api, "extract")
    join_fn(api, "combine", {"type": "object", "properties": {"invoiceNumber": {"type": "string"}}})
    create_workflow(api, "fan-in", "pages", [("pages", "extract", None), ("extract", "combine", None)])
    call = run_workflow(api, "fan-in", pdf(*(invoice_page(n) for n in range(1, 6))))
    assert call["status"] == "completed", call
    joins = [fc for fc in call["functionCalls"] if fc["type"] == "join"]
    assert len(joins) == 1
    [joined] = events_of(api, call["callID"], "join")
    assert joined["joinType"] == "standard"
    assert [item["itemOffset"] for item in joined["items"]] == [0, 1, 2, 3, 4]
    assert all(item["itemCount"] == 5 for item in joined["items"])
    transforms = events_of(api, call["callID"], "transform")
    assert len(transforms) == 5
    # The join started after the last transform had finished.
    finished = max(fc["finishedAt"] for fc in call["functionCalls"] if fc["type"] == "transform")
    assert joins[0]["startedAt"] >= finished
    assert joined["transformedContent"]["invoiceNumber"] in {f"INV-{n:03d}" for n in range(1, 6)}


def test_join_merges_arrays_from_every_branch(api: httpx.Client) -> None:
    split_fn(api, "pages")
    transform_fn(api, "lines", JOINED_SCHEMA["properties"]["lineItems"]["items"] | {})
    create_function(
        api,
        {"functionName": "as-list", "type": "payload_shaping", "shapingSchema": "{lineItems: [@], invoiceNumbers: []}"},
    )
    join_fn(api, "combine", JOINED_SCHEMA)
    create_workflow(
        api, "merge", "pages", [("pages", "lines", None), ("lines", "as-list", None), ("as-list", "combine", None)]
    )
    pages = [[f"SKU: A-{n}", f"Amount: {n}.25"] for n in range(1, 4)]
    call = run_workflow(api, "merge", pdf(*pages))
    assert call["status"] == "completed", call
    [joined] = events_of(api, call["callID"], "join")
    items = joined["transformedContent"]["lineItems"]
    assert sorted(items, key=lambda i: i["sku"]) == [{"sku": f"A-{n}", "amount": n + 0.25} for n in range(1, 4)]
    assert joined["invalidProperties"] == []


def test_join_called_with_a_batch_of_files(api: httpx.Client) -> None:
    join_fn(api, "combine")
    inputs = [
        {"inputType": "text", "inputContent": base64.b64encode(text.encode()).decode(), "itemReferenceID": ref}
        for ref, text in [("a", "Invoice Number: J-1"), ("b", "Total Amount: 99.90")]
    ]
    (call,) = submit(api, {"functionName": "combine", "input": {"batchFiles": {"inputs": inputs}}})
    call = wait_for(api, call["callID"])
    assert call["status"] == "completed", call
    [joined] = events_of(api, call["callID"], "join")
    assert joined["transformedContent"] == {"invoiceNumber": "J-1", "totalAmount": 99.9}
    assert [(i["itemOffset"], i["itemReferenceID"]) for i in joined["items"]] == [(0, "a"), (1, "b")]
    assert all(i["s3URL"].startswith("http") for i in joined["items"])


def test_semantic_split_groups_consecutive_pages_by_class(api: httpx.Client) -> None:
    transform_fn(api, "invoice-extract")
    transform_fn(api, "receipt-extract")
    classes = [
        {"name": "invoice", "description": "An invoice: invoice number, bill to, amount due"},
        {"name": "receipt", "description": "A shop receipt: cashier, change, thank you for shopping"},
    ]
    split_fn(api, "sorter", splitType="semantic_page", printPageSplitConfig=None,
             semanticPageSplitConfig={"itemClasses": classes})  # fmt: skip
    create_workflow(
        api,
        "sort",
        "sorter",
        [("sorter", "invoice-extract", "invoice"), ("sorter", "receipt-extract", "receipt")],
    )
    pages = [
        ["INVOICE", "Invoice Number: INV-001", "Bill to: Acme", "Amount due: 10.00"],
        ["Page 2 of the invoice", "Terms and conditions"],  # a continuation page
        ["RECEIPT", "Cashier: Ann", "Change: 0.50", "Thank you for shopping"],
        ["INVOICE", "Invoice Number: INV-002", "Amount due: 20.00"],
    ]
    call = run_workflow(api, "sort", pdf(*pages))
    assert call["status"] == "completed", call
    [collection] = events_of(api, call["callID"], "split_collection")
    output = collection["semanticPageOutput"]
    assert output["pageCount"] == 4 and output["itemCount"] == 3
    shape = [
        (i["itemClass"], i["pageStart"], i["pageEnd"], i["itemClassOffset"], i["itemClassCount"])
        for i in output["items"]
    ]
    assert shape == [("invoice", 1, 2, 0, 2), ("receipt", 3, 3, 0, 1), ("invoice", 4, 4, 1, 2)]
    assert len(page_texts(download(api, output["items"][0]["s3URL"]))) == 2
    ran = sorted((fc["functionName"], fc["referenceID"]) for fc in call["functionCalls"] if fc["type"] == "transform")
    refs = [i["itemReferenceID"] for i in output["items"]]
    assert ran == sorted([("invoice-extract", refs[0]), ("receipt-extract", refs[1]), ("invoice-extract", refs[2])])


@pytest.mark.parametrize(
    ("data", "input_type", "message"),
    [
        (b"Invoice Number: X", "text", "takes a PDF"),
        (b"%PDF-1.7 broken", "pdf", "PDF cannot be opened"),
    ],
    ids=["not-a-pdf", "broken-pdf"],
)
def test_split_of_a_wrong_input_fails_with_a_precise_error(
    api: httpx.Client, data: bytes, input_type: str, message: str
) -> None:
    split_fn(api, "pages")
    (call,) = submit(api, {"functionName": "pages", "input": single(data, input_type)})
    call = wait_for(api, call["callID"])
    assert call["status"] == "failed"
    [error] = events_of(api, call["callID"], "error")
    assert message in error["message"]


def test_route_classifies_by_description_and_falls_back_on_unreadable_input(api: httpx.Client) -> None:
    transform_fn(api, "invoices")
    transform_fn(api, "contracts")
    transform_fn(api, "manual-review")
    create_function(
        api,
        {
            "functionName": "triage",
            "type": "route",
            "description": "Sort incoming mail",
            "routes": [
                {"name": "billing", "description": "invoices, amounts due, payment"},
                {"name": "legal", "description": "contracts, agreements, signatures, clauses"},
                {"name": "review", "isErrorFallback": True},
            ],
        },
    )
    edges = [("triage", "invoices", "billing"), ("triage", "contracts", "legal"), ("triage", "manual-review", "review")]
    create_workflow(api, "mailroom", "triage", edges)
    cases = [
        (b"This agreement is signed by both parties; clause 4 applies.", "text", "legal", "contracts"),
        (b"Invoice Number: Q-9\nAmount due: 10.00\nPayment within 30 days", "text", "billing", "invoices"),
        (b"%PDF-1.4 garbage", "pdf", "review", "manual-review"),
    ]
    for data, input_type, choice, function in cases:
        call = run_workflow(api, "mailroom", data, input_type)
        [routed] = events_of(api, call["callID"], "route")
        assert routed["choice"] == choice
        after = [fc["functionName"] for fc in call["functionCalls"] if fc["type"] == "transform"]
        assert after == [function]


def test_a_failed_branch_does_not_stop_the_others(api: httpx.Client) -> None:
    split_fn(api, "pages")
    create_function(
        api,
        {
            "functionName": "needs-total",
            "type": "payload_shaping",
            "shapingSchema": "abs(totalAmount)",  # a type error where there is no total
        },
    )
    transform_fn(api, "extract")
    create_workflow(api, "partial", "pages", [("pages", "extract", None), ("extract", "needs-total", None)])
    pages = [invoice_page(1), ["Invoice Number: INV-002"], invoice_page(3)]  # page 2 has no total
    call = run_workflow(api, "partial", pdf(*pages))
    assert call["status"] == "failed"  # one branch failed …
    shaped = events_of(api, call["callID"], "payload_shaping")
    assert sorted(e["transformedContent"] for e in shaped) == [10.5, 30.5]  # … the others went on
    assert len(events_of(api, call["callID"], "error")) == 1
    assert get_call(api, call["callID"])["status"] == "failed"


def test_the_split_item_files_are_pdfs_the_next_function_reads(api: httpx.Client) -> None:
    split_fn(api, "pages")
    transform_fn(api, "extract")
    create_workflow(api, "wf", "pages", [("pages", "extract", None)])
    call = run_workflow(api, "wf", pdf(invoice_page(4), invoice_page(5)))
    transforms = [fc for fc in call["functionCalls"] if fc["type"] == "transform"]
    assert {fc["inputType"] for fc in transforms} == {"pdf"}
    for fc in transforms:
        assert io.BytesIO(download(api, fc["s3URL"])).read(5) == b"%PDF-"


def wait_for_items(api: httpx.Client, collection: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + POLL_SECONDS
    while True:
        body = api.get("/v2/collections/items", params={"collectionName": collection, "limit": 100}).json()
        if len(body.get("items", [])) >= count:
            return body["items"]
        if time.monotonic() > deadline:
            pytest.fail(f"{collection} has {body} after {POLL_SECONDS} s")
        time.sleep(0.1)


VENDORS = [
    {"vendorID": "V-100", "name": "Northwind Traders", "country": "DE"},
    {"vendorID": "V-200", "name": "Contoso Pharmaceuticals", "country": "US"},
    {"vendorID": "V-300", "name": "Fabrikam Freight Lines", "country": "NL"},
]


def test_route_branches_enrich_and_shape_end_to_end(api: httpx.Client) -> None:
    """route -> (invoice transform | receipt transform) -> enrich (vendor master data) -> payload_shaping."""
    assert api.post("/v2/collections", json={"collectionName": "vendors"}).status_code == 200
    added = api.post(
        "/v2/collections/items", json={"collectionName": "vendors", "items": [{"data": v} for v in VENDORS]}
    )
    assert added.status_code in (200, 202), added.text
    wait_for_items(api, "vendors", len(VENDORS))

    schema = {"type": "object", "properties": {"vendorName": {"type": "string"}, "totalAmount": {"type": "number"}}}
    for name in ("invoice-fields", "receipt-fields"):
        transform_fn(api, name, schema)
    create_function(
        api,
        {
            "functionName": "doc-type",
            "type": "route",
            "description": "Invoices or receipts",
            "routes": [
                {"name": "invoice", "regex": {"patterns": ["(?i)\\binvoice\\b"]}},
                {"name": "receipt", "regex": {"patterns": ["(?i)\\breceipt\\b"]}},
            ],
        },
    )
    create_function(
        api,
        {
            "functionName": "vendor-lookup",
            "type": "enrich",
            "config": {
                "steps": [
                    {
                        "collectionName": "vendors",
                        "sourceField": "vendorName",
                        "targetField": "vendor",
                        "searchMode": "hybrid",
                        "includeCosineDistance": True,
                    }
                ]
            },
        },
    )
    create_function(
        api,
        {
            "functionName": "shape",
            "type": "payload_shaping",
            "shapingSchema": "{vendorID: vendor[0].data.vendorID, country: vendor[0].data.country, total: totalAmount}",
        },
    )
    edges = [
        ("doc-type", "invoice-fields", "invoice"),
        ("doc-type", "receipt-fields", "receipt"),
        ("invoice-fields", "vendor-lookup", None),
        ("receipt-fields", "vendor-lookup", None),
        ("vendor-lookup", "shape", None),
    ]
    create_workflow(api, "intake", "doc-type", edges)
    cases = [
        (b"INVOICE\nVendor Name: Contoso Pharmaceuticals\nTotal Amount: 120.00", "invoice-fields",
         {"vendorID": "V-200", "country": "US", "total": 120.0}),
        (b"RECEIPT\nVendor Name: Fabrikam Freight\nTotal Amount: 9.95", "receipt-fields",
         {"vendorID": "V-300", "country": "NL", "total": 9.95}),
    ]  # fmt: skip
    for data, branch, shaped in cases:
        call = run_workflow(api, "intake", data, "text")
        assert call["status"] == "completed", call
        ran = [fc["functionName"] for fc in call["functionCalls"]]
        assert sorted(ran) == sorted(["doc-type", branch, "vendor-lookup", "shape"])
        [enriched] = events_of(api, call["callID"], "enrich")
        [best, *_] = enriched["enrichedContent"]["vendor"]
        assert 0 <= best["cosineDistance"] <= 2
        [result] = events_of(api, call["callID"], "payload_shaping")
        assert result["transformedContent"] == shaped


def test_enrich_of_an_unknown_collection_fails_the_call_saying_so(api: httpx.Client) -> None:
    create_function(
        api,
        {
            "functionName": "lookup",
            "type": "enrich",
            "config": {"steps": [{"collectionName": "nowhere", "sourceField": "name", "targetField": "hits"}]},
        },
    )
    data = json.dumps({"name": "Acme"}).encode()
    (call,) = submit(api, {"functionName": "lookup", "input": single(data, "json")})
    call = wait_for(api, call["callID"])
    assert call["status"] == "failed"
    [error] = events_of(api, call["callID"], "error")
    assert "nowhere" in error["message"] and "not found" in error["message"]


def test_a_split_called_on_its_own_runs_its_next_function_for_each_item(api: httpx.Client) -> None:
    transform_fn(api, "extract")
    split_fn(api, "pages", printPageSplitConfig={"nextFunctionName": "extract"})
    (call,) = submit(api, {"functionName": "pages", "input": single(pdf(invoice_page(7), invoice_page(8)), "pdf")})
    call = wait_for(api, call["callID"])
    assert call["status"] == "completed", call
    transforms = events_of(api, call["callID"], "transform")
    assert sorted(e["transformedContent"]["invoiceNumber"] for e in transforms) == ["INV-007", "INV-008"]
