"""A document's structure as a parse function gives it: sections in reading order, tables and
labelled key-value pairs, without a model.

Lines come from the reader (visual lines of word boxes where the format has them, text lines
otherwise). A line belongs to a table when it renders a table the format states (docx, HTML,
spreadsheets, slides) or, for formats without tables of their own (PDF, images, text), to a table
the builtin extractor recognises (a header over rows with figures). The other lines are sorted
into sections by kind: a ``heading`` (marked so by the format, printed larger than the page's
text, or a short line in capitals), a ``key_value`` run (labelled values, found as the builtin
extractor finds them), a ``list`` (bulleted or numbered lines) or a ``paragraph`` (other lines,
up to a blank line or a wide gap). A section's ``label`` is its heading: its own text for a
heading, the table's caption or the heading above it for the others.
"""

from __future__ import annotations

import re
import statistics
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from quarry.documents.layout import COLUMN_GAP, Cell, cells_of_text, cells_of_words, visual_lines
from quarry.documents.model import Document, Page, Table, Word
from quarry.documents.readers.tabular import table_lines
from quarry.providers.llm.builtin.inference import (
    MAX_CELL_CHARS,
    clean_label,
    label_rows,
    labelled_pairs,
    line_tables,
)

HEADING_MAX_WORDS = 12
HEADING_MAX_CHARS = 100
LARGER_PRINT = 1.25  # a line whose words stand this much taller than the page's usual is a heading
PARAGRAPH_GAP = 0.8  # a vertical gap of this many line heights ends a paragraph…
WIDER_GAP = 1.5  # …when it is this much wider than the page's usual gap between lines
_LIST_ITEM = re.compile(r"^\s*(?:[•·▪‣◦*–-]|\(?\d{1,3}[.)]|\(?[a-z][.)])\s+\S")
_SENTENCE_END = re.compile(r"[.,;:!?]$")


@dataclass
class Line:
    page: Page | None  # None for the lines of an attachment
    cells: list[Cell]
    words: list[Word] = field(default_factory=list)  # empty where the format has no geometry
    gap_before: bool = False  # a blank line or a wide gap above it

    @property
    def text(self) -> str:
        return COLUMN_GAP.join(cell.text for cell in self.cells)


@dataclass
class Section:
    type: str  # heading | paragraph | list | key_value | table
    lines: list[Line]
    label: str | None = None
    table: int | None = None  # the index of its table in ``Structure.tables``

    @property
    def page(self) -> int | None:
        return self.lines[0].page.number if self.lines[0].page is not None else None

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def box(self) -> dict[str, Any] | None:
        """The region around the section's words on its first page, normalised to [0, 1] (bem's shape)."""
        page = self.lines[0].page
        words = [w for line in self.lines if line.page is page for w in line.words]
        if page is None or not words or page.width <= 0 or page.height <= 0:
            return None
        return region(page, words)


@dataclass
class KeyValue:
    key: str
    value: str
    section: int | None  # the section it is printed in; None for what the format states (headers, keys)


@dataclass
class Structure:
    sections: list[Section]
    tables: list[tuple[Table, int | None]]  # each table with its section
    pairs: list[KeyValue]

    def content(self) -> dict[str, Any]:
        """The structure as JSON: ``sections``, ``tables``, ``keyValuePairs`` and ``markdown``."""
        sections = [
            {"type": section.type, "label": section.label, "page": section.page, "text": section.text}
            | ({"table": section.table} if section.table is not None else {})
            for section in self.sections
        ]
        tables = [
            {"name": table.name, "section": index, "page": self.sections[index].page if index is not None else None}
            | {"header": table.rows[0] if table.rows else [], "rows": table.rows[1:]}
            for table, index in self.tables
        ]
        pairs = [
            {"key": pair.key, "value": pair.value, "section": pair.section}
            | {"page": self.sections[pair.section].page if pair.section is not None else None}
            for pair in self.pairs
        ]
        return {"sections": sections, "tables": tables, "keyValuePairs": pairs, "markdown": self.markdown()}

    def markdown(self) -> str:
        blocks: list[str] = []
        headings = 0
        for section in self.sections:
            if section.type == "heading":
                blocks.append(("# " if not headings else "## ") + _escaped(" ".join(section.text.split())))
                headings += 1
            elif section.type == "table" and section.table is not None:
                blocks.append(_markdown_table(self.tables[section.table][0]))
            elif section.type == "list":
                blocks.append("\n".join(_list_item(line.text) for line in section.lines))
            elif section.type == "key_value":
                blocks.append("  \n".join(_escaped(line.text) for line in section.lines))
            else:
                blocks.append("\n".join(_escaped(line.text) for line in section.lines))
        return "\n\n".join(blocks)


