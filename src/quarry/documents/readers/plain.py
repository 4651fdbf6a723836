"""Plain text and JSON."""

from __future__ import annotations

import json
from typing import Any

from quarry.documents.limits import (
    MAX_FIELDS,
    MAX_LABEL_CHARS,
    MAX_NESTING_DEPTH,
    MAX_SHEET_CELLS,
    MAX_TABLE_COLUMNS,
    MAX_TABLE_TEXT_CHARS,
)
from quarry.documents.model import Document, DocumentError, Table, text_document


def decode(data: bytes) -> str:
    """Text as UTF-8 (with or without BOM), else UTF-16 with a BOM, else a clear error."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"the file is not UTF-8 text (invalid byte at offset {exc.start})") from None


def read_text(data: bytes) -> Document:
    return text_document("text", decode(data).replace("\r\n", "\n"))


def grow_label(path: str, key: str) -> str:
    """A key path grown by one key, kept to its last ``MAX_LABEL_CHARS`` characters: the end of a
    path is what labels are matched against, and a path of long keys must not grow without bound."""
    label = f"{path} {key}" if path else key
    return label if len(label) <= MAX_LABEL_CHARS else label[-MAX_LABEL_CHARS:]


def check_nesting(value: Any, kind: str = "JSON") -> None:
    """``DocumentError`` for a value nested deeper than ``MAX_NESTING_DEPTH``; walked without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_NESTING_DEPTH:
                raise DocumentError(f"the {kind} is nested deeper than {MAX_NESTING_DEPTH} levels")
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))


def _pairs(value: Any) -> list[tuple[str, str]]:
    """``{"invoice": {"number": "A1"}}`` -> ``[("invoice number", "A1")]``: every leaf under its key path."""
    pairs: list[tuple[str, str]] = []

    def walk(item: Any, path: str) -> None:
        if isinstance(item, dict):
            for key, child in item.items():
                walk(child, grow_label(path, str(key)))
        elif isinstance(item, list):
            for child in item:
                walk(child, path)
        else:
            pairs.append((path, "" if item is None else str(item)))
            if len(pairs) > MAX_FIELDS:
                raise DocumentError(f"the JSON has more than {MAX_FIELDS:,} values")

    walk(value, "")
    return pairs


class TableBudget:
    """What the tables of one document may cost: cells, and characters of nested values written into cells."""

    def __init__(self, kind: str) -> None:
        self.kind, self.cells, self.chars = kind, 0, 0

    def table(self, columns: int, rows: int, name: str | None) -> None:
        if columns > MAX_TABLE_COLUMNS:
            raise DocumentError(
                f"the {self.kind} has a list of {rows:,} items with {columns:,} different keys"
                f"{f' under {name!r}' if name else ''}; a table of at most {MAX_TABLE_COLUMNS} columns is read"
            )
        self.count(columns * rows)

    def count(self, cells: int) -> None:
        self.cells += cells
        if self.cells > MAX_SHEET_CELLS:
            raise DocumentError(f"the {self.kind}'s lists of items make tables of more than {MAX_SHEET_CELLS:,} cells")

    def text(self, text: str) -> str:
        self.chars += len(text)
        if self.chars > MAX_TABLE_TEXT_CHARS:
            raise DocumentError(
                f"the {self.kind}'s tables would hold more than {MAX_TABLE_TEXT_CHARS:,} characters of nested values"
            )
        return text


def _tables(value: Any) -> list[Table]:
    """Every list of objects, as a table with the union of their keys as header."""
    found: list[Table] = []
    budget = TableBudget("JSON")

    def walk(item: Any, path: str) -> None:
        if isinstance(item, dict):
            for key, child in item.items():
                walk(child, grow_label(path, str(key)))
        elif isinstance(item, list):
            objects = [child for child in item if isinstance(child, dict)]
            if objects:
                header = list(dict.fromkeys(key for child in objects for key in child))
                budget.table(len(header), len(objects), path or None)
                rows = [[_scalar(child.get(key), budget) for key in header] for child in objects]
                found.append(Table([header, *rows], name=path or None))
            for child in item:
                walk(child, path)

    walk(value, "")
    return found


def _scalar(value: Any, budget: TableBudget) -> str:
    if value is None:
        return ""
    return budget.text(json.dumps(value, ensure_ascii=False)) if isinstance(value, dict | list) else str(value)


def json_document(value: Any, input_type: str = "json") -> Document:
    """The document of a JSON value: its leaves as fields under their key paths, its lists of objects as
    tables. ``DocumentError`` when it is over a limit (nesting, values, table size)."""
    check_nesting(value)
    pairs = _pairs(value)
    text = "\n".join(f"{key}: {item}" if key else item for key, item in pairs)
    return text_document(input_type, text, fields=[p for p in pairs if p[0]], tables=_tables(value), data=value)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def loads(text: str | bytes) -> Any:
    """``json.loads`` without ``NaN``/``Infinity`` (not JSON, and not storable as JSON)."""
    return json.loads(text, parse_constant=_no_constant)


def read_json(data: bytes) -> Document:
    try:
        value = loads(decode(data))
    except ValueError as exc:  # not JSON, NaN, or an integer over Python's 4,300-digit conversion limit
        raise DocumentError(f"the JSON cannot be parsed: {exc}") from None
    except RecursionError:
        raise DocumentError(f"the JSON is nested deeper than {MAX_NESTING_DEPTH} levels") from None
    return json_document(value)
