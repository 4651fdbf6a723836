"""Check the sample corpus against its manifest, reading every file back with its own reader library.

Run from the repository root after ``examples/generate.py``::

    .venv/bin/python examples/verify.py          # readers, text layers, answers, arithmetic, schemas
    .venv/bin/python examples/verify.py --ocr    # also OCR the images and scans and report what OCR misses

For every document it checks that the file opens, that text PDFs have a text layer and scanned ones have
none, that each value of ``expected`` is printed in some form in the text-bearing documents (a date in
one of the date styles, an amount in one of the number styles, ...), that the numbers add up, and that
``expected`` validates against the document's schema. It exits non-zero on any failure.
"""

from __future__ import annotations

import csv
import email
import email.policy
import html
import io
import json
import re
import sys
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import docx
import jsonschema
import openpyxl
import pypdfium2
import xlrd
from generate import SEPARATORS, fmt_date, fmt_number  # the same formatting the documents were written with
from PIL import Image

HERE = Path(__file__).resolve().parent
IMAGE_TYPES = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "heic": "HEIF"}
DATE_STYLES = ("iso", "us", "dmy", "dot", "long", "us_long", "de_long", "fr_long", "abbr")
CURRENCY_SIGNS = {"USD": ("$",), "EUR": ("€",), "GBP": ("£",), "INR": ("₹", "Rs."), "CHF": ()}
PAYMENT_WORDS = {"cash": ("CASH", "Bar"), "card": ("VISA", "girocard", "CB ", "card"), "other": ("PayPal",)}


def pdf_text(data: bytes) -> str:
    pdf = pypdfium2.PdfDocument(data)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in pdf)
    finally:
        pdf.close()


def cell_text(value: object) -> str:
    """A spreadsheet value as it would be read out: dates in ISO, numbers without a spurious '.0'."""
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float):
        return format(Decimal(repr(value)).normalize(), "f")
    return "" if value is None else str(value)


def docx_text(data: bytes) -> str:
    document = docx.Document(io.BytesIO(data))
    parts = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    return "\n".join(parts)


def xlsx_text(data: bytes) -> str:
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    return "\n".join(cell_text(cell) for sheet in workbook for row in sheet.iter_rows(values_only=True) for cell in row)


def xls_text(data: bytes) -> str:
    book = xlrd.open_workbook(file_contents=data)
    parts = []
    for sheet in book.sheets():
        for row in range(sheet.nrows):
            for cell in sheet.row(row):
                value = cell.value
                if cell.ctype == xlrd.XL_CELL_DATE:
                    value = xlrd.xldate_as_datetime(value, book.datemode)
                parts.append(cell_text(value))
    return "\n".join(parts)


def email_text(data: bytes) -> str:
    message = email.message_from_bytes(data, policy=email.policy.default)
    parts = [f"{name}: {message[name]}" for name in ("From", "To", "Subject", "Date")]
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            parts.append(html.unescape(part.get_content()))
        elif part.get_content_type() == "application/pdf":
            parts.append(pdf_text(part.get_content()))
    return "\n".join(parts)


def csv_text(data: bytes) -> str:
    text = data.decode("utf-8-sig")
    delimiter = ";" if text.count(";") > text.count(",") else ","
    return "\n".join(" | ".join(row) for row in csv.reader(io.StringIO(text), delimiter=delimiter))


READERS = {
    "pdf": pdf_text,
    "docx": docx_text,
    "xlsx": xlsx_text,
    "xls": xls_text,
    "email": email_text,
    "csv": csv_text,
    "json": lambda data: data.decode(),
    "text": lambda data: data.decode(),
    "xml": lambda data: html.unescape(data.decode()),
    "html": lambda data: html.unescape(data.decode()),
}


def ocr_text(data: bytes, input_type: str) -> str:
    """The text RapidOCR reads from an image, or from the page images of a scanned PDF."""
    import numpy
    from rapidocr import RapidOCR

    engine = ocr_text.__dict__.setdefault("engine", RapidOCR())
    if input_type == "pdf":
        images = [page.render(scale=150 / 72).to_pil() for page in pypdfium2.PdfDocument(data)]
    else:
        images = [Image.open(io.BytesIO(data))]
    lines = []
    for image in images:
        result = engine(numpy.asarray(image.convert("RGB")))
        lines += list(result.txts or ())
    return "\n".join(lines)


def number_forms(value: int | float) -> set[str]:
    """Ways a document may print ``value``: every number style with 0-3 decimals, and minor units (cents)."""
    number = Decimal(repr(value))
    forms = {str(int(number * 100))} if number != int(number) or number >= 100 else set()
    for style in SEPARATORS:
        forms.add(fmt_number(number, style, None))
        for places in (1, 2, 3):
            if number == round(number, places):
                forms.add(fmt_number(number, style, places))
    return forms


