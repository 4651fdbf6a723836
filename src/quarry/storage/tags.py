"""Tags of functions and workflows, kept in one table so that "must contain all" filters use an index.

Only the tags of an object's *current* version live here; each version also keeps its own copy.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from quarry.storage.base import Base


class ObjectTag(Base):
    __tablename__ = "object_tags"

    object_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    tag: Mapped[str] = mapped_column(sa.String(256), primary_key=True)

    __table_args__ = (sa.Index("ix_object_tags_tag_object_id", "tag", "object_id"),)


def replace_tags(session: Session, object_id: str, tags: list[str] | None) -> None:
    session.execute(sa.delete(ObjectTag).where(ObjectTag.object_id == object_id))
    for tag in sorted(set(tags or [])):
        session.add(ObjectTag(object_id=object_id, tag=tag))


def has_all_tags(id_column: sa.ColumnElement[str], tags: list[str]) -> sa.ColumnElement[bool]:
    """SQL condition: the object whose ID is in ``id_column`` carries every tag in ``tags``."""
    wanted = sorted(set(tags))
    matching = (
        sa.select(sa.func.count()).where(ObjectTag.object_id == id_column, ObjectTag.tag.in_(wanted)).scalar_subquery()
    )
    return matching == len(wanted)
