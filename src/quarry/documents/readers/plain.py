"""Plain text and JSON."""

from __future__ import annotations

import json
from typing import Any

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


def _pairs(value: Any, path: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """``{"invoice": {"number": "A1"}}`` -> ``[("invoice number", "A1")]``: every leaf under its key path."""
    if isinstance(value, dict):
        return [pair for key, item in value.items() for pair in _pairs(item, (*path, str(key)))]
    if isinstance(value, list):
        return [pair for item in value for pair in _pairs(item, path)]
    return [(" ".join(path), "" if value is None else str(value))]


def _tables(value: Any, path: tuple[str, ...] = ()) -> list[Table]:
    """Every list of objects, as a table with the union of their keys as header."""
    found: list[Table] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _tables(item, (*path, str(key)))
    elif isinstance(value, list):
        objects = [item for item in value if isinstance(item, dict)]
        if objects:
            header = list(dict.fromkeys(key for item in objects for key in item))
            rows = [[_scalar(item.get(key)) for key in header] for item in objects]
            found.append(Table([header, *rows], name=" ".join(path) or None))
        for item in value:
            found += _tables(item, path)
    return found


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)


def json_document(value: Any, input_type: str = "json") -> Document:
    pairs = _pairs(value)
    text = "\n".join(f"{key}: {item}" if key else item for key, item in pairs)
    return text_document(input_type, text, fields=[p for p in pairs if p[0]], tables=_tables(value), data=value)


def read_json(data: bytes) -> Document:
    try:
        value = json.loads(decode(data))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise DocumentError(f"the JSON cannot be parsed: {exc}") from None
    return json_document(value)
