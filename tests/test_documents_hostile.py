"""Hostile and broken documents: ``parse()`` answers with a ``Document`` or a ``DocumentError``, never
anything else, and every limit is checked before the work it bounds.

Each input is built here, small but of the shape that broke a reader (a lying page count, a cell
spanning twenty million columns, JSON nested past the interpreter's recursion limit…). Costs are
checked by counting work (OCR calls, comparisons, cells), never by the clock.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
import zlib
from email.message import EmailMessage

import pytest

from quarry.documents import layout
from quarry.documents.limits import (
    MAX_ATTACHMENTS,
    MAX_FIELDS,
    MAX_IMAGE_PIXELS,
    MAX_LABEL_CHARS,
    MAX_OCR_PAGES,
    MAX_SHEET_CELLS,
    MAX_TABLE_COLUMNS,
    OCR_MAX_SIDE,
)
from quarry.documents.model import Document, DocumentError, Word
from quarry.documents.parse import parse
from quarry.documents.readers import mail, markup, ocr, pdf, plain
from quarry.engine.runners import FunctionError, InputFile


def outcome(input_type: str, data: bytes, **kwargs) -> Document | str:
    """The document, or the ``DocumentError``'s message; any other exception fails the test."""
    try:
        return parse(input_type, data, **kwargs)
    except DocumentError as exc:
        return str(exc)


# --- builders ---------------------------------------------------------------------------------


