"""Tables and line items: an array of objects filled from the table whose header names the most of the items'
properties (a real table, or lines that line up under a header-like line up to a totals line), else from items
listed without a header, as on receipts.

Mixed into ``Extractor``. Separate because rows are read by columns, not by labels: headers matched to
properties, cells aligned to headers, a totals line that closes the table.
"""

from __future__ import annotations

import re
from typing import Any

from quarry.documents.layout import Cell
from quarry.pointers import escape
from quarry.providers.llm.builtin.labels import is_label
from quarry.providers.llm.builtin.reader import SEPARATORS
from quarry.providers.llm.builtin.schema import schema_type
from quarry.providers.llm.builtin.values import best_amount, fold, numbers_in, parse_number
from quarry.providers.llm.builtin.vocabulary import words


def _aligned(row: list[Cell], header: list[Cell]) -> list[tuple[int, Cell]]:
    """Each row cell with the index of its header column: by position where known, else by order."""
    if row and header and row[0].left is not None and header[0].left is not None:
        pairs = []
        for cell in row:
            overlaps = [min(cell.right, h.right) - max(cell.left, h.left) for h in header]
            best = max(range(len(header)), key=lambda k: overlaps[k])
            if overlaps[best] <= 0:
                centre = (cell.left + cell.right) / 2
                best = min(range(len(header)), key=lambda k: abs((header[k].left + header[k].right) / 2 - centre))
            pairs.append((best, cell))
        return pairs
    if len(row) == len(header):
        return list(enumerate(row))
    # Fewer cells than headers: text on the left, numbers aligned to the right columns.
    offset = len(header) - len(row)
    return [(index if index == 0 else index + offset, cell) for index, cell in enumerate(row)]


_TABLE_END = re.compile(
    r"^(sub ?total|total|grand total|amount due|balance|tax|vat|mwst|tva|zwischensumme|summe|gesamt|net|shipping)\b"
)


def _ends_table(line: list[Cell]) -> bool:
    """A totals line (a total label and a figure) closes a table of line items."""
    has_figure = any(numbers_in(cell.text) for cell in line)
    return has_figure and bool(_TABLE_END.match(fold(line[0].text).strip(SEPARATORS)))


_QUANTITY_TIMES = re.compile(r"\s*(\d+(?:[.,]\d+)?)\s*[x×]\s", re.I)


def _number_for(spec: dict[str, Any], raw: str) -> int | float | None:
    value = parse_number(raw)
    if value is None or schema_type(spec) == "integer" and not value.is_integer():
        return None
    return int(value) if schema_type(spec) == "integer" else value


def _wordy(text: str) -> bool:
    return len(re.findall(r"[^\W\d_]", text)) >= 3


