"""What functions and workflows share: a named, soft-deletable object whose content lives in
immutable numbered versions, the row itself pointing at the current one."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column

from quarry.lru import Lru
from quarry.storage.base import JSONDocument, utcnow


class VersionedObject:
    """Columns of a versioned object; ``name`` and ``display_name`` mirror the current version."""

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    environment_id: Mapped[str] = mapped_column(sa.ForeignKey("environments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(128))
    display_name: Mapped[str | None] = mapped_column(sa.String(512))
    current_version_num: Mapped[int]
    created_by: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        live = sa.text("deleted_at IS NULL")
        return (
            sa.Index(
                f"uq_{cls.__tablename__}_live_name",  # type: ignore[attr-defined]
                "environment_id",
                "name",
                unique=True,
                sqlite_where=live,
                postgresql_where=live,
            ),
            sa.Index(f"ix_{cls.__tablename__}_environment_id_created_at_id", "environment_id", "created_at", "id"),  # type: ignore[attr-defined]
        )


Owner = TypeVar("Owner", bound=VersionedObject)
Version = TypeVar("Version")


def find_live(
    session: Session,
    model: type[Owner],
    environment_id: str,
    *,
    name: str | None = None,
    id: str | None = None,
    for_update: bool = False,
) -> Owner | None:
    """The live (not deleted) object of this environment with this ID, or else this name."""
    column, value = (model.id, id) if id is not None else (model.name, name)
    stmt = sa.select(model).where(model.environment_id == environment_id, model.deleted_at.is_(None), column == value)
    return session.scalar(stmt.with_for_update() if for_update else stmt)


def current_versions(
    session: Session, version_model: type[Version], owner_column: sa.ColumnElement[str], owners: list[VersionedObject]
) -> dict[str, Version]:
    """The current version of each owner, by owner ID: kept ones from ``_KEPT_VERSIONS``, the
    others in one query. The objects are for reading only (they may be detached, and shared)."""
    table = version_model.__tablename__  # type: ignore[attr-defined]
    found: dict[str, Version] = {}
    pairs = []
    for owner in owners:
        kept = _KEPT_VERSIONS.get((table, owner.id, owner.current_version_num))
        if kept is None:
            pairs.append((owner.id, owner.current_version_num))
        else:
            found[owner.id] = kept
    if pairs:
        rows = session.scalars(
            sa.select(version_model).where(sa.tuple_(owner_column, version_model.version_num).in_(pairs))  # type: ignore[attr-defined]
        )
        for row in rows:
            owner_id = getattr(row, owner_column.key)  # type: ignore[attr-defined]
            found[owner_id] = row
            _KEPT_VERSIONS.put((table, owner_id, row.version_num), row)  # type: ignore[attr-defined]
    return found


_KEPT_VERSIONS: Lru[tuple[str, str, int], Any] = Lru(20_000)
"""Versions read before, by table, owner and number: a version never changes once written."""
