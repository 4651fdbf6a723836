"""Word documents (docx): paragraphs and tables in body order, headers first (letterheads live there)."""

from __future__ import annotations

import io

from quarry.documents.limits import MAX_DOM_UNZIPPED_BYTES, MAX_SHEET_CELLS
from quarry.documents.model import Document, DocumentError, Table, describe, text_document
from quarry.documents.readers.archive import check_zip
from quarry.documents.readers.tabular import table_lines

MAX_CELL_SPAN = 64  # a cell spanning more grid columns than this is padded as if it spanned this many


def read(data: bytes) -> Document:
    import docx

    check_zip(data, "docx", max_unzipped=MAX_DOM_UNZIPPED_BYTES)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors… for a broken package
        raise DocumentError(f"the docx file cannot be opened: {describe(exc)}") from None
    from docx.text.paragraph import Paragraph

    lines = _header_lines(document)
    tables: list[Table] = []
    headings: list[str] = []
    cells = 0
    for element in document.element.body.iterchildren():
        tag = _local(element.tag)
        if tag == "p":
            paragraph = Paragraph(element, document)
            lines.append(paragraph.text)
            if paragraph.text.strip() and _is_heading(paragraph):
                headings.append(paragraph.text.strip())
        elif tag == "tbl":
            rows = _table_rows(element, document)
            cells += sum(len(row) for row in rows)
            if cells > MAX_SHEET_CELLS:
                raise DocumentError(f"the docx file's tables have more than {MAX_SHEET_CELLS:,} cells")
            tables.append(Table(rows, name=f"table {len(tables) + 1}"))
            lines.extend(table_lines(rows))
    text = "\n".join(line for line in lines if line.strip())
    return text_document("docx", text, tables=tables, headings=headings)


def _is_heading(paragraph) -> bool:
    """A paragraph in a Title or Heading style (a style the file names but does not hold is none)."""
    try:
        name = paragraph.style.name if paragraph.style is not None else ""
    except Exception:  # a dangling style reference
        return False
    return bool(name) and (name == "Title" or name.startswith("Heading"))


def _header_lines(document) -> list[str]:
    """The first section's header; a header the file references but does not hold is left out, the
    body is still read."""
    try:
        return [p.text for section in document.sections[:1] for p in section.header.paragraphs if p.text.strip()]
    except Exception:  # a dangling headerReference raises KeyError; its relationship part is missing
        return []


def _table_rows(table, document) -> list[list[str]]:
    """Rows of ``w:tc`` cells as the file lists them, each the text of its own paragraphs.

    Merges are not resolved: python-docx repeats a cell once per grid column it spans, which a
    ``gridSpan`` of millions turns into a hang, and follows ``vMerge`` chains row by row. Here a
    spanning cell is followed by empty cells for the columns it covers (at most ``MAX_CELL_SPAN``),
    so that later cells stay under their headers, and a vertically merged cell keeps its own
    (usually empty) text."""
    from docx.oxml.ns import qn
    from docx.text.paragraph import Paragraph

    rows = []
    for tr in table.iterchildren(qn("w:tr")):
        row = []
        for tc in tr.xpath("./w:tc | ./w:sdt/w:sdtContent/w:tc"):
            row.append("\n".join(Paragraph(p, document).text for p in tc.iterchildren(qn("w:p"))).strip())
            row.extend([""] * (_span(tc) - 1))
        rows.append(row)
    return rows


def _span(tc) -> int:
    from docx.oxml.ns import qn

    for properties in tc.iterchildren(qn("w:tcPr")):
        for span in properties.iterchildren(qn("w:gridSpan")):
            try:
                return max(1, min(int(span.get(qn("w:val"), "1")), MAX_CELL_SPAN))
            except ValueError:
                return 1
    return 1


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]
