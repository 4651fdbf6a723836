"""The layouts of real receipts and ERP-made invoices that the builtin extractor used to misread
(issue #14): a receipt whose first line is not the company and whose GST, rounding and cash lines
are figures too; an invoice whose seller is a block under ``Verkäufer:``, whose number sits in its
title, whose totals include discount lines; a nested ``vendor.name``; an API's amounts in cents.
And, through the API, the review marks that the confidences drive.

The documents are written here by hand in the shape of those layouts (the real ones are not ours to
ship); the expected values are what a person reads off them.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from quarry.documents.model import text_document
from quarry.documents.readers.plain import read_json
from quarry.providers.llm.builtin.extractor import extract
from tests.calls_client import events_of, single, submit, wait_for
from tests.helpers import create_function

RECEIPT_SCHEMA = {
    "type": "object",
    "properties": {
        "company": {"type": "string"},
        "date": {"type": "string", "format": "date"},
        "total": {"type": "number"},
    },
}
INVOICE_SCHEMA = {
    "type": "object",
    "properties": {
        "invoiceNumber": {"type": "string"},
        "invoiceDate": {"type": "string", "format": "date"},
        "vendor": {"type": "object", "properties": {"name": {"type": "string"}, "vatId": {"type": "string"}}},
        "totalAmount": {"type": "number"},
    },
}

RECEIPT = """\
WELCOME TO OUR STORE
KEDAI RUNCIT MAJU JAYA SDN BHD
(123456-X)
NO 12, JALAN BUNGA RAYA, 53200 KUALA LUMPUR
GST ID: 000123456789
TAX INVOICE
DOC NO: CS0001    DATE: 02/12/2017
ITEM    QTY    AMOUNT
SPRAY PAINT    1    7.00
TOTAL QTY:    1
TOTAL SALES (EXCLUDING GST):    7.00
TOTAL GST:    0.42
TOTAL SALES (INCLUSIVE OF GST):    7.42
ROUNDING ADJ:    -0.02
TOTAL:    7.40
CASH:    10.00
CHANGE:    2.60
THANK YOU
"""


def run(text: str, schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, float]]:
    return extract(text_document("text", text), schema)


def test_a_receipt_gives_its_company_date_and_paid_total() -> None:
    content, confidences = run(RECEIPT, RECEIPT_SCHEMA)
    assert content == {"company": "KEDAI RUNCIT MAJU JAYA SDN BHD", "date": "2017-12-02", "total": 7.40}
    assert confidences["/total"] >= 0.9  # cash less change confirms it


@pytest.mark.parametrize(
    ("lines", "total"),
    [
        (["SUBTOTAL: 10.00", "GST 6%: 0.60", "TOTAL: 10.60"], 10.60),  # not the tax, not the subtotal
        (["Total Incl. of GST  RM10.60", "Total Item(s): 12", "Payment: 10.60"], 10.60),  # not the item count
        (["Balance due: 0.00", "Grand total: 25.00"], 25.00),  # a paid invoice's balance is not its total
        (
            ["TOTAL (INCLUSIVE OF GST): 48.16", "ROUNDING ADJ: -0.01", "TOTAL: 48.15", "CASH: 50.00", "CHANGE: 1.85"],
            48.15,
        ),
    ],
)
def test_the_total_is_the_largest_consistent_figure(lines: list[str], total: float) -> None:
    content, _ = run(
        "SHOP ENTERPRISE\n" + "\n".join(lines), {"type": "object", "properties": {"total": {"type": "number"}}}
    )
    assert content["total"] == pytest.approx(total)


def test_a_person_named_at_the_top_is_not_the_company() -> None:
    text = "Cheah Pei Ni\nPOPULAR BOOK\nCO. (M) SDN BHD\n(Co.No. 113825-W)\nTotal RM 14.65\n"
    content, _ = run(text, RECEIPT_SCHEMA)
    assert content["company"] == "POPULAR BOOK CO. (M) SDN BHD"


def test_a_registration_line_is_not_the_company() -> None:
    text = "LIM SENG THO HARDWARE TRADING\nCOMPANY REG NO. : (002231061-T)\nGST REG NO. : 001269075968\nTOTAL: 7.00\n"
    content, _ = run(text, RECEIPT_SCHEMA)
    assert content["company"] == "LIM SENG THO HARDWARE TRADING"


ERP_INVOICE = """\
Handelsrechnung Nr. 471102 vom 05.03.2018
Verkäufer:
Nummer : 549910
Lieferant GmbH
Lieferantenstraße 20
DE 80333 München
USt.-Id.-Nr. :    DE123456789
Käufer:
Kunden AG Mitte
Kundenstraße 15
Pos    Beschreibung    Menge    Betrag
1    Trennblätter A4    20 Stk    198,00
Positionssumme    198,00
Gesamtbetrag der Abschläge    -0,00
Steuerbetrag    37,62
Bruttosumme    235,62
Zahlbetrag    235,62
"""


def test_an_erp_invoice_read_from_its_page_text() -> None:
    content, _ = run(ERP_INVOICE, INVOICE_SCHEMA)
    assert content["invoiceNumber"] == "471102"
    assert content["invoiceDate"] == "2018-03-05"
    assert content["vendor"]["name"] == "Lieferant GmbH"  # not "Nummer", not a line item
    assert content["vendor"]["vatId"] == "DE123456789"
    assert content["totalAmount"] == pytest.approx(235.62)  # not the discount line


@pytest.mark.parametrize(
    ("title", "number"),
    [
        ("Facture FA-2017-0010", "FA-2017-0010"),
        ("Invoice # RE-20201121/508 issued at 2020-11-21", "RE-20201121/508"),
        ("Factura n.º 2024-117", "2024-117"),
        ("Schlussrechnung Nr.: SR-77", "SR-77"),
    ],
)
def test_invoice_numbers_in_their_title(title: str, number: str) -> None:
    content, _ = run(
        f"Some Company Ltd\n{title}\nTotal 10.00\n",
        {"type": "object", "properties": {"invoiceNumber": {"type": "string"}}},
    )
    assert content["invoiceNumber"] == number


def test_a_nested_vendor_name_is_the_issuer_not_a_line_item() -> None:
    text = (
        "Seller: Global Supplies Ltd.\nBuyer: Kunden AG\n\n"
        "Description    Qty    Amount\nStahlcoil    2    2000.00\nTotal 2000.00"
    )
    content, _ = run(text, INVOICE_SCHEMA)
    assert content["vendor"] == {"name": "Global Supplies Ltd."}


def test_amounts_in_cents_in_an_api_object_are_major_units() -> None:
    stripe_like = b'{"object": "invoice", "currency": "usd", "number": "A-1", "subtotal": 428938, "total": 428938}'
    content, _ = extract(read_json(stripe_like), {"type": "object", "properties": {"total": {"type": "number"}}})
    assert content["total"] == pytest.approx(4289.38)
    plain = b'{"currency": "USD", "total": 428938, "price_cents": 1999}'
    schema = {"type": "object", "properties": {"total": {"type": "number"}, "priceCents": {"type": "number"}}}
    content, _ = extract(read_json(plain), schema)
    assert content["total"] == 428938  # no sign of minor units: as written
    assert content["priceCents"] == pytest.approx(19.99)  # the key says cents


def test_review_marks_follow_the_confidences(api: httpx.Client) -> None:
    create_function(
        api,
        {
            "functionName": "receipts",
            "type": "transform",
            "outputSchemaName": "Receipt",
            "outputSchema": RECEIPT_SCHEMA,
        },
    )
    (call,) = submit(api, {"functionName": "receipts", "input": single(RECEIPT.encode(), "text")})
    assert wait_for(api, call["callID"])["status"] == "completed"
    (event,) = events_of(api, call["callID"])
    assert event["transformedContent"]["total"] == pytest.approx(7.40)
    confidences = event["fieldConfidences"]
    doubtful = sorted(pointer for pointer, confidence in confidences.items() if confidence < 0.9)
    assert event["fieldsNeedingReview"] == doubtful and event["needsReview"] is bool(doubtful)
    assert "/total" not in doubtful  # confirmed by the payment
