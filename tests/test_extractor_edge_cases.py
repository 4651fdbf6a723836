"""Edge cases of the extractors: schemas the builtin extractor must read (boolean subschemas, local
``$ref``, ``anyOf``), values it must not invent or misread, and the openai provider's repair round,
retries and backoff.

Expected values are written by hand from how each small document reads to a person.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from quarry.config import Settings
from quarry.documents.model import text_document
from quarry.documents.parse import parse
from quarry.providers.llm import ExtractionRequest, ProviderError, invalid_properties
from quarry.providers.llm.builtin.extractor import extract
from quarry.providers.llm.openai import JITTER, OpenAIProvider
from tests.harness.fake_model import FakeOpenAI, answer, failure

INVOICE = (
    "ACME Ltd\n"
    "Invoice No: INV-1\n"
    "Date: 5 March 2024\n"
    "Total: 1,234.56 EUR\n"
    "\n"
    "Description    Qty    Amount\n"
    "Widget    2    200.00\n"
    "Subtotal    200.00"
)


def run(text: str, properties: dict[str, Any], **schema: Any) -> tuple[dict[str, Any], dict[str, float]]:
    return extract(text_document("text", text), {"type": "object", "properties": properties, **schema})


def assert_confidences_point_at_values(content: dict[str, Any], confidences: dict[str, float]) -> None:
    for pointer in confidences:
        node: Any = content
        for part in pointer.lstrip("/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert node is not None, pointer


# === schemas ===================================================================================


def test_boolean_subschemas_are_read_not_crashed_on() -> None:
    content, _ = run(INVOICE, {"anything": True, "nothing": False, "total": {"type": "number"}})
    assert content == {"total": 1234.56}
    content, _ = run(INVOICE, {"invoiceNumber": True})
    assert content == {"invoiceNumber": "INV-1"}  # ``true`` is any value: read as text
    content, _ = run(INVOICE, {"lineItems": {"type": "array", "items": False}})
    assert content == {}


def test_local_references_are_resolved() -> None:
    schema = {
        "type": "object",
        "$defs": {
            "Money": {"type": "number"},
            "Item": {
                "type": "object",
                "properties": {"description": {"type": "string"}, "amount": {"$ref": "#/$defs/Money"}},
            },
        },
        "properties": {
            "total": {"$ref": "#/$defs/Money", "title": "Grand total"},
            "lineItems": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
        },
    }
    content, confidences = extract(text_document("text", INVOICE), schema)
    assert content == {"total": 1234.56, "lineItems": [{"description": "Widget", "amount": 200.0}]}
    assert not list(Draft202012Validator(schema).iter_errors(content))
    assert set(confidences) == {"/total", "/lineItems/0/description", "/lineItems/0/amount"}


def test_a_recursive_schema_is_read_to_a_bounded_depth() -> None:
    schema = {
        "type": "object",
        "properties": {"invoiceNumber": {"type": "string"}, "parent": {"$ref": "#"}},
    }
    content, _ = extract(text_document("text", INVOICE), schema)
    depth = 0
    while "parent" in content:
        content, depth = content["parent"], depth + 1
    assert content == {"invoiceNumber": "INV-1"} and depth == 8


@pytest.mark.parametrize("keyword", ["anyOf", "oneOf"])
def test_the_first_branch_that_is_not_null_types_the_value(keyword: str) -> None:
    properties = {
        "total": {keyword: [{"type": "null"}, {"type": "number"}]},
        "invoiceDate": {keyword: [{"type": "string", "format": "date"}, {"type": "null"}]},
    }
    content, _ = run(INVOICE, properties)
    assert content == {"total": 1234.56, "invoiceDate": "2024-03-05"}


def test_a_date_time_property_gets_an_rfc_3339_date_time() -> None:
    properties = {"invoiceDate": {"type": "string", "format": "date-time"}}
    assert run(INVOICE, properties)[0] == {"invoiceDate": "2024-03-05T00:00:00Z"}
    assert run("Invoice date: 05.03.2024 14:30\n", properties)[0] == {"invoiceDate": "2024-03-05T14:30:00Z"}
    assert run("Invoice date: March 5, 2024 at 2:05 pm\n", properties)[0] == {"invoiceDate": "2024-03-05T14:05:00Z"}
    # With no label, the document's first date, as a date-time too.
    value = run("Thanks for your order\n2024-03-05\n", properties)[0]["invoiceDate"]
    assert datetime.datetime.fromisoformat(value) == datetime.datetime(2024, 3, 5, tzinfo=datetime.UTC)


def test_a_number_outside_its_enum_is_left_out() -> None:
    content, confidences = run(INVOICE, {"total": {"type": "integer", "enum": [1, 2]}})
    assert content == {} and confidences == {}


def test_property_names_are_escaped_in_pointers() -> None:
    content, confidences = run("Total: 5.00\n", {"total/gross": {"type": "number", "title": "Total"}})
    assert content == {"total/gross": 5.0}
    assert set(confidences) == {"/total~1gross"}


# === values ====================================================================================


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Discount: 0.125", 0.125),
        ("Discount: 0,001", 0.001),
        ("Refund: -$50.00", -50.0),
        ("Refund: - 50.00 EUR", -50.0),
        ("Refund: (12.00)", -12.0),
        ("Refund: 1,000", 1000.0),
        ("Refund: " + "9" * 400, None),  # overflows a float: not a figure
    ],
)
def test_signs_and_leading_zeros(text: str, value: float | None) -> None:
    content, _ = run(text, {"refund": {"type": "number"}, "discount": {"type": "number"}})
    assert next(iter(content.values()), None) == value


def test_a_dash_after_a_word_is_no_minus_sign() -> None:
    content, _ = run("Coffee - 3.50\n", {"coffee": {"type": "number"}})
    assert content == {"coffee": 3.5}


def test_the_line_below_a_label_is_not_its_value_when_it_states_its_own() -> None:
    content, _ = run("Tax rate 19%\nTotal 100.00", {"tax": {"type": "number"}, "total": {"type": "number"}})
    assert content == {"total": 100.0}
    content, _ = run("Invoice date\nDue date: 2024-05-01", {"invoiceDate": {"type": "string", "format": "date"}})
    assert content.get("invoiceDate") != "2024-05-01"
    # A value alone on the line below is still taken.
    content, _ = run("Tax\n19.00\nTotal 119.00", {"tax": {"type": "number"}})
    assert content == {"tax": 19.0}


def test_a_column_total_only_under_a_column_header() -> None:
    weight = {"totalWeight": {"type": "number"}}
    assert run("Weight: 12.5 kg\nTotal: 100.00", weight)[0] == {"totalWeight": 12.5}
    assert run("Gross weight\nTotal: 100.00", weight)[0] == {}
    table = "Item    Pieces    Gross weight (kg)\nCrate    2    500.0\nBox    3    700.5\nTotal    5    1,200.5\n"
    assert run(table, weight)[0] == {"totalWeight": 1200.5}


@pytest.mark.parametrize("name", ["birthDate", "endDate", "startDate"])
def test_only_the_invoice_date_falls_back_to_the_first_date(name: str) -> None:
    text = "Name: Ann Lee\nSigned on 2024-03-05\n"
    content, confidences = run(text, {name: {"type": "string", "format": "date"}})
    assert content == {} and confidences == {}
    for invoice_date in ("invoiceDate", "date", "dateOfIssue"):
        content, _ = run(text, {invoice_date: {"type": "string", "format": "date"}})
        assert content == {invoice_date: "2024-03-05"}


@pytest.mark.parametrize(
    ("text", "issuer"),
    [
        ("Thank you for shopping with us as always\nBLUE PEN 2.00", None),
        ("Net weight 12 kg\nTotal 2.00", None),
        ("Meeting notes: we are company men\nTotal 2.00", None),
        ("Nordic Foods AS\nInvoice 12", "Nordic Foods AS"),
        ("Müller Maschinenbau AG\nInvoice 12", "Müller Maschinenbau AG"),
        ("Brightline Analytics llc\nInvoice 12", "Brightline Analytics llc"),
        ("Smith & Co.\nInvoice 12", "Smith & Co."),
    ],
)
def test_legal_forms_are_not_ordinary_words(text: str, issuer: str | None) -> None:
    content, confidences = run(text, {"issuer": {"type": "string"}})
    if issuer is None:
        assert content.get("issuer") is None or confidences["/issuer"] < 0.5  # not taken for a company name
    else:
        assert content == {"issuer": issuer} and confidences["/issuer"] >= 0.5  # the letterhead company


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("BLUE PEN 2.00\nTotal 2.00", None),  # a pen
        ("2 PHP BOOKS 20.00\nTotal 20.00", None),  # books about PHP
        ("TOTAL PEN 2.00", "PEN"),  # soles
        ("Total: 2.00 PEN", "PEN"),
        ("Total: CAD 5.00", "CAD"),
        ("Price list in EUR\nTotal 5.00", None),  # a code far from any figure
    ],
)
def test_a_currency_code_counts_beside_a_figure_outside_a_name(text: str, currency: str | None) -> None:
    content, _ = run(text, {"total": {"type": "number"}, "currency": {"type": "string"}})
    assert content.get("currency") == currency


@pytest.mark.parametrize(
    "text",
    ["(Pty) Ltd\nhello", "Thank you for shopping with us as always", "(Total)\n: ", "Date:\n(none)", INVOICE],
)
def test_no_confidence_without_a_value(text: str) -> None:
    properties = {
        "vendor": {"type": "string"},
        "invoiceDate": {"type": "string"},
        "total": {"type": "number"},
        "currency": {"type": "string"},
    }
    content, confidences = run(text, properties)
    assert_confidences_point_at_values(content, confidences)
    assert set(confidences) == {f"/{name}" for name in content}


def test_a_long_table_is_read_whole() -> None:
    lines = ["Description    Amount", *(f"Widget number {i}    {i}.25" for i in range(1500)), "Total    999.00"]
    items = {
        "type": "array",
        "items": {"type": "object", "properties": {"description": {}, "amount": {"type": "number"}}},
    }
    content, confidences = run("\n".join(lines), {"lineItems": items})
    assert len(content["lineItems"]) == 1500
    assert content["lineItems"][1499] == {"description": "Widget number 1499", "amount": 1499.25}
    assert len(confidences) == 3000


def test_structured_documents_keep_their_answers() -> None:
    data = {"invoice": {"number": "A-1", "total": "0.125"}, "lines": [{"description": "Bolt", "amount": 2}]}
    document = parse("json", json.dumps(data).encode())
    schema = {
        "type": "object",
        "properties": {
            "invoiceNumber": {"type": "string"},
            "total": {"type": "number"},
            "lines": {"$ref": "#/$defs/Lines"},
        },
        "$defs": {
            "Lines": {
                "type": "array",
                "items": {"type": "object", "properties": {"description": True, "amount": {"type": "number"}}},
            }
        },
    }
    content, _ = extract(document, schema)
    assert content["invoiceNumber"] == "A-1" and content["total"] == 0.125
    assert content["lines"] == [{"description": "Bolt", "amount": 2.0}]
    assert invalid_properties(content, schema) == []


# === the openai provider =======================================================================

SCHEMA = {"type": "object", "properties": {"total": {"type": "number"}}, "required": ["total"]}


@pytest.fixture(scope="module")
def fake():
    server = FakeOpenAI()
    yield server
    server.close()


PLAIN = {"strict": False, "logprobs": False}
"""Requests as plain as before strict schemas and logprobs (a 400 to those is asked again plainly,
one request more: tests/test_strict_outputs.py)."""


def request() -> ExtractionRequest:
    return ExtractionRequest(text_document("text", "Total 5"), SCHEMA, "Totals", "transform")


def test_a_failed_repair_request_leaves_the_first_answer(fake: FakeOpenAI) -> None:
    fake.script(answer({"total": "5"}), failure(400, "This model's maximum context length is 8192 tokens"))
    sleeps: list[float] = []
    extraction = OpenAIProvider(fake.url, "m", sleep=sleeps.append, **PLAIN).extract(request())
    assert extraction.content == {"total": "5"}
    assert invalid_properties(extraction.content, SCHEMA) == ["total"]
    assert extraction.confidences == {"/total": 0.4}
    assert len(fake.requests) == 2 and sleeps == []


def test_a_failed_repair_of_an_answer_that_is_no_json_still_fails(fake: FakeOpenAI) -> None:
    fake.script(answer("sure, here it is"), failure(400, "context too long"))
    with pytest.raises(ProviderError) as raised:
        OpenAIProvider(fake.url, "m", sleep=lambda s: None, **PLAIN).extract(request())
    assert "context too long" in str(raised.value)


@pytest.mark.parametrize("base_url", ["ftp://models.example", "models.example/v1", "http://"])
def test_an_endpoint_url_that_is_no_http_url_fails_at_once(base_url: str) -> None:
    sleeps: list[float] = []
    with pytest.raises(ProviderError) as raised:
        OpenAIProvider(base_url, "m", sleep=sleeps.append, max_attempts=5).extract(request())
    assert "model endpoint URL" in str(raised.value)
    assert sleeps == []


def test_backoff_waits_are_stretched_by_a_random_share(fake: FakeOpenAI) -> None:
    fake.script(*[failure(503, "busy", retry_after=None)] * 4, answer({"total": 5}))
    sleeps: list[float] = []
    provider = OpenAIProvider(fake.url, "m", sleep=sleeps.append, max_attempts=5, jitter=JITTER)
    assert provider.extract(request()).content == {"total": 5}
    assert len(sleeps) == 4
    for base, waited in zip([1.0, 2.0, 4.0, 8.0], sleeps):
        assert base <= waited <= base * (1 + JITTER)
    assert sleeps != [1.0, 2.0, 4.0, 8.0]


def test_the_deployments_provider_has_jitter() -> None:
    settings = Settings.from_env({"QUARRY_LLM_BASE_URL": "http://127.0.0.1:9", "QUARRY_LLM_MODEL": "m"})
    assert OpenAIProvider.from_settings(settings).jitter == JITTER
    assert OpenAIProvider("http://127.0.0.1:9", "m").jitter == 0.0  # exact waits unless asked