def forms(key: str, value: object) -> set[str]:
    """Printed forms of one expected value, judged by its field name."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_forms(value)
    if key.endswith("Date") or key == "date":
        day = date.fromisoformat(value)
        return {fmt_date(day, style) for style in DATE_STYLES} | {f"{day:%Y%m%d}"}
    if key == "currency":
        return {value, value.lower(), *CURRENCY_SIGNS[value]}
    if key == "paymentMethod":
        return set(PAYMENT_WORDS[value])
    return {value}


def leaves(value: object, key: str = "") -> list[tuple[str, object]]:
    if isinstance(value, dict):
        return [leaf for name, item in value.items() for leaf in leaves(item, name)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item, key)]
    return [(key, value)]


def missing_values(expected: dict, text: str) -> list[str]:
    """Expected values printed in none of their forms in ``text``."""
    text = re.sub(r"[ \t\u00a0\u202f]+", " ", text)
    missing = []
    for key, value in leaves(expected):
        parts = value.split(", ") if key == "deliveryAddress" else [value]  # printed one line per part
        for part in parts:
            if not any(form in text for form in forms(key, part)):
                missing.append(f"{key}={part!r}")
    return missing


def arithmetic_errors(schema: str, expected: dict) -> list[str]:
    """Internal consistency: amount = quantity x unit price, subtotal = sum of amounts, total = subtotal + tax."""
    errors = []

    def money(value: float) -> Decimal:
        return Decimal(repr(value))

    for item in expected.get("lineItems", []):
        product = (money(item["quantity"]) * money(item["unitPrice"])).quantize(Decimal("0.01"), ROUND_HALF_UP)
        if product != money(item["amount"]):
            errors.append(f"line {item['description']!r}: quantity x unit price != amount")
    if schema == "invoice" and "subtotal" in expected:
        if sum(money(item["amount"]) for item in expected["lineItems"]) != money(expected["subtotal"]):
            errors.append("sum of line amounts != subtotal")
        if money(expected["subtotal"]) + money(expected["taxAmount"]) != money(expected["totalAmount"]):
            errors.append("subtotal + tax != total")
    if schema == "receipt":
        items = sum(money(item["amount"]) for item in expected["items"])
        if items not in (money(expected["total"]), money(expected["total"]) - money(expected["tax"])):
            errors.append("items add up to neither the total nor the total before tax")
    return errors


def main() -> int:
    from quarry.documents.input_types import input_type_for

    use_ocr = "--ocr" in sys.argv[1:]
    manifest = json.loads((HERE / "manifest.json").read_text(encoding="utf-8"))
    listed = {entry["file"] for entry in manifest}
    on_disk = {f"corpus/{path.name}" for path in (HERE / "corpus").iterdir()}
    failures = [f"{name}: on disk but not in the manifest" for name in sorted(on_disk - listed)]
    failures += [f"{name}: in the manifest but missing" for name in sorted(listed - on_disk)]
    ocr_misses = 0
    for entry in manifest:
        name, input_type, ocr = entry["file"], entry["inputType"], "ocr" in entry["tags"]
        data = (HERE / name).read_bytes()
        problems = []
        if input_type_for(name, None) != input_type:
            problems.append(f"inputType {input_type} does not match the extension")
        schema = json.loads((HERE / entry["schema"]).read_text(encoding="utf-8"))
        validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
        partial = "partial" in entry["tags"]  # documents that do not show every required field
        errors = validator.iter_errors(entry["expected"])
        problems += [f"schema: {error.message}" for error in errors if not (partial and error.validator == "required")]
        problems += arithmetic_errors(Path(entry["schema"]).stem, entry["expected"])
        if input_type in IMAGE_TYPES:
            image = Image.open(io.BytesIO(data))
            image.load()
            if image.format != IMAGE_TYPES[input_type]:
                problems.append(f"PIL reads it as {image.format}")
            detail = f"{image.format} {image.width}x{image.height}"
        else:
            text = READERS[input_type](data)
            detail = f"{len(text)} characters of text"
            if input_type == "pdf" and ocr and text.strip():
                problems.append("a scanned PDF should have no text layer")
            elif not ocr:
                problems += [f"not found: {miss}" for miss in missing_values(entry["expected"], text)]
        if ocr and use_ocr:
            misses = missing_values(entry["expected"], ocr_text(data, input_type))
            ocr_misses += len(misses)
            detail += f"; OCR misses {len(misses)}: {', '.join(misses)}" if misses else "; OCR finds every value"
        print(f"{'FAIL' if problems else 'ok  '} {name:<46} {input_type:<6} {detail}")
        failures += [f"{name}: {problem}" for problem in problems]
    print()
    print("\n".join(failures) if failures else f"all {len(manifest)} documents check out")
    if use_ocr:
        print(f"OCR missed {ocr_misses} values in total (reported, not counted as failures)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
