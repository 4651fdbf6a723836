"""Writing collection items with what searching them needs: text, terms, vector, full-text entry.

Every write of an item goes through here, so that SQLite's FTS5 table (which the code fills,
like the calls' reference index) always mirrors the items. PostgreSQL indexes ``terms`` itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.collections.models import SQLITE_SEARCH_TABLE, CollectionItem, search_rowid
from quarry.providers.embeddings import terms, to_bytes

MAX_DATA_CHARS = 100_000
"""Largest item ``data``, as compact JSON."""


def item_text(data: Any) -> str:
    """The searchable text of an item's data: a string as it is; an object's values (strings and
    numbers, nested objects and arrays included, in order) joined by spaces. Keys, booleans and
    nulls are not text.

    >>> item_text({"name": "Acme", "address": {"city": "Berlin", "zip": 10115}, "active": True})
    'Acme Berlin 10115'
    """
    if isinstance(data, str):
        return data
    parts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            if value.strip():
                parts.append(value.strip())
        elif isinstance(value, int | float) and not isinstance(value, bool):
            parts.append(json.dumps(value))

    walk(data)
    return " ".join(parts)


def check_item_data(value: Any) -> Any:
    """An item's ``data`` must be a string or a JSON object with some text to search."""
    if not isinstance(value, str | dict):
        raise ValueError("must be a string or a JSON object")
    if len(json.dumps(value, separators=(",", ":"), ensure_ascii=False)) > MAX_DATA_CHARS:
        raise ValueError(f"must be at most {MAX_DATA_CHARS} characters as JSON")
    if not terms(item_text(value)):
        raise ValueError("has no text to search: give a string, or an object with string or number values")
    return value


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _index(session: Session, items: Iterable[CollectionItem]) -> None:
    rows = [{"rowid": item.search_rowid, "terms": item.terms} for item in items]
    if rows and _is_sqlite(session):
        session.execute(sa.text(f"INSERT INTO {SQLITE_SEARCH_TABLE} (rowid, terms) VALUES (:rowid, :terms)"), rows)


def _unindex(session: Session, rowids: list[int]) -> None:
    if rowids and _is_sqlite(session):
        session.execute(
            sa.text(f"DELETE FROM {SQLITE_SEARCH_TABLE} WHERE rowid = :rowid"), [{"rowid": r} for r in rowids]
        )


def insert_items(
    session: Session,
    collection_id: str,
    request_id: str,
    entries: list[tuple[str, Any, str, datetime]],
    vectors: np.ndarray,
    embedder: str,
    at: datetime,
) -> list[CollectionItem]:
    """New items from ``(itemID, data, text, createdAt)`` entries and their vectors (one row each)."""
    items = []
    for (item_id, data, text, created_at), vector in zip(entries, vectors, strict=True):
        items.append(
            CollectionItem(
                id=item_id,
                collection_id=collection_id,
                data=data,
                text=text,
                terms=" ".join(terms(text)),
                embedding=to_bytes(vector),
                embedder=embedder,
                search_rowid=search_rowid(item_id),
                request_id=request_id,
                created_at=created_at,
                updated_at=at,
            )
        )
    session.add_all(items)
    session.flush()
    _index(session, items)
    return items


def replace_data(
    session: Session,
    item: CollectionItem,
    request_id: str,
    data: Any,
    text: str,
    vector: np.ndarray,
    embedder: str,
    at: datetime,
) -> None:
    _unindex(session, [item.search_rowid])
    item.data, item.text, item.terms = data, text, " ".join(terms(text))
    item.embedding, item.embedder = to_bytes(vector), embedder
    item.request_id, item.updated_at = request_id, at
    session.flush()
    _index(session, [item])


def replace_vector(session: Session, item_id: str, old_embedder: str, vector: np.ndarray, embedder: str) -> bool:
    """Store a re-made vector unless the item changed meanwhile; whether it was stored."""
    result = session.execute(
        sa.update(CollectionItem)
        .where(CollectionItem.id == item_id, CollectionItem.embedder == old_embedder)
        .values(embedding=to_bytes(vector), embedder=embedder)
    )
    return bool(getattr(result, "rowcount", 0))


_search_table = sa.table(SQLITE_SEARCH_TABLE, sa.column("rowid", sa.BigInteger))


def delete_items(session: Session, condition: sa.ColumnElement[bool]) -> int:
    """Delete the items matching ``condition`` (and their full-text entries); how many there were."""
    if _is_sqlite(session):
        matching = sa.select(CollectionItem.search_rowid).where(condition)
        session.execute(sa.delete(_search_table).where(_search_table.c.rowid.in_(matching)))
    result = session.execute(sa.delete(CollectionItem).where(condition))
    return int(getattr(result, "rowcount", 0) or 0)
