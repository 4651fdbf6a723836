"""Word documents (docx): paragraphs and tables in body order, headers first (letterheads live there)."""

from __future__ import annotations

import io

from quarry.documents.model import Document, DocumentError, Table, text_document
from quarry.documents.readers.archive import check_zip
from quarry.documents.readers.tabular import table_lines


def read(data: bytes) -> Document:
    import docx
    from docx.table import Table as DocxTable
    from docx.text.paragraph import Paragraph

    check_zip(data, "docx")
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors… for a broken package
        raise DocumentError(f"the docx file cannot be opened: {type(exc).__name__}: {exc}") from None
    lines: list[str] = []
    tables: list[Table] = []
    for section in document.sections[:1]:
        lines.extend(p.text for p in section.header.paragraphs if p.text.strip())
    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.append(Paragraph(element, document).text)
        elif tag == "tbl":
            rows = [[cell.text.strip() for cell in row.cells] for row in DocxTable(element, document).rows]
            tables.append(Table(rows, name=f"table {len(tables) + 1}"))
            lines.extend(table_lines(rows))
    text = "\n".join(line for line in lines if line.strip())
    return text_document("docx", text, tables=tables)
