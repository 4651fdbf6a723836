"""Unit tests of the builtin provider's dense parts: values as documents print them, label matching,
reading order. Expected values are written by hand from how the documents read to a person."""

from __future__ import annotations

import pytest

from quarry.documents.layout import reading_order_text
from quarry.documents.model import Word
from quarry.documents.parse import parse
from quarry.providers.llm.builtin.extractor import extract
from quarry.providers.llm.builtin.values import best_amount, currency_in, fold, parse_date, parse_number
from quarry.providers.llm.builtin.vocabulary import concept_for


@pytest.mark.parametrize(
    ("printed", "value"),
    [
        ("1,234.56", 1234.56),
        ("1.234,56", 1234.56),
        ("1 234,56", 1234.56),
        ("1'234.56", 1234.56),
        ("1234.5", 1234.5),
        ("3,89", 3.89),
        ("1,000", 1000.0),
        ("1.000", 1000.0),
        ("12,5", 12.5),
        ("(12.00)", -12.0),
        ("-7", -7.0),
        ("1,234,567.89", 1234567.89),
        ("1.234.567,89", 1234567.89),
        ("no digits", None),
        ("0.125", 0.125),  # a leading 0 is no thousands group
        ("0,001", 0.001),
        ("0,125", 0.125),
        ("9" * 400, None),  # overflows a float
    ],
)
def test_numbers_in_local_formats(printed: str, value: float | None) -> None:
    assert parse_number(printed) == value


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("-$50.00", (-50.0, "USD")),
        ("- 50.00 EUR", (-50.0, "EUR")),
        ("Refund: - 50.00", (-50.0, None)),
        ("(12.00)", (-12.0, None)),
        ("Coffee - 3.50", (3.5, None)),  # a dash between words and a price
        ("Item 2024-7 10.00", (10.0, None)),
    ],
)
def test_signs_set_apart_from_their_figure(text: str, amount: tuple[float, str | None]) -> None:
    assert best_amount(text) == amount


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("BLUE PEN 2.00", None),
        ("2 PHP BOOKS", None),
        ("TOTAL PEN 2.00", "PEN"),
        ("PEN 2.00", "PEN"),
        ("2.00 PEN", "PEN"),
        ("Total USD 5", "USD"),
        ("EUR 34,73", "EUR"),
    ],
)
def test_a_currency_code_beside_a_figure_unless_it_is_part_of_a_name(text: str, currency: str | None) -> None:
    found = best_amount(text)
    assert (found[1] if found else None) == currency


@pytest.mark.parametrize(
    ("printed", "day_first", "iso"),
    [
        ("2024-03-05", True, "2024-03-05"),
        ("05.03.2024", False, "2024-03-05"),  # dots are day-first everywhere
        ("03/05/2024", False, "2024-03-05"),
        ("05/03/2024", True, "2024-03-05"),
        ("31/12/2017", False, "2017-12-31"),  # unambiguous whatever the hint
        ("5 March 2024", True, "2024-03-05"),
        ("March 5, 2024", True, "2024-03-05"),
        ("August 3 , 2014", True, "2014-08-03"),
        ("7. Mai 2014", True, "2014-05-07"),
        ("02 Juillet 2015", True, "2015-07-02"),
        ("5 de marzo de 2024", True, "2024-03-05"),
        ("Invoice dated 1st Feb 2023, due later", True, "2023-02-01"),
        ("31/02/2024", True, None),
        ("no date here", True, None),
    ],
)
def test_dates_to_iso(printed: str, day_first: bool, iso: str | None) -> None:
    assert parse_date(printed, day_first=day_first) == iso


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("ON August 3 , 2014 $4.11", (4.11, "USD")),
        ("29.99 € TTC", (29.99, "EUR")),
        ("EUR 34,73", (34.73, "EUR")),
        ("Rs 1939 x 1 Night", (1939.0, "INR")),
        ("£1,200.00 (incl. 20% VAT)", (1200.0, "GBP")),
        ("CHF 99.90", (99.9, "CHF")),
        ("nothing", None),
    ],
)
def test_the_amount_of_a_value_cell(text: str, amount: tuple[float, str] | None) -> None:
    assert best_amount(text) == amount