def minimal_pdf(pages: list[tuple[float, float]], *, count: int | None = None, kids: int | None = None) -> bytes:
    """A PDF of blank pages of the given sizes (points); ``count``/``kids`` may lie about them."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    listed = len(pages) if kids is None else kids
    kid_refs = " ".join(f"{4 + i} 0 R" for i in range(listed))
    objects.append(f"<< /Type /Pages /Kids [{kid_refs}] /Count {count or len(pages)} >>".encode())
    objects.append(b"<< /Length 0 >>\nstream\n\nendstream")
    for width, height in pages:
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width} {height}] /Contents 3 0 R >>".encode())
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header states ``width`` x ``height`` (its pixels need never be decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")
    )


def rewritten(archive: bytes, name: str, transform, *, stored: bool = False) -> bytes:
    """The zip ``archive`` with entry ``name`` replaced by ``transform(its text)``."""
    source = zipfile.ZipFile(io.BytesIO(archive))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            target.writestr(info.filename, transform(data.decode()).encode() if info.filename == name else data)
    return out.getvalue()


def docx_with_table() -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("Northwind Traders GmbH")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Item", "Amount"
    table.cell(1, 0).text, table.cell(1, 1).text = "Widget", "5.00"
    document.add_paragraph("Total: 5.00")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


HEADER_REFERENCE = r'\1<w:headerReference w:type="default" r:id="rId999"/>'


def first_cell_properties(xml: str, properties: str) -> str:
    at = xml.index("<w:tc>") + len("<w:tc>")
    return xml[:at] + f"<w:tcPr>{properties}</w:tcPr>" + xml[at:]


def xlsx_with_cell(cell_xml: str) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "Item"
    workbook.active["B2"] = 2
    buffer = io.BytesIO()
    workbook.save(buffer)
    return rewritten(
        buffer.getvalue(), "xl/worksheets/sheet1.xml", lambda xml: xml.replace('<c r="B2" t="n"><v>2</v></c>', cell_xml)
    )


# === 1. nothing but DocumentError ==============================================================


@pytest.mark.parametrize("raised", [KeyError("rId9"), MemoryError(), RecursionError("too deep"), struct.error("x")])
def test_an_unforeseen_exception_of_a_reader_becomes_a_document_error(monkeypatch, raised: Exception) -> None:
    def broken(data: bytes):
        raise raised

    monkeypatch.setattr(plain, "read_text", broken)
    with pytest.raises(DocumentError) as caught:
        parse("text", b"hello")
    assert str(caught.value).startswith(f"the text file cannot be read: {type(raised).__name__}")


def test_keyboard_interrupt_is_not_a_document_error(monkeypatch) -> None:
    def interrupted(data: bytes):
        raise KeyboardInterrupt

    monkeypatch.setattr(plain, "read_text", interrupted)
    with pytest.raises(KeyboardInterrupt):
        parse("text", b"hello")


@pytest.mark.parametrize(("width", "height"), [(100_000, 100_000), (65_000, 65_000)])
def test_an_image_past_pillows_own_bomb_limit_is_refused_with_the_pixel_limit(width: int, height: int) -> None:
    message = outcome("png", png_header(width, height))
    assert message == f"the image has more than {MAX_IMAGE_PIXELS:,} pixels, the most that are read"


def test_a_one_pixel_strip_is_scaled_for_ocr_without_vanishing(monkeypatch) -> None:
    from PIL import Image

    seen = []
    monkeypatch.setattr(ocr, "_get_engine", lambda: lambda array: seen.append(array.shape) or _NoText())
    for size in [(1, 30_000), (30_000, 1)]:
        words, width, height = ocr.recognise(Image.new("L", size, 255))
        assert (words, width, height) == ([], float(size[0]), float(size[1]))
    # Scaled to OCR_MAX_SIDE without a side of 0, then widened with white: the detector scales the short
    # side up to 736 pixels, and a 1-pixel strip would become a 1.7-gigapixel image.
    assert [shape[:2] for shape in seen] == [
        (OCR_MAX_SIDE, OCR_MAX_SIDE // ocr.MAX_ASPECT),
        (OCR_MAX_SIDE // ocr.MAX_ASPECT, OCR_MAX_SIDE),
    ]


class _NoText:
    boxes, txts, scores = None, (), ()


def test_a_page_the_pdf_lists_but_does_not_hold_is_a_document_error() -> None:
    assert outcome("pdf", minimal_pdf([(612, 792)], count=3)) == (
        "page 2 of the PDF cannot be read: Failed to load page."
    )
    # A /Kids entry pointing at an object that is not there.
    assert outcome("pdf", minimal_pdf([(612, 792)], count=2, kids=2)).startswith("page 2 of the PDF cannot be read")


@pytest.mark.parametrize(
    ("cell", "complaint"),
    [
        ('<c r="ZZZZZ2" t="n"><v>2</v></c>', "is not a valid column name"),
        ('<c r="B2" t="n"><v>notanumber</v></c>', "could not convert string to float"),
        ('<c r="B2" t="d"><v>garbage-date</v></c>', "Invalid datetime value"),
        ('<c r="B2" t="s"><v>999</v></c>', "IndexError"),
    ],
    ids=["cell-reference", "number", "date", "shared-string"],
)
def test_a_bad_cell_met_while_reading_a_sheet_is_a_document_error(cell: str, complaint: str) -> None:
    message = outcome("xlsx", xlsx_with_cell(cell))
    assert message.startswith("the xlsx file's sheet 'Sheet' cannot be read: ") and complaint in message


def test_an_xls_sheet_whose_records_break_is_a_document_error() -> None:
    import xlwt

    workbook = xlwt.Workbook()
    sheet = workbook.add_sheet("s")
    sheet.write(0, 0, "Invoice")
    sheet.write(1, 1, 3.5)
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = bytearray(buffer.getvalue())
    data[1022] = 7  # a record header byte: xlrd's sheet loader then fails with KeyError on an unknown record
    result = outcome("xls", bytes(data))
    assert isinstance(result, Document) or result.startswith("the xls file"), result


def test_docx_merges_and_a_missing_header_part_do_not_stop_reading() -> None:
    base = docx_with_table()
    # vMerge "continue" in the first row: python-docx looks for a row above and raises ValueError.
    vmerge = rewritten(base, "word/document.xml", lambda xml: first_cell_properties(xml, "<w:vMerge/>"))
    # A header referenced by a relationship the package does not have: KeyError in python-docx.
    header = rewritten(
        base, "word/document.xml", lambda xml: re.sub(r"(<w:sectPr[^>]*>)", HEADER_REFERENCE, xml, count=1)
    )
    for data in (vmerge, header):
        document = outcome("docx", data)
        assert isinstance(document, Document), document
        assert "Item    Amount\nWidget    5.00" in document.text
        assert "Total: 5.00" in document.text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"total": ' + b"1" * 5000 + b"}", "the JSON cannot be parsed: Exceeds the limit (4300 digits)"),
        (b"[" * 5000 + b"]" * 5000, "the JSON is nested deeper than 100 levels"),
        (b"[" * 900 + b"]" * 900, "the JSON is nested deeper than 100 levels"),
        (b'{"a": NaN}', "the JSON cannot be parsed: NaN is not a JSON value"),
    ],
    ids=["long-integer", "past-the-recursion-limit", "under-the-recursion-limit", "nan"],
)
def test_json_over_the_interpreters_limits_is_a_document_error(data: bytes, message: str) -> None:
    assert outcome("json", data).startswith(message)


@pytest.mark.parametrize(
    "data",
    [b'{"total": ' + b"1" * 5000 + b"}", b"[" * 5000 + b"]" * 5000, b'{"a": Infinity}'],
    ids=["long-integer", "past-the-recursion-limit", "infinity"],
)
def test_json_input_of_other_functions_is_a_function_error(data: bytes) -> None:
    with pytest.raises(FunctionError) as caught:
        InputFile("json", "blob", data).json()
    assert str(caught.value).startswith("the input is not valid JSON: ")


def test_deeply_nested_xml_is_a_document_error() -> None:
    assert outcome("xml", b"<a>" * 5000 + b"x" + b"</a>" * 5000) == "the XML is nested deeper than 100 levels"
    document = outcome("xml", b"<a>" * 100 + b"x" + b"</a>" * 100)
    assert isinstance(document, Document) and document.fields[0][1] == "x"


@pytest.mark.parametrize(
    ("markup_text", "text", "tables"),
    [
        ("<table><tr><td>x<table></td></table></table>", "x", [[["x"]]]),
        ("<table><td>a<table><td>b</td></table>c</td></table>", "b\na c", [[["b"]], [["a c"]]]),
    ],
)
def test_tables_in_cells_are_read_without_index_errors(markup_text: str, text: str, tables: list) -> None:
    document = outcome("html", markup_text.encode())
    assert document.text == text
    assert [t.rows for t in document.tables] == tables


@pytest.mark.parametrize(
    "raw",
    [
        b'From: "\\" <\nTo: =?utf-8?q?=C3?= <@>, ;;;, :@:\nCc: (((((((((((((((((((((\nSubject: x\n\nhi\n',
        b"From: a@b.c\nTo: " + b"(" * 5000 + b"\nSubject: x\n\nhi\n",
    ],
    ids=["broken-addresses", "nested-comments"],
)
def test_headers_the_email_parser_fails_on_are_kept_as_written(raw: bytes) -> None:
    document = outcome("email", raw)
    assert isinstance(document, Document), document
    assert "Subject: x" in document.text and document.text.rstrip().endswith("hi")
    assert ("To", raw.split(b"To: ")[1].split(b"\n")[0].decode()) in document.fields


def _email_with(*attachments: tuple[bytes, str, str, str]) -> bytes:
    message = EmailMessage()
    message["From"] = "Ann Lee <ann@example.org>"
    message["Subject"] = "Invoice"
    message.set_content("Please find the invoice attached.")
    for data, maintype, subtype, filename in attachments:
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(message)


def test_an_attachment_that_fails_any_way_is_recorded_and_the_email_is_read() -> None:
    def transcribe(kind: str, data: bytes) -> str:
        raise RuntimeError("the transcription endpoint is down")

    raw = _email_with(
        (b"ID3 fake audio", "audio", "mpeg", "memo.mp3"),
        (b'{"total": 5}', "application", "json", "order.json"),
    )
    document = outcome("email", raw, transcribe=transcribe)
    assert isinstance(document, Document), document
    memo, order = document.attachments
    assert (memo.filename, memo.document, memo.error) == (
        "memo.mp3",
        None,
        "RuntimeError: the transcription endpoint is down",
    )
    assert order.error is None and order.document.data == {"total": 5}


def test_the_attachment_count_is_checked_before_any_attachment_is_read() -> None:
    raw = _email_with(*[(b'{"a": 1}', "application", "json", f"a{i}.json") for i in range(MAX_ATTACHMENTS + 1)])
    parsed = []

    def parse_attachment(kind: str, data: bytes) -> Document:
        parsed.append(kind)
        return parse(kind, data)

    with pytest.raises(DocumentError) as caught:
        mail.read(raw, parse_attachment)
    assert str(caught.value) == f"the email has {MAX_ATTACHMENTS + 1} attachments; at most {MAX_ATTACHMENTS} are read"
    assert parsed == []


# === 2. limits checked before the work =========================================================


def test_one_long_row_among_many_short_ones_is_counted_before_padding() -> None:
    # 70,000 + 30 cells as written, but 70,000 x 31 once every row is padded to the widest.
    data = ("," * 69_999 + "x\n" + "a\n" * 30).encode()
    assert outcome("csv", data) == f"the spreadsheet has more than {MAX_SHEET_CELLS:,} cells"


def test_a_json_list_of_objects_with_too_many_different_keys_is_refused() -> None:
    data = json.dumps([{f"k{i}": 1} for i in range(MAX_TABLE_COLUMNS + 1)]).encode()
    message = outcome("json", data)
    assert message == (
        f"the JSON has a list of {MAX_TABLE_COLUMNS + 1} items with {MAX_TABLE_COLUMNS + 1} different keys; "
        f"a table of at most {MAX_TABLE_COLUMNS} columns is read"
    )
    assert isinstance(outcome("json", json.dumps([{f"k{i}": 1} for i in range(50)]).encode()), Document)


def test_json_tables_of_nested_values_are_bounded() -> None:
    # Lists of objects nested in lists of objects: each level's table writes the levels below into its cells.
    value: object = {"note": "x" * 600_000}
    for _ in range(45):  # 600 kB of JSON, written ~45 times over into table cells
        value = {"a": [value]}
    assert outcome("json", json.dumps(value).encode()).endswith("characters of nested values")


def test_xml_repeated_elements_with_too_many_different_leaves_are_refused() -> None:
    items = "".join(f"<i><k{i}>1</k{i}></i>" for i in range(MAX_TABLE_COLUMNS + 1))
    message = outcome("xml", f"<r>{items}</r>".encode())
    assert message.startswith(f"the XML has a list of {MAX_TABLE_COLUMNS + 1} items with")


def test_key_and_tag_paths_keep_their_last_characters() -> None:
    key = "K" * 1000
    document = outcome("json", json.dumps({key: {key: {"total": 5}}}).encode())
    ((label, value),) = document.fields
    assert len(label) == MAX_LABEL_CHARS and label.endswith(" total") and value == "5"
    tag = "T" * 1000
    document = outcome("xml", f"<{tag}><{tag}><total>5</total></{tag}></{tag}>".encode())
    ((label, value),) = document.fields
    assert len(label) == MAX_LABEL_CHARS and label.endswith(" total") and value == "5"


def test_the_number_of_values_is_limited() -> None:
    assert outcome("json", json.dumps([1] * (MAX_FIELDS + 1)).encode()) == (
        f"the JSON has more than {MAX_FIELDS:,} values"
    )
    xml = "<r>" + "<v>1</v>" * (MAX_FIELDS + 1) + "</r>"
    assert outcome("xml", xml.encode()) == f"the XML has more than {MAX_FIELDS:,} values"


def test_pages_without_a_text_layer_are_counted_before_any_is_ocrd(monkeypatch) -> None:
    recognised = []
    monkeypatch.setattr(ocr, "recognise", lambda image: recognised.append(image.size) or ([], 0.0, 0.0))
    message = outcome("pdf", minimal_pdf([(612, 792)] * (MAX_OCR_PAGES + 1)))
    assert message == f"the PDF has {MAX_OCR_PAGES + 1} pages without a text layer; at most {MAX_OCR_PAGES} are OCR'd"
    assert recognised == []


@pytest.mark.parametrize(
    ("size", "pixels"),
    [((612, 792), (1700, 2200)), ((14_400, 14_400), (OCR_MAX_SIDE, OCR_MAX_SIDE)), ((200, 14_400), (34, OCR_MAX_SIDE))],
    ids=["letter", "200-inch-square", "long-strip"],
)
def test_pages_are_rendered_for_ocr_within_the_pixel_limits(monkeypatch, size, pixels) -> None:
    rendered = []
    monkeypatch.setattr(ocr, "recognise", lambda image: rendered.append(image.size) or ([], 0.0, 0.0))
    document = outcome("pdf", minimal_pdf([size]))
    assert isinstance(document, Document), document
    assert rendered == [pixels]
    assert pdf.ocr_scale(*size) * max(size) <= OCR_MAX_SIDE


def test_a_docx_cell_spanning_millions_of_columns_is_read_at_once() -> None:
    data = rewritten(
        docx_with_table(), "word/document.xml", lambda xml: first_cell_properties(xml, '<w:gridSpan w:val="20000000"/>')
    )
    document = outcome("docx", data)
    header, row = document.tables[0].rows
    assert header[0] == "Item" and header[-1] == "Amount" and len(header) == 65  # the span padded to 64 columns
    assert row == ["Widget", "5.00"]


def test_a_docx_whose_xml_would_not_fit_a_dom_is_refused_before_it_is_parsed() -> None:
    body = "<w:p><w:r><w:t>x</w:t></w:r></w:p>" * (70 * 1024 * 1024 // 34)
    data = rewritten(
        docx_with_table(), "word/document.xml", lambda xml: xml.replace("<w:body>", "<w:body>" + body, 1), stored=True
    )
    message = outcome("docx", data)
    assert message.startswith("the docx file inflates to ") and message.endswith("at most 67,108,864 are read")


# === 3. reading order in n log n ================================================================


class _CountingWord(Word):
    reads = 0

    def __getattribute__(self, name: str):
        if name == "bottom":
            _CountingWord.reads += 1
        return super().__getattribute__(name)


def test_grouping_words_into_lines_compares_each_word_with_a_few_open_lines() -> None:
    count = 3000  # one word per line, as a long table or a dense page gives
    words = [_CountingWord("a", 0, i * 10.0, 5, i * 10.0 + 8) for i in range(count)]
    _CountingWord.reads = 0
    lines = layout.visual_lines(words)
    assert len(lines) == count
    assert _CountingWord.reads < 20 * count  # every line against every word would be millions


def test_lines_are_grouped_as_before_on_a_page_of_text() -> None:
    words = [
        Word("Invoice", 50, 101, 90, 111),
        Word("42", 300, 100, 320, 110),  # drawn first, a little higher: still the label's line
        Word("No.", 95, 101, 115, 111),
        Word("Total", 50, 130, 80, 140),
        Word("5.00", 300, 129.5, 320, 139),
        Word("page", 500, 112, 530, 128),  # between the lines, overlapping neither by half: a line of its own
    ]
    assert [[w.text for w in line] for line in layout.visual_lines(words)] == [
        ["Invoice", "No.", "42"],
        ["page"],
        ["Total", "5.00"],
    ]


# === 4. HTML ===================================================================================


def test_html_with_omitted_end_tags_keeps_its_cells_and_what_follows() -> None:
    document = outcome(
        "html", b"<table><tr><td>Item<td>Price<tr><td>Widget<td>5.00</table><p>Total: 5.00</p><p>Thanks</p>"
    )
    assert [t.rows for t in document.tables] == [[["Item", "Price"], ["Widget", "5.00"]]]
    assert document.text == "Item    Price\nWidget    5.00\nTotal: 5.00\nThanks"


def test_html_without_a_closing_table_tag_loses_nothing() -> None:
    document = outcome("html", b"<p>Invoice INV-1</p><table><tr><td>Widget</td><td>5.00</td></tr><p>Total: 5.00</p>")
    assert "Invoice INV-1" in document.text and "Total: 5.00" in document.text
    assert [t.rows for t in document.tables] == [[["Widget", "5.00"]]]


def test_html_table_captions_are_kept() -> None:
    document = outcome("html", b"<table><caption>Invoice INV-1</caption><tr><td>a</td><td>b</td></tr></table>")
    assert document.text == "Invoice INV-1\na    b"


@pytest.mark.parametrize("unit", ["<a", "</", "<!", "&"])
def test_html_that_is_quadratic_for_the_stdlib_parser_is_read(unit: str) -> None:
    document = outcome("html", (unit * 20_000).encode())
    assert isinstance(document, Document)
    assert document.text.replace("\n", "") in ("", unit * 20_000)


def test_html_nested_deeper_than_the_recursion_limit_is_read() -> None:
    document = outcome("html", b"<div>" * 20_000 + b"deep" + b"</div>" * 20_000)
    assert document.text == "deep"


def _dom_depth(html: str) -> int:
    from selectolax.lexbor import LexborHTMLParser

    deepest, stack = 0, [(LexborHTMLParser(html).root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        child = node.child
        while child is not None:
            if child.is_element_node:
                stack.append((child, depth + 1))
            child = child.next
    return deepest


@pytest.mark.parametrize(
    "unit",
    [
        "<div>",
        "<ul><li>",  # an item is closed by the next only within its list: this nests
        "<span><div>",
        "<div><marquee></div></marquee>",  # the </div> cannot close past the marquee
        "<div><x a='>' </div>>",  # "</div>" inside the tag is an attribute, not an end tag
    ],
    ids=["div", "list", "inline-and-block", "scope-boundary", "attribute"],
)
def test_html_nesting_is_capped_where_the_tree_builder_would_nest(unit: str) -> None:
    # An HTML5 tree builder walks its open elements for each tag: n levels cost n², so the start
    # tags past MAX_HTML_DEPTH are dropped before it runs (their text stays).
    html = unit * 3000 + "deep"
    capped = markup.capped_nesting(html)
    assert _dom_depth(capped) <= markup.MAX_HTML_DEPTH + 4 < _dom_depth(html)
    assert capped.endswith("deep")


@pytest.mark.parametrize(
    "html",
    [
        "<p>one<p>two<ul><li>a<li>b</ul><table><tr><td>x<td>y<tr><td>z</table>",
        "<table>" + "<tr><td><font>cell</td>" * 2000 + "</table>",  # unclosed <font> in every cell
        "<div>" + "<p><b>para" * 2000 + "</div>",  # unclosed paragraphs and bold
        "<dl>" + "<dt>term<dd>definition" * 2000 + "</dl>",
        "<script>" + "<div>" * 2000 + "</script><pre>" + "<i>" * 10 + "</pre>",
    ],
    ids=["omitted-end-tags", "sloppy-cells", "sloppy-paragraphs", "definitions", "raw-text"],
)
def test_html_that_only_looks_deep_is_left_alone(html: str) -> None:
    assert markup.capped_nesting(html) is html
