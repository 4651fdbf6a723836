"""HTML and XML. XML goes through defusedxml: no entity expansion bombs, no external entities."""

from __future__ import annotations

from html.parser import HTMLParser

import defusedxml.ElementTree as SafeXML

from quarry.documents.model import Document, DocumentError, Table, text_document
from quarry.documents.readers.plain import decode
from quarry.documents.readers.tabular import table_lines


class _HTMLReader(HTMLParser):
    """Visible text with block structure kept as lines, and every ``<table>`` as a table."""

    _BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header", "footer",
              "ul", "ol", "address", "title", "dt", "dd", "blockquote", "pre", "hr"}  # fmt: skip
    _HIDDEN = {"script", "style", "head", "template", "noscript"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tables: list[Table] = []
        self._hidden = 0
        self._open_tables: list[list[list[str]]] = []  # rows of each table being read (tables nest)
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag == "table":
            self._open_tables.append([])
        elif tag == "tr" and self._open_tables:
            self._open_tables[-1].append([])
        elif tag in ("td", "th") and self._open_tables:
            if not self._open_tables[-1]:
                self._open_tables[-1].append([])
            self._cell = []
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self._hidden:
            self._hidden -= 1
        elif tag in ("td", "th") and self._cell is not None and self._open_tables:
            self._open_tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._open_tables:
            rows = [row for row in self._open_tables.pop() if any(row)]
            if rows:
                self.tables.append(Table(rows, name=f"table {len(self.tables) + 1}"))
                self.parts.append("\n" + "\n".join(table_lines(rows)) + "\n")
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if self._cell is not None:
            self._cell.append(data)
        elif not self._open_tables:
            self.parts.append(data)


def read_html(data: bytes) -> Document:
    reader = _HTMLReader()
    reader.feed(decode(data))
    reader.close()
    lines = (
        " ".join(line.split()) if "    " not in line else line.strip() for line in "".join(reader.parts).splitlines()
    )
    return text_document("html", "\n".join(line for line in lines if line), tables=reader.tables)


def html_text(markup: str) -> str:
    return read_html(markup.encode()).text


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def read_xml(data: bytes) -> Document:
    """Each element's text under its path (``Invoice AccountingSupplierParty Party PartyName Name: Acme``),
    attributes likewise, and repeated elements with children (invoice lines) as tables."""
    try:
        root = SafeXML.fromstring(data)
    except Exception as exc:  # defusedxml raises several kinds, all meaning "not acceptable XML"
        raise DocumentError(f"the XML cannot be parsed: {exc}") from None
    fields: list[tuple[str, str]] = []
    tables: list[Table] = []

    def walk(element, path: tuple[str, ...]) -> None:
        path = (*path, _local(element.tag))
        label = " ".join(path)
        text = (element.text or "").strip()
        if text:
            fields.append((label, text))
        for name, value in element.attrib.items():
            fields.append((f"{label} {_local(name)}", value))
        children = list(element)
        by_tag: dict[str, list] = {}
        for child in children:
            by_tag.setdefault(_local(child.tag), []).append(child)
        for tag, group in by_tag.items():
            if len(group) > 1 and any(len(child) for child in group):
                tables.append(_xml_table(tag, group))
        for child in children:
            walk(child, path)

    walk(root, ())
    text = "\n".join(f"{label}: {value}" for label, value in fields)
    return text_document("xml", text, fields=fields, tables=tables)


def _xml_table(tag: str, elements: list) -> Table:
    """Repeated elements as rows; their leaf descendants, by relative path, as columns."""
    rows: list[dict[str, str]] = []
    for element in elements:
        row: dict[str, str] = {}
        for leaf in element.iter():
            text = (leaf.text or "").strip()
            if len(leaf) == 0 and text:
                row.setdefault(_local(leaf.tag), text)
        rows.append(row)
    header = list(dict.fromkeys(key for row in rows for key in row))
    return Table([header, *[[row.get(key, "") for key in header] for row in rows]], name=tag)