def region(page: Page, words: list[Word]) -> dict[str, Any]:
    """The smallest box around ``words`` (all on ``page``), normalised to [0, 1] from the top left."""
    left, top = min(w.left for w in words), min(w.top for w in words)
    right, bottom = max(w.right for w in words), max(w.bottom for w in words)
    return {
        "page": page.number,
        "left": round(left / page.width, 4),
        "top": round(top / page.height, 4),
        "width": round((right - left) / page.width, 4),
        "height": round((bottom - top) / page.height, 4),
    }


def rule_cells(lines: list[Line]) -> list[list[Cell]]:
    """The lines' cells as the builtin extractor's rules read them: at most ``MAX_CELL_CHARS`` of
    each (their patterns take more than linear time on some long runs)."""
    return [[replace(cell, text=cell.text[:MAX_CELL_CHARS]) for cell in line.cells] for line in lines]


def read_structure(document: Document) -> Structure:
    lines = _lines(document)
    cells = rule_cells(lines)
    tables, table_at = _tables(document, lines, cells)
    # a table of two columns is a list of labelled values as often as not: its lines are read for pairs
    skip = {i for i, index in table_at.items() if max(map(len, tables[index].rows), default=0) > 2}
    found = label_rows(cells, skip)  # marks the lines it reads as read
    pair_list = sorted(found + labelled_pairs(cells, skip), key=lambda pair: pair.line)
    labelled = {pair.line for pair in pair_list}
    headings = _headings(document, lines, skip | labelled)
    sections: list[Section] = []
    section_of: dict[int, int] = {}  # line -> its section
    placed: list[int | None] = [None] * len(tables)
    label: str | None = None
    for i, line in enumerate(lines):
        if i in table_at:
            index = table_at[i]
            at = placed[index]
            if at is None:  # the table's first line; a reader's own name ("table 2") is no caption
                caption = tables[index].name if not (tables[index].name or "").startswith("table ") else None
                at = placed[index] = len(sections)
                sections.append(Section("table", [], caption or label, index))
            section_of[i] = at
            sections[at].lines.append(line)
            continue
        kind = "heading" if i in headings else "key_value" if i in labelled else _kind(line)
        previous = sections[-1] if sections else None
        if kind == "heading":
            label = " ".join(line.text.split())
        if (
            previous is None
            or kind == "heading"
            or previous.type != kind
            or line.gap_before
            or previous.lines[-1].page is not line.page
            or section_of.get(i - 1) != len(sections) - 1
        ):
            sections.append(Section(kind, [line], label))
        else:
            previous.lines.append(line)
        section_of[i] = len(sections) - 1
    pairs = [KeyValue(clean_label(pair.label), pair.value, section_of.get(pair.line)) for pair in pair_list]
    stated = {(pair.key, pair.value) for pair in pairs}
    pairs += [KeyValue(key, value, None) for key, value in document.all_fields if (key, value) not in stated]
    return Structure(sections, list(zip(tables, placed, strict=True)), pairs)


def _lines(document: Document) -> list[Line]:
    lines: list[Line] = []
    for page in document.pages:
        lines += _page_lines(page)
    for attachment in document.attachments:
        if attachment.document is not None:
            lines.append(Line(None, [Cell(f"Attachment: {attachment.filename}")], gap_before=True))
            lines += [Line(None, line.cells, line.words, line.gap_before) for line in _lines(attachment.document)]
    return lines


def _page_lines(page: Page) -> list[Line]:
    lines: list[Line] = []
    if page.words:
        rows = visual_lines(page.words)
        gaps = [min(w.top for w in line) - max(w.bottom for w in above) for above, line in zip(rows, rows[1:])]
        usual = statistics.median(gaps) if gaps else 0.0
        for index, words in enumerate(rows):
            gap = gaps[index - 1] if index else 0.0
            wide = index > 0 and gap > PARAGRAPH_GAP * _height(words) and gap > WIDER_GAP * usual
            lines.append(Line(page, cells_of_words(words), words, gap_before=wide))
        return lines
    blank = False
    for text in page.text.splitlines():
        cells = cells_of_text(text)
        if not cells:
            blank = True
            continue
        lines.append(Line(page, cells, gap_before=blank))
        blank = False
    return lines


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _tables(document: Document, lines: list[Line], cells: list[list[Cell]]) -> tuple[list[Table], dict[int, int]]:
    """The document's tables, and the lines each spans (line -> table index).

    A table the format states is found where its rendering (``table_lines``) stands among the
    lines, after the previous table's; one not found there is listed all the same, without
    lines. A format without tables gets those the builtin extractor sees in its lines."""
    spans: dict[int, int] = {}
    if document.all_tables:
        keys = [_key(line.text) for line in lines]
        where: dict[str, list[int]] = defaultdict(list)  # a line's text -> the lines that read so, in order
        for at, key in enumerate(keys):
            where[key].append(at)
        tables = document.all_tables
        start = 0
        for index, table in enumerate(tables):
            rendered = [_key(text) for text in table_lines(table.rows)]
            if not rendered:
                continue
            candidates = where.get(rendered[0], [])
            for at in candidates[bisect_left(candidates, start) :]:
                if keys[at : at + len(rendered)] == rendered:
                    spans |= {line: index for line in range(at, at + len(rendered))}
                    start = at + len(rendered)
                    break
        return tables, spans
    found = line_tables(cells)
    tables = [Table([item.header, *_rows(item, lines)]) for item in found]
    for index, item in enumerate(found):
        spans |= {line: index for line in item.lines}
    return tables, spans


