"""Citations: where each extracted value is written (``enableBoundingBoxes``).

Regions are checked against the PDF read independently of Quarry's reader (pypdfium2's own text
extraction within the cited rectangle), spans against the text the test sent.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import bem
import httpx
import pytest

from quarry.documents.parse import parse
from quarry.providers.llm.grounding import ground
from tests.calls_client import events_of, single, submit, wait_for
from tests.documents import text_in_region
from tests.helpers import create_function, transform

PDF = Path(__file__).resolve().parent.parent / "examples" / "corpus" / "invoice-harrow-finch-uk.pdf"
PDF_VALUES = {"/invoiceNumber": "HF06422", "/totalAmount": "365.44"}  # as printed on it


def _extract(api: httpx.Client, name: str, data: bytes, input_type: str) -> dict[str, Any]:
    [created] = submit(api, {"functionName": name, "input": single(data, input_type)})
    call = wait_for(api, created["callID"])
    assert call["status"] == "completed", events_of(api, created["callID"])
    [event] = events_of(api, created["callID"], "transform")
    return event


def test_a_pdf_extraction_cites_the_region_of_every_value(api: httpx.Client) -> None:
    create_function(api, transform("cited-pdf", enableBoundingBoxes=True))
    data = PDF.read_bytes()
    event = _extract(api, "cited-pdf", data, "pdf")

    content = event["transformedContent"]
    assert {f"/{key}" for key in content} == set(PDF_VALUES)  # the builtin extractor found both
    boxes = event["fieldBoundingBoxes"]
    assert set(boxes) == set(PDF_VALUES) and event["ungroundedFields"] == []
    for pointer, printed in PDF_VALUES.items():
        [region] = boxes[pointer]
        assert region["page"] == 1
        assert all(0 <= region[k] <= 1 for k in ("left", "top", "width", "height")), region
        assert 0 < region["width"] < 0.5 and 0 < region["height"] < 0.05  # a word, not the page
        assert printed in text_in_region(data, region), region
        assert printed in region["text"] and region["score"] == 1.0


def test_without_the_setting_events_carry_no_citations(api: httpx.Client) -> None:
    create_function(api, transform("uncited-pdf"))
    event = _extract(api, "uncited-pdf", PDF.read_bytes(), "pdf")
    assert not {"fieldBoundingBoxes", "fieldTextSpans", "ungroundedFields"} & set(event)


def test_a_text_extraction_cites_spans_of_the_text(api: httpx.Client) -> None:
    create_function(api, transform("cited-text", enableBoundingBoxes=True))
    text = "ACME Widgets Ltd\nInvoice Number: INV-20931\nTotal due: 1.234,50 EUR\n"
    event = _extract(api, "cited-text", text.encode(), "text")
    assert event["transformedContent"] == {"invoiceNumber": "INV-20931", "totalAmount": 1234.5}
    assert event["fieldBoundingBoxes"] == {}
    spans = event["fieldTextSpans"]
    assert text[spans["/invoiceNumber"][0]["start"] : spans["/invoiceNumber"][0]["end"]] == "INV-20931"
    assert text[spans["/totalAmount"][0]["start"] : spans["/totalAmount"][0]["end"]] == "1.234,50"


def test_the_sdk_creates_a_cited_extraction_and_reads_its_boxes(sdk: bem.Bem) -> None:
    function = sdk.functions.create(
        function_name="sdk-cited",
        type="extract",
        output_schema_name="Invoice",
        output_schema={"type": "object", "properties": {"invoiceNumber": {"type": "string"}}},
        enable_bounding_boxes=True,
    ).function
    assert function.enable_bounding_boxes is True
    sdk.workflows.create(name="sdk-cited", main_node_name="x", nodes=[{"name": "x", "function": {"name": "sdk-cited"}}])
    document = {"single_file": {"input_type": "pdf", "input_content": base64.b64encode(PDF.read_bytes()).decode()}}
    answer = sdk.workflows.call("sdk-cited", input=document, wait=True)
    [output] = answer.call.outputs
    boxes = output.field_bounding_boxes
    assert isinstance(boxes, dict) and boxes["/invoiceNumber"][0]["text"] == "HF06422"
    assert "HF06422" in text_in_region(PDF.read_bytes(), boxes["/invoiceNumber"][0])


# --- grounding, unit by unit ------------------------------------------------------------------


TEXT = "Zebulon Quarries AS\nInvoice no. QX-7781   Date: 5 March 2024\nDue 04/15/2024\nTotal: 1 234,50 NOK\nPaid: yes\n"


@pytest.mark.parametrize(
    ("value", "cited"),
    [
        ("QX-7781", "QX-7781"),
        ("zebulon quarries as", "Zebulon Quarries AS"),  # case aside
        (1234.5, "1 234,50"),  # a number, whatever its separators
        ("2024-03-05", "5 March 2024"),  # a date, whatever its form
        ("2024-04-15", "04/15/2024"),
        ("Zebulon Quaries AS", "Zebulon Quarries AS"),  # nearly: an OCR misread
    ],
)
def test_values_are_found_in_their_written_forms(value: Any, cited: str) -> None:
    document = parse("text", TEXT.encode())
    citations = ground(document, {"value": value})
    [first, *_] = citations.spans["/value"]
    assert first["text"] == cited
    assert document.text[first["start"] : first["end"]] == cited
    assert citations.ungrounded == []


def test_a_value_the_document_does_not_contain_is_ungrounded() -> None:
    citations = ground(parse("text", TEXT.encode()), {"vendor": {"name": "Acme Corporation"}, "total": 999.99})
    assert sorted(citations.ungrounded) == ["/total", "/vendor/name"]
    assert citations.spans == {} and citations.boxes == {}


def test_booleans_and_empty_values_are_not_looked_for() -> None:
    citations = ground(parse("text", TEXT.encode()), {"paid": True, "note": None, "memo": "", "items": []})
    assert citations.ungrounded == [] and citations.spans == {}


def test_a_category_the_schema_enumerates_is_not_looked_for() -> None:
    schema = {
        "type": "object",
        "properties": {
            "payment": {"type": "object", "properties": {"method": {"enum": ["card", "cash"]}}},
            "tags": {"type": "array", "items": {"enum": ["urgent"]}},
            "note": {"type": "string"},
        },
    }
    content = {"payment": {"method": "card"}, "tags": ["urgent"], "note": "card"}
    citations = ground(parse("text", TEXT.encode()), content, schema)
    assert citations.ungrounded == ["/note"]  # the same word, not enumerated: looked for, not found


def test_a_cited_page_is_served_as_an_image_by_its_signed_url(api: httpx.Client) -> None:
    create_function(api, transform("cited-page", enableBoundingBoxes=True))
    event = _extract(api, "cited-page", PDF.read_bytes(), "pdf")
    url = event["pagesURL"]
    assert "/v2/files/" in url  # Quarry's own URL, whatever the store: it renders pages
    page = httpx.get(f"{url}&page=1")  # the signed URL is the credential: no key
    assert page.status_code == 200 and page.headers["content-type"] == "image/png"
    assert page.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert httpx.get(f"{url}&page=2").status_code == 404  # a one-page PDF
    assert httpx.get(f"{url}&page=0").status_code == 400
    assert httpx.get(f"{url.replace('signature=', 'signature=0')}&page=1").status_code == 403
    assert httpx.get(url).content == PDF.read_bytes()  # without a page: the file as it is


def test_a_nullable_enum_is_a_category_too() -> None:
    schema = {"type": "object", "properties": {"method": {"anyOf": [{"enum": ["card", "cash"]}, {"type": "null"}]}}}
    assert ground(parse("text", TEXT.encode()), {"method": "card"}, schema).ungrounded == []


def test_a_value_written_in_an_attachment_is_cited_as_a_span_of_the_text() -> None:
    email = (
        b"From: billing@zebulon.example\r\nTo: ap@example.com\r\nSubject: Invoice\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n'
        b"Please find the invoice attached.\r\n--b\r\nContent-Type: text/plain\r\n"
        b'Content-Disposition: attachment; filename="invoice.txt"\r\n\r\nInvoice number: ATT-4411\r\n--b--\r\n'
    )
    document = parse("email", email)
    citations = ground(document, {"invoiceNumber": "ATT-4411"})
    [span] = citations.spans["/invoiceNumber"]
    assert document.text[span["start"] : span["end"]] == "ATT-4411"


def test_a_huge_integer_is_not_found_without_failing() -> None:
    assert ground(parse("text", TEXT.encode()), {"n": 10**400}).ungrounded == ["/n"]


def _workbook() -> bytes:
    """An invoice as a two-sheet workbook: the values sit on the second sheet, not at A1."""
    import io

    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active["A1"] = "Prepared by accounts"
    sheet = book.create_sheet("Invoice")
    sheet["B2"], sheet["C2"] = "Invoice Number:", "INV-3307"
    sheet["B4"], sheet["D4"] = "Total Amount:", 1290.5
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_spreadsheet_extraction_cites_the_cell_of_every_value(api: httpx.Client) -> None:
    """Each span names its sheet and cell; the cell, read with openpyxl, holds the value."""
    import io

    import openpyxl

    data = _workbook()
    create_function(api, transform("cited-sheet", enableBoundingBoxes=True))
    event = _extract(api, "cited-sheet", data, "xlsx")
    assert event["transformedContent"] == {"invoiceNumber": "INV-3307", "totalAmount": 1290.5}
    book = openpyxl.load_workbook(io.BytesIO(data))
    for pointer, value in event["transformedContent"].items():
        [span, *_] = event["fieldTextSpans"][f"/{pointer}"]
        assert span["sheet"] == "Invoice"
        assert book[span["sheet"]][span["cell"]].value == value, (pointer, span)


def test_chunked_sheet_rows_are_cited_by_their_own_cells(api: httpx.Client) -> None:
    """With tabularChunkingEnabled every 50 rows are an item of their own; a value in row 120
    is still cited at its cell in the sheet, not at its place in the chunk."""
    lines = ["Invoice Number,Total Amount"] + [f"INV-{n:04d},{n}.50" for n in range(1, 130)]
    create_function(api, transform("cited-chunks", enableBoundingBoxes=True, tabularChunkingEnabled=True))
    [created] = submit(api, {"functionName": "cited-chunks", "input": single("\n".join(lines).encode(), "csv")})
    wait_for(api, created["callID"])
    events = events_of(api, created["callID"], "transform")
    assert len(events) == 3
    for event in events:
        number = event["transformedContent"]["invoiceNumber"]
        [span, *_] = event["fieldTextSpans"]["/invoiceNumber"]
        column, row = ord(span["cell"][0]) - ord("A"), int(span["cell"][1:]) - 1
        assert lines[row].split(",")[column] == number, (event["itemOffset"], span)


def test_a_csv_extraction_cites_cells_without_a_sheet(api: httpx.Client) -> None:
    data = b"field,value\nInvoice Number,INV-88\nTotal Amount,17.25\n"
    create_function(api, transform("cited-csv", enableBoundingBoxes=True))
    event = _extract(api, "cited-csv", data, "csv")
    rows = [line.split(",") for line in data.decode().splitlines()]
    for pointer, value in event["transformedContent"].items():
        [span, *_] = event["fieldTextSpans"][f"/{pointer}"]
        assert "sheet" not in span
        column, row = ord(span["cell"][0]) - ord("A"), int(span["cell"][1:]) - 1
        assert rows[row][column] == str(value), (pointer, span)


@pytest.mark.parametrize(
    ("rows", "offset", "cell"),
    [
        ([["a", "bb"]], 0, (0, 0)),
        ([["a", "bb"]], 5, (0, 1)),  # "a" + gap of four + "bb"
        ([["a", "bb"]], 2, None),  # in the gap
        ([["", "x"], ["", ""], ["y", ""]], 0, (0, 1)),  # empty cells and rows are not written
        ([["", "x"], ["", ""], ["y", ""]], 2, (2, 0)),
    ],
)
def test_a_sheets_text_offset_maps_to_its_cell(rows: list[list[str]], offset: int, cell: Any) -> None:
    from quarry.documents.readers.tabular import cell_at, table_lines

    text = "\n".join(table_lines(rows))
    assert cell_at(rows, offset) == cell
    if cell is not None:
        assert text[offset] in rows[cell[0]][cell[1]]


@pytest.mark.parametrize(
    ("row", "column", "name"),
    [(0, 0, "A1"), (2, 1, "B3"), (9, 25, "Z10"), (0, 26, "AA1"), (0, 701, "ZZ1"), (0, 702, "AAA1")],
)
def test_cells_are_named_as_spreadsheets_name_them(row: int, column: int, name: str) -> None:
    from openpyxl.utils import get_column_letter

    from quarry.documents.readers.tabular import cell_name

    assert cell_name(row, column) == name == f"{get_column_letter(column + 1)}{row + 1}"


def _drawn_box(printed: str) -> tuple[float, float, float, float]:
    """Where ``tests.documents`` drew ``printed`` on its picture of the invoice (left, top, right,
    bottom, normalised): measured with Pillow's own font metrics, independently of any OCR."""
    from PIL import Image, ImageDraw, ImageFont

    from tests import documents

    font = ImageFont.load_default(size=30)
    lines = [line.replace("    ", "      ") for line in documents.text_lines()]
    width, height = 1300, 60 * len(lines) + 80
    draw = ImageDraw.Draw(Image.new("RGB", (width, height)))
    index = next(i for i, line in enumerate(lines) if printed in line)
    x = 50 + draw.textlength(lines[index][: lines[index].index(printed)], font=font)
    left, top, right, bottom = draw.textbbox((x, 40 + 60 * index), printed, font=font)
    return left / width, top / height, right / width, bottom / height


