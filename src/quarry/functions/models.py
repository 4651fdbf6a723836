"""Functions and their immutable versions.

The ``functions`` row carries what identifies a function now (ID, type, current name, current
version); everything a user configures lives in ``function_versions``, one row per version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from quarry.storage.base import Base, JSONDocument, utcnow
from quarry.storage.versioned import VersionedObject

V3_NAMES = {"transform": "extract", "route": "classify"}
"""How a core type reads in v3 when its name differs and the function has no ``type_name``."""


class Function(VersionedObject, Base):
    __tablename__ = "functions"

    type: Mapped[str] = mapped_column(sa.String(32))
    email_address: Mapped[str | None] = mapped_column(sa.String(320), index=True)  # inbound mail finds it
    type_name: Mapped[str | None] = mapped_column(sa.String(32))
    """What a ``transform`` was created as, ``transform`` or ``extract`` (bem's two names for it),
    so that it reads back as it was made; ``None`` for other types and for functions made before
    migration 0022 (read as ``extract`` in v3, as they were)."""


def v3_type(core_type: str, type_name: str | None) -> str:
    """A function's type as v3 reads it: a transform under the name it was created with."""
    return type_name or V3_NAMES.get(core_type, core_type)


def reading_in_v3_as(types: list[str]) -> sa.ColumnElement[bool]:
    """Condition on ``Function``: its v3 type is one of ``types`` (a route is also found as ``route``)."""
    name = sa.func.coalesce(Function.type_name, V3_NAMES["transform"])
    cores = {"classify": "route"}
    conditions = [
        sa.and_(Function.type == "transform", name == wanted)
        if wanted in ("transform", "extract")
        else Function.type == cores.get(wanted, wanted)
        for wanted in sorted(set(types))
    ]
    return sa.or_(sa.false(), *conditions)


class FunctionVersion(Base):
    __tablename__ = "function_versions"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    function_id: Mapped[str] = mapped_column(sa.ForeignKey("functions.id", ondelete="CASCADE"))
    version_num: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(128))
    display_name: Mapped[str | None] = mapped_column(sa.String(512))
    tags: Mapped[list[str]] = mapped_column(JSONDocument)
    config: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_by: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("function_id", "version_num"),)