def test_currency_codes_beat_lookalike_words() -> None:
    assert currency_in("Total USD 5") == "USD"
    assert currency_in("EURO STYLE") is None
    assert currency_in("US$ 10") == "USD"


def test_fold_keeps_positions() -> None:
    for text in ("Straße Größe", "Numéro de facture", "ÆØÅ", "n°"):
        assert len(fold(text)) == len(text)


@pytest.mark.parametrize(
    ("name", "concept"),
    [
        ("invoiceNumber", "invoice_number"),
        ("invoice_no", "invoice_number"),
        ("billOfLadingNumber", "bill_of_lading_number"),
        ("invoiceDate", "invoice_date"),
        ("dueDate", "due_date"),
        ("vendorName", "issuer"),
        ("totalAmount", "total"),
        ("taxAmount", "tax"),
        ("customerName", "customer"),
        ("containerNumbers", "containers"),
        ("favouriteColour", None),
    ],
)
def test_property_names_map_to_concepts(name: str, concept: str | None) -> None:
    found = concept_for(name, None, in_table=False)
    assert (found.name if found else None) == concept


def test_reading_order_puts_a_label_beside_its_value() -> None:
    # Drawn value first, label later, as many PDF generators do.
    words = [Word("42", 300, 100, 320, 110), Word("Invoice", 50, 101, 90, 111), Word("No.", 95, 101, 115, 111)]
    assert reading_order_text(words) == "Invoice No.    42"


SCHEMA = {
    "type": "object",
    "properties": {
        "invoiceNumber": {"type": "string"},
        "invoiceDate": {"type": "string", "format": "date"},
        "dueDate": {"type": "string", "format": "date"},
        "totalAmount": {"type": "number"},
        "subtotal": {"type": "number"},
        "currency": {"type": "string"},
        "paid": {"type": "boolean"},
        "paymentMethod": {"type": "string", "enum": ["cash", "card", "other"]},
    },
}


def test_labels_in_other_languages_and_rival_labels() -> None:
    text = (
        "Rechnungsnummer: R-2024-77\n"
        "Rechnungsdatum: 02.04.2024\n"
        "Fällig am: 16.04.2024\n"
        "Zwischensumme: 1.000,00 EUR\n"
        "Gesamtbetrag: 1.190,00 EUR\n"
        "Paid: yes\n"
        "Payment method: Visa card ending 4242\n"
    )
    content, confidences = extract(parse("text", text.encode()), SCHEMA)
    assert content == {
        "invoiceNumber": "R-2024-77",
        "invoiceDate": "2024-04-02",
        "dueDate": "2024-04-16",
        "totalAmount": 1190.0,
        "subtotal": 1000.0,
        "currency": "EUR",
        "paid": True,
        "paymentMethod": "card",
    }
    assert set(confidences) == {f"/{name}" for name in content}


def test_the_due_date_is_not_taken_for_the_invoice_date() -> None:
    content, _ = extract(parse("text", b"Due date: 2024-05-01\nAmount due: $10.00\n"), SCHEMA)
    assert content.get("dueDate") == "2024-05-01"
    assert content.get("invoiceDate") != "2024-05-01"
    assert content["totalAmount"] == 10.0


def test_absent_values_are_left_out_not_invented() -> None:
    content, confidences = extract(parse("text", b"Hello, this note has no invoice data.\n"), SCHEMA)
    assert "totalAmount" not in content and "invoiceNumber" not in content
    assert all(f"/{name}" in confidences for name in content)


def test_invalid_properties_names_what_breaks_the_schema_at_the_root() -> None:
    from quarry.providers.llm import invalid_properties

    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}, "n": {"type": "number"}},
        "required": ["a"],
        "dependentRequired": {"n": ["b"]},
        "additionalProperties": False,
    }
    assert invalid_properties({"a": "x"}, schema) == []
    assert invalid_properties({}, schema) == ["a"]
    assert invalid_properties({"a": "x", "n": 1}, schema) == ["b"]
    assert invalid_properties({"a": "x", "bogus": 1}, schema) == ["bogus"]
    assert invalid_properties({"a": 5, "n": "one", "b": "y"}, schema) == ["a", "n"]