def test_a_scanned_image_extraction_cites_where_each_value_was_drawn(api: httpx.Client) -> None:
    """OCR'd words cited as regions: each region covers the spot where the picture's maker drew
    the value (the regions are the recogniser's word boxes, so they may be a little larger)."""
    from tests import documents

    create_function(
        api,
        {
            "functionName": "cited-scan", "type": "transform", "enableBoundingBoxes": True,
            "outputSchemaName": "Invoice", "outputSchema": documents.SCHEMA,
        },
    )  # fmt: skip
    event = _extract(api, "cited-scan", documents.image("PNG"), "png")
    assert event["transformedContent"]["invoiceNumber"] == documents.NUMBER
    assert event["transformedContent"]["totalAmount"] == documents.TOTAL
    for pointer, printed in (("/invoiceNumber", documents.NUMBER), ("/totalAmount", "1,234.56")):
        [region, *_] = event["fieldBoundingBoxes"][pointer]
        left, top, right, bottom = _drawn_box(printed)
        middle = (region["left"] + region["width"] / 2, region["top"] + region["height"] / 2)
        assert left <= middle[0] <= right and top <= middle[1] <= bottom, (pointer, region, (left, top, right, bottom))
        overlap = min(right, region["left"] + region["width"]) - max(left, region["left"])
        assert overlap >= 0.8 * (right - left), (pointer, region)  # it covers the value, not a neighbour