def _rows(table: Any, lines: list[Line]) -> list[list[str]]:
    """A recognised table's rows: a row's own cells where it has one per column, else the cells
    as the extractor aligned them under the header (the lines with two cells or more are its rows)."""
    rows = [k for k in table.lines[1:] if len(lines[k].cells) >= 2]
    return [
        [cell.text for cell in lines[k].cells] if len(lines[k].cells) == len(table.header) else aligned
        for k, aligned in zip(rows, table.rows, strict=True)
    ]


def _headings(document: Document, lines: list[Line], taken: set[int]) -> set[int]:
    """The lines that are headings: those the format marks (in order), else those printed larger
    than the page's text, or short lines in capitals."""
    found: set[int] = set()
    marked = [_key(text) for text in document.headings]
    if marked:
        at = 0
        for i, line in enumerate(lines):
            if at < len(marked) and i not in taken and _key(line.text) == marked[at]:
                found.add(i)
                at += 1
        return found
    heights = _usual_heights(lines)
    for i, line in enumerate(lines):
        if i in taken or len(line.cells) != 1 or not _heading_like(line.text):
            continue
        usual = heights.get(id(line.page))
        taller = bool(line.words and usual) and _height(line.words) > LARGER_PRINT * usual  # type: ignore[operator]
        capitals = sum(c.isalpha() for c in line.text) >= 3 and line.text.upper() == line.text
        if taller or capitals:
            found.add(i)
    return found


def _heading_like(text: str) -> bool:
    text = text.strip()
    return (
        0 < len(text) <= HEADING_MAX_CHARS
        and len(text.split()) <= HEADING_MAX_WORDS
        and any(c.isalpha() for c in text)
        and not _SENTENCE_END.search(text)
        and not _LIST_ITEM.match(text)
    )


def _height(words: list[Word]) -> float:
    return statistics.median(w.bottom - w.top for w in words)


def _usual_heights(lines: list[Line]) -> dict[int, float]:
    """The median word height of each page with geometry (by the page's identity)."""
    by_page: dict[int, list[float]] = {}
    for line in lines:
        by_page.setdefault(id(line.page), []).extend(w.bottom - w.top for w in line.words)
    return {page: statistics.median(heights) for page, heights in by_page.items() if heights}


def _kind(line: Line) -> str:
    return "list" if _LIST_ITEM.match(line.text) else "paragraph"


def _escaped(text: str) -> str:
    """Text that Markdown shows as written: characters that would open markup are escaped."""
    text = re.sub(r"([\\`*_\[\]<>|])", r"\\\1", text)
    return re.sub(r"^(\s*)([#>+-]|\d+[.)])(\s)", r"\1\\\2\3", text)


def _list_item(text: str) -> str:
    text = text.strip()
    numbered = re.match(r"^\(?(\d{1,3})[.)]\s+(.*)$", text)
    if numbered:
        return f"{numbered.group(1)}. {_escaped(numbered.group(2))}"
    return "- " + _escaped(re.sub(r"^(?:[•·▪‣◦*–-]|\(?[a-z][.)])\s+", "", text))


def _markdown_table(table: Table) -> str:
    rows = [row for row in table.rows if any(row)]
    if not rows:
        return ""
    width = max(len(row) for row in rows)

    def row_text(row: list[str]) -> str:
        cells = [" ".join(cell.split()).replace("\\", "\\\\").replace("|", "\\|") for cell in row]
        return "| " + " | ".join(cells + [""] * (width - len(cells))) + " |"

    return "\n".join([row_text(rows[0]), "| " + " | ".join(["---"] * width) + " |", *map(row_text, rows[1:])])
