"""A parse function's output read back as the document it describes, for the function after it
in a workflow: its sections' text page by page, its tables and its key-value pairs, so that an
extract after a parse reads what the document says rather than JSON about a document."""

from __future__ import annotations

from typing import Any

from quarry.documents.model import Document, Page, Table, text_document


def parsed_document(value: Any) -> Document | None:
    """The document ``value`` describes when it is a parse output (``markdown`` and ``sections``
    with their text); None for any other JSON."""
    if not isinstance(value, dict) or not isinstance(value.get("markdown"), str):
        return None
    sections, tables, pairs = value.get("sections"), value.get("tables", []), value.get("keyValuePairs", [])
    if not isinstance(sections, list) or not isinstance(tables, list) or not isinstance(pairs, list):
        return None
    if not all(isinstance(s, dict) and isinstance(s.get("text"), str) for s in sections):
        return None
    pages: dict[int, list[str]] = {}
    last = 1
    for section in sections:
        page = section.get("page")
        last = page if isinstance(page, int) and not isinstance(page, bool) and page >= 1 else last
        pages.setdefault(last, []).append(section["text"])
    document = text_document("text", "")
    document.pages = [Page(number, "\n".join(texts)) for number, texts in sorted(pages.items())] or document.pages
    for table in tables:
        if isinstance(table, dict) and isinstance(table.get("header"), list) and isinstance(table.get("rows"), list):
            rows = [table["header"], *table["rows"]]
            name = table.get("name")
            if all(isinstance(row, list) for row in rows):
                document.tables.append(
                    Table([[str(cell) for cell in row] for row in rows], name if isinstance(name, str) else None)
                )
    document.fields = [
        (str(pair["key"]), str(pair["value"]))
        for pair in pairs
        if isinstance(pair, dict) and {"key", "value"} <= set(pair)
    ]
    return document
