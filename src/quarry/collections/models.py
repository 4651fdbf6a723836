"""Collections, their items, and the add/update requests waiting to be processed.

A collection is a named set of items of one environment; a dot in the name is a level of
hierarchy (``customers.premium`` is a subcollection of ``customers``), by name only.

An item keeps its ``data`` (a string or a JSON object) and what searching it needs:
``text`` (the string, or the object's values joined), ``terms`` (the words of ``text``,
normalised, space-separated: what full-text search indexes on both databases) and
``embedding`` (little-endian float32 bytes, L2-normalised) together with ``embedder``, the
name of what made the vector, so that vectors of different embedders are never compared.

Full-text search objects are made by the migration, not by these models: on SQLite an FTS5
table (``collection_item_search``, keyed by ``collection_items.search_rowid``), on PostgreSQL a
GIN index on ``to_tsvector('simple', terms)``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from quarry.storage.base import Base, JSONDocument, utcnow

SQLITE_SEARCH_TABLE = "collection_item_search"
POSTGRES_SEARCH_INDEX = "ix_collection_items_terms_fts"


def is_search_object(name: str | None) -> bool:
    """Whether a schema object belongs to the items' full-text index (made by the migration)."""
    return bool(name) and (name == POSTGRES_SEARCH_INDEX or str(name).startswith(SQLITE_SEARCH_TABLE))


def search_rowid(item_id: str) -> int:
    """The item's key in SQLite's FTS5 table: a stable 63-bit hash of its ID (an integer key
    that, unlike SQLite's implicit rowid, never changes under ``VACUUM``)."""
    return int.from_bytes(hashlib.blake2b(item_id.encode(), digest_size=8).digest(), "little") & (2**63 - 1)


def in_hierarchy(name: str) -> sa.ColumnElement[bool]:
    """Condition on ``Collection``: the collection ``name`` or one of its descendants (``name.…``)."""
    return sa.or_(Collection.name == name, Collection.name.startswith(name + ".", autoescape=True))


class Collection(Base):
    __tablename__ = "collections"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    environment_id: Mapped[str] = mapped_column(sa.ForeignKey("environments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(1024))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("environment_id", "name"),
        sa.Index("ix_collections_env_created", "environment_id", "created_at", "id"),
    )


class CollectionItem(Base):
    __tablename__ = "collection_items"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    collection_id: Mapped[str] = mapped_column(sa.ForeignKey("collections.id", ondelete="CASCADE"))
    data: Mapped[Any] = mapped_column(JSONDocument)
    text: Mapped[str] = mapped_column(sa.Text)
    terms: Mapped[str] = mapped_column(sa.Text)
    embedding: Mapped[bytes] = mapped_column(sa.LargeBinary)
    embedder: Mapped[str] = mapped_column(sa.String(512))
    search_rowid: Mapped[int] = mapped_column(sa.BigInteger)
    request_id: Mapped[str] = mapped_column(sa.String(64))
    """The add or update request whose data the item holds: a request older than this one
    does not overwrite it (the last request submitted wins, whatever order they run in)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.Index("ix_collection_items_collection_created", "collection_id", "created_at", "id"),
        sa.Index("ix_collection_items_search_rowid", "search_rowid", unique=True),
        sa.Index("ix_collection_items_embedder", "embedder"),
    )


class CollectionRequest(Base):
    """An accepted add or update, until it is processed; its ID is the ID of the
    ``collection_processing`` event that reports it. ``items`` holds
    ``[{"collectionItemID", "data"}]`` (IDs of new items are assigned when the request is accepted)."""

    __tablename__ = "collection_requests"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    environment_id: Mapped[str] = mapped_column(sa.ForeignKey("environments.id", ondelete="CASCADE"))
    collection_id: Mapped[str] = mapped_column(sa.String(64))
    collection_name: Mapped[str] = mapped_column(sa.String(1024))
    operation: Mapped[str] = mapped_column(sa.String(16))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.Index("ix_collection_requests_created", "created_at"),)