class TablesMixin:
    """The ``Extractor``'s arrays of objects, read from its ``reader``'s lines and tables; cells are parsed by
    its ``parse``, and an e-invoice's lines (``_stated_rows``) come first."""

    def rows(self, name: str, spec: dict[str, Any], items: dict[str, Any], pointer: str) -> list[dict] | None:
        """An array of objects from the table whose header names the most of the items' properties."""
        properties = self.properties(items)
        stated = self._stated_rows(properties, pointer)
        if stated:
            return stated
        best: tuple[int, list[dict[str, Any]], float] | None = None
        read: set[int] = set()  # lines already read as the rows of a table: not the header of another
        for header, body, confidence in self._tables(read):
            columns = self._columns(header, properties)
            if len(set(columns.values())) < min(2, len(properties)):
                continue
            rows = body()
            records = [r for r in (self._record(row, header, columns, properties) for _, row in rows) if r]
            if records:
                read.update(index for index, _ in rows if index is not None)
            score = len(set(columns.values())) * 100 + len(records)
            if records and (best is None or score > best[0]):
                best = (score, records, confidence)
        if best is None:
            listed = self._listed_items(properties)
            if not listed:
                return None
            best = (0, listed, 0.6)
        _, records, confidence = best
        for index, record in enumerate(records):
            for key in record:
                self.confidences[f"{pointer}/{index}/{escape(key)}"] = confidence
        return records

    def _listed_items(self, properties: dict[str, dict]) -> list[dict[str, Any]]:
        """Items listed without a header, as on receipts: ``Croissant   1,20`` (or a name, then
        ``3 x 0,60   1,80`` below it), in a run of lines that a totals line closes."""
        roles = {
            self._concept(n, s, in_table=True).name: n
            for n, s in properties.items()
            if self._concept(n, s, in_table=True)
        }
        text_name, amount_name = roles.get("description"), roles.get("line_amount") or roles.get("unit_price")
        if not text_name or not amount_name:
            return []
        quantity_name = roles.get("quantity")
        best: list[dict[str, Any]] = []
        run: list[dict[str, Any]] = []
        pending: str | None = None  # a name whose figures follow on the next line
        for line in self.reader.lines:
            if _ends_table(line):
                best = run if len(run) > len(best) else best
                run, pending = [], None
                continue
            first = line[0].text
            if not re.search(r"\w", " ".join(c.text for c in line)):
                continue  # a rule: ---- or ====
            amount = best_amount(line[-1].text) if len(line) >= 2 else None
            times = _QUANTITY_TIMES.match(first)
            if amount and (times and pending or _wordy(first) and not is_label(first)):
                record: dict[str, Any] = {text_name: pending if times and pending else first, amount_name: amount[0]}
                quantity = times or _QUANTITY_TIMES.search(" ".join(c.text for c in line[:-1]))
                if quantity_name and quantity:
                    record[quantity_name] = _number_for(properties[quantity_name], quantity.group(1))
                run.append({k: v for k, v in record.items() if v is not None})
                pending = None
            elif len(line) == 1 and _wordy(first):
                pending = first
            else:
                run, pending = [], None
        return [{n: r[n] for n in properties if n in r} for r in best]

    def _tables(self, read: set[int]):
        """(header cells, body rows, confidence): the document's tables, then header-like lines and the
        lines with figures that follow them up to a totals line — however many (no cap on rows).

        Bodies are made only when asked for (``body()``: ``(line index, cells)`` pairs), and a line
        already read as a row of a table (``read``) is not tried as the header of another: a long
        document costs a pass over its lines, not one per line."""
        for table in self.reader.document.all_tables:
            if len(table.rows) > 1:
                rows = [(None, [Cell(t) for t in row]) for row in table.rows[1:]]
                yield [Cell(text) for text in table.rows[0]], lambda rows=rows: rows, 0.85
        lines = self.reader.lines
        figures = [sum(1 for cell in line if numbers_in(cell.text)) for line in lines]
        ends = [
            bool(count) and _TABLE_END.match(fold(line[0].text).strip(SEPARATORS))
            for line, count in zip(lines, figures)
        ]
        is_row = [len(line) >= 2 and count > 0 for line, count in zip(lines, figures)]
        # For each line, the first totals line after it and the first line that may be a row after it.
        next_end, next_row = [len(lines)] * (len(lines) + 1), [len(lines)] * (len(lines) + 1)
        for k in range(len(lines) - 2, -1, -1):
            next_end[k] = k + 1 if ends[k + 1] else next_end[k + 1]
            next_row[k] = k + 1 if is_row[k + 1] else next_row[k + 1]
        for i, line in enumerate(lines):
            if i in read or len(line) < 2 or figures[i] > 1 or next_row[i] >= next_end[i]:
                continue
            span = range(next_row[i], next_end[i])
            yield line, lambda span=span: [(k, lines[k]) for k in span if is_row[k]], 0.75

    def _columns(self, header: list[Cell], properties: dict[str, dict]) -> dict[int, str]:
        """Header cell index -> item property, each property taking the header that names it best."""
        columns: dict[int, str] = {}
        taken: set[str] = set()
        scored = []
        for name, spec in properties.items():
            concept = self._concept(name, spec, in_table=True)
            labels = self._labels(name, spec, concept)
            for index, cell in enumerate(header):
                folded = " ".join(words(cell.text))  # "InvoicedQuantity", "unit_price" -> words
                for rank, label in enumerate(labels):
                    match = self.reader.pattern(label).search(folded)
                    if match:
                        exact = match.start() == 0 and match.end() >= len(folded) - 1
                        scored.append((0 if exact else 1, rank, index, name))
                        break
        for _, _, index, name in sorted(scored):
            if index not in columns and name not in taken:
                columns[index] = name
                taken.add(name)
        return columns

    def _record(
        self, row: list[Cell], header: list[Cell], columns: dict[int, str], properties: dict[str, dict]
    ) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for index, cell in _aligned(row, header):
            name = columns.get(index)
            if name is None or name in record:
                continue
            spec = properties[name]
            text = self.reader.money(words(header[index].text), cell.text) if self.reader.keyed else cell.text
            value = self.parse(text, spec, schema_type(spec), self._concept(name, spec, in_table=True))
            if value is not None:
                record[name] = value
        text_properties = [n for n, spec in properties.items() if schema_type(spec) in (None, "string")]
        leftovers = [
            c.text for i, c in _aligned(row, header) if columns.get(i) not in record and not numbers_in(c.text)
        ]
        for name in text_properties:  # a header cell naming two columns ("Qty Description") leaves one unfilled
            if name not in record and leftovers and self._concept(name, properties[name], in_table=True):
                if self._concept(name, properties[name], in_table=True).name == "description":
                    record[name] = leftovers.pop(0)
        numeric = [n for n in record if isinstance(record[n], int | float)]
        if not numeric or len(record) < min(2, len(properties)):
            return {}  # a wrapped description or a stray line, not an item
        return {name: record[name] for name in properties if name in record}
